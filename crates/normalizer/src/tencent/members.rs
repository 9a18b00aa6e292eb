//! The top-level members of a Tencent event object, read one of two ways: raw (the reference
//! path, each view parsed from its member when the mapper asks for it) or typed (the fast path,
//! every member read into its view in the one pass that also writes the id's canonical form).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use super::payload::Payload;
use crate::error::NormalizeError;
use crate::fast::Bounds;
use crate::lenient::{self, Key, Obj, Scalar};

/// The non-`null` top-level members of an event object, in input order.
pub(crate) struct Members<'a> {
    /// Each member in input order.
    pub(super) members: Vec<(Cow<'a, str>, Member<'a>)>,
    /// Where the object lies in its text (typed reading only; for `crate::fast::locate`).
    pub(super) bounds: Option<Bounds>,
}

/// One member's value.
pub(crate) enum Member<'a> {
    /// The raw value (reference path): views are parsed from it when asked for.
    Raw(&'a RawValue),
    /// `EventType` or `EventHandle` read as a scalar (fast path).
    Scalar(Scalar<'a>),
    /// Any other member read as the payload view (fast path; every Tencent payload shares it).
    /// Boxed: the view is large (over a kilobyte), and it is moved several times on its way out.
    Payload(Obj<Box<Payload<'a>>>),
}

impl<'a> Members<'a> {
    /// Split `text` into raw members: `None` when it is valid JSON but not an object.
    pub(crate) fn raw(text: &'a str) -> Result<Option<Self>, NormalizeError> {
        let mut de = serde_json::Deserializer::from_str(text);
        let members = de
            .deserialize_any(MembersVisitor {
                typed: false,
                marker: PhantomData,
            })
            .and_then(|members| de.end().map(|()| members))
            .map_err(NormalizeError::json)?;
        Ok(members)
    }

    /// The first non-`null` member named `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&Member<'a>> {
        self.members.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

impl<'a> Member<'a> {
    /// The value as a scalar ([`Scalar::Composite`] for an object or array).
    pub(crate) fn scalar(&self) -> Result<Scalar<'a>, NormalizeError> {
        match self {
            Member::Raw(raw) => lenient::view(raw.get()),
            Member::Scalar(s) => Ok(s.clone()),
            Member::Payload(_) => Ok(Scalar::Composite),
        }
    }

    /// Whether the value is an object.
    pub(crate) fn is_object(&self) -> bool {
        match self {
            Member::Raw(raw) => raw.get().starts_with('{'),
            Member::Scalar(_) | Member::Payload(Obj::Other) => false,
            Member::Payload(Obj::Some(_)) => true,
        }
    }

    /// The value as the payload view (`None`: it is not an object); a raw value is parsed into
    /// `slot`.
    pub(crate) fn payload<'m>(
        &'m self,
        slot: &'m mut Option<Box<Payload<'a>>>,
    ) -> Result<Option<&'m Payload<'a>>, NormalizeError> {
        match self {
            Member::Raw(raw) => match lenient::view::<Obj<Box<Payload<'a>>>>(raw.get())? {
                Obj::Some(p) => Ok(Some(slot.insert(p))),
                Obj::Other => Ok(None),
            },
            Member::Payload(Obj::Some(p)) => Ok(Some(p)),
            Member::Scalar(_) | Member::Payload(Obj::Other) => Ok(None),
        }
    }

    /// The raw value, on the reference path (`None` on the typed reading, which leaves the bodies
    /// that need it, a legacy body and a `PullEvents` response not led by `Response`, to the
    /// reference reading).
    pub(crate) fn raw(&self) -> Option<&'a RawValue> {
        match self {
            Member::Raw(raw) => Some(raw),
            _ => None,
        }
    }
}

/// The typed reading of an event object (the fast path); any value but an object fails, and so
/// does an `EventType` or `EventHandle` that is an object or an array.
impl<'de: 'a, 'a> Deserialize<'de> for Members<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(MembersVisitor {
            typed: true,
            marker: PhantomData,
        })?
        .ok_or_else(|| de::Error::custom("the event is not an object"))
    }
}

/// Reads an object's members (`None` when the value is not an object).
struct MembersVisitor<'a> {
    /// Each value read into its view rather than kept raw.
    typed: bool,
    marker: PhantomData<&'a ()>,
}

impl<'de: 'a, 'a> Visitor<'de> for MembersVisitor<'a> {
    type Value = Option<Members<'a>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // Events have a handful of members (or a few dozen, when every payload is spelled out).
        let mut members = Vec::with_capacity(8);
        let mut bounds = None;
        let mut first = true;
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            let borrowed = match &k {
                Cow::Borrowed(key) => Some(*key),
                Cow::Owned(_) => None,
            };
            Bounds::key(&mut bounds, borrowed, std::mem::take(&mut first));
            let member = match k.as_ref() {
                _ if !self.typed => Some(map.next_value::<&'de RawValue>()?)
                    .filter(|v| v.get() != "null")
                    .map(Member::Raw),
                // Only as a scalar are these never a payload: any other value leaves the event to
                // the reference reading, where it may be one (an unmapped type's guess).
                "EventType" | "EventHandle" => match map.next_value::<Option<Scalar<'de>>>()? {
                    Some(Scalar::Composite) => {
                        return Err(de::Error::custom("an envelope member is not a scalar"))
                    }
                    scalar => scalar.map(Member::Scalar),
                },
                _ => map
                    .next_value::<Option<Obj<Box<Payload<'de>>>>>()?
                    .map(Member::Payload),
            };
            members.extend(member.map(|m| (k, m)));
        }
        Ok(Some(Members { members, bounds }))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    crate::lenient::scalars_are!(None);
}
