//! The CloudEvents NATS protocol binding (v1.0.3): how one canonical event becomes one NATS
//! message (headers + payload).
//!
//! - Structured mode: payload = the event in JSON format, `Content-Type:
//!   application/cloudevents+json` (the spec tells receivers a `Content-Type` starting with
//!   `application/cloudevents` means structured).
//! - Binary mode: every attribute as a `ce-<name>` header (values percent-encoded as the spec
//!   requires), `ce-datacontenttype` as the spec's own mapping, and also `Content-Type:
//!   application/json` so generic NATS tooling sees the body's media type; payload = `data`.
//!
//! Both modes set `Nats-Msg-Id` to the event id: JetStream drops a second copy published within
//! the stream's duplicate window, so a vendor redelivery or our own retry is stored once. Both
//! also carry the event's trace context as plain W3C `traceparent` and `tracestate` headers, the
//! ones OpenTelemetry's NATS instrumentation reads.

use std::fmt::Write as _;

use async_nats::{HeaderMap, HeaderName};
use bytes::Bytes;
use vodbridge_core::{BindingMode, CanonicalEvent};

/// `Content-Type` of a structured-mode message.
pub const STRUCTURED_CONTENT_TYPE: &str = "application/cloudevents+json";

/// The header JetStream deduplicates on.
pub const MSG_ID_HEADER: &str = "Nats-Msg-Id";

// The names as constants: a name given as `&str` is validated and, unless NATS itself defines
// it, copied into a new allocation for every message.
const MSG_ID: HeaderName = HeaderName::from_static(MSG_ID_HEADER);
const CONTENT_TYPE: HeaderName = HeaderName::from_static("Content-Type");
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// One event as a NATS message: headers and payload.
pub(crate) fn encode(event: &CanonicalEvent, mode: BindingMode) -> (HeaderMap, Bytes) {
    let mut headers = HeaderMap::new();
    headers.insert(MSG_ID, percent_encode(&event.id));
    // Trace context values are printable ASCII without `%` (W3C grammar), so they need no
    // encoding; they are encoded anyway, as any other value from outside.
    if let Some(traceparent) = &event.traceparent {
        headers.insert(TRACEPARENT, percent_encode(traceparent));
    }
    if let Some(tracestate) = &event.tracestate {
        headers.insert(TRACESTATE, percent_encode(tracestate));
    }
    match mode {
        BindingMode::Structured => {
            headers.insert(CONTENT_TYPE, STRUCTURED_CONTENT_TYPE);
            (headers, Bytes::from(event.to_structured_json()))
        }
        BindingMode::Binary => {
            for (name, value) in event.attributes() {
                headers.insert(format!("ce-{name}"), percent_encode(value));
            }
            headers.insert("ce-datacontenttype", percent_encode(&event.datacontenttype));
            headers.insert(CONTENT_TYPE, percent_encode(&event.datacontenttype));
            (
                headers,
                Bytes::copy_from_slice(event.data_json().as_bytes()),
            )
        }
    }
}

/// Percent-encode a header value as the binding requires: space, `"`, `%` and everything outside
/// printable ASCII become `%XY` (upper-case hex) over the UTF-8 bytes.
pub(crate) fn percent_encode(value: &str) -> String {
    if value
        .bytes()
        .all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'%')
    {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len() + 8);
    for b in value.bytes() {
        if (0x21..=0x7e).contains(&b) && b != b'"' && b != b'%' {
            out.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Why a NATS message could not be read as a canonical event.
#[derive(Debug, thiserror::Error)]
#[error("not a vodbridge CloudEvent")]
pub struct DecodeError(#[source] serde_json::Error);

/// Read one message as [`encode`] wrote it, in either mode: a `Content-Type` starting with
/// `application/cloudevents` (or no headers at all) means structured, anything else binary
/// (attributes in percent-encoded `ce-*` headers, `data` as the payload).
pub fn decode(headers: Option<&HeaderMap>, payload: &[u8]) -> Result<CanonicalEvent, DecodeError> {
    let structured = headers.is_none_or(|h| {
        h.get(CONTENT_TYPE).is_none_or(|ct| {
            ct.as_str()
                .to_ascii_lowercase()
                .starts_with("application/cloudevents")
        })
    });
    if structured {
        return CanonicalEvent::from_structured_json(payload).map_err(DecodeError);
    }
    let attributes = headers
        .into_iter()
        .flat_map(|h| h.iter())
        .filter_map(|(name, values)| {
            let name: &str = name.as_ref();
            let attribute = name
                .get(..3)
                .filter(|p| p.eq_ignore_ascii_case("ce-"))
                .map(|_| &name[3..])?;
            Some((attribute, percent_decode(values.first()?.as_str())))
        });
    CanonicalEvent::from_binary(attributes, payload).map_err(DecodeError)
}

/// The inverse of [`percent_encode`]; a `%` not followed by two hex digits is kept as it is,
/// and bytes that do not form UTF-8 are replaced.
fn percent_decode(value: &str) -> String {
    if !value.contains('%') {
        return value.to_owned();
    }
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// True when `subject` is a valid subject to publish to: non-empty tokens separated by `.`, no
/// whitespace, no wildcard tokens (`*`, `>`).
pub(crate) fn valid_publish_subject(subject: &str) -> bool {
    !subject.is_empty()
        && subject.split('.').all(|token| {
            !token.is_empty()
                && token != "*"
                && token != ">"
                && !token.chars().any(char::is_whitespace)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> CanonicalEvent {
        vodbridge_test_support::event("id-1", "vod.media.uploaded")
            .source("tc")
            .subject(Some("media 1 €"))
            .partition_key("f")
            .time("2024-01-01T00:00:00Z")
            .data(r#"{"a":1}"#)
            .build()
    }

    fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
        h.get(name).map(|v| v.as_str())
    }

    #[test]
    fn percent_encodes_as_the_spec_example() {
        assert_eq!(
            percent_encode("Euro \u{20AC} \u{1F600}"),
            "Euro%20%E2%82%AC%20%F0%9F%98%80"
        );
        assert_eq!(percent_encode("100%\"x\""), "100%25%22x%22");
        assert_eq!(percent_encode("/vodbridge/tc"), "/vodbridge/tc");
    }

    #[test]
    fn structured_mode_carries_the_whole_event() {
        let (h, body) = encode(&event(), BindingMode::Structured);
        assert_eq!(header(&h, "Content-Type"), Some(STRUCTURED_CONTENT_TYPE));
        assert_eq!(header(&h, MSG_ID_HEADER), Some("id-1"));
        assert!(header(&h, "ce-id").is_none());
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(v["id"], "id-1");
        assert_eq!(v["data"]["a"], 1);
    }

    #[test]
    fn binary_mode_maps_attributes_to_ce_headers() {
        let (h, body) = encode(&event(), BindingMode::Binary);
        assert_eq!(header(&h, "Content-Type"), Some("application/json"));
        assert_eq!(header(&h, "ce-datacontenttype"), Some("application/json"));
        assert_eq!(header(&h, "ce-specversion"), Some("1.0"));
        assert_eq!(header(&h, "ce-type"), Some("vod.media.uploaded"));
        assert_eq!(header(&h, "ce-provider"), Some("tencent"));
        assert_eq!(header(&h, "ce-subject"), Some("media%201%20%E2%82%AC"));
        assert_eq!(header(&h, MSG_ID_HEADER), Some("id-1"));
        assert_eq!(&body[..], br#"{"a":1}"#);
    }

    #[test]
    fn both_modes_carry_the_trace_context() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let mut ev = event();
        assert!(header(&encode(&ev, BindingMode::Structured).0, "traceparent").is_none());
        ev.traceparent = Some(tp.to_owned());
        ev.tracestate = Some("rojo=1,congo=2".to_owned());
        let (h, body) = encode(&ev, BindingMode::Structured);
        assert_eq!(header(&h, "traceparent"), Some(tp));
        assert_eq!(header(&h, "tracestate"), Some("rojo=1,congo=2"));
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(v["traceparent"], tp);
        let (h, _) = encode(&ev, BindingMode::Binary);
        assert_eq!(header(&h, "traceparent"), Some(tp));
        assert_eq!(header(&h, "ce-traceparent"), Some(tp));
        assert_eq!(header(&h, "ce-tracestate"), Some("rojo=1,congo=2"));
    }

    #[test]
    fn validates_publish_subjects() {
        assert!(valid_publish_subject("vod.media.uploaded"));
        assert!(!valid_publish_subject("vod..x"));
        assert!(!valid_publish_subject("vod.>"));
        assert!(!valid_publish_subject("vod.*.x"));
        assert!(!valid_publish_subject("a b"));
        assert!(!valid_publish_subject(""));
    }

    #[test]
    fn decode_reads_back_both_modes() {
        let mut ev = event();
        ev.traceparent = Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into());
        ev.source = "/v/100% \"tc\"".into();
        for mode in [BindingMode::Structured, BindingMode::Binary] {
            let (h, body) = encode(&ev, mode);
            let back = decode(Some(&h), &body).unwrap_or_else(|e| panic!("{mode:?}: {e}"));
            assert_eq!(
                back.to_structured_json(),
                ev.to_structured_json(),
                "{mode:?}"
            );
        }
        let plain = decode(None, &ev.to_structured_json()).expect("no headers: structured");
        assert_eq!(plain.id, ev.id);
        assert!(decode(None, b"{}").is_err());
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%E2%82%AC%zz"), "€%zz");
    }
}
