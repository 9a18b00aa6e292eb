//! File sink metrics (`vodbridge_file_sink_*`), registered once and shared by every file sink.

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

/// Metric handles shared by all file sinks; labelled by sink name.
#[derive(Clone)]
pub struct FileSinkMetrics {
    pub(crate) bytes: IntCounterVec,
    pub(crate) fsyncs: IntCounterVec,
    pub(crate) rotations: IntCounterVec,
    pub(crate) batch_events: HistogramVec,
    pub(crate) commit_seconds: HistogramVec,
}

impl FileSinkMetrics {
    /// Register the file sink metrics on `registry` (call once per registry).
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let bytes = IntCounterVec::new(
            Opts::new(
                "vodbridge_file_sink_bytes_written_total",
                "Bytes appended and fsynced by a file sink.",
            ),
            &["sink"],
        )?;
        let fsyncs = IntCounterVec::new(
            Opts::new(
                "vodbridge_file_sink_fsyncs_total",
                "fsync calls (one per group commit) of a file sink.",
            ),
            &["sink"],
        )?;
        let rotations = IntCounterVec::new(
            Opts::new(
                "vodbridge_file_sink_rotations_total",
                "Size-based file rotations.",
            ),
            &["sink"],
        )?;
        let batch_events = HistogramVec::new(
            HistogramOpts::new(
                "vodbridge_file_sink_batch_events",
                "Events covered by one group commit (one fsync).",
            )
            .buckets(vec![
                1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0,
            ]),
            &["sink"],
        )?;
        // Write plus fdatasync of one group commit: the disk's share of every callback's latency,
        // and the first thing to look at when the file sink slows the bridge down.
        let commit_seconds = HistogramVec::new(
            HistogramOpts::new(
                "vodbridge_file_sink_commit_seconds",
                "Time to append and fdatasync one group commit.",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["sink"],
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
