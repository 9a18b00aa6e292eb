//! The vendor-neutral `data` layout and the assembly of a [`CanonicalEvent`].
//!
//! Both vendor mappers fill an [`Extract`]; [`build`] turns it into the canonical event. The
//! `data` object (documented in `docs/events.md`, schema in `docs/schema/`) is:
//! `media{}`, `task{}`, `error{}`, `context`, `sessionId`, `space`, `storageRegion` (each only
//! when the vendor gave it) and `original`, the vendor event object exactly as received.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use serde::de::value::{BorrowedStrDeserializer, StringDeserializer};
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::ser::SerializeStruct;
use serde::{forward_to_deserialize_any, Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use vodbridge_core::{
    CanonicalEvent, Outcome, Provider, TimeSource, CONTENT_TYPE_JSON, SPEC_VERSION,
};

use crate::time::format_rfc3339;
use crate::SourceContext;

/// Everything a mapper found in one vendor event.
#[derive(Debug, Default)]
pub(crate) struct Extract<'a> {
    /// The media the event is about (Tencent FileId; Volcengine Vid, else Mid).
    pub(crate) media: Media<'a>,
    /// The task, when the event reports one.
    pub(crate) task: Task<'a>,
    /// Vendor error code (verbatim text) when the outcome is a failure.
    pub(crate) error_code: Option<Cow<'a, str>>,
    /// Vendor error message when the outcome is a failure.
    pub(crate) error_message: Option<Cow<'a, str>>,
    /// The caller's pass-through context (Tencent SessionContext/SourceContext, Volcengine CallbackArgs).
    pub(crate) context: Option<Cow<'a, str>>,
    /// Tencent SessionId.
    pub(crate) session_id: Option<Cow<'a, str>>,
    /// Volcengine SpaceName.
    pub(crate) space: Option<Cow<'a, str>>,
    /// Tencent StorageRegion.
    pub(crate) storage_region: Option<Cow<'a, str>>,
    /// The most specific stable id when there is no media id (task id, RunId, CastId …).
    pub(crate) fallback_key: Option<Cow<'a, str>>,
}

/// `data.media`.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Media<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) id: Option<Cow<'a, str>>,
    /// Every media id the event names, when it names more than one (deletions, concatenations).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) ids: Vec<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) url: Option<Cow<'a, str>>,
    #[serde(rename = "sourceUrl", skip_serializing_if = "Option::is_none")]
    pub(crate) source_url: Option<Cow<'a, str>>,
    #[serde(rename = "storeUri", skip_serializing_if = "Option::is_none")]
    pub(crate) store_uri: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "number")]
    pub(crate) size: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "number")]
    pub(crate) duration: Option<f64>,
}

impl Media<'_> {
    fn is_empty(&self) -> bool {
        self.id.is_none()
            && self.ids.is_empty()
            && self.name.is_none()
            && self.url.is_none()
            && self.source_url.is_none()
            && self.store_uri.is_none()
            && self.size.is_none()
            && self.duration.is_none()
    }
}

/// `data.task`.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Task<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) id: Option<Cow<'a, str>>,
    /// vodbridge's closed-set task kind (`transcode`, `review` …), see `docs/events.md`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) kind: Option<&'static str>,
    /// The vendor's status, verbatim.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) status: Option<Cow<'a, str>>,
}

impl Task<'_> {
    fn is_empty(&self) -> bool {
        self.id.is_none() && self.kind.is_none() && self.status.is_none()
    }
}

#[derive(Serialize)]
struct ErrorInfo<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
}

#[derive(Serialize)]
struct Data<'r, 'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    media: Option<&'r Media<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    task: Option<&'r Task<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorInfo<'r>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<&'r str>,
    #[serde(rename = "sessionId", skip_serializing_if = "Option::is_none")]
    session_id: Option<&'r str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    space: Option<&'r str>,
    #[serde(rename = "storageRegion", skip_serializing_if = "Option::is_none")]
    storage_region: Option<&'r str>,
    original: Original<'r>,
}

impl Data<'_, '_> {
    /// The JSON text of `data`: byte for byte what the derived `Serialize` writes (a unit test
    /// holds the two equal), written straight into a `String` of about the right size. Through
    /// serde it cost twice as much: every member name escaped on every call, every value escaped
    /// byte by byte, and the buffer grown from 128 bytes.
    fn to_json(&self) -> String {
        let original = self.original.get();
        let mut out = String::with_capacity(original.len() + DATA_RESERVE);
        out.push('{');
        let mut w = JsonObject(&mut out, true);
        if let Some(m) = self.media {
            w.key("media");
            w.0.push('{');
            let mut o = JsonObject(w.0, true);
            o.push_str("id", m.id.as_deref());
            if !m.ids.is_empty() {
                o.key("ids");
                o.0.push('[');
                for (i, id) in m.ids.iter().enumerate() {
                    if i > 0 {
                        o.0.push(',');
                    }
                    json_string(o.0, id);
                }
                o.0.push(']');
            }
            o.push_str("name", m.name.as_deref());
            o.push_str("url", m.url.as_deref());
            o.push_str("sourceUrl", m.source_url.as_deref());
            o.push_str("storeUri", m.store_uri.as_deref());
            o.push_number("size", m.size);
            o.push_number("duration", m.duration);
            o.0.push('}');
        }
        if let Some(t) = self.task {
            w.key("task");
            w.0.push('{');
            let mut o = JsonObject(w.0, true);
            o.push_str("id", t.id.as_deref());
            o.push_str("kind", t.kind);
            o.push_str("status", t.status.as_deref());
            o.0.push('}');
        }
        if let Some(e) = &self.error {
            w.key("error");
            w.0.push('{');
            let mut o = JsonObject(w.0, true);
            o.push_str("code", e.code);
            o.push_str("message", e.message);
            o.0.push('}');
        }
        w.push_str("context", self.context);
        w.push_str("sessionId", self.session_id);
        w.push_str("space", self.space);
        w.push_str("storageRegion", self.storage_region);
        w.key("original");
        w.0.push_str(original);
        out.push('}');
        out
    }
}

/// Bytes reserved in `data` beyond the original: the extracted fields and their names.
const DATA_RESERVE: usize = 512;

/// The members of a JSON object being written (the `{` is written already); `.1`: none yet.
struct JsonObject<'o>(&'o mut String, bool);

impl JsonObject<'_> {
    fn key(&mut self, name: &str) {
        let out = &mut *self.0;
        if !std::mem::replace(&mut self.1, false) {
            out.push(',');
        }
        out.push('"');
        out.push_str(name);
        out.push_str("\":");
    }

    fn push_str(&mut self, name: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.key(name);
            json_string(self.0, value);
        }
    }

    /// A size or duration, as [`number`] serializes it.
    fn push_number(&mut self, name: &str, value: Option<f64>) {
        let Some(f) = value else { return };
        self.key(name);
        if f.fract() == 0.0 && f.abs() < 9.0e15 {
            let _ = write!(self.0, "{}", f as i64);
        } else {
            self.0
                .push_str(&serde_json::to_string(&f).unwrap_or_else(|_| "null".to_owned()));
        }
    }
}

/// `s` as a JSON string, escaped as serde_json escapes it (control characters, `"` and `\`),
/// copied as it is when nothing needs escaping.
fn json_string(out: &mut String, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.reserve(s.len() + 2);
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "null".to_owned()));
    }
}

/// JSON text written here, presented to `Box<RawValue>`'s `Deserialize` as the one-member map
/// (serde_json's private marker key, then the text) from which it takes a raw value as it is:
/// the only way to make one from a `String` without a validating scan. Should serde_json ever
/// stop accepting it, `build` falls back to serializing through serde; a unit test watches it.
struct Written(String);

impl<'de> Deserializer<'de> for Written {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        v.visit_map(WrittenMap(Some(self.0), false))
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
        ignored_any
    }
}

/// The map of [`Written`]: the marker key, then the text (`.1`: the key was given).
struct WrittenMap(Option<String>, bool);

impl<'de> MapAccess<'de> for WrittenMap {
    type Error = de::value::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        if std::mem::replace(&mut self.1, true) {
            return Ok(None);
        }
        seed.deserialize(BorrowedStrDeserializer::new(RAW_VALUE_MARKER))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        let text = self
            .0
            .take()
            .ok_or_else(|| de::Error::custom("raw value read twice"))?;
        seed.deserialize(StringDeserializer::new(text))
    }
}

/// The vendor event object exactly as received, for `data.original`.
#[derive(Clone, Copy)]
pub(crate) enum Original<'a> {
    /// A raw value captured by a parse (an element of a `PullEvents` `EventSet`, a pulled event).
    Raw(&'a RawValue),
    /// The whole text of a body that a parse has already read and accepted as one JSON value.
    Text(&'a str),
}

impl<'a> Original<'a> {
    /// The original of a whole body `text`, which the mapper's parse has accepted.
    ///
    /// Why not a `&RawValue`: one can only be had by scanning the text once more (a fifth of the
    /// cost of normalizing a small callback), yet the text is already known to be one JSON value.
    /// So it is written verbatim the way serde_json writes a `RawValue` (`RAW_VALUE_MARKER`);
    /// should that ever stop working (it relies on a serde_json-internal name, checked once
    /// here), the text is scanned into a `RawValue` as before.
    pub(crate) fn of_body(text: &'a str) -> Result<Self, serde_json::Error> {
        static VERBATIM_WORKS: OnceLock<bool> = OnceLock::new();
        let works = *VERBATIM_WORKS.get_or_init(|| {
            serde_json::to_string(&Original::Text(r#"{"a" : [1]}"#))
                .is_ok_and(|json| json == r#"{"a" : [1]}"#)
        });
        if works {
            // What a `RawValue` parse of the text would hold: the value without the JSON
            // whitespace around it.
            Ok(Original::Text(text.trim_matches([' ', '\t', '\n', '\r'])))
        } else {
            serde_json::from_str(text).map(Original::Raw)
        }
    }

    /// The JSON text.
    pub(crate) fn get(self) -> &'a str {
        match self {
            Original::Raw(raw) => raw.get(),
            Original::Text(text) => text,
        }
    }
}

/// serde_json serializes a `RawValue` as a one-field struct named by its private marker, which
/// its serializer recognizes and writes verbatim; [`Original::Text`] does the same.
const RAW_VALUE_MARKER: &str = "$serde_json::private::RawValue";

impl Serialize for Original<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Original::Raw(raw) => raw.serialize(s),
            Original::Text(text) => {
                let mut raw = s.serialize_struct(RAW_VALUE_MARKER, 1)?;
                raw.serialize_field(RAW_VALUE_MARKER, text)?;
                raw.end()
            }
        }
    }
}

/// Sizes and durations: integers when they are whole (bytes), fractions otherwise.
fn number<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => s.serialize_i64(*f as i64),
        Some(f) => s.serialize_f64(*f),
        None => s.serialize_none(),
    }
}

/// What identifies the event apart from the extracted fields.
pub(crate) struct Header<'h> {
    pub(crate) provider: Provider,
    pub(crate) providertype: &'h str,
    pub(crate) ty: &'static str,
    pub(crate) outcome: Outcome,
    pub(crate) id: String,
    pub(crate) time: Option<DateTime<Utc>>,
}

/// Assemble the canonical event.
pub(crate) fn build(
    h: Header<'_>,
    x: Extract<'_>,
    original: Original<'_>,
    ctx: &SourceContext<'_>,
) -> CanonicalEvent {
    let failed = h.outcome == Outcome::Failed;
    let error =
        (failed && (x.error_code.is_some() || x.error_message.is_some())).then(|| ErrorInfo {
            code: x.error_code.as_deref(),
            message: x.error_message.as_deref().filter(|m| !m.is_empty()),
        });
    let data = Data {
        media: (!x.media.is_empty()).then_some(&x.media),
        task: (!x.task.is_empty()).then_some(&x.task),
        error,
        context: x.context.as_deref(),
        session_id: x.session_id.as_deref(),
        space: x.space.as_deref(),
        storage_region: x.storage_region.as_deref(),
        original,
    };
    let data = <Box<RawValue>>::deserialize(Written(data.to_json())).unwrap_or_else(|_| {
        // Serializing borrowed strings, finite numbers and verbatim JSON cannot fail; the
        // fallback keeps the original at least.
        serde_json::value::to_raw_value(&data).unwrap_or_else(|_| {
            RawValue::from_string(original.get().to_owned())
                .unwrap_or_else(|_| RawValue::NULL.to_owned())
        })
    });
    let (time, timesource) = match h.time {
        Some(t) => (format_rfc3339(&t), TimeSource::Provider),
        None => (format_rfc3339(&ctx.received_at), TimeSource::Received),
    };
    let subject = x.media.id.as_deref().map(str::to_owned);
    let partitionkey = match (&subject, &x.fallback_key) {
        (Some(s), _) => s.clone(),
        (None, Some(k)) => k.to_string(),
        (None, None) => h.id.clone(),
    };
    CanonicalEvent {
        specversion: SPEC_VERSION.to_owned(),
        id: h.id,
        source: ctx.source_uri.to_owned(),
        ty: h.ty.to_owned(),
        subject,
        time,
        datacontenttype: CONTENT_TYPE_JSON.to_owned(),
        provider: h.provider,
        providertype: h.providertype.to_owned(),
        outcome: h.outcome,
        partitionkey,
        timesource,
        source_name: ctx.source_name.to_owned(),
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_text_becomes_a_raw_value_as_is() {
        // The serde_json behaviour `build` relies on still holds (else it falls back).
        let text = r#"{"a" : [1, "\u00e9"]}"#;
        let raw = <Box<RawValue>>::deserialize(Written(text.to_owned())).expect("accepted");
        assert_eq!(raw.get(), text);
    }

    #[test]
    fn data_is_written_as_serde_writes_it() {
        let nasty = Cow::Borrowed("a\"b\\c\u{1}\n\té😀\u{7f}/");
        let media = Media {
            id: Some(Cow::Borrowed("id")),
            ids: vec![Cow::Borrowed("1"), nasty.clone()],
            name: Some(nasty.clone()),
            url: Some(Cow::Borrowed("https://x/y?z=1&w=<2>")),
            source_url: Some(Cow::Borrowed("")),
            store_uri: Some(Cow::Borrowed("s")),
            size: Some(1234.0),
            duration: Some(12.5),
        };
        let task = Task {
            id: Some(Cow::Borrowed("t")),
            kind: Some("transcode"),
            status: Some(nasty.clone()),
        };
        let numbers = [
            None,
            Some(0.0),
            Some(-0.0),
            Some(-3.0),
            Some(8.9e15),
            Some(9.1e15),
            Some(1e300),
            Some(0.1),
            Some(-1e-7),
            Some(f64::NAN),
            Some(f64::INFINITY),
        ];
        let sparse_media = Media {
            duration: Some(3.0),
            ..Media::default()
        };
        let sparse_task = Task {
            kind: Some("review"),
            ..Task::default()
        };
        for (i, size) in numbers.into_iter().enumerate() {
            let media = Media {
                size,
                ..Media {
                    ids: media.ids.clone(),
                    ..Media::default()
                }
            };
            let full = i % 2 == 0;
            let data = Data {
                media: Some(if i == 3 { &sparse_media } else { &media }),
                task: if i == 4 {
                    Some(&sparse_task)
                } else {
                    full.then_some(&task)
                },
                error: full.then(|| ErrorInfo {
                    code: Some("E"),
                    message: Some(&nasty),
                }),
                context: full.then_some("ctx"),
                session_id: Some("s\u{0}"),
                space: None,
                storage_region: full.then_some("ap-guangzhou"),
                original: Original::Text("{ \"a\" : 1 }"),
            };
            assert_eq!(
                data.to_json(),
                serde_json::to_string(&data).expect("serializes"),
                "{size:?}"
            );
        }
        let full = Data {
            media: Some(&media),
            task: Some(&task),
            error: Some(ErrorInfo {
                code: None,
                message: None,
            }),
            context: Some(""),
            session_id: None,
            space: Some("sp"),
            storage_region: None,
            original: Original::Text("[]"),
        };
        assert_eq!(
            full.to_json(),
            serde_json::to_string(&full).expect("serializes")
        );
        let empty = Data {
            media: None,
            task: None,
            error: None,
            context: None,
            session_id: None,
            space: None,
            storage_region: None,
            original: Original::Text("{}"),
        };
        assert_eq!(
            empty.to_json(),
            serde_json::to_string(&empty).expect("serializes")
        );
    }
}
