//! Errors of building a Kafka sink (start-up). Publish failures are [`vodbridge_core::SinkError`]s.

use rdkafka::error::KafkaError;
use vodbridge_core::TemplateError;

/// The Kafka sink could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum KafkaSinkError {
    /// The `topic` template does not parse.
    #[error("invalid topic template")]
    Template(#[source] TemplateError),
    /// A configuration value is out of range.
    #[error("invalid kafka sink configuration: {0}")]
    Config(String),
    /// librdkafka refused the client configuration.
    #[error("cannot create the kafka client")]
    Client(#[source] KafkaError),
    /// The metrics could not be registered.
    #[error("cannot register kafka metrics")]
    Metrics(#[source] prometheus::Error),
    /// The broker rejected the start-up metadata request for a reason a retry cannot fix (for
    /// example authentication). An unreachable broker is not an error: the check is deferred.
    #[error("cannot read broker metadata from `{brokers}`")]
    Metadata {
        /// The bootstrap servers.
        brokers: String,
        /// The cause.
        #[source]
        source: KafkaError,
    },
    /// The broker, reachable at start-up, has no such fixed topic and `create_topics` is off.
    #[error("topic `{0}` does not exist and create_topics is off")]
    MissingTopic(String),
    /// The broker, reachable at start-up, refused to create the fixed topic (or the request
    /// failed for a reason a retry cannot fix).
    #[error("cannot create topic `{topic}`: {reason}")]
    CreateTopic {
        /// The topic.
        topic: String,
        /// What the broker said.
        reason: String,
    },
}

/// Result alias of this crate.
pub type Result<T, E = KafkaSinkError> = std::result::Result<T, E>;
