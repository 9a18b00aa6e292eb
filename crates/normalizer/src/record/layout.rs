//! The `data` object's layout as serde writes it (the reference path) and as `json.rs` writes it
//! by hand (the fast path): `media{}`, `task{}`, `error{}`, the pass-through strings and the
//! verbatim `original`.

use std::borrow::Cow;
use std::sync::OnceLock;

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

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
    pub(super) fn is_empty(&self) -> bool {
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
    pub(super) fn is_empty(&self) -> bool {
        self.id.is_none() && self.kind.is_none() && self.status.is_none()
    }
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
    /// Why not a `&RawValue`: one can only be had by scanning the text once more, yet the text is
    /// already known to be one JSON value.
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
pub(super) const RAW_VALUE_MARKER: &str = "$serde_json::private::RawValue";

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
