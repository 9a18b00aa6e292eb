//! The shared producer, and its replacement when it can no longer deliver.
//!
//! An idempotent producer carries broker-side state (producer id, epoch, sequence numbers). When
//! the broker loses or rejects that state, librdkafka may keep retrying a message that can never
//! be accepted until `message.timeout.ms` expires, batch after batch. Observed with `tansu`: a
//! broker restarted on `memory://` storage forgets every producer id and answers
//! `UNKNOWN_PRODUCER_ID` forever; and tansu answers `PRODUCER_FENCED` to the local epoch bump
//! librdkafka makes after a message timeout, which is fatal for the producer. Apache Kafka accepts
//! both situations, but the sink must not depend on it: when a batch failed with a timeout (or
//! the producer reports a fatal error) while the broker still answers metadata, the producer is
//! replaced by a fresh one (new producer id). At most once per `message_timeout`.
//!
//! Replacing is safe for the delivery promise: the old producer's queued and in-flight messages
//! are purged, so their batches fail (and are retried by the sender); nothing is acknowledged
//! without its delivery report.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use prometheus::IntCounter;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaResult;
use rdkafka::producer::{FutureProducer, Producer, PurgeConfig};
use tracing::warn;

/// The current producer of a sink and what is needed to build a new one.
pub(crate) struct ProducerSlot {
    current: RwLock<Arc<FutureProducer>>,
    config: ClientConfig,
    last_replaced: Mutex<Option<Instant>>,
    min_interval: Duration,
    metadata_timeout: Duration,
    replaced: IntCounter,
}

impl ProducerSlot {
    pub(crate) fn new(
        config: ClientConfig,
        min_interval: Duration,
        metadata_timeout: Duration,
        replaced: IntCounter,
    ) -> KafkaResult<Self> {
        let producer: FutureProducer = config.create()?;
        Ok(Self {
            current: RwLock::new(Arc::new(producer)),
            config,
            last_replaced: Mutex::new(None),
            min_interval,
            metadata_timeout,
            replaced,
        })
    }

    /// The producer to use for the next batch.
    pub(crate) fn get(&self) -> Arc<FutureProducer> {
        Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// After a batch that used `used` failed: replace the producer when it is broken (fatal
    /// error) or stuck (`timed_out` while the broker answers metadata).
    pub(crate) async fn after_failure(
        &self,
        sink: &str,
        used: &Arc<FutureProducer>,
        timed_out: bool,
    ) {
        let fatal = used.client().fatal_error();
        if fatal.is_none() && !timed_out {
            return;
        }
        if !Arc::ptr_eq(used, &self.get()) {
            return; // another batch already replaced it
        }
        if self
            .last_replaced
            .lock()
            .map(|t| t.is_some_and(|t| t.elapsed() < self.min_interval))
            .unwrap_or(true)
        {
            return;
        }
        if fatal.is_none() {
            // A timeout while the broker is down is expected and a new producer would not help.
            let probe = Arc::clone(used);
            let timeout = self.metadata_timeout;
            let reachable = tokio::task::spawn_blocking(move || {
                probe.client().fetch_metadata(None, timeout).is_ok()
            })
            .await
            .unwrap_or(false);
            if !reachable {
                return;
            }
        }
        let fresh: FutureProducer = match self.config.create() {
            Ok(p) => p,
            Err(error) => {
                warn!(sink, %error, "cannot create a replacement kafka producer");
                return;
            }
        };
        let old = {
            let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
            if !Arc::ptr_eq(used, &current) {
                return;
            }
            std::mem::replace(&mut *current, Arc::new(fresh))
        };
        if let Ok(mut last) = self.last_replaced.lock() {
            *last = Some(Instant::now());
        }
        self.replaced.inc();
        warn!(
            sink,
            fatal = ?fatal.map(|(code, reason)| format!("{code}: {reason}")),
            "replaced the kafka producer: deliveries timed out while the broker is reachable, or it failed fatally"
        );
        // Fail the old producer's pending messages now (their batches are retried by the
        // sender), and destroy it off the runtime threads: destroying blocks briefly.
        old.purge(PurgeConfig::default().queue().inflight());
        tokio::task::spawn_blocking(move || drop(old));
    }
}
