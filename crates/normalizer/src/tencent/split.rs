//! The top-level split of a Tencent event object into its members, reading the payload of a
//! mapped type into its typed view in the same pass.
//!
//! `EventType` comes before the payload in every observed body, so by the time the payload member
//! arrives its type is known and the payload is deserialized straight from the body instead of
//! being kept raw and parsed a second time. When the order differs the payload stays raw and is
//! parsed later; when the typed read fails the split is redone without it, so the outcome (and
//! the `EventHandle` of a pulled event) is exactly that of the two-pass reading. A body's
//! `PullEvents` `Response` is likewise split into its `EventSet` elements as it is read.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use vodbridge_core::Provider;

use super::event_set::MaybeResponse;
use super::payload::Payload;
use crate::fast::{ObjectWriter, TeeBuf, TeeSeed};

use crate::context::Path;
use crate::error::NormalizeError;
use crate::lenient::{Key, Obj, Scalar};
use crate::types;

/// The top-level members of a JSON object, values kept as raw JSON.
pub(crate) struct Members<'a> {
    members: Vec<(Cow<'a, str>, &'a RawValue)>,
    /// The first non-`null` value of the mapped type's first payload member, read as its typed
    /// view during the split (that member is then not in `members`).
    payload: Option<TypedPayload<'a>>,
    /// The first non-`null` `Response` of a body, split while it is read (then not in
    /// `members`); only when the split was asked to look for one.
    response: Option<BodyResponse<'a>>,
    /// Where the object lies in the text it was read from, as addresses: the first key's text
    /// (when it was borrowed from the text, i.e. had no escapes) and the latest point known to lie
    /// between two members (after a borrowed key's closing quote or after a raw value). From
    /// these the text of an `EventSet` element is found in its body (`response::locate`).
    bounds: Option<Bounds>,
}

/// Where an object lies in its text, as addresses (see [`Members`]).
#[derive(Clone, Copy)]
pub(crate) struct Bounds {
    /// The address of the first key's text.
    pub(crate) first_key: usize,
    /// The latest address known to lie between two members.
    pub(crate) between_members: usize,
}

/// A payload member read as its typed view during the split.
pub(crate) struct TypedPayload<'a> {
    /// The member's name.
    pub(crate) key: &'static str,
    /// The view. Boxed: it is large (over a kilobyte), and it is moved several times on its
    /// way out.
    pub(crate) view: Obj<Box<Payload<'a>>>,
    /// The canonical form of the member's value, written while it was read, so the id needs no
    /// second parse of the payload (the bulk of an event).
    canon: Vec<u8>,
    /// How many of the other members came before it.
    at: usize,
}

/// Whether and how the split reads a body's `PullEvents` `Response`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResponseMode {
    /// Not at all: a `Response` member is a member like any other (an event object).
    Ignore,
    /// Its `EventSet` elements are captured as raw values.
    Raw,
    /// Its `EventSet` elements are split (typed payload, teed id) while they are read.
    Split,
}

/// A body's `Response`, read as the [`ResponseMode`] asked.
pub(crate) enum BodyResponse<'a> {
    /// Elements captured as raw values.
    Raw(MaybeResponse<'a, &'a RawValue>),
    /// Elements split while they were read.
    Split(MaybeResponse<'a, Members<'a>>),
}

/// An `EventSet` element split while its body is read (the typed payload on the first attempt,
/// as [`Members::parse_event`] would); any element that is not an object fails the read, which
/// sends the body down the general path.
impl<'de: 'a, 'a> Deserialize<'de> for Members<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SplitVisitor {
            typed_payload: true,
            response: ResponseMode::Ignore,
            len: ELEMENT_LEN_HINT,
            marker: PhantomData,
        })?
        .ok_or_else(|| de::Error::custom("an EventSet element is not an object"))
    }
}

/// A capacity hint for the canonical form of an element's payload (the element's length is not
/// known while it is read; a typical event is about a kilobyte).
const ELEMENT_LEN_HINT: usize = 2048;

impl<'a> Members<'a> {
    /// Parse `raw` as an object (`None` when it is valid JSON but not an object), reading the
    /// payload of a mapped Tencent type in the same pass, and with `response`, splitting a
    /// `PullEvents` `Response` in the same pass too.
    pub(crate) fn parse_event(
        raw: &'a str,
        response: ResponseMode,
    ) -> Result<Option<Self>, NormalizeError> {
        Self::parse_with(raw, true, response).or_else(|_| Self::parse_with(raw, false, response))
    }

    /// One attempt of [`Members::parse_event`]: with or without the typed payload.
    pub(crate) fn parse_with(
        raw: &'a str,
        typed_payload: bool,
        response: ResponseMode,
    ) -> Result<Option<Self>, NormalizeError> {
        let mut de = serde_json::Deserializer::from_str(raw);
        let members = de
            .deserialize_any(SplitVisitor {
                typed_payload,
                response,
                len: raw.len(),
                marker: PhantomData,
            })
            .map_err(NormalizeError::json)?;
        de.end().map_err(NormalizeError::json)?;
        Ok(members)
    }

    /// The payload read during the split.
    pub(crate) fn typed_payload(&self) -> Option<&TypedPayload<'a>> {
        self.payload.as_ref()
    }

    /// Take the `Response` split during the parse (bodies only).
    pub(crate) fn take_response(&mut self) -> Option<BodyResponse<'a>> {
        self.response.take()
    }

    /// Where the object lies in its text (see the field).
    pub(crate) fn bounds(&self) -> Option<Bounds> {
        self.bounds
    }

    /// Every member in input order (the typed payload excepted).
    pub(crate) fn iter(&self) -> impl Iterator<Item = &(Cow<'a, str>, &'a RawValue)> {
        self.members.iter()
    }

    /// The id of the event object these members came from ([`ids::event_id`] of its text with
    /// the same exclusions, byte for byte), or `None` when a member fails to decode: the caller
    /// then computes it from the text, which reports the error exactly.
    pub(crate) fn event_id(&self, provider: Provider, exclude: &[&str]) -> Option<String> {
        let raw_len: usize = self
            .members
            .iter()
            .map(|(k, v)| k.len() + v.get().len())
            .sum();
        let mut w = ObjectWriter::new(raw_len + 16, exclude);
        let typed = self.payload.as_ref();
        for (i, (k, v)) in self.members.iter().enumerate() {
            if let Some(p) = typed.filter(|p| p.at == i) {
                w.canonical_member(p.key, &p.canon, false);
            }
            w.raw_member(k, v.get()).ok()?;
        }
        if let Some(p) = typed.filter(|p| p.at == self.members.len()) {
            w.canonical_member(p.key, &p.canon, false);
        }
        Some(w.id(provider))
    }

    /// The raw value of member `key` unless it is absent or `null`.
    pub(crate) fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.members
            .iter()
            .find(|(k, v)| k == key && v.get() != "null")
            .map(|(_, v)| *v)
    }
}

/// The split visitor: `None` when the value is not an object.
struct SplitVisitor<'a> {
    typed_payload: bool,
    response: ResponseMode,
    /// Length of the text (a capacity hint).
    len: usize,
    marker: PhantomData<&'a ()>,
}

impl<'de: 'a, 'a> Visitor<'de> for SplitVisitor<'a> {
    type Value = Option<Members<'a>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // Events have a handful of members (or a few dozen, when every payload is spelled out).
        let mut members = Vec::with_capacity(8);
        let mut payload = None;
        let mut response = None;
        let mut bounds: Option<Bounds> = None;
        let mut first = true;
        let mut seen_type = false;
        // The first payload member of the type named by the first non-null `EventType`.
        let mut payload_key: Option<&'static str> = None;
        // A payload member that comes before `EventType` (reordered bodies, such as any that went
        // through a sorted map): read through the payload view on speculation, as every Tencent
        // payload shares that view; `EventType` then confirms it, or the split is redone untyped.
        let mut early: Option<TypedPayload<'de>> = None;
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            if let Cow::Borrowed(key) = &k {
                let at = key.as_ptr() as usize;
                let after = at + key.len() + 1;
                match &mut bounds {
                    Some(b) => b.between_members = after,
                    None if first => {
                        bounds = Some(Bounds {
                            first_key: at,
                            between_members: after,
                        })
                    }
                    None => {}
                }
            }
            first = false;
            let now = payload.is_none() && payload_key == Some(k.as_ref());
            let speculative = !seen_type && early.is_none() && payload.is_none();
            let key = match () {
                _ if !self.typed_payload => None,
                _ if now => payload_key,
                _ if speculative => first_payload_key(&k),
                _ => None,
            };
            if let Some(key) = key {
                // The payload is the member (the event object) at level 2.
                let mut canon = TeeBuf::with_capacity(self.len);
                let seed = TeeSeed {
                    seed: PhantomData::<Option<Obj<Box<Payload<'de>>>>>,
                    buf: &mut canon,
                    depth: 2,
                };
                if let Some(view) = map.next_value_seed(seed)? {
                    let read = TypedPayload {
                        key,
                        view,
                        canon: canon.out,
                        at: members.len(),
                    };
                    if now {
                        payload = Some(read);
                    } else {
                        early = Some(read);
                    }
                }
                continue;
            }
            if self.response != ResponseMode::Ignore && response.is_none() && k == "Response" {
                response = match self.response {
                    ResponseMode::Split => map
                        .next_value::<Option<MaybeResponse<'de, Members<'de>>>>()?
                        .map(BodyResponse::Split),
                    _ => map
                        .next_value::<Option<MaybeResponse<'de, &'de RawValue>>>()?
                        .map(BodyResponse::Raw),
                };
                continue;
            }
            let v = map.next_value::<&'de RawValue>()?;
            if let Some(b) = &mut bounds {
                b.between_members = v.get().as_ptr() as usize + v.get().len();
            }
            if self.typed_payload && !seen_type && k == "EventType" && v.get() != "null" {
                seen_type = true;
                payload_key = match serde_json::from_str::<Scalar<'_>>(v.get()) {
                    Ok(Scalar::Str(s)) => types::lookup(Provider::Tencent, &s)
                        .and_then(|m| m.payload_keys.first().copied()),
                    _ => None,
                };
                if let Some(read) = early.take_if(|e| payload_key == Some(e.key)) {
                    payload = Some(read);
                }
            }
            members.push((k, v));
        }
        if early.is_some() {
            // Not this type's payload: its raw value may be needed, and it was not kept.
            return Err(de::Error::custom(
                "payload read on speculation is not the payload",
            ));
        }
        Ok(Some(Members {
            members,
            payload,
            response,
            bounds,
        }))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    crate::lenient::scalars_are!(None);
}

/// `key` if it is the (current) payload member name of a mapped Tencent type.
fn first_payload_key(key: &str) -> Option<&'static str> {
    types::type_mappings(Provider::Tencent)
        .iter()
        .find_map(|m| m.payload_keys.first().copied().filter(|k| *k == key))
}

/// Parse `raw` as an event object (or fail with [`NormalizeError::NotObject`]); on the fast path
/// reading the payload of a mapped type in the same pass.
pub(super) fn event_members(path: Path, raw: &str) -> Result<Members<'_>, NormalizeError> {
    split(path, raw, ResponseMode::Ignore)
}

/// [`event_members`] of a whole body, splitting a `PullEvents` `Response` in the same pass.
pub(super) fn body_members(path: Path, raw: &str) -> Result<Members<'_>, NormalizeError> {
    split(path, raw, ResponseMode::Raw)
}

fn split(path: Path, raw: &str, response: ResponseMode) -> Result<Members<'_>, NormalizeError> {
    match path {
        Path::Fast => Members::parse_event(raw, response),
        Path::Reference => Members::parse_with(raw, false, response),
    }?
    .ok_or(NormalizeError::NotObject)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids;

    #[test]
    fn the_split_gives_the_id_of_the_whole_object() {
        // (event, whether the payload is read as its typed view during the split)
        let cases = [
            (
                r#"{"EventType":"NewFileUpload","FileUploadEvent":{"FileId":"1","MediaBasicInfo":{"Name":"a","Size":null}},"EventHandle":"h"}"#,
                true,
            ),
            (
                r#"{"EventHandle":"h","EventType":"NewFileUpload","Z":[1,null],"FileUploadEvent":{"b":1,"a":2},"A":null}"#,
                true,
            ),
            (
                r#"{"EventType":"NewFileUpload","FileUploadEvent":null,"FileUploadEvent":{"FileId":"2"},"T":"1","Sign":"x"}"#,
                true,
            ),
            (
                r#"{"EventType":"NewFileUpload","FileUploadEvent":{"FileId":"1"},"FileUploadEvent":{"FileId":"2"}}"#,
                true,
            ),
            (
                r#"{"EventType":"NewFileUpload","FileUploadEvent":{"Z\u00e9":"\u0041","A":[{"y":1,"x":-2.5}]},"B":{}}"#,
                true,
            ),
            // A payload before `EventType` is read on speculation …
            (
                r#"{"FileUploadEvent":{"FileId":"3"},"EventType":"NewFileUpload"}"#,
                true,
            ),
            (
                r#"{"Z":1,"FileUploadEvent":{"b":2,"a":1},"EventHandle":"h","EventType":"NewFileUpload"}"#,
                true,
            ),
            // … and when it is not this type's payload, the split is redone untyped.
            (
                r#"{"FileUploadEvent":{"FileId":"3"},"EventType":"PullComplete"}"#,
                false,
            ),
            (
                r#"{"FileUploadEvent":{"FileId":"3"},"EventType":"SomethingNew"}"#,
                false,
            ),
            (r#"{"FileUploadEvent":{"FileId":"3"}}"#, false),
            (
                r#"{"EventType":"SomethingNew","SomethingNewEvent":{"b":[2],"a":1}}"#,
                false,
            ),
        ];
        for (json, typed) in cases {
            let members = event_members(Path::Fast, json).expect("an event");
            assert_eq!(members.typed_payload().is_some(), typed, "{json}");
            let expected =
                ids::event_id(Provider::Tencent, json, super::super::ID_EXCLUDED).expect("valid");
            assert_eq!(
                members.event_id(Provider::Tencent, super::super::ID_EXCLUDED),
                Some(expected),
                "{json}"
            );
        }
        // A member that cannot be decoded leaves the id (and its error) to the whole text.
        let members = event_members(Path::Fast, r#"{"EventType":"NewFileUpload","X":"\ud800"}"#)
            .expect("split keeps it raw");
        assert_eq!(members.event_id(Provider::Tencent, &[]), None);
    }
}
