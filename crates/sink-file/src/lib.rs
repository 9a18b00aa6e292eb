//! JSON Lines file sink: one structured CloudEvent per line, written and `fsync`ed before the batch
//! is acknowledged. Concurrent batches share one `fsync` (group commit), and files rotate by size.

mod config;

pub use config::FileSinkConfig;
