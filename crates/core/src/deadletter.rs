//! Dead letters: what the bridge was given but could not turn into a canonical event.
//!
//! A dead letter is published as a CloudEvent too (type [`DEAD_LETTER_TYPE`]), so every sink can
//! carry it with the same code path and operators read it with the same tools.

use base64::Engine as _;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::event::{
    CanonicalEvent, Outcome, Provider, TimeSource, CONTENT_TYPE_JSON, SPEC_VERSION,
};
use crate::trace::TraceContext;

/// CloudEvents `type` of a dead-letter record.
pub const DEAD_LETTER_TYPE: &str = "vodbridge.deadletter";

/// Raw input that could not be normalized, with enough context to replay it by hand.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// Deterministic id of the dead letter (the caller hashes the raw body).
    pub id: String,
    /// The configured source name the input arrived on.
    pub source_name: String,
    /// CloudEvents `source` of that source.
    pub source: String,
    /// The vendor the source is configured for.
    pub provider: Provider,
    /// Why the input was rejected (the normalizer's error text).
    pub reason: String,
    /// RFC 3339 receive time.
    pub received_at: String,
    /// `http` or `pull`: which ingress path received it.
    pub ingress: &'static str,
    /// The raw bytes exactly as received.
    pub body: Vec<u8>,
    /// The trace context of the callback or pull that delivered the input (or of the event a
    /// sink rejected), carried as the dead letter's `traceparent`/`tracestate`.
    pub trace: Option<TraceContext>,
}

#[derive(Serialize)]
struct DeadLetterData<'a> {
    source: &'a str,
    provider: Provider,
    ingress: &'a str,
    reason: &'a str,
    receivedtime: &'a str,
    /// The body as text when it is valid UTF-8 (easy to read), else absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<&'a str>,
    /// The body, always, as standard base64: lossless even for invalid UTF-8.
    bodybase64: String,
}

impl DeadLetter {
    /// The dead letter as a CloudEvent of type [`DEAD_LETTER_TYPE`].
    pub fn to_event(&self) -> CanonicalEvent {
        let data = DeadLetterData {
            source: &self.source_name,
            provider: self.provider,
            ingress: self.ingress,
            reason: &self.reason,
            receivedtime: &self.received_at,
            body: std::str::from_utf8(&self.body).ok(),
            bodybase64: base64::engine::general_purpose::STANDARD.encode(&self.body),
        };
        let data = serde_json::value::to_raw_value(&data)
            .unwrap_or_else(|_| RawValue::from_string("{}".to_owned()).unwrap_or_default());
        let mut event = CanonicalEvent {
            specversion: SPEC_VERSION.to_owned(),
            id: self.id.clone(),
            source: self.source.clone(),
            ty: DEAD_LETTER_TYPE.to_owned(),
            subject: None,
            time: self.received_at.clone(),
            datacontenttype: CONTENT_TYPE_JSON.to_owned(),
            provider: self.provider,
            providertype: String::new(),
            outcome: Outcome::Failed,
            partitionkey: self.source_name.clone(),
            timesource: TimeSource::Received,
            traceparent: None,
            tracestate: None,
            source_name: self.source_name.clone(),
            data,
        };
        if let Some(trace) = &self.trace {
            event.set_trace(trace);
        }
        event
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_invalid_utf8_losslessly() {
        let dl = DeadLetter {
            id: "x".into(),
            source_name: "volc".into(),
            source: "/vodbridge/volc".into(),
            provider: Provider::Volcengine,
            reason: "body is not JSON".into(),
            received_at: "2026-01-01T00:00:00Z".into(),
            ingress: "http",
            body: vec![0xff, b'{'],
            trace: None,
        };
        let ev = dl.to_event();
        assert_eq!(ev.ty, DEAD_LETTER_TYPE);
        let data: serde_json::Value = serde_json::from_str(ev.data_json()).expect("json");
        assert!(data.get("body").is_none());
        assert_eq!(data["bodybase64"], "/3s=");
        assert_eq!(data["reason"], "body is not JSON");
        assert_eq!(ev.traceparent, None);
    }

    #[test]
    fn carries_the_trace_context() {
        let (trace, _) = TraceContext::continue_or_start(
            Some(b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".as_slice()),
            [b"rojo=1".as_slice()],
        );
        let dl = DeadLetter {
            id: "x".into(),
            source_name: "tc".into(),
            source: "/vodbridge/tc".into(),
            provider: Provider::Tencent,
            reason: "body is not JSON".into(),
            received_at: "2026-01-01T00:00:00Z".into(),
            ingress: "http",
            body: b"nope".to_vec(),
            trace: Some(trace.clone()),
        };
        let ev = dl.to_event();
        assert_eq!(ev.traceparent, Some(trace.traceparent()));
        assert_eq!(ev.tracestate.as_deref(), Some("rojo=1"));
        let json: serde_json::Value =
            serde_json::from_slice(&ev.to_structured_json()).expect("json");
        assert_eq!(json["traceparent"], trace.traceparent());
    }
}
