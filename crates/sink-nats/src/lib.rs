//! NATS sink (async-nats): canonical events to subjects chosen by a template, CloudEvents NATS
//! binding, JetStream publish acknowledged on PubAck (or core NATS acknowledged after a flush).
//!
//! Data flow: [`NatsSink::publish`] filters the batch by type, renders each event's subject,
//! encodes it per the binding ([`binding`] rules: structured or binary, always `Nats-Msg-Id`),
//! sends the whole batch and then waits for every acknowledgement. Only then does the caller
//! answer the vendor.

pub mod binding;
mod classify;
mod config;
mod error;
mod metrics;
mod options;
mod sink;
mod stream;

pub use config::{NatsSinkConfig, StreamConfig, StreamStorage};
pub use error::NatsSinkError;
pub use sink::{connect, NatsSink};
