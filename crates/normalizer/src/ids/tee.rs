//! The canonical form written while a typed view is deserialized from the same parser.
//!
//! [`Tee`] wraps a serde_json deserializer: every value the view's visitors are shown is also
//! written in canonical form, including the values the view skips (those are decoded rather than
//! skipped: skipping does not check string escapes, and a lone surrogate would make the event
//! that embeds this text verbatim unreadable to every JSON parser downstream). So the form does not
//! depend on the view: [`super::event_id`] is the tee with nothing to view (`IgnoredAny`).
//!
//! Equivalence holds for the views of this crate, which read every value through
//! `deserialize_any`, `deserialize_option`, `deserialize_str` or `deserialize_ignored_any`
//! (serde_json answers these for JSON text exactly like `deserialize_any`, which the tee uses
//! instead). A `RawValue` inside a teed view cannot work (its capture is not a visit); enums are
//! not supported either.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{forward_to_deserialize_any, Deserialize, Deserializer};
use vodbridge_core::Provider;

use super::{
    check_depth, close_object, hash, hash_members, key_start, push_entry, write_str, Entry,
    Scratch, TAG_ARR, TAG_ARR_END, TAG_FALSE, TAG_FLOAT, TAG_INT, TAG_NULL, TAG_OBJ, TAG_TRUE,
    TAG_UINT,
};
use crate::error::NormalizeError;

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
    /// Set when the value is an object, which is left open: its members stay where they were
    /// written, in input order, and are hashed in key order (`sorted`: they are in it already).
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
        match self.open_object {
            Some(sorted) => hash_members(provider, &self.out, &mut self.scratch.entries, sorted),
            None => hash(provider, &self.out),
        }
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
            pending: None,
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

/// The members of a teed object: each is recorded (dropped when `null` or excluded), and the
/// object is closed (sorted) after the view read the last one.
struct TeeMap<'b, 'x, A> {
    map: A,
    at: At<'b, 'x>,
    /// Where the object's members start in the buffer and in the entry stack.
    body: usize,
    base: usize,
    sorted: bool,
    /// `(start, key_end)` of the member whose key was read and whose value was not yet.
    pending: Option<(usize, usize)>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for TeeMap<'_, '_, A> {
    type Error = A::Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let start = self.at.buf.out.len();
        let at = self.at.inner();
        let key = self.map.next_key_seed(TeeSeed { seed, at })?;
        let TeeBuf {
            out,
            scratch,
            open_object,
        } = &mut *self.at.buf;
        if key.is_some() {
            self.pending = Some((start, out.len()));
        } else if self.at.depth == 1 {
            // The event object itself is hashed where its members lie (see `TeeBuf::id`).
            *open_object = Some(self.sorted);
        } else {
            close_object(out, scratch, self.body, self.base, self.sorted);
        }
        Ok(key)
    }
    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        let (start, key_end) = self
            .pending
            .take()
            .ok_or_else(|| de::Error::custom("map value without a key"))?;
        let at = self.at.inner();
        let value = self.map.next_value_seed(TeeSeed { seed, at })?;
        let TeeBuf { out, scratch, .. } = &mut *self.at.buf;
        // A value whose form is the null tag alone is `null` (no other form is one byte of it).
        let null = out[key_end..] == [TAG_NULL];
        let key_start = key_start(out, start, key_end);
        let excluded = || {
            self.at
                .exclude
                .iter()
                .any(|x| x.as_bytes() == &out[key_start..key_end])
        };
        if null || excluded() {
            out.truncate(start);
        } else {
            let entry = Entry {
                start,
                key_start,
                key_end,
                end: out.len(),
            };
            push_entry(out, scratch, self.base, entry, &mut self.sorted);
        }
        Ok(value)
    }
    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}
