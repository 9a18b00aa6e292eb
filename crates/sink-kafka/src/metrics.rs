//! `vodbridge_kafka_*` metrics of one Kafka sink.
//!
//! The sink name is a constant label, so several Kafka sinks can register the same metric names
//! on one registry; the only variable label is the closed failure `reason` set of
//! [`crate::classify`].

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

/// Metric handles of one sink, built once.
#[derive(Clone)]
pub(crate) struct Metrics {
    /// Messages the broker acknowledged.
    pub(crate) produced: IntCounter,
    /// Messages that failed, by reason.
    pub(crate) failed: IntCounterVec,
    /// Time from enqueue to delivery report, per message.
    pub(crate) delivery_seconds: Histogram,
    /// Messages handed to the producer whose delivery report has not arrived yet.
    pub(crate) in_flight: IntGauge,
    /// librdkafka's own queue depth (`in_flight_count()`: queued and unacknowledged requests).
    pub(crate) queue_depth: IntGauge,
    /// Times the producer was replaced because it could no longer deliver.
    pub(crate) producer_replaced: IntCounter,
}

impl Metrics {
    pub(crate) fn register(sink: &str, registry: &Registry) -> prometheus::Result<Self> {
        let opts = |name: &str, help: &str| Opts::new(name, help).const_label("sink", sink);
        let produced = IntCounter::with_opts(opts(
            "vodbridge_kafka_produced_total",
            "Messages acknowledged by the Kafka broker.",
        ))?;
        let failed = IntCounterVec::new(
            opts(
                "vodbridge_kafka_failed_total",
                "Messages the Kafka broker did not acknowledge, by reason.",
            ),
            &["reason"],
        )?;
        let delivery_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "vodbridge_kafka_delivery_seconds",
                "Time from handing a message to the producer to its delivery report.",
            )
            .const_label("sink", sink)
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
        )?;
        let in_flight = IntGauge::with_opts(opts(
            "vodbridge_kafka_in_flight_messages",
            "Messages handed to the producer and not yet acknowledged.",
        ))?;
        let queue_depth = IntGauge::with_opts(opts(
            "vodbridge_kafka_producer_queue_depth",
            "Messages and requests queued in librdkafka or awaiting a broker response.",
        ))?;
        let producer_replaced = IntCounter::with_opts(opts(
            "vodbridge_kafka_producer_replaced_total",
            "Times the producer was replaced after timing out against a reachable broker or failing fatally.",
        ))?;
        registry.register(Box::new(producer_replaced.clone()))?;
        registry.register(Box::new(produced.clone()))?;
        registry.register(Box::new(failed.clone()))?;
        registry.register(Box::new(delivery_seconds.clone()))?;
        registry.register(Box::new(in_flight.clone()))?;
        registry.register(Box::new(queue_depth.clone()))?;
        Ok(Self {
            produced,
            failed,
            delivery_seconds,
            in_flight,
            queue_depth,
            producer_replaced,
        })
    }
}
