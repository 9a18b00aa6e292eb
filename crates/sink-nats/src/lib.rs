//! NATS sink (async-nats): canonical events to subjects chosen by a template, CloudEvents NATS
//! binding, JetStream publish acknowledged on PubAck (or core NATS acknowledged after a flush).

mod config;

pub use config::{NatsSinkConfig, StreamConfig};
