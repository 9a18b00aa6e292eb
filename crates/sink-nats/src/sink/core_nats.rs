//! The core NATS path: publish every event of a chunk, then wait for a round trip through the
//! server ([`crate::core_ping::CorePing`]), i.e. until the server has read every message. (The
//! client's `flush` only empties its socket buffer, which proves nothing.) Core NATS keeps
//! nothing for absent subscribers; use JetStream for durability.

use std::time::Instant;

use vodbridge_core::{SinkError, SinkErrorKind};

use super::{NatsSink, Outgoing};
use crate::classify::classify_core;

impl NatsSink {
    /// Publish `chunk` on the plain connection and wait until the server has read it.
    pub(super) async fn send_core(&self, chunk: Vec<Outgoing>) -> Result<(), SinkError> {
        let n = chunk.len();
        let started = Instant::now();
        for msg in chunk {
            if let Err(e) = self
                .client
                .publish_with_headers(msg.subject, msg.headers, msg.payload)
                .await
            {
                let (kind, reason) = classify_core(&e);
                self.metrics.failed(reason, n as u64);
                return Err(self
                    .error(kind, reason, format!("publish failed: {e}"))
                    .with_source(e));
            }
        }
        if let Some(ping) = &self.core_ping {
            if let Err(why) = ping.round_trip(&self.client).await {
                self.metrics.failed("disconnected", n as u64);
                return Err(self.error(SinkErrorKind::Retriable, "disconnected", why));
            }
        }
        let latency = started.elapsed().as_secs_f64();
        for _ in 0..n {
            self.metrics.ack_latency.observe(latency);
        }
        self.metrics.published.inc_by(n as u64);
        Ok(())
    }
}
