//! Pure, synchronous mapping of vendor VOD event payloads to canonical CloudEvents.
//!
//! Input bytes → (Tencent `EventContent` v3 or legacy v2, Tencent `PullEvents` response,
//! Volcengine callback) → [`vodbridge_core::CanonicalEvent`]s. No I/O, no clock except the
//! receive time the caller passes in [`SourceContext`]; the same bytes always give the same
//! events and the same ids.
//!
//! Each input is read with lenient borrowed views that pick only the fields vodbridge maps
//! (serde skips the rest), the original event object is embedded verbatim as `data.original`,
//! and the id is a SHA-256 over a canonical form of the event streamed from the parser (see
//! `docs/events.md` for the taxonomy, the `data` layout, the outcome rules and the id rule).
//!
//! Every input can be read two ways with byte-identical results: the fast path (one pass where
//! it can, used by [`normalize`]) and the plain reference path (`normalize_reference`, feature
//! `reference`, for differential tests); see `context::Path`.
//!
//! Modules: `tencent` and `volcengine` (vendor readings and mappers; `tencent::fast` is
//! Tencent's fast reading), `types` (the taxonomy tables), `record` (`data` layout and event
//! assembly), `ids` (the canonical form, written while a view is read, and its hash), `fast`
//! (what only saves a scan: where the elements of a `PullEvents` body read in one pass lie in it,
//! raw values without a scan, `data` written by hand), `context` (source context, reading path,
//! pulled event), `time` (lenient timestamps), `lenient` (type-tolerant field views).

mod context;
mod error;
mod fast;
mod ids;
mod lenient;
mod record;
mod tencent;
mod time;
mod types;
mod volcengine;

pub use context::{PulledEvent, SourceContext};
pub use error::NormalizeError;
pub use ids::ID_HEX_LEN;
pub use types::{
    canonical_type, is_known_vendor_type, lookup, type_mappings, TypeMapping, UNMAPPED_TYPE,
};

use serde_json::value::RawValue;
use vodbridge_core::{CanonicalEvent, Provider};

use context::Path;

/// Normalize one HTTP callback body (Tencent `EventContent` v3 or legacy v2; Volcengine callback
/// envelope). A Tencent `PullEvents` response (`{"Response":{"EventSet":[…]}}`) is accepted too,
/// which is what `vodbridge normalize` uses for saved poller responses; it yields one event per
/// element (none for an empty or `null` `EventSet`) and fails as a whole on the first bad
/// element or on `Response.Error` ([`NormalizeError::ApiError`]).
pub fn normalize(
    provider: Provider,
    body: &[u8],
    ctx: &SourceContext<'_>,
) -> Result<Vec<CanonicalEvent>, NormalizeError> {
    normalize_along(Path::Fast, provider, body, ctx)
}

/// [`normalize`] along the plain reference path: the same output byte for byte, at a higher
/// cost. For differential tests of the fast path (feature `reference`).
#[cfg(feature = "reference")]
pub fn normalize_reference(
    provider: Provider,
    body: &[u8],
    ctx: &SourceContext<'_>,
) -> Result<Vec<CanonicalEvent>, NormalizeError> {
    normalize_along(Path::Reference, provider, body, ctx)
}

fn normalize_along(
    path: Path,
    provider: Provider,
    body: &[u8],
    ctx: &SourceContext<'_>,
) -> Result<Vec<CanonicalEvent>, NormalizeError> {
    let normalize = match provider {
        Provider::Tencent => tencent::normalize,
        Provider::Volcengine => volcengine::normalize,
        Provider::Vodbridge => return Err(NormalizeError::UnsupportedProvider),
    };
    // The mappers' parse validates the whole body itself, so it is not scanned an extra time
    // just to be validated; only a body that is not UTF-8 is, to report the error.
    let text = match std::str::from_utf8(body) {
        Ok(text) => text,
        Err(_) => {
            let raw: &RawValue = serde_json::from_slice(body).map_err(NormalizeError::json)?;
            raw.get()
        }
    };
    normalize(path, text, ctx)
}

/// Normalize one raw element of a Tencent `PullEvents` `Response.EventSet` (JSON text).
pub fn normalize_pulled(raw_event: &str, ctx: &SourceContext<'_>) -> PulledEvent {
    tencent::pulled(Path::Fast, raw_event, ctx)
}

/// [`normalize_pulled`] along the plain reference path (see `normalize_reference`).
#[cfg(feature = "reference")]
pub fn normalize_pulled_reference(raw_event: &str, ctx: &SourceContext<'_>) -> PulledEvent {
    tencent::pulled(Path::Reference, raw_event, ctx)
}

/// Split a Tencent `PullEvents` response body into its raw `EventSet` elements (for the poller,
/// which normalizes and confirms each with [`normalize_pulled`]). An empty or `null` `EventSet`
/// gives no elements; `Response.Error` gives [`NormalizeError::ApiError`].
pub fn pull_events_elements(body: &[u8]) -> Result<Vec<&RawValue>, NormalizeError> {
    #[derive(serde::Deserialize)]
    struct Outer<'a> {
        #[serde(rename = "Response", borrow)]
        response: Option<&'a RawValue>,
    }
    // serde's derived structs also read a JSON array positionally: refuse anything but an object,
    // as `normalize` does for the same body.
    if body.trim_ascii_start().first() != Some(&b'{') {
        let _: &RawValue = serde_json::from_slice(body).map_err(NormalizeError::json)?;
        return Err(NormalizeError::NotObject);
    }
    let outer: Outer<'_> = serde_json::from_slice(body).map_err(NormalizeError::json)?;
    let response = outer
        .response
        .ok_or(NormalizeError::field("Response", "an object"))?;
    tencent::pull_response(response)
}

/// Deterministic id for a dead letter of `body` received on `source_name`: SHA-256 over both
/// (length-prefixed), [`ID_HEX_LEN`] lowercase hex characters.
pub fn dead_letter_id(source_name: &str, body: &[u8]) -> String {
    ids::dead_letter_id(source_name, body)
}

#[cfg(test)]
mod tests;
