//! `vodbridge_nats_*` metrics of one NATS sink.
//!
//! The sink name is a *constant* label of each collector, so several NATS sinks can register the
//! same metric names on one registry; the only variable label is `reason`, from the closed set
//! [`REASONS`].

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

/// Every `reason` a failure can carry (the `SinkError::reason` of this sink).
pub(crate) const REASONS: [&str; 7] = [
    "timeout",
    "disconnected",
    "no_stream",
    "overloaded",
    "rejected",
    "too_large",
    "invalid_subject",
];

/// Label handles of one sink, built once at start-up.
#[derive(Clone)]
pub(crate) struct Metrics {
    /// Events acknowledged (PubAck, or flushed on core NATS).
    pub(crate) published: IntCounter,
    /// Acknowledged events the stream reported as duplicates (already stored).
    pub(crate) duplicates: IntCounter,
    /// Events not acknowledged, by reason (indexed like [`REASONS`]).
    failed: Vec<IntCounter>,
    /// Time from handing one event to the connection until its PubAck (or the batch's flush).
    pub(crate) ack_latency: Histogram,
    /// Events handed to the connection and not yet acknowledged or failed.
    pub(crate) in_flight: IntGauge,
}

impl Metrics {
    pub(crate) fn register(sink: &str, registry: &Registry) -> prometheus::Result<Self> {
        let opts = |name: &str, help: &str| Opts::new(name, help).const_label("sink", sink);
        let published = IntCounter::with_opts(opts(
            "vodbridge_nats_published_total",
            "Events the NATS server acknowledged.",
        ))?;
        let duplicates = IntCounter::with_opts(opts(
            "vodbridge_nats_duplicates_total",
            "Acknowledged events JetStream had already stored (same Nats-Msg-Id within the duplicate window).",
        ))?;
        let failed_vec = IntCounterVec::new(
            opts(
                "vodbridge_nats_failed_total",
                "Events the NATS server did not acknowledge, by reason.",
            ),
            &["reason"],
        )?;
        let ack_latency = Histogram::with_opts(
            HistogramOpts::new(
                "vodbridge_nats_ack_latency_seconds",
                "Time from handing an event to the connection until its acknowledgement.",
            )
            .const_label("sink", sink)
            .buckets(vec![
                0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                5.0,
            ]),
        )?;
        let in_flight = IntGauge::with_opts(opts(
            "vodbridge_nats_in_flight",
            "Events handed to the NATS connection and awaiting acknowledgement.",
        ))?;
        registry.register(Box::new(published.clone()))?;
        registry.register(Box::new(duplicates.clone()))?;
        registry.register(Box::new(failed_vec.clone()))?;
        registry.register(Box::new(ack_latency.clone()))?;
        registry.register(Box::new(in_flight.clone()))?;
        let failed = REASONS
            .iter()
            .map(|r| failed_vec.with_label_values(&[r]))
            .collect();
        Ok(Self {
            published,
            duplicates,
            failed,
            ack_latency,
            in_flight,
        })
    }

    /// Count `n` events failed for `reason` (one of [`REASONS`]).
    pub(crate) fn failed(&self, reason: &str, n: u64) {
        if let Some(i) = REASONS.iter().position(|r| *r == reason) {
            self.failed[i].inc_by(n);
        }
    }
}
