//! `[[sinks]] type = "nats"` configuration.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use vodbridge_core::{BindingMode, Secret};

/// Configuration of one NATS sink.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsSinkConfig {
    /// Server URL(s), comma-separated (`nats://127.0.0.1:4222`, `tls://nats.example:4222`).
    pub url: String,
    /// Subject template: `{type}`, `{provider}`, `{source}`, `{outcome}`. Default `{type}`.
    #[serde(default = "default_subject")]
    pub subject: String,
    /// `true`: JetStream publish, acknowledged on PubAck. `false`: core NATS, acknowledged once a
    /// request sent after the batch has come back through the server. Default `true`.
    #[serde(default = "default_true")]
    pub jetstream: bool,
    /// CloudEvents NATS binding mode. Default `structured`.
    #[serde(default)]
    pub mode: BindingMode,
    /// Canonical types this sink carries (`*` wildcards); empty = all.
    #[serde(default)]
    pub types: Vec<String>,
    /// User name (with `password`).
    #[serde(default)]
    pub user: Option<String>,
    /// Password (with `user`).
    #[serde(default)]
    pub password: Option<Secret>,
    /// Token authentication.
    #[serde(default)]
    pub token: Option<Secret>,
    /// Path of a `.creds` file (JWT + nkey seed).
    #[serde(default)]
    pub credentials_file: Option<PathBuf>,
    /// NKey seed (`SU…`) for nkey authentication.
    #[serde(default)]
    pub nkey_seed: Option<Secret>,
    /// Refuse to connect without TLS. Implied by a `tls://` URL. Default `false`.
    #[serde(default)]
    pub tls_required: bool,
    /// PEM file of extra root certificates that sign the server certificate.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate for mutual TLS (with `client_key`).
    #[serde(default)]
    pub client_cert: Option<PathBuf>,
    /// PEM private key of `client_cert`.
    #[serde(default)]
    pub client_key: Option<PathBuf>,
    /// Time allowed to establish a connection (`5s`): bounds the start-up attempt, after which
    /// an unreachable server no longer holds start-up up (the sink starts not ready and keeps
    /// connecting), and each connection attempt after that. Default 5 s.
    #[serde(default = "default_connect_timeout", with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Time allowed for events to be handed to the connection and acknowledged; past it the
    /// batch fails as retriable (`timeout`). With JetStream it bounds each step on its own: the
    /// wait for room under `max_in_flight`, each event's hand-off and the wait for its PubAck (a
    /// batch of several events may so take longer in all; `server.ack_timeout` bounds the whole
    /// delivery). On core NATS it bounds a whole batch and the round trip through the server
    /// behind it. Default 5 s.
    #[serde(default = "default_ack_timeout", with = "humantime_serde")]
    pub ack_timeout: Duration,
    /// Most events awaiting a PubAck at once across all batches of this sink; further batches
    /// wait for room (backpressure). Default 4096.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// Create or update this JetStream stream when set: at start-up when the server is
    /// reachable, otherwise as soon as the connection is up (publishes fail as retriable
    /// `no_stream` and the sink reports not ready until it is done).
    #[serde(default)]
    pub stream: Option<StreamConfig>,
}

/// A JetStream stream vodbridge creates or updates, once per process, before its first publish.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamConfig {
    /// Stream name.
    pub name: String,
    /// Subjects the stream binds (`vod.>`).
    pub subjects: Vec<String>,
    /// Maximum age of stored messages (`7d`); unlimited when absent.
    #[serde(default, with = "humantime_serde")]
    pub max_age: Option<Duration>,
    /// Window in which a repeated `Nats-Msg-Id` is dropped as a duplicate (`2m`). Server default
    /// (2 minutes) when absent. Make it longer than the vendors' retry horizon you care about.
    #[serde(default, with = "humantime_serde")]
    pub duplicate_window: Option<Duration>,
    /// Number of replicas in a cluster. Default 1.
    #[serde(default = "default_replicas")]
    pub replicas: usize,
    /// `file` (default, survives restarts) or `memory`.
    #[serde(default)]
    pub storage: StreamStorage,
}

/// Where a stream keeps its messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamStorage {
    /// On disk; survives server restarts.
    #[default]
    File,
    /// In memory; lost when the server stops.
    Memory,
}

fn default_subject() -> String {
    "{type}".to_owned()
}

fn default_true() -> bool {
    true
}

fn default_connect_timeout() -> Duration {
    Duration::from_secs(5)
}

fn default_ack_timeout() -> Duration {
    Duration::from_secs(5)
}

fn default_max_in_flight() -> usize {
    4096
}

fn default_replicas() -> usize {
    1
}

impl NatsSinkConfig {
    /// A configuration with every default and the given server URL (handy in tests and tools).
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            subject: default_subject(),
            jetstream: true,
            mode: BindingMode::default(),
            types: Vec::new(),
            user: None,
            password: None,
            token: None,
            credentials_file: None,
            nkey_seed: None,
            tls_required: false,
            ca_file: None,
            client_cert: None,
            client_key: None,
            connect_timeout: default_connect_timeout(),
            ack_timeout: default_ack_timeout(),
            max_in_flight: default_max_in_flight(),
            stream: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example_with_defaults() {
        let config: NatsSinkConfig = serde_json::from_value(serde_json::json!({
            "url": "nats://127.0.0.1:4222",
            "subject": "{type}",
            "jetstream": true,
            "mode": "binary",
            "types": ["vod.*"],
            "stream": { "name": "VOD", "subjects": ["vod.>"], "max_age": "7d" }
        }))
        .expect("valid config");
        assert_eq!(config.mode, BindingMode::Binary);
        assert_eq!(config.ack_timeout, Duration::from_secs(5));
        assert_eq!(config.max_in_flight, 4096);
        let stream = config.stream.expect("stream");
        assert_eq!(stream.max_age, Some(Duration::from_secs(7 * 24 * 3600)));
        assert_eq!(stream.storage, StreamStorage::File);
        assert_eq!(stream.replicas, 1);

        let minimal: NatsSinkConfig =
            serde_json::from_value(serde_json::json!({ "url": "nats://h:4222" })).expect("minimal");
        assert!(minimal.jetstream);
        assert_eq!(minimal.subject, "{type}");
        assert_eq!(minimal.mode, BindingMode::Structured);
    }

    #[test]
    fn rejects_unknown_fields() {
        let err = serde_json::from_value::<NatsSinkConfig>(
            serde_json::json!({ "url": "x", "subjet": "a" }),
        );
        assert!(err.is_err());
    }
}
