//! The JetStream path: send every event of a chunk, then await the PubAcks together, so a chunk
//! costs one round trip rather than one per event. The chunk is `Ok` only when every event has
//! its PubAck; a PubAck flagged `duplicate` is success too (the stream already holds that id,
//! which is exactly what a redelivery needs).

use std::future::IntoFuture as _;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, context::PublishError, message::PublishMessage};
use futures::future::join_all;
use tracing::debug;
use vodbridge_core::{SinkError, SinkErrorKind};

use super::{NatsSink, Outgoing};
use crate::classify::classify;

/// The PubAcks of one chunk, settled: how many failed, and the first failure of each kind.
#[derive(Default)]
struct Outcome {
    failed: usize,
    first_permanent: Option<(SinkErrorKind, &'static str, PublishError)>,
    first_retriable: Option<(SinkErrorKind, &'static str, PublishError)>,
}

impl NatsSink {
    /// Publish `chunk` through `js` and wait for every PubAck.
    pub(super) async fn send_jetstream(
        &self,
        js: &jetstream::Context,
        chunk: Vec<Outgoing>,
    ) -> Result<(), SinkError> {
        let n = chunk.len();
        let mut acks = Vec::with_capacity(n);
        for msg in chunk {
            let publish = PublishMessage::build()
                .payload(msg.payload)
                .headers(msg.headers);
            match js.send_publish(msg.subject, publish).await {
                Ok(ack) => acks.push((Instant::now(), ack)),
                Err(e) => {
                    let (kind, reason) = classify(&e);
                    self.metrics.failed(reason, n as u64);
                    return Err(self
                        .error(kind, reason, format!("publish failed: {e}"))
                        .with_source(e));
                }
            }
        }
        let mut outcome = Outcome::default();
        if acks.len() == 1 {
            // One event (a callback) is awaited directly: a join would put its future on the heap.
            let (sent, ack) = acks.pop().expect("one ack");
            let result = ack.into_future().await;
            self.settle(&mut outcome, sent.elapsed(), result);
        } else {
            let results = join_all(acks.into_iter().map(|(sent, ack)| async move {
                let result = ack.into_future().await;
                (sent.elapsed(), result)
            }))
            .await;
            for (latency, result) in results {
                self.settle(&mut outcome, latency, result);
            }
        }
        // A permanent failure wins: retrying the batch cannot get that event through.
        match outcome.first_permanent.or(outcome.first_retriable) {
            None => Ok(()),
            Some((kind, reason, e)) => Err(self
                .error(
                    kind,
                    reason,
                    format!("{} of {n} events not acknowledged: {e}", outcome.failed),
                )
                .with_source(e)),
        }
    }

    /// Count one PubAck (or its failure) into `outcome` and the metrics.
    fn settle(
        &self,
        outcome: &mut Outcome,
        latency: Duration,
        result: Result<jetstream::publish::PublishAck, PublishError>,
    ) {
        match result {
            Ok(ack) => {
                self.metrics.ack_latency.observe(latency.as_secs_f64());
                self.metrics.published.inc();
                if ack.duplicate {
                    self.metrics.duplicates.inc();
                    debug!(sink = %self.name, stream = %ack.stream, seq = ack.sequence, "duplicate acknowledged");
                }
            }
            Err(e) => {
                outcome.failed += 1;
                let (kind, reason) = classify(&e);
                self.metrics.failed(reason, 1);
                let slot = if kind == SinkErrorKind::Permanent {
                    &mut outcome.first_permanent
                } else {
                    &mut outcome.first_retriable
                };
                slot.get_or_insert((kind, reason, e));
            }
        }
    }
}
