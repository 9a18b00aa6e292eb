//! What an input comes with and what a pulled element gives: the source context, the reading
//! path, and a pulled event with its handle. A leaf module, so that the mappers need not import
//! the crate root.

use chrono::{DateTime, Utc};
use vodbridge_core::CanonicalEvent;

use crate::error::NormalizeError;

/// What the normalizer needs to know about where an input came from.
#[derive(Debug, Clone)]
pub struct SourceContext<'a> {
    /// The configured source name (`[[sources]] name`), used by routing templates.
    pub source_name: &'a str,
    /// The CloudEvents `source` attribute for this source (a URI-reference).
    pub source_uri: &'a str,
    /// When vodbridge received the input; used as `time` when the vendor gives none.
    pub received_at: DateTime<Utc>,
}

/// One element of a Tencent `PullEvents` `EventSet`, normalized.
#[derive(Debug)]
pub struct PulledEvent {
    /// The `EventHandle` to confirm, when the element had one (kept out of the id).
    pub handle: Option<String>,
    /// The canonical event, or why the element could not be normalized (dead-letter it, then
    /// confirm the handle so one poison event never blocks the queue).
    pub result: Result<CanonicalEvent, NormalizeError>,
}

/// Which reading of an input produces its events. Both give byte-identical output (events, ids
/// and errors); the differential property test and the `normalize_differential` fuzz target hold
/// them to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Path {
    /// One pass where it can: an event's views and its id's canonical form read together
    /// (`ids::view_with_id`; Tencent's readings in `tencent::fast`), a `PullEvents` body's
    /// elements read while the body is and then located in it, the verbatim `original` and
    /// `data` made raw values without a second scan, `data` written by hand (`fast`). Any
    /// surprise falls back to the reference reading.
    Fast,
    /// The plain reading: members captured raw, each view parsed from its member when the mapper
    /// asks for it, the id from a parse of the event text of its own, `data` serialized by serde.
    // Selected only through the `reference` feature's entry points; the readings it names
    // are also the fast path's fallback, so they are compiled either way.
    #[cfg_attr(not(feature = "reference"), allow(dead_code))]
    Reference,
}
