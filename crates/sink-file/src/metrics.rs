//! File sink metrics (`vodbridge_file_sink_*`), registered once and shared by every file sink.

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

/// Metric handles shared by all file sinks; labelled by sink name.
#[derive(Clone)]
pub struct FileSinkMetrics {
    pub(crate) bytes: IntCounterVec,
    pub(crate) fsyncs: IntCounterVec,
    pub(crate) rotations: IntCounterVec,
    pub(crate) batch_events: HistogramVec,
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
        registry.register(Box::new(bytes.clone()))?;
        registry.register(Box::new(fsyncs.clone()))?;
        registry.register(Box::new(rotations.clone()))?;
        registry.register(Box::new(batch_events.clone()))?;
        Ok(Self {
            bytes,
            fsyncs,
            rotations,
            batch_events,
        })
    }
}
