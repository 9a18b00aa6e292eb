//! vodbridge: receive VOD callbacks from Tencent Cloud and Volcengine, publish canonical
//! CloudEvents to Kafka, NATS or files.
//!
//! This crate is the thin top of the workspace: it loads the configuration ([`config`]), wires
//! sinks, dispatcher, HTTP receiver and admin server together ([`run`]), sets up logging and
//! process metrics ([`telemetry`]) and offers the offline `normalize` command ([`normalize`]) and the `redrive` and `replay` commands
//! ([`backfill`]).
//! The `vodbridge` binary (`main.rs`) only parses the command line and calls into it.

pub mod backfill;
pub mod config;
pub mod normalize;
pub mod run;
pub mod spool_status;
pub mod telemetry;
