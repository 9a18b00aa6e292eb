//! The `data` object's layout as serde writes it (the reference path) and as it is written by
//! hand (the fast path, [`Data::to_json`]): `media{}`, `task{}`, `error{}`, the pass-through strings and the
//! verbatim `original`.

use std::borrow::Cow;

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

use crate::fast::{member, JsonWriter, RAW_VALUE_MARKER};

/// `data.media`.
#[derive(Debug, Default, PartialEq, Serialize)]
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

/// `data.task`.
#[derive(Debug, Default, PartialEq, Serialize)]
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

#[derive(Serialize)]
pub(super) struct ErrorInfo<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) message: Option<&'a str>,
}

#[derive(Serialize)]
pub(super) struct Data<'r, 'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) media: Option<&'r Media<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) task: Option<&'r Task<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) error: Option<ErrorInfo<'r>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) context: Option<&'r str>,
    #[serde(rename = "sessionId", skip_serializing_if = "Option::is_none")]
    pub(super) session_id: Option<&'r str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) space: Option<&'r str>,
    #[serde(rename = "storageRegion", skip_serializing_if = "Option::is_none")]
    pub(super) storage_region: Option<&'r str>,
    pub(super) original: Original<'r>,
}

impl Data<'_, '_> {
    /// The JSON text of `data` written by hand, `capacity` about its length: what the derived
    /// `Serialize` writes (a test holds the two equal), at less cost (docs/performance.md).
    pub(super) fn to_json(&self, capacity: usize) -> String {
        let mut w = JsonWriter::with_capacity(capacity);
        if let Some(m) = self.media {
            w.open(member!("media"));
            w.str(member!("id"), m.id.as_deref());
            w.strings(member!("ids"), &m.ids);
            w.str(member!("name"), m.name.as_deref());
            w.str(member!("url"), m.url.as_deref());
            w.str(member!("sourceUrl"), m.source_url.as_deref());
            w.str(member!("storeUri"), m.store_uri.as_deref());
            w.number(member!("size"), m.size);
            w.number(member!("duration"), m.duration);
            w.close();
        }
        if let Some(t) = self.task {
            w.open(member!("task"));
            w.str(member!("id"), t.id.as_deref());
            w.str(member!("kind"), t.kind);
            w.str(member!("status"), t.status.as_deref());
            w.close();
        }
        if let Some(e) = &self.error {
            w.open(member!("error"));
            w.str(member!("code"), e.code);
            w.str(member!("message"), e.message);
            w.close();
        }
        w.str(member!("context"), self.context);
        w.str(member!("sessionId"), self.session_id);
        w.str(member!("space"), self.space);
        w.str(member!("storageRegion"), self.storage_region);
        w.finish(member!("original"), self.original.get())
    }
}

/// The vendor event object exactly as received, for `data.original`.
#[derive(Clone, Copy)]
pub(crate) enum Original<'a> {
    /// A raw value captured by a parse (the reference reading).
    Raw(&'a RawValue),
    /// Text that a parse has already read and accepted as one JSON value (the fast reading: a
    /// body, a pulled element, an element located in its `PullEvents` body).
    Text(&'a str),
}

impl<'a> Original<'a> {
    /// The original of a whole body `text`, which the mapper's parse has accepted: what a
    /// `RawValue` parse of it would hold (the value without the JSON whitespace around it),
    /// without scanning it once more (see `crate::fast::RAW_VALUE_MARKER`).
    pub(crate) fn of_body(text: &'a str) -> Self {
        Original::Text(text.trim_matches([' ', '\t', '\n', '\r']))
    }

    /// The JSON text.
    pub(crate) fn get(self) -> &'a str {
        match self {
            Original::Raw(raw) => raw.get(),
            Original::Text(text) => text,
        }
    }
}

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

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

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
                data.to_json(0),
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
            full.to_json(0),
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
            empty.to_json(0),
            serde_json::to_string(&empty).expect("serializes")
        );
    }
}
