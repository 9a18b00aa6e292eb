//! Deterministic event ids: SHA-256 over a canonical form of the vendor event.
//!
//! The canonical form makes the id independent of everything that varies between deliveries of
//! the same occurrence: object key order (sorted per level), `null` members (skipped, because
//! Tencent `PullEvents` spells out non-applicable payload keys as `null` where the callback omits
//! them), insignificant whitespace and string escapes, and the delivery envelope keys the caller
//! excludes at the top level (Tencent `EventHandle`, `Sign`, `T`; Volcengine `RequestId`).
//! Everything else, including the provider name, is hashed, so different occurrences differ.
//!
//! The form is written into one buffer by a serde visitor (no `Value` tree is built) and is
//! injective: every item starts with a tag byte and strings carry their length. The fast path
//! writes the same form while it reads the event's views, from the primitives
//! here (the `pub(crate)` items below the id functions).

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::Deserializer;
use sha2::{Digest, Sha256};
use vodbridge_core::Provider;

use crate::error::NormalizeError;

/// Hex characters in an id (128 bits of the SHA-256 digest).
pub const ID_HEX_LEN: usize = 32;

/// The id of a vendor event: SHA-256 over `provider`, a NUL and the canonical form of `json`
/// (an object) without the top-level members named in `exclude`; the first 16 bytes in hex.
pub(crate) fn event_id(
    provider: Provider,
    json: &str,
    exclude: &[&str],
) -> Result<String, NormalizeError> {
    let mut buf = Vec::with_capacity(json.len());
    let mut scratch = Scratch::new();
    let mut de = serde_json::Deserializer::from_str(json);
    let parsed = Canon {
        out: &mut buf,
        scratch: &mut scratch,
        depth: 1,
        exclude,
    }
    .deserialize(&mut de)
    .and_then(|_| de.end());
    match parsed {
        Ok(()) => Ok(hash(provider, &buf)),
        Err(_) if scratch.too_deep => Err(NormalizeError::TooDeep),
        Err(e) => Err(NormalizeError::json(e)),
    }
}

/// The id of a canonical form: SHA-256 over `provider`, a NUL and the form.
pub(crate) fn hash(provider: Provider, canonical: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(provider.as_str().as_bytes());
    hasher.update([0u8]);
    hasher.update(canonical);
    short_hex(&hasher.finalize())
}

/// Deterministic id for a dead letter of `body` received on `source_name`.
pub(crate) fn dead_letter_id(source_name: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"deadletter\0");
    hasher.update((source_name.len() as u64).to_le_bytes());
    hasher.update(source_name.as_bytes());
    hasher.update(body);
    short_hex(&hasher.finalize())
}

pub(crate) fn short_hex(digest: &[u8]) -> String {
    // Into a stack buffer, then one exact allocation: `hex::encode` collects a char iterator into
    // a growing `String`.
    let digest = &digest[..ID_HEX_LEN / 2];
    let mut buf = [0u8; ID_HEX_LEN];
    match hex::encode_to_slice(digest, &mut buf)
        .ok()
        .and_then(|()| std::str::from_utf8(&buf).ok())
    {
        Some(text) => text.to_owned(),
        None => hex::encode(digest),
    }
}

pub(crate) const TAG_NULL: u8 = b'z';
pub(crate) const TAG_TRUE: u8 = b't';
pub(crate) const TAG_FALSE: u8 = b'f';
pub(crate) const TAG_UINT: u8 = b'u';
pub(crate) const TAG_INT: u8 = b'i';
pub(crate) const TAG_FLOAT: u8 = b'd';
pub(crate) const TAG_STR: u8 = b's';
pub(crate) const TAG_OBJ: u8 = b'{';
pub(crate) const TAG_OBJ_END: u8 = b'}';
pub(crate) const TAG_ARR: u8 = b'[';
pub(crate) const TAG_ARR_END: u8 = b']';

/// A string: tag, LEB128 length, UTF-8 bytes (the compact length keeps the hashed buffer small).
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(TAG_STR);
    let mut n = s.len();
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out.extend_from_slice(s.as_bytes());
}

/// Where the key text starts in an encoded key `[start, end)` (after the tag and LEB128 length).
pub(crate) fn key_start(out: &[u8], start: usize, end: usize) -> usize {
    let mut i = start + 1;
    while i < end && out[i] & 0x80 != 0 {
        i += 1;
    }
    (i + 1).min(end)
}

/// Working memory shared by every object of one event, so that objects do not allocate: the
/// member entries of all open objects (a stack: each object owns the entries from the length it
/// found to the end, and truncates back when it closes) and the copy of the members being reordered.
#[derive(Default)]
pub(crate) struct Scratch {
    pub(crate) entries: Vec<Entry>,
    tail: Vec<u8>,
    /// Set when a value nested past [`MAX_EVENT_DEPTH`] was refused: the parse's error is that.
    too_deep: bool,
}

/// Open members the entry stack holds without growing: an event's deepest chain of open objects
/// rarely has more members than this in total (so it is not grown from empty per event).
const ENTRIES_RESERVE: usize = 32;

impl Scratch {
    pub(crate) fn new() -> Self {
        Scratch {
            entries: Vec::with_capacity(ENTRIES_RESERVE),
            ..Scratch::default()
        }
    }
}

/// Writes the canonical form of one JSON value; returns whether the value was `null`.
pub(crate) struct Canon<'o, 'x> {
    pub(crate) out: &'o mut Vec<u8>,
    pub(crate) scratch: &'o mut Scratch,
    /// Nesting level of this value: 1 for the event object itself.
    pub(crate) depth: u32,
    pub(crate) exclude: &'x [&'x str],
}

impl<'de> DeserializeSeed<'de> for Canon<'_, '_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

/// Deepest nesting of arrays and objects accepted in a vendor event (the event object is level
/// 1). The canonical event embeds the vendor event two levels down (`data.original`), and
/// consumers' parsers stop at 128 levels (serde_json's default, a common choice): 100 leaves room.
pub(crate) const MAX_EVENT_DEPTH: u32 = 100;

/// Refuse a value at nesting level `depth` past [`MAX_EVENT_DEPTH`], and record why in `scratch`.
pub(crate) fn check_depth<E: de::Error>(depth: u32, scratch: &mut Scratch) -> Result<(), E> {
    if depth > MAX_EVENT_DEPTH {
        scratch.too_deep = true;
        Err(E::custom("event nests deeper than the accepted depth"))
    } else {
        Ok(())
    }
}

/// Writes an object key (as a canonical string) and reports whether it is excluded.
struct KeySeed<'o, 'x> {
    out: &'o mut Vec<u8>,
    exclude: &'x [&'x str],
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_, '_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed<'_, '_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        write_str(self.out, v);
        Ok(self.exclude.contains(&v))
    }
}

/// One member of an object in the output buffer: `[start, end)` is the encoded member,
/// `[key_start, key_end)` the key text.
#[derive(Clone, Copy)]
pub(crate) struct Entry {
    pub(crate) start: usize,
    pub(crate) key_start: usize,
    pub(crate) key_end: usize,
    pub(crate) end: usize,
}

impl<'de> Visitor<'de> for Canon<'_, '_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        self.out.push(TAG_NULL);
        Ok(true)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        self.out.push(if v { TAG_TRUE } else { TAG_FALSE });
        Ok(false)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
        self.out.push(TAG_UINT);
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(false)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
        self.out.push(TAG_INT);
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(false)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<bool, E> {
        self.out.push(TAG_FLOAT);
        self.out.extend_from_slice(&v.to_bits().to_le_bytes());
        Ok(false)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        write_str(self.out, v);
        Ok(false)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        check_depth::<A::Error>(self.depth, self.scratch)?;
        self.out.push(TAG_ARR);
        // Nulls inside arrays are positional, so they are kept.
        while seq
            .next_element_seed(Canon {
                out: &mut *self.out,
                scratch: &mut *self.scratch,
                depth: self.depth + 1,
                exclude: &[],
            })?
            .is_some()
        {}
        self.out.push(TAG_ARR_END);
        Ok(false)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        check_depth::<A::Error>(self.depth, self.scratch)?;
        let depth = self.depth;
        let exclude = if depth == 1 { self.exclude } else { &[] };
        let out = self.out;
        let scratch = self.scratch;
        out.push(TAG_OBJ);
        let body = out.len();
        let base = scratch.entries.len();
        let mut sorted = true;
        loop {
            let start = out.len();
            let key = KeySeed {
                out: &mut *out,
                exclude,
            };
            let Some(excluded) = map.next_key_seed(key)? else {
                break;
            };
            let key_end = out.len();
            if excluded {
                // Decoded like any other value (and then dropped), not skipped: skipping does not
                // check string escapes, and a lone surrogate here would make the event that
                // embeds this object verbatim unreadable to every JSON parser downstream.
                map.next_value_seed(Canon {
                    out: &mut *out,
                    scratch: &mut *scratch,
                    depth: depth + 1,
                    exclude: &[],
                })?;
                out.truncate(start);
                continue;
            }
            let value = Canon {
                out: &mut *out,
                scratch: &mut *scratch,
                depth: depth + 1,
                exclude: &[],
            };
            if map.next_value_seed(value)? {
                out.truncate(start);
                continue;
            }
            let entry = Entry {
                start,
                key_start: key_start(out, start, key_end),
                key_end,
                end: out.len(),
            };
            push_entry(out, scratch, base, entry, &mut sorted);
        }
        close_object(out, scratch, body, base, sorted);
        Ok(false)
    }
}

/// Record a member just written to `out` (the object's entries start at `base` of the stack);
/// `sorted` turns false once a key is smaller than the one before it.
// Inlined: called out of line, the entry built in the caller's frame was read back with wider
// loads than it was stored with, which stalled on every member (docs/performance.md,
// "Normalizer").
#[inline(always)]
pub(crate) fn push_entry(
    out: &[u8],
    scratch: &mut Scratch,
    base: usize,
    entry: Entry,
    sorted: &mut bool,
) {
    // Once an object is known to need sorting, its keys need no more comparing.
    if *sorted && scratch.entries.len() > base {
        if let Some(prev) = scratch.entries.last() {
            let (a, b) = (
                &out[prev.key_start..prev.key_end],
                &out[entry.key_start..entry.key_end],
            );
            // Keys mostly differ in their first byte: comparing it first spares a `memcmp` call.
            let descending = match (a.first(), b.first()) {
                (Some(x), Some(y)) if x != y => x > y,
                _ => a > b,
            };
            if descending {
                *sorted = false;
            }
        }
    }
    scratch.entries.push(entry);
}

/// End the object whose members start at `body` of `out` and at `base` of the entry stack.
pub(crate) fn close_object(
    out: &mut Vec<u8>,
    scratch: &mut Scratch,
    body: usize,
    base: usize,
    sorted: bool,
) {
    if !sorted {
        // Members sorted by key text (UTF-8 byte order; duplicates keep input order, hence
        // the tie-break on position), then copied back in that order.
        let Scratch { entries, tail, .. } = &mut *scratch;
        tail.clear();
        tail.extend_from_slice(&out[body..]);
        let key = |e: &Entry| &tail[e.key_start - body..e.key_end - body];
        let members = &mut entries[base..];
        members.sort_unstable_by(|a, b| key(a).cmp(key(b)).then(a.start.cmp(&b.start)));
        out.truncate(body);
        for e in members.iter() {
            out.extend_from_slice(&tail[e.start - body..e.end - body]);
        }
    }
    scratch.entries.truncate(base);
    out.push(TAG_OBJ_END);
}

#[cfg(test)]
mod tests {
    use serde::de::IgnoredAny;

    use super::*;
    use crate::fast::view_with_id;

    const EXCLUDED: &[&str] = &["EventHandle", "Sign", "T"];

    fn id(json: &str) -> String {
        event_id(Provider::Tencent, json, EXCLUDED).expect("valid json")
    }

    #[test]
    fn key_order_nulls_and_whitespace_do_not_matter() {
        let a = id(r#"{"EventType":"X","P":{"a":1,"b":[1,null,"x"],"c":{"d":true}}}"#);
        let b = id(
            r#"{ "P" : {"c":{"d":true,"e":null},"b":[1,null,"\u0078"],"a":1}, "Z":null,
                       "EventHandle":"h", "EventType":"X"}"#,
        );
        assert_eq!(a, b);
        assert_eq!(a.len(), ID_HEX_LEN);
    }

    #[test]
    fn values_types_and_provider_matter() {
        let base = id(r#"{"a":1}"#);
        assert_ne!(base, id(r#"{"a":"1"}"#));
        assert_ne!(base, id(r#"{"a":2}"#));
        assert_ne!(base, id(r#"{"a":[1]}"#));
        assert_ne!(id(r#"{"a":[1,null]}"#), id(r#"{"a":[1]}"#));
        assert_ne!(id(r#"{"ab":"c"}"#), id(r#"{"a":"bc"}"#));
        let volc = event_id(Provider::Volcengine, r#"{"a":1}"#, &[]).expect("json");
        assert_ne!(base, volc);
    }

    #[test]
    fn exclusion_applies_to_the_top_level_only() {
        assert_eq!(id(r#"{"a":1,"EventHandle":"x"}"#), id(r#"{"a":1}"#));
        assert_ne!(id(r#"{"a":{"EventHandle":"x"}}"#), id(r#"{"a":{}}"#));
    }

    /// Objects that exercise every rule of the form: key order, nulls (kept in arrays), top-level
    /// exclusions (not below), escapes, duplicate keys, numbers of each kind, nesting.
    const SHAPES: &[&str] = &[
        r#"{}"#,
        r#"{"b":1,"a":-2,"c":2.5,"d":1e3,"e":true,"f":false,"g":null}"#,
        r#"{"EventHandle":"h","z":{"y":[1,null,{"b":null,"a":[]}],"x":{}},"T":1,"a":"\u00e9\n"}"#,
        r#"{"k":1,"k":null,"k":2,"j":{"EventHandle":"kept below the top"}}"#,
        r#"{"\u00e9":1,"e":2,"\u0065":3,"":[[[]]],"Sign":{"nested":[1]}}"#,
    ];

    #[test]
    fn the_teed_form_equals_the_form_of_a_second_parse() {
        for json in SHAPES {
            let expected = id(json);
            let (_, ignored) = view_with_id::<IgnoredAny>(Provider::Tencent, json, EXCLUDED)
                .unwrap_or_else(|| panic!("teed {json}"));
            assert_eq!(ignored, expected, "{json}");
            let (value, typed) =
                view_with_id::<serde_json::Value>(Provider::Tencent, json, EXCLUDED)
                    .unwrap_or_else(|| panic!("teed {json}"));
            assert_eq!(typed, expected, "{json}");
            assert_eq!(
                value,
                serde_json::from_str::<serde_json::Value>(json).expect("json")
            );
        }
    }

    #[test]
    fn a_teed_parse_fails_where_the_second_parse_would() {
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(100), "]".repeat(100));
        for json in [
            r#"{"a":"\ud800"}"#,
            r#"{"T":"\udc00"}"#,
            r#"{"a":1e400}"#,
            &deep,
        ] {
            assert!(
                event_id(Provider::Tencent, json, EXCLUDED).is_err(),
                "{json}"
            );
            assert!(
                view_with_id::<IgnoredAny>(Provider::Tencent, json, EXCLUDED).is_none(),
                "{json}"
            );
        }
    }

    #[test]
    fn dead_letter_ids_depend_on_source_and_body() {
        let a = dead_letter_id("tencent", b"{");
        assert_eq!(a, dead_letter_id("tencent", b"{"));
        assert_ne!(a, dead_letter_id("tencent2", b"{"));
        assert_ne!(a, dead_letter_id("tencent", b"{}"));
        assert_eq!(a.len(), ID_HEX_LEN);
    }
}
