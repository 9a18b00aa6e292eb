//! The canonical form written while a typed view is deserialized from the same parser.
//!
//! [`Tee`] wraps a serde_json deserializer: every value the view's visitors are shown is also
//! written in canonical form, including the values the view skips (those are decoded rather than
//! skipped: skipping does not check string escapes, and a lone surrogate would make the event
//! that embeds this text verbatim unreadable to every JSON parser downstream). So the form does not
//! depend on the view: [`super::event_id`] is the tee with nothing to view (`IgnoredAny`).
//!
//! The form is that of the whole text for the views of this crate, which read every value through
//! `deserialize_any`, `deserialize_option`, `deserialize_str` or `deserialize_ignored_any`
//! (serde_json answers these for JSON text exactly like `deserialize_any`, which the tee uses
//! instead) and every object and array to its end (an object is closed, or the event object
//! marked for hashing, when its view asks for a key past the last). A `RawValue` inside a teed
//! view cannot work (its capture is not a visit); enums are not supported either. Object keys
//! are read by the tee itself and shown to the view as they are.

use std::borrow::Cow;
use std::fmt;

use serde::de::value::{BorrowedStrDeserializer, StrDeserializer};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{forward_to_deserialize_any, Deserialize, Deserializer};
use sha2::{Digest, Sha256};
use vodbridge_core::Provider;

use super::{
    check_depth, close_object, hash, push_entry, short_hex, write_str, Entry, Scratch, TAG_ARR,
    TAG_ARR_END, TAG_FALSE, TAG_FLOAT, TAG_INT, TAG_NULL, TAG_OBJ, TAG_OBJ_END, TAG_TRUE, TAG_UINT,
};
use crate::error::NormalizeError;
use crate::lenient::Key;

/// Parse `json` as the view `T` and, in the same pass, compute its id: SHA-256 over `provider`,
/// a NUL and the canonical form of `json` (an object) without the top-level members named in
/// `exclude`.
pub(crate) fn view_with_id<'a, T: Deserialize<'a>>(
    provider: Provider,
    json: &'a str,
    exclude: &[&str],
) -> Result<(T, String), NormalizeError> {
    let mut de = serde_json::Deserializer::from_str(json);
    let mut buf = TeeBuf::with_capacity(json.len());
    let view = T::deserialize(Tee::top(&mut de, &mut buf, exclude))
        .and_then(|view| de.end().map(|()| view));
    match view {
        Ok(view) => Ok((view, buf.id(provider))),
        Err(_) if buf.scratch.too_deep => Err(NormalizeError::TooDeep),
        Err(e) => Err(NormalizeError::json(e)),
    }
}

/// The view `T` of the value `d` yields and its id, as [`view_with_id`] gives them, for an event
/// read inside a larger document; `capacity` is a hint for the canonical form's length.
pub(crate) fn teed<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
    provider: Provider,
    exclude: &[&str],
    capacity: usize,
) -> Result<(T, String), D::Error> {
    let mut buf = TeeBuf::with_capacity(capacity);
    let view = T::deserialize(Tee::top(d, &mut buf, exclude))?;
    Ok((view, buf.id(provider)))
}

/// The canonical form written by a tee.
struct TeeBuf {
    out: Vec<u8>,
    scratch: Scratch,
    /// Set when the value is an object and its view has read past its last member (`sorted`:
    /// its members are in key order already); unset, `out` is hashed as it is. The event
    /// object's members are written the other way round, each key's form after its value's and
    /// only once the member is known to be kept (not `null`, which a pulled event has dozens of,
    /// and not excluded): such an entry's value is `out[start..end]`, its key's form
    /// `out[end..key_end]`. They are hashed in key order where they lie.
    open_object: Option<bool>,
}

impl TeeBuf {
    fn with_capacity(capacity: usize) -> Self {
        TeeBuf {
            out: Vec::with_capacity(capacity),
            scratch: Scratch::new(),
            open_object: None,
        }
    }

    /// The id of the value written.
    fn id(mut self, provider: Provider) -> String {
        let Some(sorted) = self.open_object else {
            return hash(provider, &self.out);
        };
        let (out, members) = (&self.out, &mut self.scratch.entries);
        if !sorted {
            // As `close_object` orders members: by key text, duplicates in input order.
            let key = |e: &Entry| &out[e.key_start..e.key_end];
            members.sort_unstable_by(|a, b| key(a).cmp(key(b)).then(a.start.cmp(&b.start)));
        }
        let mut hasher = Sha256::new();
        hasher.update(provider.as_str().as_bytes());
        hasher.update([0u8, TAG_OBJ]);
        for e in members.iter() {
            hasher.update(&out[e.end..e.key_end]);
            hasher.update(&out[e.start..e.end]);
        }
        hasher.update([TAG_OBJ_END]);
        short_hex(&hasher.finalize())
    }

    /// A number: its tag, then its 8 bytes.
    fn number(&mut self, tag: u8, bytes: [u8; 8]) {
        self.out.push(tag);
        self.out.extend_from_slice(&bytes);
    }
}

/// Where a teed value goes: the buffer, its nesting level (1 for the event object itself) and the
/// members left out of the form (still decoded; only of the object at level 1).
struct At<'b, 'x> {
    buf: &'b mut TeeBuf,
    depth: u32,
    exclude: &'x [&'x str],
}

impl<'x> At<'_, 'x> {
    /// Where a value inside this one goes.
    fn inner(&mut self) -> At<'_, 'x> {
        At {
            buf: &mut *self.buf,
            depth: self.depth + 1,
            exclude: &[],
        }
    }
}

/// A seed deserialized through a [`Tee`].
struct TeeSeed<'b, 'x, S> {
    seed: S,
    at: At<'b, 'x>,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for TeeSeed<'_, '_, S> {
    type Value = S::Value;
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<S::Value, D::Error> {
        self.seed.deserialize(Tee { de, at: self.at })
    }
}

/// A deserializer that writes the canonical form of what it yields.
struct Tee<'b, 'x, D> {
    de: D,
    at: At<'b, 'x>,
}

impl<'b, 'x, D> Tee<'b, 'x, D> {
    /// The event object (level 1) read from `de`.
    fn top(de: D, buf: &'b mut TeeBuf, exclude: &'x [&'x str]) -> Self {
        let at = At {
            buf,
            depth: 1,
            exclude,
        };
        Tee { de, at }
    }
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Tee<'_, '_, D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.de.deserialize_any(TeeVisitor { v, at: self.at })
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.de.deserialize_option(TeeVisitor { v, at: self.at })
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, D::Error> {
        // What serde_json does for every name but its RawValue marker.
        v.visit_newtype_struct(self)
    }

    // Skipped values are decoded and written like any other (`IgnoredAny` accepts every visit).
    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

/// Writes each visited value, then shows it to the view's visitor `v`. serde_json makes only
/// these visits (strings borrowed or not, never owned; `visit_some` from `deserialize_option`).
struct TeeVisitor<'b, 'x, V> {
    v: V,
    at: At<'b, 'x>,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for TeeVisitor<'_, '_, V> {
    type Value = V::Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.v.expecting(f)
    }
    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.at.buf.out.push(TAG_NULL);
        self.v.visit_unit()
    }
    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.at.buf.out.push(TAG_NULL);
        self.v.visit_none()
    }
    fn visit_some<D: Deserializer<'de>>(self, de: D) -> Result<V::Value, D::Error> {
        self.v.visit_some(Tee { de, at: self.at })
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<V::Value, E> {
        self.at.buf.out.push(if b { TAG_TRUE } else { TAG_FALSE });
        self.v.visit_bool(b)
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<V::Value, E> {
        self.at.buf.number(TAG_UINT, n.to_le_bytes());
        self.v.visit_u64(n)
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<V::Value, E> {
        self.at.buf.number(TAG_INT, n.to_le_bytes());
        self.v.visit_i64(n)
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<V::Value, E> {
        self.at.buf.number(TAG_FLOAT, n.to_bits().to_le_bytes());
        self.v.visit_f64(n)
    }
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<V::Value, E> {
        write_str(&mut self.at.buf.out, s);
        self.v.visit_borrowed_str(s)
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<V::Value, E> {
        write_str(&mut self.at.buf.out, s);
        self.v.visit_str(s)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        check_depth::<A::Error>(self.at.depth, &mut self.at.buf.scratch)?;
        self.at.buf.out.push(TAG_ARR);
        self.v.visit_seq(TeeSeq { seq, at: self.at })
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        check_depth::<A::Error>(self.at.depth, &mut self.at.buf.scratch)?;
        self.at.buf.out.push(TAG_OBJ);
        self.v.visit_map(TeeMap {
            map,
            body: self.at.buf.out.len(),
            base: self.at.buf.scratch.entries.len(),
            at: self.at,
            sorted: true,
            key: None,
        })
    }
}

/// The elements of a teed array; the array is closed when the view has read the last one.
struct TeeSeq<'b, 'x, A> {
    seq: A,
    at: At<'b, 'x>,
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for TeeSeq<'_, '_, A> {
    type Error = A::Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        let at = self.at.inner();
        let element = self.seq.next_element_seed(TeeSeed { seed, at })?;
        if element.is_none() {
            // Nulls inside arrays are positional, so they are kept.
            self.at.buf.out.push(TAG_ARR_END);
        }
        Ok(element)
    }
    fn size_hint(&self) -> Option<usize> {
        self.seq.size_hint()
    }
}

/// The members of a teed object: each key is read here and shown to the view as it is, each
/// value teed, and the member recorded unless it is `null` or excluded. The object is closed
/// after the view read the last member: sorted ([`close_object`]), or, the event object itself,
/// left open to be hashed where its members lie ([`TeeBuf::id`]).
struct TeeMap<'b, 'x, 'de, A> {
    map: A,
    at: At<'b, 'x>,
    /// Where the object's members start in the buffer and in the entry stack.
    body: usize,
    base: usize,
    sorted: bool,
    /// The key read whose value was not yet.
    key: Option<Cow<'de, str>>,
}

// Both methods inlined into the views' visitors: called out of line, they made a Volcengine
// callback 5–7 % dearer (docs/performance.md, "Normalizer").
impl<'de, A: MapAccess<'de>> MapAccess<'de> for TeeMap<'_, '_, 'de, A> {
    type Error = A::Error;
    #[inline(always)]
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let Some(Key(key)) = self.map.next_key::<Key<'de>>()? else {
            let TeeBuf {
                out,
                scratch,
                open_object,
            } = &mut *self.at.buf;
            if self.at.depth == 1 {
                *open_object = Some(self.sorted);
            } else {
                close_object(out, scratch, self.body, self.base, self.sorted);
            }
            return Ok(None);
        };
        let value = match &key {
            Cow::Borrowed(k) => seed.deserialize(BorrowedStrDeserializer::new(k)),
            Cow::Owned(k) => seed.deserialize(StrDeserializer::new(k)),
        };
        self.key = Some(key);
        value.map(Some)
    }
    #[inline(always)]
    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        let key = self
            .key
            .take()
            .ok_or_else(|| de::Error::custom("map value without a key"))?;
        // Inside the event object a member is written key first, as the form has it; in the
        // event object itself the key goes after the value (see `TeeBuf`).
        let top = self.at.depth == 1;
        let start = self.at.buf.out.len();
        if !top {
            write_str(&mut self.at.buf.out, &key);
        }
        let value_start = self.at.buf.out.len();
        let at = self.at.inner();
        let value = self.map.next_value_seed(TeeSeed { seed, at })?;
        let TeeBuf { out, scratch, .. } = &mut *self.at.buf;
        // A value whose form is the null tag alone is `null` (no other form is one byte of it).
        let null = out.len() == value_start + 1 && out[value_start] == TAG_NULL;
        if null || self.at.exclude.contains(&key.as_ref()) {
            out.truncate(start);
        } else {
            let end = out.len();
            if top {
                write_str(out, &key);
            }
            let key_end = if top { out.len() } else { value_start };
            let entry = Entry {
                start,
                key_start: key_end - key.len(),
                key_end,
                end,
            };
            push_entry(out, scratch, self.base, entry, &mut self.sorted);
        }
        Ok(value)
    }
    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}
