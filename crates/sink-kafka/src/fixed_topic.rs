//! The check that a fixed topic exists (or its creation, with `create_topics`), and its
//! deferral when the broker cannot be reached at start-up.
//!
//! At start-up the check runs once, bounded by `metadata_timeout`. When the broker answers and
//! says no (the topic is missing and `create_topics` is off, or it refuses to create it)
//! [`crate::connect`] fails as before: that is a configuration error. When the broker does not
//! answer, start-up goes on: the check is run again before each publish and by each health
//! check until it passes once — at most one request per [`RECHECK`], whatever the traffic —
//! and publishes fail as retriable until then. A "no" found that way is logged at ERROR and
//! reported by the health check until an operator fixes it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use tokio::sync::Mutex;
use tracing::{debug, error, info, warn};
use vodbridge_core::{SinkError, SinkErrorKind};

use crate::classify::{classify, classify_code, sink_error};
use crate::error::KafkaSinkError;
use crate::topics::{TopicError, Topics};

/// Shortest time between two checks while the check has not passed.
const RECHECK: Duration = Duration::from_secs(1);

/// Why the fixed topic is not available.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CheckError {
    /// The request failed: broker unreachable, timeout, or refused credentials.
    Request(KafkaError),
    /// The broker answered: the topic does not exist, and `create_topics` is off.
    Missing,
    /// The broker refused to create the topic.
    Refused(RDKafkaErrorCode),
}

impl CheckError {
    /// True when the broker answered and only an operator can change the answer; false when it
    /// may clear up by itself (the broker is not there yet, or is electing a leader).
    pub(crate) fn needs_operator(&self) -> bool {
        match self {
            Self::Request(e) => classify(e).0 == SinkErrorKind::Permanent,
            Self::Missing => true,
            Self::Refused(code) => !matches!(
                classify_code(*code).1,
                "timeout" | "unreachable" | "leader_unavailable" | "queue_full"
            ),
        }
    }

    /// A sentence for logs and the health check.
    pub(crate) fn describe(&self, topic: &str) -> String {
        match self {
            Self::Request(e) => format!("cannot check topic `{topic}`: {e}"),
            Self::Missing => format!("topic `{topic}` does not exist and create_topics is off"),
            Self::Refused(code) => format!("broker refused to create topic `{topic}`: {code}"),
        }
    }

    /// The failure of a publish that needed the topic. A missing topic is retriable, like the
    /// `unknown_topic` delivery error it would otherwise become: vendors keep redelivering while
    /// an operator creates it, instead of good events being dead-lettered.
    pub(crate) fn sink_error(&self, sink: &str, topic: &str) -> SinkError {
        match self {
            Self::Request(e) => sink_error(sink, e, &format!("cannot check topic `{topic}`")),
            Self::Missing => SinkError::retriable(sink, "unknown_topic", self.describe(topic)),
            Self::Refused(code) => sink_error(
                sink,
                &KafkaError::AdminOp(*code),
                &format!("broker refused to create topic `{topic}`"),
            ),
        }
    }

    /// The start-up error, worded as before the check could be deferred.
    fn into_start_error(self, topic: &str, brokers: &str, create: bool) -> KafkaSinkError {
        match self {
            Self::Missing => KafkaSinkError::MissingTopic(topic.to_owned()),
            Self::Refused(code) => KafkaSinkError::CreateTopic {
                topic: topic.to_owned(),
                reason: code.to_string(),
            },
            Self::Request(e) if create => KafkaSinkError::CreateTopic {
                topic: topic.to_owned(),
                reason: e.to_string(),
            },
            Self::Request(source) => KafkaSinkError::Metadata {
                brokers: brokers.to_owned(),
                source,
            },
        }
    }
}

/// The fixed topic of a sink and whether its check has passed.
pub(crate) struct FixedTopic {
    topic: String,
    create: bool,
    timeout: Duration,
    passed: AtomicBool,
    /// One check at a time; the last failure and when it happened, so a burst of publishes
    /// shares one answer per [`RECHECK`].
    last_failure: Mutex<Option<(Instant, CheckError)>>,
}

impl FixedTopic {
    /// Run the check at start-up. `Err` when the broker answered no; `Ok` (check deferred,
    /// logged at WARN) when it did not answer.
    pub(crate) async fn at_start(
        sink: &str,
        topics: &Topics,
        topic: &str,
        create: bool,
        timeout: Duration,
        brokers: &str,
    ) -> Result<Self, KafkaSinkError> {
        let fixed = Self {
            topic: topic.to_owned(),
            create,
            timeout,
            passed: AtomicBool::new(false),
            last_failure: Mutex::new(None),
        };
        match fixed.check_now(topics).await {
            Ok(()) => fixed.passed.store(true, Ordering::Release),
            Err(e) if e.needs_operator() => return Err(e.into_start_error(topic, brokers, create)),
            Err(e) => {
                warn!(sink, topic, brokers, error = %e.describe(topic), "kafka broker did not answer at start-up; topic check deferred, not ready until it passes");
                *fixed.last_failure.lock().await = Some((Instant::now(), e));
            }
        }
        Ok(fixed)
    }

    /// The topic name.
    pub(crate) fn topic(&self) -> &str {
        &self.topic
    }

    /// `Ok` once the check has passed; until then runs it (at most once per [`RECHECK`]).
    pub(crate) async fn ensure(&self, sink: &str, topics: &Topics) -> Result<(), CheckError> {
        if self.passed.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut last = self.last_failure.lock().await;
        if self.passed.load(Ordering::Acquire) {
            return Ok(());
        }
        if let Some((at, error)) = last.as_ref() {
            if at.elapsed() < RECHECK {
                return Err(error.clone());
            }
        }
        match self.check_now(topics).await {
            Ok(()) => {
                self.passed.store(true, Ordering::Release);
                *last = None;
                info!(sink, topic = %self.topic, "deferred topic check passed");
                Ok(())
            }
            Err(e) => {
                // Log each new condition once at its level; repeats only at DEBUG (the health
                // check keeps reporting it).
                let repeated = last.as_ref().is_some_and(|(_, prev)| *prev == e);
                let what = e.describe(&self.topic);
                if repeated {
                    debug!(sink, topic = %self.topic, error = %what, "topic check still failing");
                } else if e.needs_operator() {
                    error!(sink, topic = %self.topic, error = %what, "topic check failed; events for this sink are not accepted until it is fixed");
                } else {
                    warn!(sink, topic = %self.topic, error = %what, "topic check failed, retrying");
                }
                *last = Some((Instant::now(), e.clone()));
                Err(e)
            }
        }
    }

    async fn check_now(&self, topics: &Topics) -> Result<(), CheckError> {
        let check = async {
            if self.create {
                topics.ensure(&self.topic).await.map_err(|e| match e {
                    TopicError::Request(e) => CheckError::Request(e),
                    TopicError::Refused(code) => CheckError::Refused(code),
                })
            } else {
                match topics.exists(&self.topic).await {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(CheckError::Missing),
                    Err(e) => Err(CheckError::Request(e)),
                }
            }
        };
        // librdkafka bounds both requests by the timeout; this is a backstop so start-up and
        // publishes can never wait on it for much longer.
        tokio::time::timeout(self.timeout + Duration::from_secs(1), check)
            .await
            .unwrap_or(Err(CheckError::Request(KafkaError::MetadataFetch(
                RDKafkaErrorCode::OperationTimedOut,
            ))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_answers_from_the_broker_need_an_operator() {
        assert!(CheckError::Missing.needs_operator());
        assert!(CheckError::Refused(RDKafkaErrorCode::InvalidReplicationFactor).needs_operator());
        assert!(!CheckError::Refused(RDKafkaErrorCode::NotController).needs_operator());
        for code in [
            RDKafkaErrorCode::OperationTimedOut,
            RDKafkaErrorCode::AllBrokersDown,
            RDKafkaErrorCode::BrokerTransportFailure,
        ] {
            assert!(!CheckError::Request(KafkaError::MetadataFetch(code)).needs_operator());
        }
        assert!(
            CheckError::Request(KafkaError::MetadataFetch(RDKafkaErrorCode::Authentication))
                .needs_operator()
        );
        let missing = CheckError::Missing.sink_error("k", "t");
        assert!(missing.is_retriable());
        assert_eq!(missing.reason, "unknown_topic");
    }
}
