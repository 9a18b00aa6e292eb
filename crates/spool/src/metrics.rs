//! `vodbridge_spool_*` metrics, every series created at start so dashboards see zeros.

use prometheus::{
    Gauge, GaugeVec, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry,
};

/// The spool's metrics.
#[derive(Clone)]
pub(crate) struct SpoolMetrics {
    pub(crate) retained_bytes: IntGauge,
    pub(crate) retained_events: IntGauge,
    pub(crate) max_bytes: IntGauge,
    pub(crate) lag_events: IntGaugeVec,
    pub(crate) lag_seconds: GaugeVec,
    pub(crate) commit_seconds: Histogram,
    pub(crate) commit_events: Histogram,
    pub(crate) checkpoint_seconds: Histogram,
    pub(crate) recovered: IntCounter,
    pub(crate) truncated: IntCounter,
    pub(crate) quarantined: IntCounter,
    pub(crate) clamped: IntCounter,
    pub(crate) rejected: IntCounterVec,
    pub(crate) healthy: IntGauge,
    pub(crate) faults: IntCounter,
}

/// The `reason` values of `vodbridge_spool_rejected_total`.
pub(crate) const REJECT_REASONS: &[&str] = &["spool_full", "spool_io", "spool_closed"];

impl SpoolMetrics {
    pub(crate) fn register(registry: &Registry, consumers: &[String]) -> prometheus::Result<Self> {
        let m = Self {
            retained_bytes: IntGauge::new(
                "vodbridge_spool_retained_bytes",
                "Bytes of spooled events not yet forwarded to every sink (compared with max_bytes).",
            )?,
            retained_events: IntGauge::new(
                "vodbridge_spool_retained_events",
                "Spooled events not yet forwarded to every sink.",
            )?,
            max_bytes: IntGauge::new(
                "vodbridge_spool_max_bytes",
                "spool.max_bytes: retained bytes at which new callbacks are answered 503.",
            )?,
            lag_events: IntGaugeVec::new(
                Opts::new(
                    "vodbridge_spool_lag_events",
                    "Spooled events a sink has not acknowledged yet.",
                ),
                &["sink"],
            )?,
            lag_seconds: GaugeVec::new(
                Opts::new(
                    "vodbridge_spool_lag_seconds",
                    "Age of the oldest spooled event a sink has not acknowledged (0 when caught up).",
                ),
                &["sink"],
            )?,
            commit_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "vodbridge_spool_commit_duration_seconds",
                    "Time of one group commit (insert, cursor update and fsync).",
                )
                .buckets(vec![
                    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                    0.5, 1.0, 2.5,
                ]),
            )?,
            commit_events: Histogram::with_opts(
                HistogramOpts::new(
                    "vodbridge_spool_commit_batch_events",
                    "Events written by one group commit.",
                )
                .buckets(vec![
                    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0,
                ]),
            )?,
            checkpoint_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "vodbridge_spool_checkpoint_duration_seconds",
                    "Time of one background checkpoint (WAL frames copied into the database file and fsync'd), off the commit path.",
                )
                .buckets(vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ]),
            )?,
            recovered: IntCounter::new(
                "vodbridge_spool_recovered_events_total",
                "Events found in the spool at start-up and forwarded from there.",
            )?,
            truncated: IntCounter::new(
                "vodbridge_spool_truncated_records_total",
                "Records recovery could not read from a damaged spool (each kept as a dead letter).",
            )?,
            quarantined: IntCounter::new(
                "vodbridge_spool_quarantined_records_total",
                "Records that failed their checksum or could not be read, sent to the dead letters (reason spool_corrupt).",
            )?,
            clamped: IntCounter::new(
                "vodbridge_spool_clamped_cursors_total",
                "Sink cursors found ahead of the data at start-up and set back to its end.",
            )?,
            rejected: IntCounterVec::new(
                Opts::new(
                    "vodbridge_spool_rejected_total",
                    "Appends refused (answered 503), by reason.",
                ),
                &["reason"],
            )?,
            healthy: IntGauge::new(
                "vodbridge_spool_healthy",
                "1 while the spool's last write succeeded, 0 after a write or fsync failed.",
            )?,
            faults: IntCounter::new(
                "vodbridge_spool_io_errors_total",
                "Group commits that failed on a write or fsync error (rolled back; a new file descriptor is opened).",
            )?,
        };
        registry.register(Box::new(m.retained_bytes.clone()))?;
        registry.register(Box::new(m.retained_events.clone()))?;
        registry.register(Box::new(m.max_bytes.clone()))?;
        registry.register(Box::new(m.lag_events.clone()))?;
        registry.register(Box::new(m.lag_seconds.clone()))?;
        registry.register(Box::new(m.commit_seconds.clone()))?;
        registry.register(Box::new(m.commit_events.clone()))?;
        registry.register(Box::new(m.checkpoint_seconds.clone()))?;
        registry.register(Box::new(m.recovered.clone()))?;
        registry.register(Box::new(m.truncated.clone()))?;
        registry.register(Box::new(m.quarantined.clone()))?;
        registry.register(Box::new(m.clamped.clone()))?;
        registry.register(Box::new(m.rejected.clone()))?;
        registry.register(Box::new(m.healthy.clone()))?;
        registry.register(Box::new(m.faults.clone()))?;
        for name in consumers {
            m.lag_events.with_label_values(&[name]).set(0);
            m.lag_seconds.with_label_values(&[name]).set(0.0);
        }
        for reason in REJECT_REASONS {
            m.rejected.with_label_values(&[reason]);
        }
        m.healthy.set(1);
        Ok(m)
    }

    pub(crate) fn lag_handles(&self, name: &str) -> (IntGauge, Gauge) {
        (
            self.lag_events.with_label_values(&[name]),
            self.lag_seconds.with_label_values(&[name]),
        )
    }
}
