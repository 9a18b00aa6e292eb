//! The vendor-neutral `data` layout and the assembly of a [`CanonicalEvent`].
//!
//! Both vendor mappers fill an [`Extract`]; [`build`] turns it into the canonical event. The
//! `data` object (documented in `docs/events.md`, schema in `docs/schema/`) is:
//! `media{}`, `task{}`, `error{}`, `context`, `sessionId`, `space`, `storageRegion` (each only
//! when the vendor gave it) and `original`, the vendor event object exactly as received.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};
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
    original: &'r RawValue,
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
    original: &RawValue,
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
    // Serializing borrowed strings, finite numbers and a RawValue cannot fail; the fallback keeps
    // the original at least.
    let data = serde_json::value::to_raw_value(&data).unwrap_or_else(|_| original.to_owned());
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
