//! Kafka sink (rdkafka): canonical events to topics chosen by a template, CloudEvents Kafka
//! protocol binding (binary or structured), idempotent producer with `acks=all`; a batch is
//! acknowledged only when every delivery report says written.
//!
//! Data flow: [`KafkaSink::publish`](vodbridge_core::Sink::publish) filters the batch by type,
//! renders each event's topic, encodes it ([`message`] rules), enqueues every message in batch
//! order (key = `partitionkey`, so one media stays on one partition, in order), then awaits every
//! delivery report. Failures are classified ([`classify`]) as retriable or permanent with a closed
//! set of reasons.
//!
//! Availability contract (the bridge must come up, and recover, whatever the broker does):
//! - [`connect`] does not need the broker: the producer connects lazily and keeps reconnecting
//!   by itself. The only start-up request is the fixed-topic check (a fixed `topic` template),
//!   bounded by `metadata_timeout`, so `connect` returns within about that long when the broker
//!   is down. If the broker does not answer, the check is deferred (WARN). If it answers no — the
//!   topic is missing with `create_topics` off, or the broker refuses to create it — `connect`
//!   fails as before.
//! - While the broker is down, `health` reports `Unhealthy("broker metadata: …")` (after at
//!   most `metadata_timeout`), so `/readyz` answers 503. A publish fails as retriable: within
//!   `metadata_timeout` while a deferred fixed-topic check is pending (`timeout`/`unreachable`),
//!   otherwise when its delivery reports fail, within `message_timeout` (`timeout`); with
//!   `create_topics` a topic creation that cannot reach the broker fails within
//!   `metadata_timeout`. Nothing is acknowledged without a delivery report.
//! - A deferred fixed-topic check runs before publishes and in health checks until it passes
//!   once (at most one request a second). A "no" from the broker found that way is logged at
//!   ERROR, reported by `health`, and fails publishes as retriable (`unknown_topic` for a missing
//!   topic), until an operator creates the topic; no restart is needed.
//! - Once the broker answers (librdkafka reconnects with a backoff growing to 10 s by default)
//!   and the check has passed, `health` is `Healthy` and publishes are acknowledged as usual.

pub mod classify;
mod config;
mod error;
mod fixed_topic;
pub mod message;
mod metrics;
mod producer;
mod sink;
mod topics;

pub use config::KafkaSinkConfig;
pub use error::{KafkaSinkError, Result};
pub use sink::{build, connect, KafkaSink};
