//! Pure, synchronous mapping of vendor VOD event payloads to canonical CloudEvents.
//!
//! Input bytes → (Tencent `EventContent`, Tencent `PullEvents` response, Volcengine callback) →
//! [`vodbridge_core::CanonicalEvent`]s. No I/O, no clock except the receive time the caller passes
//! in [`SourceContext`]; the same bytes always give the same events and the same ids.
