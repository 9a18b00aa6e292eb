//! Which publish failures (JetStream and core NATS) are worth retrying, and the metric reason
//! of each.

use async_nats::client::{PublishError as CorePublishError, PublishErrorKind as CoreKind};
use async_nats::jetstream;
use vodbridge_core::SinkErrorKind;

/// Retriable or permanent, and the metric reason, for a core NATS publish failure.
pub(crate) fn classify_core(e: &CorePublishError) -> (SinkErrorKind, &'static str) {
    match e.kind() {
        CoreKind::MaxPayloadExceeded => (SinkErrorKind::Permanent, "too_large"),
        CoreKind::InvalidSubject => (SinkErrorKind::Permanent, "invalid_subject"),
        // The client could not hand the message to its connection task (closed or gone).
        CoreKind::Send => (SinkErrorKind::Retriable, "disconnected"),
    }
}

/// Retriable or permanent, and the metric reason, for a JetStream publish failure.
pub(crate) fn classify(e: &jetstream::context::PublishError) -> (SinkErrorKind, &'static str) {
    use jetstream::context::PublishErrorKind as K;
    match e.kind() {
        K::TimedOut => (SinkErrorKind::Retriable, "timeout"),
        K::BrokenPipe => (SinkErrorKind::Retriable, "disconnected"),
        K::StreamNotFound => (SinkErrorKind::Retriable, "no_stream"),
        K::MaxAckPending => (SinkErrorKind::Retriable, "overloaded"),
        K::MaxPayloadExceeded => (SinkErrorKind::Permanent, "too_large"),
        // We never set expectations on the last id or sequence, so these mean a foreign
        // header; retrying would not change the answer.
        K::WrongLastMessageId | K::WrongLastSequence => (SinkErrorKind::Permanent, "rejected"),
        _ => {
            let api =
                std::error::Error::source(e).and_then(|s| s.downcast_ref::<jetstream::Error>());
            match api.map(|a| a.error_code()) {
                Some(jetstream::ErrorCode::STREAM_MESSAGE_EXCEEDS_MAXIMUM) => {
                    (SinkErrorKind::Permanent, "too_large")
                }
                // Other API errors (stream full with discard=new, storage exhausted, no leader)
                // are operational and clear up; a send error means the client is shutting down.
                Some(_) => (SinkErrorKind::Retriable, "rejected"),
                None => (SinkErrorKind::Retriable, "disconnected"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jetstream::context::{PublishError, PublishErrorKind as K};

    #[test]
    fn outages_are_retriable_and_size_is_permanent() {
        for (kind, reason) in [
            (K::TimedOut, "timeout"),
            (K::BrokenPipe, "disconnected"),
            (K::StreamNotFound, "no_stream"),
            (K::MaxAckPending, "overloaded"),
            (K::Other, "disconnected"),
        ] {
            assert_eq!(
                classify(&PublishError::new(kind)),
                (SinkErrorKind::Retriable, reason),
                "{kind:?}"
            );
        }
        assert_eq!(
            classify(&PublishError::new(K::MaxPayloadExceeded)),
            (SinkErrorKind::Permanent, "too_large")
        );
        assert_eq!(
            classify(&PublishError::new(K::WrongLastSequence)),
            (SinkErrorKind::Permanent, "rejected")
        );
    }

    #[test]
    fn core_publish_failures_are_classified_like_jetstream_ones() {
        for (kind, expected) in [
            (
                CoreKind::MaxPayloadExceeded,
                (SinkErrorKind::Permanent, "too_large"),
            ),
            (
                CoreKind::InvalidSubject,
                (SinkErrorKind::Permanent, "invalid_subject"),
            ),
            (CoreKind::Send, (SinkErrorKind::Retriable, "disconnected")),
        ] {
            assert_eq!(
                classify_core(&CorePublishError::new(kind)),
                expected,
                "{kind:?}"
            );
            assert!(
                crate::metrics::REASONS.contains(&expected.1),
                "{kind:?}: reason counted"
            );
        }
    }
}
