//! The vendor-neutral `data` layout and the assembly of a [`CanonicalEvent`].
//!
//! Both vendor mappers fill an [`Extract`]; [`build`] turns it into the canonical event. The
//! `data` object (documented in `docs/events.md`, schema in `docs/schema/`) is:
//! `media{}`, `task{}`, `error{}`, `context`, `sessionId`, `space`, `storageRegion` (each only
//! when the vendor gave it) and `original`, the vendor event object exactly as received.

mod json;

use std::borrow::Cow;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;
use vodbridge_core::{
    CanonicalEvent, Outcome, Provider, TimeSource, CONTENT_TYPE_JSON, SPEC_VERSION,
};

use crate::time::format_rfc3339;
use crate::{Path, SourceContext};
use json::Written;

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
    path: Path,
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
    let written = match path {
        Path::Fast => <Box<RawValue>>::deserialize(Written(data.to_json())).ok(),
        Path::Reference => None,
    };
    let data = written.unwrap_or_else(|| {
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
        traceparent: None,
        tracestate: None,
        source_name: ctx.source_name.to_owned(),
        data,
    }
}
