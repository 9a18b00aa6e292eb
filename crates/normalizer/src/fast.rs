//! The fast path's ways around a second scan of text already read.
//!
//! - A Tencent `PullEvents` body is read in one pass: each `EventSet` element is read into its
//!   view, with its id's canonical form, while the body is read, so its verbatim text (needed for
//!   `data.original`) is found afterwards from where its keys lay in the body ([`locate`])
//!   rather than by capturing it in a second scan. Any surprise gives `None`, and the caller
//!   takes the reference reading, which gives the same events and reports every error.
//! - JSON text known to be valid is written into (`data.original`, [`RAW_VALUE_MARKER`]) and made
//!   (`data`, [`raw_value`]) a `RawValue` without being scanned again.
//! - `data` is written by hand ([`JsonWriter`]) into a `String` of about its size.

use std::fmt::Write as _;

use std::iter;

use serde::de::{self, value::MapDeserializer};
use serde::Deserialize;
use serde_json::value::RawValue;

/// serde_json serializes a `RawValue` as a one-field struct named by this private marker, which
/// its serializer recognizes and writes verbatim, and its `Deserialize` takes a raw value as it
/// is from a one-member map with this key. Should serde_json stop taking it, [`raw_value`]'s
/// callers fall back to serializing `data` again; should it stop writing it verbatim, nothing
/// falls back, and the unit tests that watch both fail (Cargo.lock pins serde_json).
pub(crate) const RAW_VALUE_MARKER: &str = "$serde_json::private::RawValue";

/// `text`, known to be one valid JSON value, as a `RawValue` without a validating scan (`None`
/// if serde_json no longer takes it this way).
pub(crate) fn raw_value(text: String) -> Option<Box<RawValue>> {
    let written = MapDeserializer::<_, de::value::Error>::new(iter::once((RAW_VALUE_MARKER, text)));
    <Box<RawValue>>::deserialize(written).ok()
}

/// A member name as [`JsonWriter`] takes it: quoted, with its colon (it must need no escaping).
macro_rules! member {
    ($name:literal) => {
        concat!("\"", $name, "\":")
    };
}
pub(crate) use member;

/// A JSON object written by hand, byte for byte as serde_json writes the same members (a test
/// of `record::layout` holds the two equal): member names come written ([`member!`]), strings
/// are escaped only when they need it, the text is not grown.
pub(crate) struct JsonWriter {
    out: String,
    /// No member written yet in the innermost open object.
    first: bool,
}

impl JsonWriter {
    /// An object, `capacity` about its length.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        let mut out = String::with_capacity(capacity);
        out.push('{');
        JsonWriter { out, first: true }
    }

    /// The next member's name, as [`member!`] writes it.
    fn name(&mut self, name: &str) {
        if !std::mem::replace(&mut self.first, false) {
            self.out.push(',');
        }
        self.out.push_str(name);
    }

    /// A string member, when there is a value.
    pub(crate) fn str(&mut self, name: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.name(name);
            json_string(&mut self.out, value);
        }
    }

    /// An array of strings, when it is not empty.
    pub(crate) fn strings(&mut self, name: &str, values: &[std::borrow::Cow<'_, str>]) {
        if values.is_empty() {
            return;
        }
        self.name(name);
        for (i, value) in values.iter().enumerate() {
            self.out.push(if i == 0 { '[' } else { ',' });
            json_string(&mut self.out, value);
        }
        self.out.push(']');
    }

    /// A size or duration, when there is one: an integer when it is whole, as
    /// `record::layout`'s `number` serializes it.
    pub(crate) fn number(&mut self, name: &str, value: Option<f64>) {
        let Some(f) = value else { return };
        self.name(name);
        if f.fract() == 0.0 && f.abs() < 9.0e15 {
            let _ = write!(self.out, "{}", f as i64);
        } else {
            self.out
                .push_str(&serde_json::to_string(&f).unwrap_or_else(|_| "null".to_owned()));
        }
    }

    /// Open an object member.
    pub(crate) fn open(&mut self, name: &str) {
        self.name(name);
        self.out.push('{');
        self.first = true;
    }

    /// Close the object member opened last.
    pub(crate) fn close(&mut self) {
        self.out.push('}');
        self.first = false;
    }

    /// The last member, JSON text `json` written as it is, and the whole object.
    pub(crate) fn finish(mut self, name: &str, json: &str) -> String {
        self.name(name);
        self.out.push_str(json);
        self.out.push('}');
        self.out
    }
}

/// `s` as a JSON string, escaped as serde_json escapes it (control characters, `"` and `\\`),
/// copied as it is when nothing needs escaping.
fn json_string(out: &mut String, s: &str) {
    // Branch-free, so that the compiler vectorizes the scan.
    let escape = s
        .bytes()
        .fold(false, |e, b| e | (b < 0x20) | (b == b'"') | (b == b'\\'));
    if escape {
        out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "null".to_owned()));
    } else {
        out.push('"');
        out.push_str(s);
        out.push('"');
    }
}

/// Whether a body's first member is `Response`: a `PullEvents` response, worth the one-pass
/// reading (any other body is read as one event, so a failed attempt costs nothing).
pub(crate) fn looks_like_pull_response(text: &str) -> bool {
    text.trim_ascii_start()
        .strip_prefix('{')
        .is_some_and(|rest| rest.trim_ascii_start().starts_with("\"Response\""))
}

/// Where an object lies in the text it was read from, as addresses: its first key's text (when
/// the key was borrowed from the text, i.e. had no escapes) and the latest point known to lie
/// directly in it and outside any string (after a borrowed key's closing quote).
#[derive(Clone, Copy)]
pub(crate) struct Bounds {
    /// The address of the first key's text.
    pub(crate) first_key: usize,
    /// The latest such address known.
    pub(crate) between_members: usize,
}

impl Bounds {
    /// Record a key of an object (`first`: its first key; `borrowed`: its text, when it was
    /// borrowed from the text): the object's bounds so far are in `bounds`, which stay `None`
    /// unless the first key was borrowed.
    pub(crate) fn key(bounds: &mut Option<Bounds>, borrowed: Option<&str>, first: bool) {
        let Some(key) = borrowed else {
            return;
        };
        let at = key.as_ptr() as usize;
        let after = at + key.len() + 1;
        match bounds {
            Some(b) => b.between_members = after,
            None if first => {
                *bounds = Some(Bounds {
                    first_key: at,
                    between_members: after,
                })
            }
            None => {}
        }
    }
}

/// The verbatim text of each element read from `text`, or `None` if one cannot be located.
///
/// Each element knows the address of its first key (borrowed from `text`, so the element's `{`
/// is the first byte before the key's opening quote that is not whitespace) and of a later point
/// directly in it, outside any string. An element ends where the next one starts, before the `,` and the
/// whitespace around it; the last element ends at the `}` that closes it, found by scanning from
/// its last known point. The elements were parsed successfully, so they are valid JSON and only
/// whitespace and punctuation lie between these points: each step is checked, and any surprise
/// gives `None`.
pub(crate) fn locate<'t>(text: &'t str, elements: &[Option<Bounds>]) -> Option<Vec<&'t str>> {
    let bytes = text.as_bytes();
    let base = text.as_ptr() as usize;
    let offset = |address: usize| address.checked_sub(base).filter(|o| *o <= bytes.len());
    let starts = elements
        .iter()
        .map(|b| object_start(bytes, offset((*b)?.first_key)?))
        .collect::<Option<Vec<usize>>>()?;
    let mut texts = Vec::with_capacity(elements.len());
    for (i, bounds) in elements.iter().enumerate() {
        let end = match starts.get(i + 1) {
            Some(&next) => end_before_next(bytes, next)?,
            None => object_end(bytes, offset((*bounds)?.between_members)?)?,
        };
        texts.push(text.get(starts[i]..end)?);
    }
    Some(texts)
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// The offset of the `{` of an object whose first key's text starts at `key`.
fn object_start(bytes: &[u8], key: usize) -> Option<usize> {
    let quote = key
        .checked_sub(1)
        .filter(|&q| bytes.get(q) == Some(&b'"'))?;
    let before = bytes[..quote].iter().rposition(|&b| !is_ws(b))?;
    (bytes[before] == b'{').then_some(before)
}

/// The end (exclusive) of the array element before the one starting at `next`: `}` ws `,` ws.
fn end_before_next(bytes: &[u8], next: usize) -> Option<usize> {
    let comma = bytes[..next].iter().rposition(|&b| !is_ws(b))?;
    if bytes[comma] != b',' {
        return None;
    }
    let close = bytes[..comma].iter().rposition(|&b| !is_ws(b))?;
    (bytes[close] == b'}').then_some(close + 1)
}

/// The end (exclusive) of the object that `from` lies in, directly (at its own level, outside
/// any string), in valid JSON: the `}` that brings the nesting back to zero.
fn object_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut depth = 1u32;
    let mut i = from;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'"' => {
                // Skip the string: an escape's backslash hides the byte after it.
                i += 1;
                loop {
                    let at = i + bytes
                        .get(i..)?
                        .iter()
                        .position(|&c| c == b'"' || c == b'\\')?;
                    if bytes[at] == b'"' {
                        i = at;
                        break;
                    }
                    i = at + 2;
                }
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_text_becomes_a_raw_value_as_is() {
        // The serde_json behaviour `raw_value` relies on still holds (else callers scan again).
        let text = r#"{"a" : [1, "\u00e9"]}"#;
        let raw = raw_value(text.to_owned()).expect("taken as it is");
        assert_eq!(raw.get(), text);
    }
}
