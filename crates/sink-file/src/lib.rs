//! JSON Lines file sink: one structured CloudEvent per line, written and `fsync`ed before the batch
//! is acknowledged. Concurrent batches share one `fsync` (group commit), and files rotate by size.
//!
//! Data flow: [`FileSink::publish`] serializes the events on the caller's task, hands the bytes to
//! the file's writer thread and waits; the writer appends everything that queued up, calls
//! `fdatasync` once and answers every waiter. Dead letters go to another file through
//! [`vodbridge_core::Sink::publish_to`], with a writer thread of their own.

mod config;
mod error;
mod metrics;
mod sink;
mod writer;

#[cfg(test)]
mod tests;

pub use config::{FileSinkConfig, DEFAULT_MAX_FILES, DEFAULT_ROTATE_BYTES};
pub use error::{FileSinkError, Result};
pub use metrics::FileSinkMetrics;
pub use sink::{build, json_line, FileSink};
