//! The CloudEvents Kafka protocol binding: how one canonical event becomes one Kafka record.
//!
//! Binary mode: every context and extension attribute in a `ce_<name>` header, `data` as the
//! value, `content-type: application/json`. Structured mode: the whole event as JSON in the value,
//! `content-type: application/cloudevents+json; charset=UTF-8`. Both modes use the event's
//! `partitionkey` (the media id) as the message key, so one media's events share a partition and
//! stay ordered; the binding spec maps the `partitionkey` extension to the key the same way.
//!
//! Both modes also carry the event's trace context as plain W3C `traceparent` and `tracestate`
//! headers, the ones OpenTelemetry's Kafka instrumentation reads, so a consumer links its work to
//! the callback without knowing CloudEvents.

use rdkafka::message::{Header, OwnedHeaders};
use vodbridge_core::{BindingMode, CanonicalEvent, CONTENT_TYPE_JSON};

/// `content-type` of a structured-mode message.
pub const STRUCTURED_CONTENT_TYPE: &str = "application/cloudevents+json; charset=UTF-8";

/// One event's Kafka value and headers.
pub(crate) struct Encoded {
    pub(crate) payload: Vec<u8>,
    pub(crate) headers: OwnedHeaders,
}

/// Encode `event` for `mode`.
pub(crate) fn encode(event: &CanonicalEvent, mode: BindingMode) -> Encoded {
    let mut encoded = encode_mode(event, mode);
    for (key, value) in [
        ("traceparent", &event.traceparent),
        ("tracestate", &event.tracestate),
    ] {
        if let Some(value) = value {
            encoded.headers = encoded.headers.insert(Header {
                key,
                value: Some(value.as_str()),
            });
        }
    }
    encoded
}

fn encode_mode(event: &CanonicalEvent, mode: BindingMode) -> Encoded {
    match mode {
        BindingMode::Binary => {
            let attrs = event.attributes();
            let mut headers = OwnedHeaders::new_with_capacity(attrs.len() + 1);
            headers = headers.insert(Header {
                key: "content-type",
                value: Some(CONTENT_TYPE_JSON),
            });
            for (name, value) in attrs {
                let key = format!("ce_{name}");
                headers = headers.insert(Header {
                    key: &key,
                    value: Some(value),
                });
            }
            Encoded {
                payload: event.data_json().as_bytes().to_vec(),
                headers,
            }
        }
        BindingMode::Structured => Encoded {
            payload: event.to_structured_json(),
            headers: OwnedHeaders::new_with_capacity(1).insert(Header {
                key: "content-type",
                value: Some(STRUCTURED_CONTENT_TYPE),
            }),
        },
    }
}

/// Why a Kafka record could not be read as a canonical event.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The record has no value (a tombstone).
    #[error("record has no value")]
    NoValue,
    /// The value (structured mode) or the `ce_*` headers and value (binary mode) are not a
    /// canonical event.
    #[error("not a vodbridge CloudEvent")]
    Invalid(#[source] serde_json::Error),
}

/// Read one record as [`encode`] wrote it, in either mode: a `content-type` starting with
/// `application/cloudevents` means structured (the whole event in the value), anything else
/// binary (attributes in `ce_*` headers, `data` as the value). Header values are UTF-8, as the
/// binding writes them; a header that is not is left out (and the event then fails to decode if
/// it was required).
pub fn decode(
    headers: Option<&rdkafka::message::BorrowedHeaders>,
    value: Option<&[u8]>,
) -> Result<CanonicalEvent, DecodeError> {
    use rdkafka::message::Headers as _;
    let value = value.ok_or(DecodeError::NoValue)?;
    let text = |v: Option<&[u8]>| {
        v.and_then(|v| std::str::from_utf8(v).ok())
            .map(str::to_owned)
    };
    let mut attributes = Vec::new();
    let mut structured = false;
    for header in headers.into_iter().flat_map(|h| h.iter()) {
        if header.key.eq_ignore_ascii_case("content-type") {
            structured = text(header.value).is_some_and(|ct| {
                ct.to_ascii_lowercase()
                    .starts_with("application/cloudevents")
            });
        } else if let Some(name) = header.key.strip_prefix("ce_") {
            if let Some(value) = text(header.value) {
                attributes.push((name, value));
            }
        }
    }
    if structured {
        CanonicalEvent::from_structured_json(value).map_err(DecodeError::Invalid)
    } else {
        CanonicalEvent::from_binary(attributes, value).map_err(DecodeError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use rdkafka::message::Headers;

    use super::*;

    fn event() -> CanonicalEvent {
        vodbridge_test_support::event("id-1", "vod.media.uploaded")
            .media("m1")
            .source("tc")
            .time("2024-01-01T00:00:00Z")
            .build()
    }

    const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn header_map(h: &OwnedHeaders) -> Vec<(String, String)> {
        h.iter()
            .map(|h| {
                (
                    h.key.to_owned(),
                    String::from_utf8(h.value.unwrap_or_default().to_vec()).expect("utf8"),
                )
            })
            .collect()
    }

    #[test]
    fn binary_mode_puts_attributes_in_ce_headers() {
        let enc = encode(&event(), BindingMode::Binary);
        assert_eq!(enc.payload, br#"{"media":{"id":"m1"}}"#);
        let headers = header_map(&enc.headers);
        assert_eq!(
            headers[0],
            ("content-type".to_owned(), "application/json".to_owned())
        );
        let get = |k: &str| {
            headers
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("ce_specversion"), Some("1.0"));
        assert_eq!(get("ce_id"), Some("id-1"));
        assert_eq!(get("ce_type"), Some("vod.media.uploaded"));
        assert_eq!(get("ce_subject"), Some("m1"));
        assert_eq!(get("ce_partitionkey"), Some("m1"));
        assert_eq!(get("ce_datacontenttype"), None, "carried by content-type");
        assert_eq!(headers.len(), 1 + event().attributes().len());
        assert_eq!(get("traceparent"), None, "no trace context, no header");
    }

    #[test]
    fn both_modes_carry_the_trace_context() {
        let mut ev = event();
        ev.traceparent = Some(TRACEPARENT.to_owned());
        ev.tracestate = Some("rojo=1".to_owned());
        for mode in [BindingMode::Binary, BindingMode::Structured] {
            let headers = header_map(&encode(&ev, mode).headers);
            let get = |k: &str| {
                headers
                    .iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.as_str())
            };
            assert_eq!(get("traceparent"), Some(TRACEPARENT), "{mode:?}");
            assert_eq!(get("tracestate"), Some("rojo=1"), "{mode:?}");
            let binary = mode == BindingMode::Binary;
            assert_eq!(
                get("ce_traceparent"),
                binary.then_some(TRACEPARENT),
                "{mode:?}"
            );
            assert_eq!(get("ce_tracestate"), binary.then_some("rojo=1"), "{mode:?}");
        }
        let v: serde_json::Value =
            serde_json::from_slice(&encode(&ev, BindingMode::Structured).payload).expect("json");
        assert_eq!(v["traceparent"], TRACEPARENT);
        assert_eq!(v["tracestate"], "rojo=1");
    }

    #[test]
    fn structured_mode_puts_the_event_in_the_value() {
        let enc = encode(&event(), BindingMode::Structured);
        assert_eq!(
            header_map(&enc.headers),
            vec![(
                "content-type".to_owned(),
                STRUCTURED_CONTENT_TYPE.to_owned()
            )]
        );
        let v: serde_json::Value = serde_json::from_slice(&enc.payload).expect("json");
        assert_eq!(v["id"], "id-1");
        assert_eq!(v["data"]["media"]["id"], "m1");
    }

    #[test]
    fn decode_reads_back_both_modes() {
        let mut ev = event();
        ev.traceparent = Some(TRACEPARENT.to_owned());
        for mode in [BindingMode::Binary, BindingMode::Structured] {
            let enc = encode(&ev, mode);
            let back = decode(Some(enc.headers.as_borrowed()), Some(&enc.payload))
                .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
            assert_eq!(
                back.to_structured_json(),
                ev.to_structured_json(),
                "{mode:?}"
            );
        }
        assert!(matches!(decode(None, None), Err(DecodeError::NoValue)));
        assert!(matches!(
            decode(None, Some(b"not json")),
            Err(DecodeError::Invalid(_))
        ));
    }
}
