//! W3C Trace Context (<https://www.w3.org/TR/trace-context/>) as the CloudEvents
//! distributed-tracing extension carries it: the `traceparent` and `tracestate` attributes.
//!
//! A callback that arrives with a valid `traceparent` continues the caller's trace: the events it
//! becomes carry the same trace id and flags, with a new parent id standing for vodbridge's own
//! step (the span an exporter would report; none is exported today). A callback without one, or
//! with one that does not parse, starts a new trace. The trace context is never part of an
//! event's id: the same occurrence keeps its id whatever trace delivered it.

use std::fmt;

/// Longest `tracestate` kept. The specification asks vendors to propagate at least 512
/// characters and allows truncating beyond; a longer value is dropped whole rather than cut
/// inside a list member.
pub const MAX_TRACESTATE_LEN: usize = 512;

/// Most list members a `tracestate` may have (the specification's limit).
const MAX_TRACESTATE_MEMBERS: usize = 32;

/// Length of a version-00 `traceparent`: `vv-<32 hex>-<16 hex>-<2 hex>`.
const TRACEPARENT_LEN: usize = 55;

/// Trace flag bit 0: the caller may have recorded its span (W3C `sampled`).
const FLAG_SAMPLED: u8 = 0x01;

/// The trace context carried by the events of one callback or one pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: u128,
    span_id: u64,
    flags: u8,
    tracestate: Option<String>,
}

/// What became of the trace context a request arrived with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceOrigin {
    /// A valid `traceparent` arrived and its trace is continued.
    Continued,
    /// No `traceparent` arrived; a new trace was started.
    Started,
    /// A `traceparent` arrived but was not valid; it was ignored and a new trace started.
    Invalid,
}

impl TraceContext {
    /// A new trace: random trace and parent ids, flagged `sampled` so that consumers which
    /// sample by their parent keep the traces vodbridge starts.
    pub fn start() -> Self {
        Self {
            trace_id: nonzero_random(),
            span_id: nonzero_random::<u64>(),
            flags: FLAG_SAMPLED,
            tracestate: None,
        }
    }

    /// Continue the trace of the incoming `traceparent` and `tracestate` header values (every
    /// `tracestate` field line, in order, as the specification allows it to be split), or start
    /// a new one when there is no valid `traceparent`. A `tracestate` is kept only with a valid
    /// `traceparent`, and only when it is well formed.
    pub fn continue_or_start<'a>(
        traceparent: Option<&[u8]>,
        tracestate: impl IntoIterator<Item = &'a [u8]>,
    ) -> (Self, TraceOrigin) {
        let Some(raw) = traceparent else {
            return (Self::start(), TraceOrigin::Started);
        };
        let Some((trace_id, _, flags)) = parse_traceparent(raw) else {
            return (Self::start(), TraceOrigin::Invalid);
        };
        let context = Self {
            trace_id,
            span_id: nonzero_random::<u64>(),
            flags,
            tracestate: parse_tracestate(tracestate),
        };
        (context, TraceOrigin::Continued)
    }

    /// The trace context an event carries (its `traceparent` and `tracestate` attributes)
    /// exactly, parent id included: for what is derived from the event in the same step, such as
    /// the dead letter of an event a sink rejected. `None` when `traceparent` is not valid.
    pub fn from_attributes(traceparent: &str, tracestate: Option<&str>) -> Option<Self> {
        let (trace_id, span_id, flags) = parse_traceparent(traceparent.as_bytes())?;
        Some(Self {
            trace_id,
            span_id,
            flags,
            tracestate: tracestate.and_then(|t| parse_tracestate([t.as_bytes()])),
        })
    }

    /// The 32 lowercase hex digits of the trace id (what log lines carry as `trace_id`).
    pub fn trace_id(&self) -> String {
        format!("{:032x}", self.trace_id)
    }

    /// The `traceparent` attribute value: version 00, the trace id, vodbridge's parent id and
    /// the flags.
    pub fn traceparent(&self) -> String {
        format!(
            "00-{:032x}-{:016x}-{:02x}",
            self.trace_id, self.span_id, self.flags
        )
    }

    /// The `tracestate` attribute value, when the caller sent a valid one.
    pub fn tracestate(&self) -> Option<&str> {
        self.tracestate.as_deref()
    }
}

impl fmt::Display for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.trace_id)
    }
}

/// Trace id, parent id and flags of a valid `traceparent`, per the specification's parsing rules: version
/// `ff` is invalid; version `00` is exactly 55 characters; a later version is parsed by its
/// version-00 prefix, which must be followed by the end or a `-`. Hex digits are lowercase;
/// all-zero trace and parent ids are invalid. A later version's flags are reduced to the
/// `sampled` bit, the only one version 00 defines as propagated.
fn parse_traceparent(raw: &[u8]) -> Option<(u128, u64, u8)> {
    // Field values may be surrounded by optional whitespace (RFC 9110).
    let raw = raw.trim_ascii();
    if raw.len() < TRACEPARENT_LEN {
        return None;
    }
    let version = hex_field(&raw[0..2])? as u8;
    if version == 0xff || (version == 0 && raw.len() != TRACEPARENT_LEN) {
        return None;
    }
    if raw.len() > TRACEPARENT_LEN && raw[TRACEPARENT_LEN] != b'-' {
        return None;
    }
    if raw[2] != b'-' || raw[35] != b'-' || raw[52] != b'-' {
        return None;
    }
    let trace_id = hex_field(&raw[3..35])?;
    let parent_id = hex_field(&raw[36..52])? as u64;
    let flags = hex_field(&raw[53..55])? as u8;
    if trace_id == 0 || parent_id == 0 {
        return None;
    }
    let flags = if version == 0 {
        flags
    } else {
        flags & FLAG_SAMPLED
    };
    Some((trace_id, parent_id, flags))
}

/// The value of lowercase hex digits (at most 32); `None` on any other byte.
fn hex_field(digits: &[u8]) -> Option<u128> {
    digits.iter().try_fold(0u128, |acc, &b| {
        let nibble = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => return None,
        };
        Some(acc << 4 | u128::from(nibble))
    })
}

/// The combined `tracestate` of every field line, when it is well formed: list members
/// `key=value` separated by commas (empty members and optional whitespace around them are
/// allowed and dropped), at most 32 members and [`MAX_TRACESTATE_LEN`] characters. Anything
/// else drops the whole value, as the specification allows.
fn parse_tracestate<'a>(lines: impl IntoIterator<Item = &'a [u8]>) -> Option<String> {
    let mut members: Vec<&str> = Vec::new();
    for line in lines {
        let line = std::str::from_utf8(line).ok()?;
        for member in line.split(',') {
            let member = member.trim_matches([' ', '\t']);
            if member.is_empty() {
                continue;
            }
            if !valid_member(member) || members.len() == MAX_TRACESTATE_MEMBERS {
                return None;
            }
            members.push(member);
        }
    }
    if members.is_empty() {
        return None;
    }
    let joined = members.join(",");
    (joined.len() <= MAX_TRACESTATE_LEN).then_some(joined)
}

/// `key=value` with the specification's key (`simple-key` or `tenant@system`) and value
/// grammars.
fn valid_member(member: &str) -> bool {
    let Some((key, value)) = member.split_once('=') else {
        return false;
    };
    valid_key(key) && valid_value(value)
}

fn valid_key(key: &str) -> bool {
    let simple = |k: &str, max: usize, first_digit_ok: bool| {
        let bytes = k.as_bytes();
        !bytes.is_empty()
            && bytes.len() <= max
            && (bytes[0].is_ascii_lowercase() || (first_digit_ok && bytes[0].is_ascii_digit()))
            && bytes
                .iter()
                .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-*/".contains(&b))
    };
    match key.split_once('@') {
        None => simple(key, 256, false),
        Some((tenant, system)) => simple(tenant, 241, true) && simple(system, 14, false),
    }
}

fn valid_value(value: &str) -> bool {
    // chr = %x20 / nblk-chr; nblk-chr = %x21-2B / %x2D-3C / %x3E-7E; the last is not a space.
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 256
        && bytes[bytes.len() - 1] != b' '
        && bytes
            .iter()
            .all(|&b| (0x20..=0x7e).contains(&b) && b != b',' && b != b'=')
}

/// A random value that is not zero (an all-zero trace or parent id is invalid).
fn nonzero_random<T>() -> T
where
    T: Default + PartialEq,
    rand::distr::StandardUniform: rand::distr::Distribution<T>,
{
    loop {
        let value: T = rand::random();
        if value != T::default() {
            return value;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn parse(tp: &str) -> (TraceContext, TraceOrigin) {
        TraceContext::continue_or_start(Some(tp.as_bytes()), [])
    }

    fn valid_format(tp: &str) -> bool {
        tp.len() == TRACEPARENT_LEN && parse_traceparent(tp.as_bytes()).is_some()
    }

    #[test]
    fn continues_a_valid_traceparent_with_a_new_parent_id() {
        let (ctx, origin) = parse(VALID);
        assert_eq!(origin, TraceOrigin::Continued);
        assert_eq!(ctx.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        let tp = ctx.traceparent();
        assert!(
            tp.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
            "{tp}"
        );
        assert!(tp.ends_with("-01"), "{tp}");
        assert_ne!(&tp[36..52], "00f067aa0ba902b7", "vodbridge's own parent id");
        assert!(valid_format(&tp));
        let (unsampled, _) = parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
        assert!(unsampled.traceparent().ends_with("-00"));
    }

    #[test]
    fn reads_an_events_attributes_back_unchanged() {
        let ctx = TraceContext::from_attributes(VALID, Some("rojo=1")).expect("valid");
        assert_eq!(ctx.traceparent(), VALID);
        assert_eq!(ctx.tracestate(), Some("rojo=1"));
        assert_eq!(TraceContext::from_attributes("00-zz", None), None);
    }

    #[test]
    fn starts_a_new_trace_without_one() {
        let (a, origin) = TraceContext::continue_or_start(None, [b"k=v".as_slice()]);
        assert_eq!(origin, TraceOrigin::Started);
        assert!(valid_format(&a.traceparent()), "{}", a.traceparent());
        assert_eq!(a.tracestate(), None, "no tracestate without a traceparent");
        let b = TraceContext::start();
        assert_ne!(a.trace_id(), b.trace_id());
        assert_eq!(a.to_string(), a.trace_id());
    }

    #[test]
    fn ignores_invalid_traceparents() {
        for bad in [
            "",
            "garbage",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
        ] {
            let (ctx, origin) =
                TraceContext::continue_or_start(Some(bad.as_bytes()), [b"k=v".as_slice()]);
            assert_eq!(origin, TraceOrigin::Invalid, "{bad:?}");
            assert_ne!(
                ctx.trace_id(),
                "4bf92f3577b34da6a3ce929d0e0e4736",
                "{bad:?}"
            );
            assert_eq!(ctx.tracestate(), None, "{bad:?}");
        }
    }

    #[test]
    fn accepts_later_versions_by_their_version_00_prefix() {
        for tp in [
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03",
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03-what-the-future-holds",
        ] {
            let (ctx, origin) = parse(tp);
            assert_eq!(origin, TraceOrigin::Continued, "{tp}");
            assert_eq!(ctx.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
            assert!(ctx.traceparent().ends_with("-01"), "only the sampled bit");
        }
        let (ctx, origin) = parse(&format!(" {VALID}\t"));
        assert_eq!(origin, TraceOrigin::Continued, "surrounding whitespace");
        assert_eq!(ctx.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
    }

    #[test]
    fn keeps_a_well_formed_tracestate_and_drops_a_bad_one() {
        let keep = |lines: &[&str]| {
            TraceContext::continue_or_start(
                Some(VALID.as_bytes()),
                lines.iter().map(|l| l.as_bytes()),
            )
            .0
            .tracestate()
            .map(str::to_owned)
        };
        assert_eq!(
            keep(&["rojo=00f067aa0ba902b7"]).as_deref(),
            Some("rojo=00f067aa0ba902b7")
        );
        assert_eq!(
            keep(&["rojo=1, congo=t61rcWkgMzE", ",", " tenant@sys=x y"]).as_deref(),
            Some("rojo=1,congo=t61rcWkgMzE,tenant@sys=x y")
        );
        assert_eq!(keep(&[]), None);
        assert_eq!(keep(&[" , "]), None);
        for bad in [
            "novalue", "Upper=1", "k=v=w", "k=", "=v", "1abc=v", "k=\u{e9}",
        ] {
            assert_eq!(keep(&[bad]), None, "{bad:?}");
        }
        let many: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
        assert_eq!(keep(&[many.join(",").as_str()]), None, "33 members");
        assert!(
            keep(&[many[..32].join(",").as_str()]).is_some(),
            "32 members"
        );
        let long: Vec<String> = (0..10)
            .map(|i| format!("k{i}={}", "v".repeat(60)))
            .collect();
        assert!(long.join(",").len() > MAX_TRACESTATE_LEN);
        assert_eq!(keep(&[long.join(",").as_str()]), None, "longer than kept");
        assert!(
            keep(&[long[..8].join(",").as_str()]).is_some(),
            "within the limit"
        );
    }
}
