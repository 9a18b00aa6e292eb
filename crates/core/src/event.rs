//! The canonical record: a CloudEvents 1.0 event in its JSON (structured) form.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::trace::TraceContext;

/// The CloudEvents specification version every vodbridge event carries.
pub const SPEC_VERSION: &str = "1.0";

/// `datacontenttype` of every vodbridge event: `data` is always a JSON object.
pub const CONTENT_TYPE_JSON: &str = "application/json";

/// Bytes reserved beyond `data` when an event is serialized: the context and extension attributes
/// (id, source, type, subject, time, …) take a few hundred.
const ENVELOPE_RESERVE: usize = 512;

/// The attribute names [`CanonicalEvent::from_binary`] reads: every context and extension
/// attribute of the struct.
const BINARY_ATTRIBUTES: &[&str] = &[
    "specversion",
    "id",
    "source",
    "type",
    "subject",
    "time",
    "datacontenttype",
    "provider",
    "providertype",
    "outcome",
    "partitionkey",
    "timesource",
    "traceparent",
    "tracestate",
];

/// The cloud vendor an event came from (CloudEvents extension attribute `provider`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Tencent Cloud VOD (normal callbacks and `PullEvents`).
    Tencent,
    /// Volcengine VOD HTTP callbacks.
    Volcengine,
    /// vodbridge itself (dead letters).
    Vodbridge,
}

impl Provider {
    /// The lowercase name used in attributes, metric labels and destination templates.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Tencent => "tencent",
            Provider::Volcengine => "volcengine",
            Provider::Vodbridge => "vodbridge",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Provider {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "tencent" => Ok(Provider::Tencent),
            "volcengine" => Ok(Provider::Volcengine),
            other => Err(format!(
                "unknown provider `{other}` (expected tencent or volcengine)"
            )),
        }
    }
}

/// How the occurrence ended, as far as the vendor told (CloudEvents extension `outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The task or operation completed successfully.
    Succeeded,
    /// The task or operation failed; `data.error` says why.
    Failed,
    /// An intermediate state (the task is still running).
    Processing,
}

impl Outcome {
    /// The lowercase wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Processing => "processing",
        }
    }
}

/// Where the `time` attribute came from (CloudEvents extension `timesource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeSource {
    /// The vendor stated when the occurrence happened.
    Provider,
    /// The vendor gave no usable time; `time` is when vodbridge received the event.
    Received,
}

impl TimeSource {
    /// The lowercase wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeSource::Provider => "provider",
            TimeSource::Received => "received",
        }
    }
}

/// One canonical vodbridge event: CloudEvents 1.0 context attributes, vodbridge's extension
/// attributes and the `data` object (already serialized JSON, so every sink reuses the same
/// bytes and nothing is parsed twice).
///
/// Serializing this struct with serde gives the CloudEvents JSON event format
/// (`application/cloudevents+json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CanonicalEvent {
    /// Always [`SPEC_VERSION`].
    pub specversion: String,
    /// Deterministic id: the same occurrence always yields the same id (see `docs/events.md`).
    pub id: String,
    /// URI-reference naming the vodbridge source that received the event.
    pub source: String,
    /// Vendor-neutral canonical type such as `vod.media.uploaded`.
    #[serde(rename = "type")]
    pub ty: String,
    /// The media the event is about (media id), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// RFC 3339 timestamp of the occurrence (see [`CanonicalEvent::timesource`]).
    pub time: String,
    /// Always [`CONTENT_TYPE_JSON`].
    pub datacontenttype: String,
    /// Extension: the vendor (`tencent` | `volcengine`).
    pub provider: Provider,
    /// Extension: the vendor's own event type, verbatim (e.g. `NewFileUpload`).
    pub providertype: String,
    /// Extension: `succeeded` | `failed` | `processing`.
    pub outcome: Outcome,
    /// Extension (CloudEvents partitioning): the ordering key, normally the media id.
    pub partitionkey: String,
    /// Extension: whether `time` came from the vendor or is the receive time.
    pub timesource: TimeSource,
    /// Extension (CloudEvents distributed tracing): the W3C `traceparent` of the callback or
    /// pull that delivered the event. Set by ingress, absent from what `normalize` alone gives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// Extension (CloudEvents distributed tracing): the W3C `tracestate` the caller sent with
    /// its `traceparent`, when it sent a valid one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracestate: Option<String>,
    /// The configured source name (`[[sources]] name`); used for routing templates, not sent as
    /// an attribute because `source` already carries it.
    #[serde(skip)]
    pub source_name: String,
    /// The `data` object: vendor-neutral fields plus the complete original vendor event.
    pub data: Box<RawValue>,
}

impl CanonicalEvent {
    /// The event in CloudEvents JSON format (structured mode), as bytes: byte for byte what
    /// serializing it with serde gives.
    pub fn to_structured_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.structured_len_hint());
        self.write_structured_json(&mut out);
        out
    }

    /// [`CanonicalEvent::to_structured_json`] appended to `out`.
    ///
    /// Written field by field rather than through the derived `Serialize`, which escapes every
    /// member name on every call and every value byte by byte: here the names are constants and
    /// a value is copied as it is when it needs no escaping (the common case). The order and the
    /// omitted `subject` follow the struct's serde attributes; a unit test holds the two equal.
    pub fn write_structured_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"specversion\":");
        json_string(out, &self.specversion);
        out.extend_from_slice(b",\"id\":");
        json_string(out, &self.id);
        out.extend_from_slice(b",\"source\":");
        json_string(out, &self.source);
        out.extend_from_slice(b",\"type\":");
        json_string(out, &self.ty);
        if let Some(subject) = &self.subject {
            out.extend_from_slice(b",\"subject\":");
            json_string(out, subject);
        }
        out.extend_from_slice(b",\"time\":");
        json_string(out, &self.time);
        out.extend_from_slice(b",\"datacontenttype\":");
        json_string(out, &self.datacontenttype);
        out.extend_from_slice(b",\"provider\":");
        json_string(out, self.provider.as_str());
        out.extend_from_slice(b",\"providertype\":");
        json_string(out, &self.providertype);
        out.extend_from_slice(b",\"outcome\":");
        json_string(out, self.outcome.as_str());
        out.extend_from_slice(b",\"partitionkey\":");
        json_string(out, &self.partitionkey);
        out.extend_from_slice(b",\"timesource\":");
        json_string(out, self.timesource.as_str());
        if let Some(traceparent) = &self.traceparent {
            out.extend_from_slice(b",\"traceparent\":");
            json_string(out, traceparent);
        }
        if let Some(tracestate) = &self.tracestate {
            out.extend_from_slice(b",\"tracestate\":");
            json_string(out, tracestate);
        }
        out.extend_from_slice(b",\"data\":");
        out.extend_from_slice(self.data.get().as_bytes());
        out.push(b'}');
    }

    /// A capacity for the structured JSON of this event: `data` is most of it, the envelope a
    /// few hundred bytes. Sizing buffers with it saves growing them from serde_json's 128 bytes.
    pub fn structured_len_hint(&self) -> usize {
        self.data.get().len() + ENVELOPE_RESERVE
    }

    /// The `data` object's JSON text (binary mode body).
    pub fn data_json(&self) -> &str {
        self.data.get()
    }

    /// Every context and extension attribute as `(name, value)` pairs, in a fixed order, for
    /// binary-mode bindings (`ce_` Kafka headers, `ce-` NATS headers). `datacontenttype` is not
    /// included: bindings map it to their own `content-type` header.
    pub fn attributes(&self) -> Vec<(&'static str, &str)> {
        let mut attrs = vec![
            ("specversion", self.specversion.as_str()),
            ("id", self.id.as_str()),
            ("source", self.source.as_str()),
            ("type", self.ty.as_str()),
        ];
        if let Some(subject) = &self.subject {
            attrs.push(("subject", subject.as_str()));
        }
        attrs.extend([
            ("time", self.time.as_str()),
            ("provider", self.provider.as_str()),
            ("providertype", self.providertype.as_str()),
            ("outcome", self.outcome.as_str()),
            ("partitionkey", self.partitionkey.as_str()),
            ("timesource", self.timesource.as_str()),
        ]);
        if let Some(traceparent) = &self.traceparent {
            attrs.push(("traceparent", traceparent.as_str()));
        }
        if let Some(tracestate) = &self.tracestate {
            attrs.push(("tracestate", tracestate.as_str()));
        }
        attrs
    }

    /// Read an event in CloudEvents JSON format (structured mode), as
    /// [`CanonicalEvent::to_structured_json`] writes it. `source_name` is not part of the format
    /// and is left empty.
    pub fn from_structured_json(json: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(json)
    }

    /// Rebuild an event from its binary-mode form: the attributes as `(name, value)` pairs (what
    /// [`CanonicalEvent::attributes`] gives, values already decoded from the binding's header
    /// encoding; other names are ignored) and the `data` bytes. `datacontenttype` defaults to
    /// [`CONTENT_TYPE_JSON`]; a missing or invalid attribute, or `data` that is not JSON, is an
    /// error. `source_name` is left empty.
    pub fn from_binary<'a>(
        attributes: impl IntoIterator<Item = (&'a str, String)>,
        data: &[u8],
    ) -> Result<Self, serde_json::Error> {
        // Through the structured form, so both modes are validated by the same derived code.
        let mut json = Vec::with_capacity(data.len() + ENVELOPE_RESERVE);
        json.push(b'{');
        let mut content_type = false;
        for (name, value) in attributes {
            if !BINARY_ATTRIBUTES.contains(&name) {
                continue;
            }
            content_type |= name == "datacontenttype";
            json_string(&mut json, name);
            json.push(b':');
            json_string(&mut json, &value);
            json.push(b',');
        }
        if !content_type {
            json.extend_from_slice(b"\"datacontenttype\":");
            json_string(&mut json, CONTENT_TYPE_JSON);
            json.push(b',');
        }
        json.extend_from_slice(b"\"data\":");
        json.extend_from_slice(data);
        json.push(b'}');
        serde_json::from_slice(&json)
    }

    /// Give the event the trace context of the callback or pull that delivered it.
    pub fn set_trace(&mut self, trace: &TraceContext) {
        self.traceparent = Some(trace.traceparent());
        self.tracestate = trace.tracestate().map(str::to_owned);
    }
}

/// `s` as a JSON string, escaped exactly as serde_json escapes it (control characters, `"` and
/// `\`; nothing else), and copied as it is when nothing needs escaping.
fn json_string(out: &mut Vec<u8>, s: &str) {
    // Branch-free, so that the compiler vectorizes the scan.
    let escape = s
        .bytes()
        .fold(false, |e, b| e | (b < 0x20) | (b == b'"') | (b == b'\\'));
    if !escape {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Writing a string into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CanonicalEvent {
        CanonicalEvent {
            specversion: SPEC_VERSION.into(),
            id: "abc".into(),
            source: "/vodbridge/tencent".into(),
            ty: "vod.media.uploaded".into(),
            subject: Some("5285890784273533167".into()),
            time: "2024-05-06T09:49:33Z".into(),
            datacontenttype: CONTENT_TYPE_JSON.into(),
            provider: Provider::Tencent,
            providertype: "NewFileUpload".into(),
            outcome: Outcome::Succeeded,
            partitionkey: "5285890784273533167".into(),
            timesource: TimeSource::Provider,
            traceparent: None,
            tracestate: None,
            source_name: "tencent".into(),
            data: RawValue::from_string(r#"{"media":{"id":"5285890784273533167"}}"#.into())
                .expect("valid json"),
        }
    }

    #[test]
    fn structured_json_round_trips() {
        let ev = sample();
        let bytes = ev.to_structured_json();
        let value: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(value["type"], "vod.media.uploaded");
        assert_eq!(value["provider"], "tencent");
        assert_eq!(value["data"]["media"]["id"], "5285890784273533167");
        assert!(value.get("source_name").is_none());
        let back: CanonicalEvent = serde_json::from_slice(&bytes).expect("parse back");
        assert_eq!(back.id, ev.id);
        assert_eq!(back.data.get(), ev.data.get());
    }

    #[test]
    fn structured_json_is_what_serde_writes() {
        let mut events = vec![sample()];
        let mut other = sample();
        other.subject = None;
        other.provider = Provider::Volcengine;
        other.outcome = Outcome::Failed;
        other.timesource = TimeSource::Received;
        other.source = "/v/\"quoted\" \\ back\u{1}\u{1f}\n\t/é😀\u{7f}".into();
        other.partitionkey = "<\u{2028}>".into();
        other.data = RawValue::from_string("{ \"a\" : [1, \"\\u00e9\"] }".into()).expect("json");
        events.push(other);
        let mut traced = sample();
        traced.traceparent = Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into());
        events.push(traced.clone());
        traced.tracestate = Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE".into());
        events.push(traced);
        let mut empty = sample();
        empty.subject = Some(String::new());
        empty.providertype = String::new();
        events.push(empty);
        for ev in events {
            assert_eq!(
                String::from_utf8(ev.to_structured_json()).expect("utf-8"),
                serde_json::to_string(&ev).expect("serializes")
            );
        }
    }

    #[test]
    fn attributes_are_lowercase_alphanumeric() {
        for (name, _) in sample().attributes() {
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
                "{name}"
            );
        }
    }

    #[test]
    fn binary_form_reads_back_what_attributes_and_data_give() {
        let mut traced = sample();
        traced.traceparent = Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into());
        traced.tracestate = Some("rojo=1".into());
        traced.source = "/v/\"quoted\" é".into();
        let mut bare = sample();
        bare.subject = None;
        for ev in [sample(), traced, bare] {
            let attrs: Vec<(&str, String)> = ev
                .attributes()
                .into_iter()
                .map(|(n, v)| (n, v.to_owned()))
                .chain([("somethingelse", "ignored".to_owned())])
                .collect();
            let back =
                CanonicalEvent::from_binary(attrs, ev.data_json().as_bytes()).expect("decodes");
            assert_eq!(back.to_structured_json(), ev.to_structured_json());
        }
        let structured = CanonicalEvent::from_structured_json(&sample().to_structured_json())
            .expect("structured");
        assert_eq!(
            structured.to_structured_json(),
            sample().to_structured_json()
        );
    }

    #[test]
    fn binary_form_refuses_missing_attributes_and_bad_data() {
        let ev = sample();
        let without_id: Vec<(&str, String)> = ev
            .attributes()
            .into_iter()
            .filter(|(n, _)| *n != "id")
            .map(|(n, v)| (n, v.to_owned()))
            .collect();
        assert!(CanonicalEvent::from_binary(without_id, b"{}").is_err());
        let all: Vec<(&str, String)> = ev
            .attributes()
            .into_iter()
            .map(|(n, v)| (n, v.to_owned()))
            .collect();
        assert!(CanonicalEvent::from_binary(all.clone(), b"{not json").is_err());
        let mut bad_outcome = all;
        bad_outcome.retain(|(n, _)| *n != "outcome");
        bad_outcome.push(("outcome", "maybe".to_owned()));
        assert!(CanonicalEvent::from_binary(bad_outcome, b"{}").is_err());
    }
}
