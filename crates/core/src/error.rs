//! Errors a sink reports, classified so callers know whether a retry can help.

use std::time::Duration;

/// Whether a failed publish may succeed if tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkErrorKind {
    /// Broker unreachable, timed out, overloaded, leader moving: retry later (HTTP 503, no confirm).
    Retriable,
    /// The broker refused the message for good (too large, not authorized, invalid topic).
    Permanent,
}

/// A sink failed to get an acknowledgement for a batch.
#[derive(Debug, thiserror::Error)]
#[error("sink `{sink}` failed: {message}")]
pub struct SinkError {
    /// Name of the sink (`[[sinks]] name`).
    pub sink: String,
    /// Retriable or permanent.
    pub kind: SinkErrorKind,
    /// Short reason for metrics (a closed set per sink, e.g. `timeout`, `unreachable`, `rejected`).
    pub reason: &'static str,
    /// Human-readable detail.
    pub message: String,
    /// Optional hint for `Retry-After`.
    pub retry_after: Option<Duration>,
}

impl SinkError {
    /// A retriable failure.
    pub fn retriable(
        sink: impl Into<String>,
        reason: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            sink: sink.into(),
            kind: SinkErrorKind::Retriable,
            reason,
            message: message.into(),
            retry_after: None,
        }
    }

    /// A permanent failure.
    pub fn permanent(
        sink: impl Into<String>,
        reason: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            sink: sink.into(),
            kind: SinkErrorKind::Permanent,
            reason,
            message: message.into(),
            retry_after: None,
        }
    }

    /// True when trying again later may succeed.
    pub fn is_retriable(&self) -> bool {
        self.kind == SinkErrorKind::Retriable
    }
}
