//! NATS sink (async-nats): canonical events to subjects chosen by a template, CloudEvents NATS
//! binding, JetStream publish acknowledged on PubAck (or core NATS acknowledged after a round trip through the server).
//!
//! Data flow: [`NatsSink::publish`](vodbridge_core::Sink::publish) filters the batch by type,
//! renders each event's subject, encodes it per the binding ([`binding`] rules: structured or
//! binary, always `Nats-Msg-Id`), sends the whole batch and then waits for every
//! acknowledgement. Only then does the caller answer the vendor.
//!
//! Availability contract (the bridge must come up, and recover, whatever the server does):
//! - [`connect`] returns within about `connect_timeout` whether or not the server is reachable.
//!   It fails only for what a retry cannot fix: invalid configuration, credentials or TLS set-up
//!   the server refuses, a malformed URL, or (server reachable) a `[sinks.stream]` configuration
//!   the server refuses. An unreachable server is logged at WARN and the client keeps connecting
//!   in the background (pauses growing from milliseconds to 4 s between attempts, forever).
//! - While disconnected (at start-up or after a loss), `publish` and `publish_to` fail at once
//!   as retriable `disconnected` (nothing is queued to be sent late), `health` reports
//!   `Unhealthy("nats connection pending|disconnected")` so `/readyz` answers 503, and `flush`
//!   gives up at its deadline.
//! - `[sinks.stream]` is created or updated exactly once per process: at start-up when the
//!   server is reachable, otherwise by a background task as soon as the connection is up,
//!   retried (250 ms growing to 5 s) while it fails for a reason that clears up by itself.
//!   Until it succeeds, publishes wait for it at most `ack_timeout` and then fail as retriable
//!   `no_stream`, and `health` reports `stream ... not set up yet`. A refusal only an operator
//!   can fix (subjects overlapping another stream, unsupported replicas, invalid settings) is
//!   logged at ERROR, reported by `health` as `stream ... refused by the server`, fails
//!   publishes at once as retriable `no_stream`, and is retried every 5 s growing to 60 s, so
//!   fixing the server side is enough.
//! - Once connected and the stream set up, `health` is `Healthy` (stream info answered within
//!   `ack_timeout`) and publishes are acknowledged as usual; no restart is needed.

pub mod binding;
mod classify;
mod config;
mod core_ping;
mod error;
mod metrics;
mod options;
mod sink;
mod stream;

pub use config::{NatsSinkConfig, StreamConfig, StreamStorage};
pub use error::NatsSinkError;
pub use options::connect_client;
pub use sink::{build, connect, NatsSink};
