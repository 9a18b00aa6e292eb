//! The fast reading of Tencent bodies and pulled events: an event's members and its id in one
//! pass, and a `PullEvents` body's elements read while the body is (see `crate::fast`). Each
//! gives `None` when it cannot tell, and the caller takes the reference reading, which gives the
//! same result or error.

use serde::{Deserialize, Deserializer};
use vodbridge_core::Provider;

use super::event_set::{self, ResponseView};
use super::members::Members;
use super::{is_legacy, Read, ID_EXCLUDED};
use crate::error::NormalizeError;
use crate::ids;
use crate::lenient::Obj;
use crate::record::Original;

/// The fast reading of a body, or `None` when it cannot tell (then the reference reading gives
/// the same result or error): a `PullEvents` response led by `Response` in one pass; any other
/// body read into its members and its id in one pass, unless it is a `PullEvents` response after
/// all or in the legacy format.
pub(super) fn body(text: &str) -> Option<Result<Vec<Read<'_>>, NormalizeError>> {
    if crate::fast::looks_like_pull_response(text) {
        return pull_in_one_pass(text);
    }
    let read = event(text)?;
    if read.members.get("Response").is_some() || is_legacy(&read.members) {
        return None;
    }
    Some(Ok(vec![read]))
}

/// The fast reading of one event object: its members and its id in one pass.
pub(super) fn event(text: &str) -> Option<Read<'_>> {
    let (members, id) = ids::view_with_id::<Members>(Provider::Tencent, text, ID_EXCLUDED).ok()?;
    Some(Read {
        members,
        id: Some(id),
        // The parse accepted the text as one JSON value, so it is not scanned again.
        original: Original::of_body(text),
    })
}

/// A capacity hint for an element's canonical form (its length is not known while it is read;
/// a typical event is about a kilobyte).
const ELEMENT_LEN_HINT: usize = 2048;

/// An `EventSet` element read while its body is: its members and its id.
struct Teed<'a> {
    members: Members<'a>,
    id: String,
}

impl<'de: 'a, 'a> Deserialize<'de> for Teed<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (members, id) = ids::teed(d, Provider::Tencent, ID_EXCLUDED, ELEMENT_LEN_HINT)?;
        Ok(Teed { members, id })
    }
}

/// A `PullEvents` body read in one pass: each element read into its members and its id while
/// the body is, its text then located in the body (see `crate::fast`).
pub(super) fn pull_in_one_pass(text: &str) -> Option<Result<Vec<Read<'_>>, NormalizeError>> {
    #[derive(Deserialize)]
    struct Body<'a> {
        #[serde(rename = "Response", borrow)]
        response: Option<Obj<ResponseView<'a, Teed<'a>>>>,
    }
    let body: Body<'_> = serde_json::from_str(text).ok()?;
    let elements = match event_set::elements(body.response?) {
        Ok(elements) => elements,
        Err(e) => return Some(Err(e)),
    };
    let bounds: Vec<_> = elements.iter().map(|e| e.members.bounds).collect();
    let texts = crate::fast::locate(text, &bounds)?;
    let reads = elements.into_iter().zip(texts).map(|(e, text)| {
        Some(Read {
            members: e.members,
            id: Some(e.id),
            original: Original::of_body(text),
        })
    });
    reads.collect::<Option<_>>().map(Ok)
}
