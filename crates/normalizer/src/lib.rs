//! Pure, synchronous mapping of vendor VOD event payloads to canonical CloudEvents.
//!
//! Input bytes → (Tencent `EventContent`, Tencent `PullEvents` response, Volcengine callback) →
//! [`vodbridge_core::CanonicalEvent`]s. No I/O, no clock except the receive time the caller passes
//! in [`SourceContext`]; the same bytes always give the same events and the same ids.

mod error;

pub use error::NormalizeError;

use chrono::{DateTime, Utc};
use vodbridge_core::{CanonicalEvent, Provider};

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

/// Normalize one HTTP callback body (Tencent `EventContent` v3 or legacy v2; Volcengine callback
/// envelope). A Tencent `PullEvents` response (`{"Response":{"EventSet":[…]}}`) is accepted too,
/// which is what `vodbridge normalize` uses for saved poller responses.
pub fn normalize(
    provider: Provider,
    body: &[u8],
    ctx: &SourceContext<'_>,
) -> Result<Vec<CanonicalEvent>, NormalizeError> {
    let _ = (provider, body, ctx);
    Err(NormalizeError::Unsupported)
}

/// Normalize one raw element of a Tencent `PullEvents` `Response.EventSet` (JSON text).
pub fn normalize_pulled(raw_event: &str, ctx: &SourceContext<'_>) -> PulledEvent {
    let _ = (raw_event, ctx);
    PulledEvent { handle: None, result: Err(NormalizeError::Unsupported) }
}

/// Deterministic id for a dead letter of `body` received on `source_name`.
pub fn dead_letter_id(source_name: &str, body: &[u8]) -> String {
    let _ = (source_name, body);
    String::new()
}
