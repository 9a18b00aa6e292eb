//! The canonical form written while a typed view is deserialized from the same parser.
//!
//! [`Tee`] wraps a serde_json deserializer: every value the view's visitors are shown is also
//! written in canonical form, including the values the view skips (those are decoded rather than
//! skipped, as [`crate::ids::event_id`] decodes them). So one pass yields both the view and the form
//! that a second parse of the same text by [`crate::ids::event_id`] would write, byte for byte.
//!
//! Equivalence holds for the views of this crate, which read every value through
//! `deserialize_any`, `deserialize_option`, `deserialize_str` or `deserialize_ignored_any`
//! (serde_json answers these for JSON text exactly like `deserialize_any`, which the tee uses
//! instead). A `RawValue` inside a teed view cannot work (its capture is not a visit); enums are
//! not supported either. Callers treat any error of a teed parse as "take the general path",
//! which then reports the error exactly as before.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{forward_to_deserialize_any, Deserialize, Deserializer};
use vodbridge_core::Provider;

use crate::ids::{
    check_depth, close_object, hash, key_start, push_entry, write_str, Entry, Scratch, TAG_ARR,
    TAG_ARR_END, TAG_FALSE, TAG_FLOAT, TAG_INT, TAG_NULL, TAG_OBJ, TAG_TRUE, TAG_UINT,
};

/// Parse `json` as the view `T` and, in the same pass, compute the id [`crate::ids::event_id`] gives
/// the same text with the same `exclude` list. `None` when either fails: the caller then takes
/// the general path (view and id separately), which reports the error.
pub(crate) fn view_with_id<'a, T: Deserialize<'a>>(
    provider: Provider,
    json: &'a str,
    exclude: &[&str],
) -> Option<(T, String)> {
    let mut buf = TeeBuf::with_capacity(json.len());
    let mut de = serde_json::Deserializer::from_str(json);
    let view = T::deserialize(Tee {
        de: &mut de,
        buf: &mut buf,
        depth: 1,
        exclude,
    })
    .ok()?;
    de.end().ok()?;
    Some((view, hash(provider, &buf.out)))
}

/// The canonical form written by a tee.
#[derive(Default)]
pub(crate) struct TeeBuf {
    pub(crate) out: Vec<u8>,
    scratch: Scratch,
    /// Whether the value written last was `null` (objects drop `null` members).
    pub(crate) null: bool,
}

impl TeeBuf {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        TeeBuf {
            out: Vec::with_capacity(capacity),
            scratch: Scratch::new(),
            null: false,
        }
    }
}

/// A seed deserialized through a [`Tee`] at nesting level `depth` (no exclusions below the top).
pub(crate) struct TeeSeed<'b, S> {
    pub(crate) seed: S,
    pub(crate) buf: &'b mut TeeBuf,
    pub(crate) depth: u32,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for TeeSeed<'_, S> {
    type Value = S::Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.seed.deserialize(Tee {
            de: d,
            buf: self.buf,
            depth: self.depth,
            exclude: &[],
        })
    }
}

/// A deserializer that writes the canonical form of what it yields.
struct Tee<'b, 'x, D> {
    de: D,
    buf: &'b mut TeeBuf,
    /// Nesting level of this value: 1 for the event object itself.
    depth: u32,
    /// Members left out of the form (still decoded); only applies to an object at level 1.
    exclude: &'x [&'x str],
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Tee<'_, '_, D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.de.deserialize_any(TeeVisitor {
            v,
            buf: self.buf,
            depth: self.depth,
            exclude: self.exclude,
        })
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.de.deserialize_option(TeeVisitor {
            v,
            buf: self.buf,
            depth: self.depth,
            exclude: self.exclude,
        })
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

/// Writes each visited value, then shows it to the view's visitor `v`.
struct TeeVisitor<'b, 'x, V> {
    v: V,
    buf: &'b mut TeeBuf,
    depth: u32,
    exclude: &'x [&'x str],
}

impl<'de, V: Visitor<'de>> Visitor<'de> for TeeVisitor<'_, '_, V> {
    type Value = V::Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.v.expecting(f)
    }
    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.buf.out.push(TAG_NULL);
        self.buf.null = true;
        self.v.visit_unit()
    }
    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.buf.out.push(TAG_NULL);
        self.buf.null = true;
        self.v.visit_none()
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.v.visit_some(Tee {
            de: d,
            buf: self.buf,
            depth: self.depth,
            exclude: self.exclude,
        })
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.v.visit_newtype_struct(Tee {
            de: d,
            buf: self.buf,
            depth: self.depth,
            exclude: self.exclude,
        })
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<V::Value, E> {
        self.buf.out.push(if b { TAG_TRUE } else { TAG_FALSE });
        self.buf.null = false;
        self.v.visit_bool(b)
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<V::Value, E> {
        self.buf.out.push(TAG_UINT);
        self.buf.out.extend_from_slice(&n.to_le_bytes());
        self.buf.null = false;
        self.v.visit_u64(n)
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<V::Value, E> {
        self.buf.out.push(TAG_INT);
        self.buf.out.extend_from_slice(&n.to_le_bytes());
        self.buf.null = false;
        self.v.visit_i64(n)
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<V::Value, E> {
        self.buf.out.push(TAG_FLOAT);
        self.buf.out.extend_from_slice(&n.to_bits().to_le_bytes());
        self.buf.null = false;
        self.v.visit_f64(n)
    }
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<V::Value, E> {
        write_str(&mut self.buf.out, s);
        self.buf.null = false;
        self.v.visit_borrowed_str(s)
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<V::Value, E> {
        write_str(&mut self.buf.out, s);
        self.buf.null = false;
        self.v.visit_str(s)
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<V::Value, E> {
        write_str(&mut self.buf.out, &s);
        self.buf.null = false;
        self.v.visit_string(s)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        check_depth::<A::Error>(self.depth, &mut self.buf.scratch)?;
        self.buf.out.push(TAG_ARR);
        let value = self.v.visit_seq(TeeSeq {
            seq,
            buf: &mut *self.buf,
            depth: self.depth,
        })?;
        self.buf.null = false;
        Ok(value)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        check_depth::<A::Error>(self.depth, &mut self.buf.scratch)?;
        self.buf.out.push(TAG_OBJ);
        let body = self.buf.out.len();
        let base = self.buf.scratch.entries.len();
        let value = self.v.visit_map(TeeMap {
            map,
            buf: &mut *self.buf,
            depth: self.depth,
            exclude: if self.depth == 1 { self.exclude } else { &[] },
            body,
            base,
            sorted: true,
            pending: None,
        })?;
        self.buf.null = false;
        Ok(value)
    }
}

/// The elements of a teed array; the array is closed when the view has read the last one.
struct TeeSeq<'b, A> {
    seq: A,
    buf: &'b mut TeeBuf,
    depth: u32,
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for TeeSeq<'_, A> {
    type Error = A::Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        let element = self.seq.next_element_seed(TeeSeed {
            seed,
            buf: &mut *self.buf,
            depth: self.depth + 1,
        })?;
        if element.is_none() {
            // Nulls inside arrays are positional, so they are kept.
            self.buf.out.push(TAG_ARR_END);
        }
        Ok(element)
    }
    fn size_hint(&self) -> Option<usize> {
        self.seq.size_hint()
    }
}

/// The members of a teed object: each is recorded like [`crate::ids::Canon`] records it (dropped
/// when `null` or excluded), and the object is closed (sorted) after the view read the last one.
struct TeeMap<'b, 'x, A> {
    map: A,
    buf: &'b mut TeeBuf,
    depth: u32,
    exclude: &'x [&'x str],
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
        let start = self.buf.out.len();
        let key = self.map.next_key_seed(TeeSeed {
            seed,
            buf: &mut *self.buf,
            depth: self.depth + 1,
        })?;
        if key.is_some() {
            self.pending = Some((start, self.buf.out.len()));
        } else {
            let TeeBuf { out, scratch, .. } = &mut *self.buf;
            close_object(out, scratch, self.body, self.base, self.sorted);
        }
        Ok(key)
    }
    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        let (start, key_end) = self
            .pending
            .take()
            .ok_or_else(|| de::Error::custom("map value without a key"))?;
        let value = self.map.next_value_seed(TeeSeed {
            seed,
            buf: &mut *self.buf,
            depth: self.depth + 1,
        })?;
        let TeeBuf { out, scratch, null } = &mut *self.buf;
        let key_start = key_start(out, start, key_end);
        let key = &out[key_start..key_end];
        let excluded = self.exclude.iter().any(|x| x.as_bytes() == key);
        if *null || excluded {
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
