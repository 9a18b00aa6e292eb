//! `[[sinks]] type = "nats"` configuration.

use std::time::Duration;

use serde::Deserialize;
use vodbridge_core::{BindingMode, Secret};

/// Configuration of one NATS sink.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsSinkConfig {
    /// Server URL(s), comma-separated (`nats://127.0.0.1:4222`).
    pub url: String,
    /// Subject template: `{type}`, `{provider}`, `{source}`, `{outcome}`. Default `{type}`.
    #[serde(default = "default_subject")]
    pub subject: String,
    /// `true`: JetStream publish, acknowledged on PubAck. `false`: core NATS, acknowledged after a
    /// flush. Default `true`.
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
    pub credentials_file: Option<std::path::PathBuf>,
    /// Create or update this JetStream stream at start-up when set.
    #[serde(default)]
    pub stream: Option<StreamConfig>,
}

/// A JetStream stream vodbridge creates or updates at start-up.
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
}

fn default_subject() -> String {
    "{type}".to_owned()
}

fn default_true() -> bool {
    true
}
