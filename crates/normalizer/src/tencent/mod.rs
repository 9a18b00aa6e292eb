//! Tencent Cloud VOD: normal-callback bodies (`EventContent` v3 and the legacy v2 format),
//! `PullEvents` responses and single pulled `EventSet` elements.

mod event_set;
mod legacy;
mod payload;
mod response;
mod split;

use std::borrow::Cow;

use serde_json::value::RawValue;
use vodbridge_core::{CanonicalEvent, Provider};

use crate::context::{Path, PulledEvent, SourceContext};
use crate::error::NormalizeError;
use crate::ids;
use crate::lenient::{self, Obj, Scalar};
use crate::record::{self, Header, Original};
use crate::types::{self, UNMAPPED_TYPE};
pub(crate) use event_set::pull_response;
pub(crate) use split::Members;
use split::{body_members, event_members, BodyResponse};

/// Top-level members excluded from the id: the pull queue's handle and the callback's
/// authentication fields (both differ between deliveries of one occurrence).
const ID_EXCLUDED: &[&str] = &["EventHandle", "Sign", "T", "sign", "t"];

/// A whole body: a v3 event, a v2 event or a `PullEvents` response.
pub(crate) fn normalize(
    path: Path,
    text: &str,
    ctx: &SourceContext<'_>,
) -> Result<Vec<CanonicalEvent>, NormalizeError> {
    if path == Path::Fast && response::looks_like_pull_response(text) {
        if let Some(elements) = response::split_in_one_pass(text) {
            return elements?
                .iter()
                .map(|e| event(path, e.original, &e.members, ctx))
                .collect();
        }
    }
    let mut top = body_members(path, text)?;
    // `body_members` captures the elements raw.
    if let Some(BodyResponse::Raw(response)) = top.take_response() {
        return event_set::elements(response.0)?
            .into_iter()
            .map(|element| {
                let members = event_members(path, element.get())?;
                event(path, Original::Raw(element), &members, ctx)
            })
            .collect();
    }
    // The split accepted the text as one JSON object, so on the fast path a single event's
    // `original` is the body text itself, not scanned again.
    let raw = match path {
        Path::Fast => Original::of_body(text),
        Path::Reference => serde_json::from_str(text).map(Original::Raw),
    }
    .map_err(NormalizeError::json)?;
    if top.get("EventType").is_none() && top.get("eventType").is_some() {
        return legacy_event(path, raw, &top, ctx).map(|e| vec![e]);
    }
    event(path, raw, &top, ctx).map(|e| vec![e])
}

/// One pulled `EventSet` element.
pub(crate) fn pulled(path: Path, raw_event: &str, ctx: &SourceContext<'_>) -> PulledEvent {
    let parsed = serde_json::from_str::<&RawValue>(raw_event)
        .map_err(NormalizeError::json)
        .and_then(|raw| Ok((raw, event_members(path, raw.get())?)));
    match parsed {
        Err(e) => PulledEvent {
            handle: None,
            result: Err(e),
        },
        Ok((raw, top)) => {
            let handle = top
                .get("EventHandle")
                .and_then(|h| lenient::view::<Scalar<'_>>(h.get()).ok())
                .and_then(|h| h.text())
                .map(Cow::into_owned);
            PulledEvent {
                handle,
                result: event(path, Original::Raw(raw), &top, ctx),
            }
        }
    }
}

/// A v3 `EventContent` object.
fn event(
    path: Path,
    raw: Original<'_>,
    top: &Members<'_>,
    ctx: &SourceContext<'_>,
) -> Result<CanonicalEvent, NormalizeError> {
    let vendor_type = event_type(top, "EventType")?;
    let mapping = types::lookup(Provider::Tencent, &vendor_type);
    // The split already read the first payload member of a mapped type when it came after
    // `EventType`; that member takes precedence over the others anyway.
    let typed = match (mapping, top.typed_payload()) {
        (Some(_), Some(p)) => Some((p.key, &p.view)),
        _ => None,
    };
    let payload_raw = match mapping {
        _ if typed.is_some() => None,
        Some(m) => m
            .payload_keys
            .iter()
            .find_map(|k| top.get(k).map(|v| (*k, v))),
        // Forward-compatible: a new event type's payload is found by name, else it is the
        // object member with the smallest key (deterministic whatever the member order).
        None => unmapped_payload(top, &vendor_type).map(|v| ("", v)),
    };
    let mut parsed = None;
    let payload: &payload::Payload<'_> = match (typed, payload_raw) {
        (Some((_, Obj::Some(p))), _) => p,
        (Some((key, Obj::Other)), _) => {
            return Err(NormalizeError::field(payload_field(key), "an object"))
        }
        (None, None) => parsed.insert(payload::Payload::default()),
        (None, Some((key, v))) => match lenient::view::<Obj<payload::Payload<'_>>>(v.get())? {
            Obj::Some(p) => parsed.insert(p),
            Obj::Other if key.is_empty() => parsed.insert(payload::Payload::default()),
            Obj::Other => return Err(NormalizeError::field(payload_field(key), "an object")),
        },
    };
    let (outcome, x) = payload.map(mapping)?;
    let split_id = match path {
        Path::Fast => top.event_id(Provider::Tencent, ID_EXCLUDED),
        Path::Reference => None,
    };
    let id = match split_id {
        Some(id) => id,
        None => ids::event_id(Provider::Tencent, raw.get(), ID_EXCLUDED)?,
    };
    let header = Header {
        provider: Provider::Tencent,
        providertype: &vendor_type,
        ty: mapping.map_or(UNMAPPED_TYPE, |m| m.canonical_type),
        outcome,
        id,
        // EventContent carries no occurrence time (see docs/events.md, "time").
        time: None,
    };
    Ok(record::build(path, header, x, raw, ctx))
}

/// A legacy v2 body (the whole body is the event; nothing is excluded from the id).
fn legacy_event(
    path: Path,
    raw: Original<'_>,
    top: &Members<'_>,
    ctx: &SourceContext<'_>,
) -> Result<CanonicalEvent, NormalizeError> {
    let vendor_type = event_type(top, "eventType")?;
    let mapping = types::lookup(Provider::Tencent, &vendor_type);
    let data = match top.get("data") {
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
        ty: mapping.map_or(UNMAPPED_TYPE, |m| m.canonical_type),
        outcome,
        id: ids::event_id(Provider::Tencent, raw.get(), &[])?,
        time: None,
    };
    Ok(record::build(path, header, x, raw, ctx))
}

/// The payload member of an unmapped type: `<EventType>Event`, `<EventType>`, else the object
/// member with the smallest key.
fn unmapped_payload<'a>(top: &Members<'a>, vendor_type: &str) -> Option<&'a RawValue> {
    let named = format!("{vendor_type}Event");
    top.get(&named)
        .or_else(|| top.get(vendor_type))
        .or_else(|| {
            top.iter()
                .filter(|(k, v)| !ID_EXCLUDED.contains(&k.as_ref()) && v.get().starts_with('{'))
                .min_by(|a, b| a.0.cmp(&b.0))
                .map(|(_, v)| *v)
        })
}

/// The `'static` name of a known payload member, for error messages.
fn payload_field(key: &str) -> &'static str {
    types::type_mappings(Provider::Tencent)
        .iter()
        .flat_map(|m| m.payload_keys.iter())
        .find(|k| **k == key)
        .copied()
        .unwrap_or("payload")
}

/// The event type member `key`: a non-empty string.
pub(crate) fn event_type<'a>(
    top: &Members<'a>,
    key: &'static str,
) -> Result<Cow<'a, str>, NormalizeError> {
    let raw = top.get(key).ok_or(NormalizeError::MissingEventType)?;
    match lenient::view::<Scalar<'a>>(raw.get())? {
        Scalar::Str(s) if s.trim().is_empty() => Err(NormalizeError::MissingEventType),
        Scalar::Str(s) => Ok(s),
        _ => Err(NormalizeError::field(key, "a string")),
    }
}
