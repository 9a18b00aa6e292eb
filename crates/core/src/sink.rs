//! The contract between ingress and the broker adapters.

use std::time::Duration;

use async_trait::async_trait;

use crate::error::SinkError;
use crate::event::CanonicalEvent;

/// Result of a sink health check, shown in `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkHealth {
    /// The broker answered recently.
    Healthy,
    /// The broker is unreachable or refusing; the text says why.
    Unhealthy(String),
}

/// A destination for canonical events.
///
/// The central promise: [`Sink::publish`] returns `Ok` only after the broker acknowledged every
/// event given to it (Kafka delivery report, JetStream PubAck, `fsync` for files). Ingress answers
/// the vendor 200 — or confirms a pulled event — only after that, so a crash between the two can
/// only cause a redelivery, never a loss.
#[async_trait]
pub trait Sink: Send + Sync + 'static {
    /// The configured name (`[[sinks]] name`), used in logs and metric labels.
    fn name(&self) -> &str;

    /// Publish `events` to the destination the sink's template gives each of them. Events the
    /// sink's `types` filter excludes are skipped and count as acknowledged.
    async fn publish(&self, events: &[CanonicalEvent]) -> Result<(), SinkError>;

    /// Publish `events` to one explicit destination (topic, subject or file), ignoring the
    /// template and the type filter. Used for dead letters.
    async fn publish_to(
        &self,
        destination: &str,
        events: &[CanonicalEvent],
    ) -> Result<(), SinkError>;

    /// Cheap reachability check (broker metadata, connection state) for `/readyz`.
    async fn health(&self) -> SinkHealth;

    /// Wait until everything handed over is acknowledged or `deadline` passes (shutdown).
    async fn flush(&self, deadline: Duration) -> Result<(), SinkError>;
}
