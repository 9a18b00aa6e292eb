//! Deterministic event ids: SHA-256 over a canonical form of the vendor event.
//!
//! The canonical form makes the id independent of everything that varies between deliveries of
//! the same occurrence: object key order (sorted per level), `null` members (skipped, because
//! Tencent `PullEvents` spells out non-applicable payload keys as `null` where the callback omits
//! them), insignificant whitespace and string escapes, and the delivery envelope keys the caller
//! excludes at the top level (Tencent `EventHandle`, `Sign`, `T`, `sign`, `t`; Volcengine
//! `RequestId`).
//! Everything else, including the provider name, is hashed, so different occurrences differ.
//!
//! The form is written into one buffer while the event is parsed (no `Value` tree is built) and
//! is injective: every item starts with a tag byte and strings carry their length. One writer
//! produces it, [`tee`]: it wraps the parser that reads a view, so the fast path gets the view and
//! the id in one pass ([`view_with_id`]), and [`event_id`] is the same with nothing to view.

mod tee;

use serde::de::{self, IgnoredAny};
use sha2::{Digest, Sha256};
use vodbridge_core::Provider;

use crate::error::NormalizeError;
pub(crate) use tee::{teed, view_with_id};

/// Hex characters in an id (128 bits of the SHA-256 digest).
pub const ID_HEX_LEN: usize = 32;

/// The id of a vendor event: SHA-256 over `provider`, a NUL and the canonical form of `json`
/// (an object) without the top-level members named in `exclude`; the first 16 bytes in hex.
pub(crate) fn event_id(
    provider: Provider,
    json: &str,
    exclude: &[&str],
) -> Result<String, NormalizeError> {
    view_with_id::<IgnoredAny>(provider, json, exclude).map(|(_, id)| id)
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

/// Working memory shared by every object of one event, so that objects do not allocate: the
/// member entries of all open objects (a stack: each object owns the entries from the length it
/// found to the end, and truncates back when it closes; the event object's stay, to be hashed)
/// and the copy of the members being reordered.
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

/// One member of an object in the output buffer: `[start, end)` is the encoded member (key
/// and value), `[key_start, key_end)` the key's text. A member of the event object itself is
/// written value first: `[start, end)` is the value's form, `[end, key_end)` the key's.
#[derive(Clone, Copy)]
pub(crate) struct Entry {
    pub(crate) start: usize,
    pub(crate) key_start: usize,
    pub(crate) key_end: usize,
    pub(crate) end: usize,
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

/// End the object whose members start at `body` of `out` and at `base` of the entry stack:
/// unless `sorted` says they are in order already, its members sorted by key text (UTF-8 byte
/// order; duplicates keep input order, hence the tie-break on position) and copied back so.
pub(crate) fn close_object(
    out: &mut Vec<u8>,
    scratch: &mut Scratch,
    body: usize,
    base: usize,
    sorted: bool,
) {
    if !sorted {
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
    use super::*;

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
    fn the_ids_of_the_shapes_are_those_of_the_earlier_canonical_writer() {
        // Written by the separate canonical visitor this module had before the tee was the only
        // writer (8b37ba5): the form is pinned, not only compared with itself.
        let expected = [
            "9908e05ee35ed396eeda66d0ab6ce7e0",
            "3d729003cb52636bfb2a2efcd18a53e1",
            "959e145a9c4e6d7cddc85c2882cac081",
            "f44522c9b35c2d2b93a83df963b690cd",
            "ca63dae43c640e057423e8b843ef7c4e",
        ];
        for (json, expected) in SHAPES.iter().zip(expected) {
            assert_eq!(id(json), expected, "{json}");
        }
    }

    #[test]
    fn long_and_escaped_keys_keep_the_ids_of_the_earlier_writer() {
        // Keys of 128 bytes and more (a two-byte length), multi-byte and escaped keys, an
        // escaped excluded key at the top level; ids from 8b37ba5's writer.
        let shapes = [
            format!(
                "{{\"z\":1,\"{}\":{{\"b\":\"x\",\"{}\":null,\"{}\":[1]}},\"a\":\"\\ud83d\\ude00\"}}",
                "\u{e9}".repeat(70),
                "a".repeat(130),
                "a".repeat(129)
            ),
            format!(
                "{{\"{}\":2,\"\\u0054\":1,\"b\":{{\"\\u00e9\":null,\"{}\":true}}}}",
                "k".repeat(200),
                "\\u00e9".repeat(80)
            ),
        ];
        let expected = [
            "99b979417deb25ca8a7950061e535598",
            "151777d70d03b71c4f9f2051e539c286",
        ];
        for (json, expected) in shapes.iter().zip(expected) {
            assert_eq!(id(json), expected, "{json}");
        }
    }

    #[test]
    fn the_form_does_not_depend_on_the_view() {
        for json in SHAPES {
            let expected = id(json);
            let (value, typed) =
                view_with_id::<serde_json::Value>(Provider::Tencent, json, EXCLUDED)
                    .unwrap_or_else(|e| panic!("teed {json}: {e}"));
            assert_eq!(typed, expected, "{json}");
            assert_eq!(
                value,
                serde_json::from_str::<serde_json::Value>(json).expect("json")
            );
        }
    }

    #[test]
    fn bad_escapes_big_numbers_and_deep_nesting_are_refused() {
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(100), "]".repeat(100));
        for (json, reason) in [
            (r#"{"a":"\ud800"}"#, "not_json"),
            (r#"{"T":"\udc00"}"#, "not_json"),
            (r#"{"a":1e400}"#, "not_json"),
            (r#"{"a":1} x"#, "not_json"),
            (r#"{"\ud800":1}"#, "not_json"),
            (r#"{"a":{"\udc00":1}}"#, "not_json"),
            (&deep, "too_deep"),
        ] {
            let err = event_id(Provider::Tencent, json, EXCLUDED).expect_err(json);
            assert_eq!(err.reason(), reason, "{json}");
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
