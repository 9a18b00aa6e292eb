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
    /// Broker metadata could not be read within the timeout.
    #[error("cannot read broker metadata from `{brokers}`")]
    Metadata {
        /// The bootstrap servers.
        brokers: String,
        /// The cause.
        #[source]
        source: KafkaError,
    },
    /// A fixed topic does not exist and `create_topics` is off.
    #[error("topic `{0}` does not exist and create_topics is off")]
    MissingTopic(String),
    /// Creating a topic through the admin API failed.
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
