//! Tencent Cloud VOD: normal-callback bodies (`EventContent` v3 and the legacy v2 format),
//! `PullEvents` responses and single pulled `EventSet` elements.

mod event_set;
mod fast;
mod legacy;
mod members;
mod payload;

use std::borrow::Cow;

use serde_json::value::RawValue;
use vodbridge_core::{CanonicalEvent, Provider};

use crate::context::{Path, PulledEvent, SourceContext};
use crate::error::NormalizeError;
use crate::ids;
use crate::lenient::{self, Obj};
use crate::record::{self, Header, Original};
use crate::types;
pub(crate) use event_set::pull_response;
use members::{Member, Members};
use payload::Payload;

/// Top-level members excluded from the id: the pull queue's handle and the callback's
/// authentication fields (both differ between deliveries of one occurrence).
const ID_EXCLUDED: &[&str] = &["EventHandle", "Sign", "T", "sign", "t"];

/// An event object as read: its members, its id when the reading computed it, and its text.
struct Read<'a> {
    members: Members<'a>,
    id: Option<String>,
    original: Original<'a>,
}

/// A whole body: a v3 event, a v2 event or a `PullEvents` response.
pub(crate) fn normalize(
    path: Path,
    text: &str,
    ctx: &SourceContext<'_>,
) -> Result<Vec<CanonicalEvent>, NormalizeError> {
    if path == Path::Fast {
        if let Some(events) = fast::body(text) {
            return events?.into_iter().map(|e| event(path, e, ctx)).collect();
        }
    }
    let read = reference_read(serde_json::from_str(text).map_err(NormalizeError::json)?)?;
    if let Some(response) = read.members.get("Response").and_then(Member::raw) {
        return pull_response(response)?
            .into_iter()
            .map(|element| event(path, reference_read(element)?, ctx))
            .collect();
    }
    if is_legacy(&read.members) {
        return legacy_event(path, read, ctx).map(|e| vec![e]);
    }
    event(path, read, ctx).map(|e| vec![e])
}

/// One pulled `EventSet` element.
pub(crate) fn pulled(path: Path, raw_event: &str, ctx: &SourceContext<'_>) -> PulledEvent {
    let fast = match path {
        Path::Fast => fast::event(raw_event),
        Path::Reference => None,
    };
    let read = match fast {
        Some(read) => Ok(read),
        None => serde_json::from_str(raw_event)
            .map_err(NormalizeError::json)
            .and_then(reference_read),
    };
    match read {
        Err(e) => PulledEvent {
            handle: None,
            result: Err(e),
        },
        Ok(read) => PulledEvent {
            handle: read
                .members
                .get("EventHandle")
                .and_then(|h| h.scalar().ok())
                .and_then(|h| h.text())
                .map(Cow::into_owned),
            result: event(path, read, ctx),
        },
    }
}

/// The reference reading of an event object: its members raw, its id left to the mapper.
fn reference_read(raw: &RawValue) -> Result<Read<'_>, NormalizeError> {
    Ok(Read {
        members: Members::raw(raw.get())?.ok_or(NormalizeError::NotObject)?,
        id: None,
        original: Original::Raw(raw),
    })
}

/// A body in the legacy v2 format: `eventType` and no `EventType`.
fn is_legacy(top: &Members<'_>) -> bool {
    top.get("EventType").is_none() && top.get("eventType").is_some()
}

/// A v3 `EventContent` object.
fn event(
    path: Path,
    read: Read<'_>,
    ctx: &SourceContext<'_>,
) -> Result<CanonicalEvent, NormalizeError> {
    let top = &read.members;
    let vendor_type = event_type(top, "EventType")?;
    let mapping = types::lookup(Provider::Tencent, &vendor_type);
    let member = match mapping {
        Some(m) => m
            .payload_keys
            .iter()
            .find_map(|k| top.get(k).map(|v| (Some(*k), v))),
        // Forward-compatible: a new event type's payload is found by name, else it is the
        // object member with the smallest key (deterministic whatever the member order).
        None => unmapped_payload(top, &vendor_type).map(|v| (None, v)),
    };
    let mut slot = None;
    let payload = match member {
        None => None,
        Some((key, member)) => match (member.payload(&mut slot)?, key) {
            (Some(p), _) => Some(p),
            // A guessed payload that is not an object is no payload.
            (None, None) => None,
            (None, Some(key)) => return Err(NormalizeError::field(key, "an object")),
        },
    };
    let (outcome, x) = payload.unwrap_or(&Payload::default()).map(mapping)?;
    let id = match read.id {
        Some(id) => id,
        None => ids::event_id(Provider::Tencent, read.original.get(), ID_EXCLUDED)?,
    };
    let header = Header {
        provider: Provider::Tencent,
        providertype: &vendor_type,
        mapping,
        outcome,
        id,
        // EventContent carries no occurrence time (see docs/events.md, "time").
        time: None,
    };
    Ok(record::build(path, header, x, read.original, ctx))
}

/// A legacy v2 body (the whole body is the event; nothing is excluded from the id), read along
/// the reference path only.
fn legacy_event(
    path: Path,
    read: Read<'_>,
    ctx: &SourceContext<'_>,
) -> Result<CanonicalEvent, NormalizeError> {
    let top = &read.members;
    let vendor_type = event_type(top, "eventType")?;
    let mapping = types::lookup(Provider::Tencent, &vendor_type);
    let data = match top.get("data").and_then(Member::raw) {
        None => legacy::Data::default(),
        Some(v) => match lenient::view::<Obj<legacy::Data<'_>>>(v.get())? {
            Obj::Some(d) => d,
            Obj::Other => return Err(NormalizeError::field("data", "an object")),
        },
    };
    let (outcome, x) = data.map(mapping)?;
    let header = Header {
        provider: Provider::Tencent,
        providertype: &vendor_type,
        mapping,
        outcome,
        id: ids::event_id(Provider::Tencent, read.original.get(), &[])?,
        time: None,
    };
    Ok(record::build(path, header, x, read.original, ctx))
}

/// The payload member of an unmapped type: `<EventType>Event`, `<EventType>`, else the object
/// member with the smallest key.
fn unmapped_payload<'m, 'a>(top: &'m Members<'a>, vendor_type: &str) -> Option<&'m Member<'a>> {
    let named = format!("{vendor_type}Event");
    top.get(&named)
        .or_else(|| top.get(vendor_type))
        .or_else(|| {
            top.members
                .iter()
                .filter(|(k, v)| !ID_EXCLUDED.contains(&k.as_ref()) && v.is_object())
                .min_by(|a, b| a.0.cmp(&b.0))
                .map(|(_, v)| v)
        })
}

/// The event type member `key`: a non-empty string.
fn event_type<'a>(top: &Members<'a>, key: &'static str) -> Result<Cow<'a, str>, NormalizeError> {
    lenient::event_type(top.get(key).map(Member::scalar).transpose()?, key)
}

#[cfg(test)]
mod tests;
