//! The hand-off shared by the HTTP receiver and the poller. Without a spool: publish to every
//! sink concurrently and succeed only when every one of them acknowledged. With a spool: succeed
//! once the events are durable in the spool; the forwarders (`crate::forward`) publish them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry,
};
use tracing::warn;
use vodbridge_core::{CanonicalEvent, DeadLetter, ErrorChain, Sink, SinkError, SinkHealth};
use vodbridge_spool::{Attachment, NewRecord, Spool, SpoolError};

/// `reason` of the [`SinkError`] for a sink that did not acknowledge within the ack timeout.
pub const ACK_TIMEOUT_REASON: &str = "ack_timeout";

/// Where dead letters go: one of the configured sinks and a fixed destination on it.
#[derive(Clone)]
pub struct DeadLetterRoute {
    /// The sink that carries dead letters (may also carry normal events).
    pub sink: Arc<dyn Sink>,
    /// Topic, subject or file path on that sink.
    pub destination: String,
}

impl DeadLetterRoute {
    /// `letter` as a spool record bound for this route: the dispatcher's dead letters and the
    /// forwarders' (events a sink rejected for good) take the same form.
    pub fn spool_record(&self, letter: &DeadLetter) -> NewRecord {
        let event = letter.to_event();
        NewRecord {
            route: Some(self.destination.clone()),
            source_name: letter.source_name.clone(),
            payload: event.to_structured_json(),
            attachment: Some(Attachment::new(event)),
        }
    }
}

/// Why a delivery was not acknowledged.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// At least one sink failed; the first failure is kept (all are logged and counted).
    #[error("sink delivery failed")]
    Sink(#[source] SinkError),
    /// Not every sink acknowledged within the ack timeout.
    #[error("sinks did not acknowledge within {0:?}")]
    Timeout(Duration),
    /// A dead letter was produced but no dead-letter route is configured.
    #[error("no dead-letter destination configured")]
    NoDeadLetterRoute,
    /// The spool refused or failed to store the events (full, disk error).
    #[error("events not stored in the spool")]
    Spool(#[source] SpoolError),
}

impl DeliveryError {
    /// True when a later retry may succeed (vendors should retry: 503 / no confirm).
    pub fn is_retriable(&self) -> bool {
        match self {
            DeliveryError::Sink(e) => e.is_retriable(),
            DeliveryError::Timeout(_) => true,
            DeliveryError::NoDeadLetterRoute => false,
            DeliveryError::Spool(_) => true,
        }
    }
}

#[derive(Clone)]
struct Metrics {
    published: IntCounterVec,
    failed: IntCounterVec,
    latency: HistogramVec,
}

impl Metrics {
    fn register(registry: &Registry) -> prometheus::Result<Self> {
        let published = IntCounterVec::new(
            Opts::new(
                "vodbridge_sink_events_published_total",
                "Events a sink acknowledged.",
            ),
            &["sink"],
        )?;
        let failed = IntCounterVec::new(
            Opts::new(
                "vodbridge_sink_publish_failures_total",
                "Batches a sink failed to acknowledge, by reason.",
            ),
            &["sink", "reason"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "vodbridge_sink_publish_duration_seconds",
                "Time from hand-off to acknowledgement of one batch by one sink.",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ]),
            &["sink"],
        )?;
        registry.register(Box::new(published.clone()))?;
        registry.register(Box::new(failed.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        Ok(Self {
            published,
            failed,
            latency,
        })
    }

    /// The label handles of sink `name`.
    fn for_sink(&self, name: &str) -> SinkMetrics {
        SinkMetrics {
            latency: self.latency.with_label_values(&[name]),
            published: self.published.with_label_values(&[name]),
        }
    }
}

/// Latency histogram and published counter of one sink, resolved once at construction so a
/// delivery skips the label look-ups.
struct SinkMetrics {
    latency: Histogram,
    published: IntCounter,
}

/// Publishes canonical events to every configured sink.
#[derive(Clone)]
pub struct Dispatcher {
    sinks: Arc<[Arc<dyn Sink>]>,
    /// The dead-letter route with the label handles of its sink: one never exists without the
    /// other.
    dead_letter: Option<(DeadLetterRoute, Arc<SinkMetrics>)>,
    ack_timeout: Duration,
    metrics: Metrics,
    /// Label handles of each sink (same index as `sinks`).
    handles: Arc<[SinkMetrics]>,
    /// With `[spool]`: where deliveries and dead letters go instead of the sinks.
    spool: Option<Spool>,
}

impl Dispatcher {
    /// Build a dispatcher and register its metrics (`vodbridge_sink_*`).
    pub fn new(
        sinks: Vec<Arc<dyn Sink>>,
        dead_letter: Option<DeadLetterRoute>,
        ack_timeout: Duration,
        registry: &Registry,
    ) -> prometheus::Result<Self> {
        let metrics = Metrics::register(registry)?;
        let handles = sinks.iter().map(|s| metrics.for_sink(s.name())).collect();
        let dead_letter = dead_letter.map(|route| {
            let handles = Arc::new(metrics.for_sink(route.sink.name()));
            (route, handles)
        });
        Ok(Self {
            handles,
            sinks: sinks.into(),
            dead_letter,
            ack_timeout,
            metrics,
            spool: None,
        })
    }

    /// Deliver into `spool` from now on: [`Dispatcher::deliver`] and
    /// [`Dispatcher::dead_letter`] succeed once the spool has the events durably, and the
    /// forwarders publish them to the sinks.
    pub fn with_spool(mut self, spool: Spool) -> Self {
        self.spool = Some(spool);
        self
    }

    /// The spool, when one is configured.
    pub fn spool(&self) -> Option<&Spool> {
        self.spool.as_ref()
    }

    /// The dead-letter route, when one is configured.
    pub fn dead_letter_route(&self) -> Option<&DeadLetterRoute> {
        self.dead_letter.as_ref().map(|(route, _)| route)
    }

    /// The configured sinks.
    pub fn sinks(&self) -> &[Arc<dyn Sink>] {
        &self.sinks
    }

    /// The ack timeout applied to each delivery.
    pub fn ack_timeout(&self) -> Duration {
        self.ack_timeout
    }

    /// Publish `events` to every sink at once; `Ok` only when all acknowledged within the ack
    /// timeout. A partial success is a failure: the vendor retries, and sinks that already wrote
    /// the events see them again with the same ids (consumers and JetStream deduplicate on id).
    pub async fn deliver(&self, events: Vec<CanonicalEvent>) -> Result<(), DeliveryError> {
        if events.is_empty() {
            return Ok(());
        }
        if let Some(spool) = &self.spool {
            let records = events
                .into_iter()
                .map(|event| NewRecord {
                    route: None,
                    source_name: event.source_name.clone(),
                    payload: event.to_structured_json(),
                    // A forwarder that keeps up publishes the event itself instead of decoding
                    // the payload.
                    attachment: Some(Attachment::new(event)),
                })
                .collect();
            return spool.append(records).await.map_err(DeliveryError::Spool);
        }
        let events = &events[..];
        if let [sink] = &*self.sinks {
            // One sink (the usual set-up): no join, whose futures would be collected on the heap.
            let result = self
                .publish_one(sink.as_ref(), &self.handles[0], None, events)
                .await;
            return self.verdict(result.err());
        }
        let sends = self
            .sinks
            .iter()
            .enumerate()
            .map(|(i, sink)| self.publish_one(sink.as_ref(), &self.handles[i], None, events));
        let first = join_all(sends).await.into_iter().find_map(Result::err);
        self.verdict(first)
    }

    /// Publish a dead letter to the dead-letter route. `Ok` only when acknowledged.
    pub async fn dead_letter(&self, letter: &DeadLetter) -> Result<(), DeliveryError> {
        let (route, handles) = self
            .dead_letter
            .as_ref()
            .ok_or(DeliveryError::NoDeadLetterRoute)?;
        if let Some(spool) = &self.spool {
            return spool
                .append(vec![route.spool_record(letter)])
                .await
                .map_err(DeliveryError::Spool);
        }
        let event = [letter.to_event()];
        let result = self
            .publish_one(
                route.sink.as_ref(),
                handles,
                Some(&route.destination),
                &event,
            )
            .await;
        self.verdict(result.err())
    }

    /// Health of every sink, by name.
    pub async fn health(&self) -> Vec<(String, SinkHealth)> {
        let checks = self
            .sinks
            .iter()
            .map(|s| async move { (s.name().to_owned(), s.health().await) });
        join_all(checks).await
    }

    /// Flush every sink within `deadline` (shutdown). Failures are logged, the first is returned.
    pub async fn flush(&self, deadline: Duration) -> Result<(), SinkError> {
        let results = join_all(self.sinks.iter().map(|s| s.flush(deadline))).await;
        let mut first = None;
        for err in results.into_iter().filter_map(Result::err) {
            warn!(sink = %err.sink, error = %ErrorChain(&err), "flush at shutdown failed");
            first.get_or_insert(err);
        }
        first.map_or(Ok(()), Err)
    }

    /// Publish `events` to the sink at `index` (its routing, or `destination` when given),
    /// bounded by the ack timeout and counted like any delivery. Used by the spool's forwarders.
    pub async fn publish_to_sink(
        &self,
        index: usize,
        destination: Option<&str>,
        events: &[CanonicalEvent],
    ) -> Result<(), SinkError> {
        self.publish_one(
            self.sinks[index].as_ref(),
            &self.handles[index],
            destination,
            events,
        )
        .await
    }

    /// Publish to one sink, bounded by the ack timeout. Each sink gets its own deadline so a
    /// timeout is attributed (and counted) to the sink that did not answer.
    async fn publish_one(
        &self,
        sink: &dyn Sink,
        handles: &SinkMetrics,
        destination: Option<&str>,
        events: &[CanonicalEvent],
    ) -> Result<(), SinkError> {
        let started = Instant::now();
        let send = async {
            match destination {
                Some(dest) => sink.publish_to(dest, events).await,
                None => sink.publish(events).await,
            }
        };
        let name = sink.name();
        let result = tokio::time::timeout(self.ack_timeout, send)
            .await
            .unwrap_or_else(|_| {
                Err(SinkError::retriable(
                    name,
                    ACK_TIMEOUT_REASON,
                    format!("no acknowledgement within {:?}", self.ack_timeout),
                ))
            });
        handles.latency.observe(started.elapsed().as_secs_f64());
        match &result {
            Ok(()) => handles.published.inc_by(events.len() as u64),
            Err(e) => {
                self.metrics
                    .failed
                    .with_label_values(&[name, e.reason])
                    .inc();
                warn!(sink = %name, error = %ErrorChain(e), retriable = e.is_retriable(), events = events.len(), "publish failed");
            }
        }
        result
    }

    /// The delivery's outcome from the first sink failure, if any.
    fn verdict(&self, first_failure: Option<SinkError>) -> Result<(), DeliveryError> {
        // Every publish is already bounded by the ack timeout; report a timeout as such so the
        // receiver's rejection reason says why.
        match first_failure {
            Some(err) if err.reason == ACK_TIMEOUT_REASON => {
                Err(DeliveryError::Timeout(self.ack_timeout))
            }
            Some(err) => Err(DeliveryError::Sink(err)),
            None => Ok(()),
        }
    }
}
