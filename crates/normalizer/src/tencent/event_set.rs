//! The `Response` object of a `PullEvents` body: its `Error` and its `EventSet` elements, read
//! in one pass. The elements are any `Deserialize` type: raw values, or events read into their
//! views while the body is read (the fast path's one pass).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::error::NormalizeError;
use crate::lenient::{self, nonempty, Key, Obj, Scalar};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", bound(deserialize = "'de: 'a"))]
struct ApiError<'a> {
    code: Option<Scalar<'a>>,
    message: Option<Scalar<'a>>,
}

/// The raw `EventSet` elements of a `PullEvents` `Response` object.
pub(crate) fn pull_response(response: &RawValue) -> Result<Vec<&RawValue>, NormalizeError> {
    elements(lenient::view(response.get())?)
}

/// The `EventSet` elements of a `Response` read as its view.
pub(super) fn elements<Element>(
    view: Obj<ResponseView<'_, Element>>,
) -> Result<Vec<Element>, NormalizeError> {
    let Obj::Some(view) = view else {
        return Err(NormalizeError::NotObject);
    };
    if let Some(error) = view.error {
        let e: Obj<ApiError<'_>> = lenient::view(error.get())?;
        let text = |v: Option<&Option<Scalar<'_>>>| v.and_then(nonempty).map(Cow::into_owned);
        return Err(NormalizeError::ApiError {
            code: text(e.get().map(|e| &e.code)).unwrap_or_else(|| "Unknown".to_owned()),
            message: text(e.get().map(|e| &e.message)).unwrap_or_default(),
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
enum EventSet<Element> {
    /// Absent or `null`.
    Absent,
    /// An array: its elements (raw values, or events read while the body is).
    Elements(Vec<Element>),
    /// Any other value.
    NotArray,
}

/// A `Response` object read in one pass: the first non-`null` `Error` (raw) and `EventSet`
/// (its elements read as `Element` while it is read, rather than kept raw and parsed again).
pub(crate) struct ResponseView<'a, Element> {
    error: Option<&'a RawValue>,
    event_set: EventSet<Element>,
}

impl<'de, Element: Deserialize<'de>> Deserialize<'de> for EventSet<Element> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct EventSetVisitor<Element>(PhantomData<Element>);
        impl<'de, Element: Deserialize<'de>> Visitor<'de> for EventSetVisitor<Element> {
            type Value = EventSet<Element>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut elements = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(e) = seq.next_element::<Element>()? {
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
            crate::lenient::scalars_are!(EventSet::NotArray, unit: EventSet::Absent);
        }
        d.deserialize_any(EventSetVisitor(PhantomData))
    }
}

impl<'de: 'a, 'a, Element: Deserialize<'de>> Deserialize<'de> for ResponseView<'a, Element> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ResponseVisitor<'a, Element>(PhantomData<(&'a (), Element)>);
        impl<'de: 'a, 'a, Element: Deserialize<'de>> Visitor<'de> for ResponseVisitor<'a, Element> {
            type Value = ResponseView<'a, Element>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
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
                Ok(view)
            }
        }
        d.deserialize_map(ResponseVisitor(PhantomData))
    }
}
