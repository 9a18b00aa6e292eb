//! Failure classification: which Kafka errors a retry can cure, and a closed set of reasons for
//! the `reason` metric label.
//!
//! Retriable means "the same message may be accepted later": the broker is unreachable, slow, or
//! moving a leader, or our own queue is full. The caller answers the vendor 503 (or leaves the
//! pulled event unconfirmed) and the vendor redelivers. Permanent means the broker will refuse
//! this message however often it is sent (too large, not authorized, invalid topic); the caller
//! dead-letters it instead of retrying forever.

use rdkafka::error::{KafkaError, RDKafkaErrorCode as C};
use vodbridge_core::{SinkError, SinkErrorKind};

/// Every `reason` label value this sink uses.
pub const REASONS: &[&str] = &[
    "timeout",
    "unreachable",
    "queue_full",
    "leader_unavailable",
    "unknown_topic",
    "too_large",
    "unauthorized",
    "invalid_topic",
    "unsupported",
    "fatal",
    "rejected",
    "other",
];

/// Kind and reason of a Kafka error code.
pub(crate) fn classify_code(code: C) -> (SinkErrorKind, &'static str) {
    use SinkErrorKind::{Permanent, Retriable};
    match code {
        C::MessageTimedOut | C::RequestTimedOut | C::OperationTimedOut | C::TimedOutQueue => {
            (Retriable, "timeout")
        }
        C::BrokerTransportFailure
        | C::AllBrokersDown
        | C::Resolve
        | C::NetworkException
        | C::BrokerNotAvailable
        | C::BrokerDestroy => (Retriable, "unreachable"),
        C::QueueFull | C::ThrottlingQuotaExceeded => (Retriable, "queue_full"),
        C::LeaderNotAvailable
        | C::NotLeaderForPartition
        | C::FencedLeaderEpoch
        | C::UnknownLeaderEpoch
        | C::NotEnoughReplicas
        | C::NotEnoughReplicasAfterAppend
        | C::ReplicaNotAvailable
        | C::KafkaStorageError
        | C::PreferredLeaderNotAvailable
        | C::NotController => (Retriable, "leader_unavailable"),
        // An unknown topic may be one being created (lazy creation, metadata propagation) or one
        // an operator is about to create: retry rather than dead-letter good events.
        C::UnknownTopicOrPartition | C::UnknownTopic | C::UnknownPartition => {
            (Retriable, "unknown_topic")
        }
        C::MessageSizeTooLarge
        | C::InvalidMessageSize
        | C::MessageBatchTooLarge
        | C::InvalidRecord => (Permanent, "too_large"),
        C::TopicAuthorizationFailed
        | C::ClusterAuthorizationFailed
        | C::TransactionalIdAuthorizationFailed
        | C::SaslAuthenticationFailed
        | C::Authentication => (Permanent, "unauthorized"),
        C::InvalidTopic | C::InvalidPartitions | C::PolicyViolation => (Permanent, "invalid_topic"),
        C::UnsupportedVersion
        | C::UnsupportedForMessageFormat
        | C::UnsupportedCompressionType
        | C::UnsupportedFeature => (Permanent, "unsupported"),
        // A fatal (idempotence) error kills the producer instance; the bridge restarts it, and
        // the event is still good, so it must be redelivered, not dead-lettered.
        C::Fatal
        | C::OutOfOrderSequenceNumber
        | C::InvalidProducerEpoch
        | C::ProducerFenced
        | C::UnknownProducerId => (Retriable, "fatal"),
        C::InvalidMessage
        | C::BadMessage
        | C::InvalidTimestamp
        | C::InvalidRequiredAcks
        | C::InvalidRequest => (Permanent, "rejected"),
        _ => (Retriable, "other"),
    }
}

/// Kind and reason of any rdkafka error.
pub(crate) fn classify(error: &KafkaError) -> (SinkErrorKind, &'static str) {
    match error.rdkafka_error_code() {
        Some(code) => classify_code(code),
        // rdkafka reports no code for admin errors although they carry one (a topic creation
        // that timed out against a broker that is down is `AdminOp(OperationTimedOut)`).
        None => match error {
            KafkaError::AdminOp(code) => classify_code(*code),
            // The delivery channel was dropped: the producer went away mid-flight.
            KafkaError::Canceled => (SinkErrorKind::Retriable, "unreachable"),
            _ => (SinkErrorKind::Retriable, "other"),
        },
    }
}

/// A [`SinkError`] for `error` on sink `sink`.
pub(crate) fn sink_error(sink: &str, error: &KafkaError, context: &str) -> SinkError {
    let (kind, reason) = classify(error);
    SinkError::new(sink, kind, reason, format!("{context}: {error}")).with_source(error.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_typical_failures() {
        assert_eq!(
            classify_code(C::MessageTimedOut),
            (SinkErrorKind::Retriable, "timeout")
        );
        assert_eq!(
            classify_code(C::AllBrokersDown),
            (SinkErrorKind::Retriable, "unreachable")
        );
        assert_eq!(
            classify_code(C::QueueFull),
            (SinkErrorKind::Retriable, "queue_full")
        );
        assert_eq!(
            classify_code(C::LeaderNotAvailable),
            (SinkErrorKind::Retriable, "leader_unavailable")
        );
        assert_eq!(
            classify_code(C::MessageSizeTooLarge),
            (SinkErrorKind::Permanent, "too_large")
        );
        assert_eq!(
            classify_code(C::TopicAuthorizationFailed),
            (SinkErrorKind::Permanent, "unauthorized")
        );
        assert_eq!(
            classify_code(C::InvalidTopic),
            (SinkErrorKind::Permanent, "invalid_topic")
        );
        let err = KafkaError::MessageProduction(C::MessageSizeTooLarge);
        assert_eq!(classify(&err), (SinkErrorKind::Permanent, "too_large"));
        assert_eq!(
            classify(&KafkaError::AdminOp(C::OperationTimedOut)),
            (SinkErrorKind::Retriable, "timeout")
        );
        assert_eq!(
            classify(&KafkaError::Canceled),
            (SinkErrorKind::Retriable, "unreachable")
        );
    }

    #[test]
    fn every_reason_is_in_the_closed_set() {
        let codes = [
            C::Fatal,
            C::InvalidMessage,
            C::UnsupportedVersion,
            C::UnknownTopic,
            C::Unknown,
            C::Fail,
            C::SSL,
        ];
        for code in codes {
            let (_, reason) = classify_code(code);
            assert!(REASONS.contains(&reason), "{code:?} -> {reason}");
        }
    }
}
