//! The vendor-neutral `data` layout and the assembly of a [`CanonicalEvent`].
//!
//! Both vendor mappers fill an [`Extract`]; [`build`] turns it into the canonical event. The
//! `data` object (documented in `docs/events.md`, schema in `docs/schema/`) is:
//! `media{}`, `task{}`, `error{}`, `context`, `sessionId`, `space`, `storageRegion` (each only
//! when the vendor gave it) and `original`, the vendor event object exactly as received.

mod layout;

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;
use vodbridge_core::{
    CanonicalEvent, Outcome, Provider, TimeSource, CONTENT_TYPE_JSON, SPEC_VERSION,
};

use crate::context::{Path, SourceContext};
use crate::fast;
use crate::time::format_rfc3339;
use crate::types::{TypeMapping, UNMAPPED_TYPE};
use layout::{Data, ErrorInfo};
pub(crate) use layout::{Media, Original, Task};

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

/// What identifies the event apart from the extracted fields.
pub(crate) struct Header<'h> {
    pub(crate) provider: Provider,
    pub(crate) providertype: &'h str,
    /// The vendor type's mapping (`None`: unmapped, forwarded as [`UNMAPPED_TYPE`]).
    pub(crate) mapping: Option<&'static TypeMapping>,
    pub(crate) outcome: Outcome,
    pub(crate) id: String,
    pub(crate) time: Option<DateTime<Utc>>,
}

/// Room for the members of `data` before `original` (a typical event's take well under this).
const DATA_MEMBERS_HINT: usize = 512;

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
        media: (x.media != Media::default()).then_some(&x.media),
        task: (x.task != Task::default()).then_some(&x.task),
        error,
        context: x.context.as_deref(),
        session_id: x.session_id.as_deref(),
        space: x.space.as_deref(),
        storage_region: x.storage_region.as_deref(),
        original,
    };
    let written = match path {
        Path::Fast => fast::raw_value(data.to_json(original.get().len() + DATA_MEMBERS_HINT)),
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
    let ty = h.mapping.map_or(UNMAPPED_TYPE, |m| m.canonical_type);
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
        ty: ty.to_owned(),
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
