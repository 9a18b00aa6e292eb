//! The one-pass reading of a `PullEvents` response body: each `EventSet` element is split (its
//! payload read into the typed view, its id teed) while the body is read, and its verbatim text,
//! needed for `data.original`, is found afterwards from where its members lay in the body (see
//! [`locate`]). Any failure of that pass — a bad element, an element that cannot be located —
//! sends the body down the general path: each element captured as a `RawValue`, then split on its
//! own. That path gives the same events and reports every error, so the one-pass reading changes
//! nothing but the cost.

use super::event_set::{elements, MaybeResponse};
use super::split::{BodyResponse, Members, ResponseMode};
use crate::error::NormalizeError;
use crate::record::Original;

/// Whether a body's first member is `Response`: a `PullEvents` response, worth the one-pass
/// reading (any other body takes the general path at once, so a failed attempt costs nothing).
pub(super) fn looks_like_pull_response(text: &str) -> bool {
    text.trim_ascii_start()
        .strip_prefix('{')
        .is_some_and(|rest| rest.trim_ascii_start().starts_with("\"Response\""))
}

/// An `EventSet` element split while its body was read, and its verbatim text in the body.
pub(super) struct SplitElement<'a> {
    pub(super) members: Members<'a>,
    pub(super) original: Original<'a>,
}

/// The elements of a `PullEvents` response body read in one pass, or `None` when that pass
/// cannot tell (the caller then takes the general path, which gives the same result or error).
pub(super) fn split_in_one_pass(
    text: &str,
) -> Option<Result<Vec<SplitElement<'_>>, NormalizeError>> {
    let mut top = Members::parse_with(text, true, ResponseMode::Split).ok()??;
    let Some(BodyResponse::Split(MaybeResponse(view))) = top.take_response() else {
        return None;
    };
    let elements = match elements(view) {
        Ok(elements) => elements,
        Err(e) => return Some(Err(e)),
    };
    let texts = locate(text, &elements)?;
    let split = elements.into_iter().zip(texts).map(|(members, text)| {
        let original = Original::of_body(text).ok()?;
        Some(SplitElement { members, original })
    });
    split.collect::<Option<_>>().map(Ok)
}

/// The verbatim text of each element split from `text`, or `None` if one cannot be located.
///
/// Each element knows the address of its first key (borrowed from `text`, so the element's `{`
/// is the first byte before the key's opening quote that is not whitespace) and of a later point
/// between two of its members. An element ends where the next one starts, before the `,` and the
/// whitespace around it; the last element ends at the `}` that closes it, found by scanning from
/// its last known point. The elements were parsed successfully, so they are valid JSON and only
/// whitespace and punctuation lie between these points: each step is checked, and any surprise
/// gives `None`.
fn locate<'t>(text: &'t str, elements: &[Members<'_>]) -> Option<Vec<&'t str>> {
    let bytes = text.as_bytes();
    let base = text.as_ptr() as usize;
    let offset = |address: usize| address.checked_sub(base).filter(|o| *o <= bytes.len());
    let starts = elements
        .iter()
        .map(|e| object_start(bytes, offset(e.bounds()?.first_key)?))
        .collect::<Option<Vec<usize>>>()?;
    let mut texts = Vec::with_capacity(elements.len());
    for (i, element) in elements.iter().enumerate() {
        let end = match starts.get(i + 1) {
            Some(&next) => end_before_next(bytes, next)?,
            None => object_end(bytes, offset(element.bounds()?.between_members)?)?,
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

/// The end (exclusive) of the object that `from` lies in, directly (between two of its members,
/// outside any string), in valid JSON: the `}` that brings the nesting back to zero.
pub(super) fn object_end(bytes: &[u8], from: usize) -> Option<usize> {
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
    use proptest::prelude::*;

    use super::*;

    /// Element texts with every kind of string content the scanner must step over.
    fn element(strings: &[String], spaces: &[&str], k: usize) -> String {
        let s =
            |i: usize| serde_json::to_string(&strings[(i + k) % strings.len()]).expect("string");
        let w = |i: usize| spaces[(i + k) % spaces.len()];
        format!(
            "{{{w0}\"EventType\"{w1}:{w2}\"NewFileUpload\"{w3},\"FileUploadEvent\":{w4}{{\"FileId\":{s0},{w5}\"A\":[{s1},{{{s2}:{s3}}},[],{{}}],{s4}:{s5}{w6}}}{w7}}}",
            w0 = w(0), w1 = w(1), w2 = w(2), w3 = w(3), w4 = w(4), w5 = w(5), w6 = w(6), w7 = w(7),
            s0 = s(0), s1 = s(1), s2 = s(2), s3 = s(3), s4 = s(4), s5 = s(5),
        )
    }

    proptest! {
        #[test]
        fn elements_are_located_exactly(
            strings in prop::collection::vec("[\"\\\\{}\\[\\],: aé\u{1F600}]{0,8}", 1..6),
            spaces in prop::collection::vec(prop::sample::select(vec!["", " ", "\n", "\t\r\n "]), 1..8),
            count in 1usize..4,
        ) {
            let texts: Vec<String> = (0..count)
                .map(|i| element(&strings, &spaces, i))
                .collect();
            let w = spaces[0];
            let body = format!(
                "{{\"Response\":{{\"EventSet\":[{w}{}{w}],\"RequestId\":\"]}}\"}}}}",
                texts.join(&format!("{w},{w}"))
            );
            let mut top = Members::parse_with(&body, true, ResponseMode::Split)
                .expect("valid")
                .expect("object");
            let Some(BodyResponse::Split(MaybeResponse(view))) = top.take_response() else {
                panic!("no response");
            };
            let elements = elements(view).expect("elements");
            let located = locate(&body, &elements).expect("located");
            prop_assert_eq!(located, texts.iter().map(String::as_str).collect::<Vec<_>>());
            for text in &texts {
                prop_assert_eq!(object_end(text.as_bytes(), 1), Some(text.len()));
            }
        }
    }

    #[test]
    fn an_element_whose_first_key_has_an_escape_is_not_located() {
        let body = r#"{"Response":{"EventSet":[{"\u0045ventType":"NewFileUpload"}]}}"#;
        let mut top = Members::parse_with(body, true, ResponseMode::Split)
            .expect("valid")
            .expect("object");
        let Some(BodyResponse::Split(MaybeResponse(view))) = top.take_response() else {
            panic!("no response");
        };
        assert!(locate(body, &elements(view).expect("elements")).is_none());
    }
}
