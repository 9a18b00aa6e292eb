//! Kafka sink (rdkafka): canonical events to topics chosen by a template, CloudEvents Kafka
//! protocol binding (binary or structured), idempotent producer with `acks=all`; a batch is
//! acknowledged only when every delivery report says written.
//!
//! Data flow: [`KafkaSink::publish`](vodbridge_core::Sink::publish) filters the batch by type,
//! renders each event's topic, encodes it ([`message`] rules), enqueues every message in batch
//! order (key = `partitionkey`, so one media stays on one partition, in order), then awaits every
//! delivery report. Failures are classified ([`classify`]) as retriable or permanent with a closed
//! set of reasons.

pub mod classify;
mod config;
mod error;
pub mod message;
mod metrics;
mod producer;
mod sink;
mod topics;

pub use config::KafkaSinkConfig;
pub use error::{KafkaSinkError, Result};
pub use sink::{connect, KafkaSink};
