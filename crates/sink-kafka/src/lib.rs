//! Kafka sink (rdkafka): canonical events to topics chosen by a template, CloudEvents Kafka
//! protocol binding (binary or structured), idempotent producer with `acks=all`; a batch is
//! acknowledged only when every delivery report says written.

mod config;

pub use config::KafkaSinkConfig;
