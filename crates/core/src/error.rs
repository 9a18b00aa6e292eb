//! Errors a sink reports, classified so callers know whether a retry can help.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

/// The cause a [`SinkError`] carries: the broker client's or the operating system's own error.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Whether a failed publish may succeed if tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkErrorKind {
    /// Broker unreachable, timed out, overloaded, leader moving: retry later (HTTP 503, no confirm).
    Retriable,
    /// The broker refused the message for good (too large, not authorized, invalid topic).
    Permanent,
}

/// A sink failed to get an acknowledgement for a batch.
///
/// `message` keeps the text it always had (the cause's own text included where there is one),
/// because it is part of what the bridge writes down: a forwarder's dead letter for an event a
/// sink rejected for good carries it as its `reason`. The cause itself travels in `source`, so
/// logs can show the whole chain ([`ErrorChain`]) down to the broker client's innermost error.
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
    /// The error that caused this one, when there is one (broker client, I/O).
    #[source]
    pub source: Option<BoxError>,
}

impl SinkError {
    /// A failure of `kind`.
    pub fn new(
        sink: impl Into<String>,
        kind: SinkErrorKind,
        reason: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            sink: sink.into(),
            kind,
            reason,
            message: message.into(),
            retry_after: None,
            source: None,
        }
    }

    /// A retriable failure.
    pub fn retriable(
        sink: impl Into<String>,
        reason: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self::new(sink, SinkErrorKind::Retriable, reason, message)
    }

    /// A permanent failure.
    pub fn permanent(
        sink: impl Into<String>,
        reason: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self::new(sink, SinkErrorKind::Permanent, reason, message)
    }

    /// The same failure, caused by `source`.
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// True when trying again later may succeed.
    pub fn is_retriable(&self) -> bool {
        self.kind == SinkErrorKind::Retriable
    }
}

/// Displays an error followed by its chain of sources, `outer: cause: inner cause`, for log
/// lines (`error = %ErrorChain(&e)`).
///
/// A source whose text the line already contains is skipped: many errors (async-nats, rdkafka,
/// and vodbridge's own messages that quote their cause) print their cause themselves *and*
/// return it from `source()`, and the line should not say the same thing twice.
#[derive(Clone, Copy)]
pub struct ErrorChain<'a>(pub &'a (dyn StdError + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = self.0.to_string();
        let mut next = self.0.source();
        while let Some(cause) = next {
            let text = cause.to_string();
            if !text.is_empty() && !line.contains(&text) {
                line.push_str(": ");
                line.push_str(&text);
            }
            next = cause.source();
        }
        f.write_str(&line)
    }
}

impl fmt::Debug for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("connection reset")]
    struct Io;

    #[derive(Debug, thiserror::Error)]
    #[error("broker said no: {0}")]
    struct Quoting(#[source] Io);

    #[test]
    fn the_chain_reaches_the_innermost_cause_without_repeating_it() {
        let error =
            SinkError::retriable("nats", "disconnected", "publish failed").with_source(Quoting(Io));
        assert_eq!(
            error.to_string(),
            "sink `nats` failed: publish failed",
            "Display is unchanged"
        );
        assert_eq!(
            ErrorChain(&error).to_string(),
            "sink `nats` failed: publish failed: broker said no: connection reset"
        );
        let quoted =
            SinkError::retriable("nats", "disconnected", "publish failed: connection reset")
                .with_source(Io);
        assert_eq!(
            ErrorChain(&quoted).to_string(),
            "sink `nats` failed: publish failed: connection reset"
        );
    }
}
