//! File sink metrics (`vodbridge_file_sink_*`) of one file sink.
//!
//! The sink name is a constant label of each collector (as for the Kafka and NATS sinks), so
//! several file sinks register the same metric names on one registry and each builds its
//! handles once; the writer threads never look a label up.

use prometheus::{Histogram, HistogramOpts, IntCounter, Opts, Registry};

/// Metric handles of one file sink (shared by its dead-letter files' writers).
#[derive(Clone)]
pub struct FileSinkMetrics {
    pub(crate) bytes: IntCounter,
    pub(crate) fsyncs: IntCounter,
    pub(crate) rotations: IntCounter,
    pub(crate) batch_events: Histogram,
    pub(crate) commit_seconds: Histogram,
}

impl FileSinkMetrics {
    /// Register the metrics of the file sink named `sink` on `registry` (once per sink).
    pub fn register(sink: &str, registry: &Registry) -> prometheus::Result<Self> {
        let opts = |name: &str, help: &str| Opts::new(name, help).const_label("sink", sink);
        let bytes = IntCounter::with_opts(opts(
            "vodbridge_file_sink_bytes_written_total",
            "Bytes appended and fsynced by a file sink.",
        ))?;
        let fsyncs = IntCounter::with_opts(opts(
            "vodbridge_file_sink_fsyncs_total",
            "fsync calls (one per group commit) of a file sink.",
        ))?;
        let rotations = IntCounter::with_opts(opts(
            "vodbridge_file_sink_rotations_total",
            "Size-based file rotations.",
        ))?;
        let batch_events = Histogram::with_opts(
            HistogramOpts::new(
                "vodbridge_file_sink_batch_events",
                "Events covered by one group commit (one fsync).",
            )
            .const_label("sink", sink)
            .buckets(vec![
                1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0,
            ]),
        )?;
        // Write plus fdatasync of one group commit: the disk's share of every callback's latency,
        // and the first thing to look at when the file sink slows the bridge down.
        let commit_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "vodbridge_file_sink_commit_seconds",
                "Time to append and fdatasync one group commit.",
            )
            .const_label("sink", sink)
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
        )?;
        registry.register(Box::new(bytes.clone()))?;
        registry.register(Box::new(fsyncs.clone()))?;
        registry.register(Box::new(rotations.clone()))?;
        registry.register(Box::new(batch_events.clone()))?;
        registry.register(Box::new(commit_seconds.clone()))?;
        Ok(Self {
            bytes,
            fsyncs,
            rotations,
            batch_events,
            commit_seconds,
        })
    }
}
