//! Lenient parsing of vendor timestamps into RFC 3339 UTC.
//!
//! Volcengine documents `EventTime` as RFC 3339 UTC, but one sample carries Go's
//! `time.Time.String()` output (`2022-10-25 11:12:13.502796743 +0800 CST m=+50034.619039680`).
//! Accepted, in order: RFC 3339; `YYYY-MM-DD hh:mm:ss[.frac] ±hhmm [ZONE] [m=±…]` (Go);
//! `YYYY-MM-DD[T ]hh:mm:ss[.frac]` without offset (taken as UTC); Unix seconds or milliseconds
//! (as a number or numeric string). Anything else is "no usable time".

use chrono::{DateTime, Datelike as _, NaiveDateTime, SecondsFormat, TimeZone, Utc};

use crate::lenient::Scalar;

/// RFC 3339 in UTC with `Z`, sub-second digits only when the vendor gave them.
pub(crate) fn format_rfc3339(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The vendor time as a UTC instant, or `None` when it is absent or unusable.
/// Instants outside the years 0000–9999 are unusable too: RFC 3339 cannot write them.
pub(crate) fn parse_vendor_time(v: &Scalar<'_>) -> Option<DateTime<Utc>> {
    let t = match v {
        Scalar::Str(s) => parse_text(s.trim()),
        Scalar::UInt(_) | Scalar::Int(_) | Scalar::Float(_) => v.number().and_then(from_epoch),
        Scalar::Bool(_) | Scalar::Composite => None,
    }?;
    (0..=9999).contains(&t.year()).then_some(t)
}

fn parse_text(s: &str) -> Option<DateTime<Utc>> {
    if s.is_empty() {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Some(t) = parse_go(s) {
        return Some(t);
    }
    for fmt in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(Utc.from_utc_datetime(&t));
        }
    }
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return s.parse::<f64>().ok().and_then(from_epoch);
    }
    None
}

/// Go `time.Time.String()`: `2006-01-02 15:04:05.999999999 -0700 MST`, optionally followed by a
/// monotonic clock reading ` m=+50034.619039680`, which is dropped.
fn parse_go(s: &str) -> Option<DateTime<Utc>> {
    let s = match s.find(" m=") {
        Some(i) => &s[..i],
        None => s,
    };
    let mut parts = s.split_whitespace();
    let (date, clock, offset) = (parts.next()?, parts.next()?, parts.next()?);
    // The zone abbreviation (CST, UTC …) is ambiguous; the numeric offset is authoritative.
    let zone_ok = parts.next().is_none_or(|z| {
        z.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-')
    });
    if !zone_ok || parts.next().is_some() {
        return None;
    }
    DateTime::parse_from_str(
        &format!("{date} {clock} {offset}"),
        "%Y-%m-%d %H:%M:%S%.f %z",
    )
    .ok()
    .map(|t| t.with_timezone(&Utc))
}

/// Unix seconds, or milliseconds when the value is too large to be seconds (after year 5138).
fn from_epoch(n: f64) -> Option<DateTime<Utc>> {
    if !n.is_finite() || n <= 0.0 {
        return None;
    }
    if n >= 1e11 {
        return if n.fract() == 0.0 {
            DateTime::from_timestamp_millis(n as i64)
        } else {
            from_epoch(n / 1000.0)
        };
    }
    let whole = n.trunc();
    let nanos = ((n - whole) * 1e9).round() as u32;
    DateTime::from_timestamp(whole as i64, nanos.min(999_999_999))
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    fn text(s: &str) -> Option<String> {
        parse_vendor_time(&Scalar::Str(Cow::Borrowed(s))).map(|t| format_rfc3339(&t))
    }

    #[test]
    fn parses_rfc3339_and_go_time_strings() {
        assert_eq!(
            text("2024-05-06T09:49:33Z").as_deref(),
            Some("2024-05-06T09:49:33Z")
        );
        assert_eq!(
            text("2024-05-06T17:49:33+08:00").as_deref(),
            Some("2024-05-06T09:49:33Z")
        );
        assert_eq!(
            text("2022-10-25 11:12:13.502796743 +0800 CST m=+50034.619039680").as_deref(),
            Some("2022-10-25T03:12:13.502796743Z")
        );
        assert_eq!(
            text("2022-10-25 11:12:13 +0000 UTC").as_deref(),
            Some("2022-10-25T11:12:13Z")
        );
        assert_eq!(
            text("2022-10-25 11:12:13").as_deref(),
            Some("2022-10-25T11:12:13Z")
        );
        assert_eq!(text("1700000000").as_deref(), Some("2023-11-14T22:13:20Z"));
    }

    #[test]
    fn rejects_garbage_and_accepts_epoch_numbers() {
        assert_eq!(text(""), None);
        assert_eq!(text("yesterday"), None);
        assert_eq!(text("2022-13-45 99:99:99 +0800 CST"), None);
        let ms = parse_vendor_time(&Scalar::UInt(1_700_000_000_123)).map(|t| format_rfc3339(&t));
        assert_eq!(ms.as_deref(), Some("2023-11-14T22:13:20.123Z"));
        assert_eq!(parse_vendor_time(&Scalar::Bool(true)), None);
    }
}
