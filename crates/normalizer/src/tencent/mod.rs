//! Tencent Cloud VOD: normal-callback bodies (`EventContent` v3 and the legacy v2 format),
//! `PullEvents` responses and single pulled `EventSet` elements.

mod legacy;
mod payload;
mod split;

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use vodbridge_core::{CanonicalEvent, Provider};

use crate::lenient::{self, nonempty, Key, Obj, Scalar};
use crate::record::{self, Header, Original};
use crate::{ids, types, NormalizeError, PulledEvent, SourceContext, UNMAPPED_TYPE};
pub(crate) use split::Members;
use split::{body_members, event_members};

/// Top-level members excluded from the id: the pull queue's handle and the callback's
/// authentication fields (both differ between deliveries of one occurrence).
const ID_EXCLUDED: &[&str] = &["EventHandle", "Sign", "T", "sign", "t"];

/// A whole body: a v3 event, a v2 event or a `PullEvents` response.
pub(crate) fn normalize(
    text: &str,
    ctx: &SourceContext<'_>,
) -> Result<Vec<CanonicalEvent>, NormalizeError> {
    // The split validates the whole body (a `PullEvents` body needs nothing more), so a single
    // event's `original` is the body text itself, not scanned again.
    let mut top = body_members(text)?;
    if let Some(MaybeResponse(response)) = top.take_response() {
        return response_elements(response)?
            .into_iter()
            .map(|element| event(Original::Raw(element), &event_members(element.get())?, ctx))
            .collect();
    }
    // The split accepted the text as one JSON object.
    let raw = Original::of_body(text).map_err(NormalizeError::json)?;
    if top.get("EventType").is_none() && top.get("eventType").is_some() {
        return legacy::event(raw, &top, ctx).map(|e| vec![e]);
    }
    event(raw, &top, ctx).map(|e| vec![e])
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ApiError<'a> {
    #[serde(borrow)]
    code: Option<Scalar<'a>>,
    #[serde(borrow)]
    message: Option<Scalar<'a>>,
}

/// The raw `EventSet` elements of a `PullEvents` `Response` object.
pub(crate) fn pull_response(response: &RawValue) -> Result<Vec<&RawValue>, NormalizeError> {
    let view =
        serde_json::from_str::<MaybeResponse<'_>>(response.get()).map_err(NormalizeError::json)?;
    response_elements(view.0)
}

/// The raw `EventSet` elements of a split `Response` (`None`: it was not an object).
fn response_elements<'a>(
    view: Option<ResponseView<'a>>,
) -> Result<Vec<&'a RawValue>, NormalizeError> {
    let view = view.ok_or(NormalizeError::NotObject)?;
    if let Some(error) = view.error {
        let e: Obj<ApiError<'_>> = lenient::view(error.get())?;
        let e = e.get();
        return Err(NormalizeError::ApiError {
            code: e
                .and_then(|e| nonempty(&e.code))
                .map_or_else(|| "Unknown".to_owned(), Cow::into_owned),
            message: e
                .and_then(|e| nonempty(&e.message))
                .map(Cow::into_owned)
                .unwrap_or_default(),
        });
    }
    match view.event_set {
        EventSet::Absent => Ok(Vec::new()),
        EventSet::Elements(elements) => Ok(elements),
        EventSet::NotArray => Err(NormalizeError::field(
            "Response.EventSet",
            "an array of events",
        )),
    }
}

/// The first non-`null` `EventSet` member of a `Response`.
enum EventSet<'a> {
    /// Absent or `null`.
    Absent,
    /// An array: its raw elements.
    Elements(Vec<&'a RawValue>),
    /// Any other value.
    NotArray,
}

/// A `Response` object read in one pass: the first non-`null` `Error` (raw) and `EventSet`
/// (split into raw elements while it is read, rather than kept raw and parsed again).
/// Deserializes as `None` when the value is not an object.
struct ResponseView<'a> {
    error: Option<&'a RawValue>,
    event_set: EventSet<'a>,
}

impl<'de: 'a, 'a> Deserialize<'de> for EventSet<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = EventSet<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut elements = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(e) = seq.next_element::<&'de RawValue>()? {
                    elements.push(e);
                }
                Ok(EventSet::Elements(elements))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map
                    .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(EventSet::NotArray)
            }
            fn visit_borrowed_str<E: de::Error>(self, _: &'de str) -> Result<Self::Value, E> {
                Ok(EventSet::NotArray)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(EventSet::NotArray)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(EventSet::NotArray)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(EventSet::NotArray)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(EventSet::NotArray)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(EventSet::NotArray)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(EventSet::Absent)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A [`ResponseView`], or `None` when the value was not an object.
pub(super) struct MaybeResponse<'a>(Option<ResponseView<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for MaybeResponse<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = MaybeResponse<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut view = ResponseView {
                    error: None,
                    event_set: EventSet::Absent,
                };
                while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
                    match k.as_ref() {
                        "Error" if view.error.is_none() => {
                            let v = map.next_value::<&'de RawValue>()?;
                            view.error = (v.get() != "null").then_some(v);
                        }
                        "EventSet" if matches!(view.event_set, EventSet::Absent) => {
                            view.event_set = map.next_value()?;
                        }
                        _ => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(MaybeResponse(Some(view)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(MaybeResponse(None))
            }
            fn visit_borrowed_str<E: de::Error>(self, _: &'de str) -> Result<Self::Value, E> {
                Ok(MaybeResponse(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(MaybeResponse(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(MaybeResponse(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(MaybeResponse(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(MaybeResponse(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(MaybeResponse(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(MaybeResponse(None))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// One pulled `EventSet` element.
pub(crate) fn pulled(raw_event: &str, ctx: &SourceContext<'_>) -> PulledEvent {
    let parsed = serde_json::from_str::<&RawValue>(raw_event)
        .map_err(NormalizeError::json)
        .and_then(|raw| Ok((raw, event_members(raw.get())?)));
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
                result: event(Original::Raw(raw), &top, ctx),
            }
        }
    }
}

/// A v3 `EventContent` object.
fn event(
    raw: Original<'_>,
    top: &Members<'_>,
    ctx: &SourceContext<'_>,
) -> Result<CanonicalEvent, NormalizeError> {
    let vendor_type = event_type(top, "EventType")?;
    let mapping = types::lookup(Provider::Tencent, &vendor_type);
    // The split already read the first payload member of a mapped type when it came after
    // `EventType`; that member takes precedence over the others anyway.
    let typed = match (mapping, top.typed_payload()) {
        (Some(_), Some((key, p))) => Some((*key, p)),
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
    let kind = mapping.map(|m| m.task_kind);
    let mut x = match payload.extract(kind) {
        Ok(x) => x,
        // The payload of an unmapped type is a guess: forward the event with the original
        // rather than dead-letter it over a field we only guessed at.
        Err(_) if mapping.is_none() => Default::default(),
        Err(e) => return Err(e),
    };
    let (outcome, failure) = payload.outcome(kind);
    if let Some((code, message)) = failure {
        x.error_code = code;
        x.error_message = message;
    }
    let id = match top.event_id(Provider::Tencent, ID_EXCLUDED) {
        Some(id) => id,
        None => ids::event_id(Provider::Tencent, raw.get(), ID_EXCLUDED)
            .map_err(NormalizeError::json)?,
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
    Ok(record::build(header, x, raw, ctx))
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
