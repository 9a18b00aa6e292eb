//! A durable local spool between ingress and the sinks.
//!
//! With a spool, vodbridge answers a callback once its events are fsync'd here, and one
//! forwarder per sink reads them back in order and publishes them at the sink's own pace. A sink
//! that is down holds back only its own cursor; the others go on. Data is removed once every
//! sink's cursor has passed it; when what is retained reaches `max_bytes`, appends are refused
//! (the vendor retries) and nothing old is dropped.
//!
//! The storage engine is SQLite (bundled) in WAL mode with `synchronous = FULL`: one row per
//! record, one cursor row per consumer, and one transaction — one fsync — per group commit,
//! shared by every append that queued while the previous commit ran. This crate knows nothing of
//! HTTP, brokers or the event format: records are opaque bytes with a source name and, for dead
//! letters, a destination.
//!
//! - [`Spool::open`] takes the directory's lock, recovers (salvaging a damaged database, clamping
//!   cursors ahead of the data) and starts the writer thread.
//! - [`Spool::append`] waits for the group commit that makes the records durable.
//! - [`Spool::reader`] gives each consumer its [`Reader`]: `next` waits for records after its
//!   cursor, `ack` moves the cursor (made durable with the next commit). A consumer that keeps
//!   up reads the newest records from memory, with the [`Attachment`] their producer left.
//! - [`status`] reads a spool, running or not, without disturbing it.

mod checkpoint;
mod config;
mod error;
mod metrics;
mod reader;
mod spool;
mod status;
mod store;
mod tail;
mod writer;

pub use config::{parse_size, SpoolConfig, DEFAULT_MAX_BYTES};
pub use error::SpoolError;
pub use reader::Reader;
pub use spool::{NewRecord, Spool, SpoolHealth};
pub use status::{status, ConsumerStatus, SpoolStatus};
pub use store::{Entry, EntryBody, Recovery};
pub use tail::Attachment;
