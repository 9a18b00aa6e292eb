//! Configuration: a TOML file (or the embedded default) overlaid with `VODBRIDGE_*` environment
//! variables, deserialized strictly (unknown keys are errors that name the key), then validated
//! across sections (names unique, dead-letter sink exists, secrets resolved from files or env).

mod secrets;
mod validate;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context as _};
use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::Deserialize;
use vodbridge_core::Secret;
use vodbridge_sink_file::FileSinkConfig;
use vodbridge_sink_kafka::KafkaSinkConfig;
use vodbridge_sink_nats::NatsSinkConfig;
use vodbridge_spool::SpoolConfig;

pub use secrets::resolve_sources;

/// The configuration compiled into the binary (`config/vodbridge.toml`): used when no `--config`
/// is given, so `cargo run --release` starts a working bridge with no external service.
pub const EMBEDDED_DEFAULT: &str = include_str!("../../../../config/vodbridge.toml");

/// Top-level sections an environment variable may override. Arrays (`sources`, `sinks`) cannot
/// be addressed from the environment; other `VODBRIDGE_*` variables are ignored, not refused,
/// because tools set unrelated ones.
const ENV_SECTIONS: &[&str] = &["server", "log", "dead_letter", "spool"];

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Listen addresses and request limits.
    #[serde(default)]
    pub server: ServerConfig,
    /// Logging.
    #[serde(default)]
    pub log: LogConfig,
    /// Callback sources (`POST /v1/callbacks/{name}`).
    #[serde(default)]
    pub sources: Vec<SourceConfig>,
    /// Destinations; every event goes to every sink whose type filter accepts it.
    #[serde(default)]
    pub sinks: Vec<SinkConfig>,
    /// Where inputs that cannot be normalized are kept. When the section is absent, dead letters
    /// go to the first sink at its default destination (see [`Config::default_dead_letter`]);
    /// after loading this is always set.
    pub dead_letter: Option<DeadLetterConfig>,
    /// True when `[dead_letter]` was absent and [`Config::default_dead_letter`] chose the route
    /// (said in the start-up log line and by `check-config`).
    #[serde(skip)]
    pub dead_letter_defaulted: bool,
    /// A durable local spool (see `vodbridge_spool::SpoolConfig`). With it, a callback is
    /// answered 200 once its events are fsync'd in the spool, and one forwarder per sink
    /// publishes them; without it, once every sink acknowledged. Optional.
    #[serde(default)]
    pub spool: Option<SpoolConfig>,
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Callback listener (`POST /v1/callbacks/{source}`). Default `0.0.0.0:8080`.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Admin listener (`GET /metrics`, `/healthz`, `/readyz`). Default `0.0.0.0:9464`.
    #[serde(default = "default_admin_listen")]
    pub admin_listen: SocketAddr,
    /// Largest accepted callback body in bytes; larger ones get 413. Default 1048576 (1 MiB).
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// How long a callback waits for every sink to acknowledge before answering 503. Default
    /// `10s` (well under the vendors' own request timeouts).
    #[serde(default = "default_ack_timeout", with = "humantime_serde")]
    pub ack_timeout: Duration,
    /// Callbacks processed at once; more are answered 503 with `Retry-After` immediately (load
    /// shedding instead of queueing). Default 1024.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// At shutdown: how long in-flight requests may take to finish and sinks to flush. Default
    /// `30s`.
    #[serde(default = "default_shutdown_timeout", with = "humantime_serde")]
    pub shutdown_timeout: Duration,
    /// How long a client may take to send complete request headers, counted from the connection
    /// opening or from the previous response on a kept-alive connection; slower connections are
    /// closed (counted in `vodbridge_http_connection_errors_total`). Default `10s`.
    #[serde(default = "default_header_timeout", with = "humantime_serde")]
    pub header_timeout: Duration,
    /// How long a callback body may take to arrive after its headers; slower ones are answered
    /// 408. Default `15s` (vendor bodies are a few KiB and arrive with the headers).
    #[serde(default = "default_body_timeout", with = "humantime_serde")]
    pub body_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            admin_listen: default_admin_listen(),
            max_body_bytes: default_max_body_bytes(),
            ack_timeout: default_ack_timeout(),
            max_in_flight: default_max_in_flight(),
            shutdown_timeout: default_shutdown_timeout(),
            header_timeout: default_header_timeout(),
            body_timeout: default_body_timeout(),
        }
    }
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `text` (human-readable) or `json` (one object per line). Default `text`.
    #[serde(default)]
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `info,vodbridge_ingress=debug`; `RUST_LOG` wins when
    /// set. Default `info`.
    #[serde(default = "default_level")]
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::default(),
            level: default_level(),
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The vendor formats a source can speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderName {
    /// Tencent Cloud VOD event notifications.
    Tencent,
    /// Volcengine VOD callbacks.
    Volcengine,
}

impl From<ProviderName> for vodbridge_core::Provider {
    fn from(p: ProviderName) -> Self {
        match p {
            ProviderName::Tencent => vodbridge_core::Provider::Tencent,
            ProviderName::Volcengine => vodbridge_core::Provider::Volcengine,
        }
    }
}

/// One `[[sources]]` entry. Each secret may be given inline, as `<key>_file` (path of a file
/// holding it; surrounding whitespace trimmed) or as `<key>_env` (name of an environment
/// variable holding it) — at most one of the three.
///
/// Extending a source (for instance with a Tencent `PullEvents` poller block): add an optional
/// field here with `#[serde(default)]` and its `///` doc; `deny_unknown_fields` keeps working.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Unique, URL-safe name (`[A-Za-z0-9_-]`); the route is `POST /v1/callbacks/{name}`.
    pub name: String,
    /// `tencent` or `volcengine`: payload format and signature scheme.
    pub provider: ProviderName,
    /// CloudEvents `source` of events from this source. Default `/vodbridge/{name}`.
    #[serde(default)]
    pub ce_source: Option<String>,
    /// Shared secret callers must send as `?token=` or `Authorization: Bearer`. Optional.
    #[serde(default)]
    pub token: Option<Secret>,
    /// File holding `token`.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// Environment variable holding `token`.
    #[serde(default)]
    pub token_env: Option<String>,
    /// Tencent only: the `SignKey` set with `ModifyEventConfig`; callbacks must then carry
    /// `Sign = md5(SignKey + T)` and an unexpired `T`. Optional.
    #[serde(default)]
    pub sign_key: Option<Secret>,
    /// File holding `sign_key`.
    #[serde(default)]
    pub sign_key_file: Option<PathBuf>,
    /// Environment variable holding `sign_key`.
    #[serde(default)]
    pub sign_key_env: Option<String>,
    /// Volcengine only: the callback URL exactly as configured in the console (part of the
    /// signed text). Required with signing keys.
    #[serde(default)]
    pub callback_url: Option<String>,
    /// Volcengine only: accepted callback private keys; list the old and the new key during a
    /// rotation. Empty = signatures not checked.
    #[serde(default)]
    pub signing_keys: Vec<Secret>,
    /// File holding more signing keys, one per line.
    #[serde(default)]
    pub signing_keys_file: Option<PathBuf>,
    /// Environment variable holding more signing keys, comma-separated.
    #[serde(default)]
    pub signing_keys_env: Option<String>,
    /// Tolerated clock difference for signed timestamps (Volcengine) and expiry times
    /// (Tencent). Default `5m`.
    #[serde(default = "default_skew", with = "humantime_serde")]
    pub max_clock_skew: Duration,
    /// Tencent only: also consume the reliable-callback queue (`PullEvents` / `ConfirmEvents`)
    /// with these API credentials (see `vodbridge_ingress::poller::PollConfig`). Optional.
    #[serde(default)]
    pub poll: Option<vodbridge_ingress::poller::PollConfig>,
}

impl SourceConfig {
    /// The CloudEvents `source` of this source's events: `ce_source`, else `/vodbridge/{name}`.
    pub fn ce_source_uri(&self) -> String {
        self.ce_source
            .clone()
            .unwrap_or_else(|| format!("/vodbridge/{}", self.name))
    }
}

/// One `[[sinks]]` entry: `name`, `type` and the keys of that type.
///
/// `name` is taken off by hand and the rest deserialized as [`SinkSettings`], rather than with
/// `#[serde(flatten)]`, because flattening silently disables `deny_unknown_fields` of the inner
/// config and a misspelt key would be ignored instead of refused.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// Unique sink name (logs, metrics, `dead_letter.sink`).
    pub name: String,
    /// The sink's `type` and that type's settings.
    pub settings: SinkSettings,
    /// The `type` key as written (for messages).
    kind: String,
}

/// The `type` of a `[[sinks]]` entry with the settings of that type: one variant per sink
/// crate, named by its `type` value. Adding a sink type is one variant here and one match arm
/// in `run::build_sink` (plus its example block in `config/example.toml` and its row in
/// `scripts/gen_config_reference.py`, which write the documentation).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)] // a handful of sinks, read once at start-up
pub enum SinkSettings {
    /// JSON Lines file, fsynced before acknowledging (see `vodbridge_sink_file::FileSinkConfig`).
    File(FileSinkConfig),
    /// Kafka topics (see `vodbridge_sink_kafka::KafkaSinkConfig`).
    Kafka(KafkaSinkConfig),
    /// NATS subjects (see `vodbridge_sink_nats::NatsSinkConfig`).
    Nats(NatsSinkConfig),
}

impl<'de> Deserialize<'de> for SinkConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let mut dict = figment::value::Dict::deserialize(deserializer)?;
        let string = |key: &'static str, value: Option<&figment::value::Value>| match value {
            Some(figment::value::Value::String(_, s)) => Ok(s.clone()),
            Some(_) => Err(D::Error::custom(format!("`{key}` must be a string"))),
            None => Err(D::Error::missing_field(key)),
        };
        let name = string("name", dict.remove("name").as_ref())?;
        // `type` stays in: it selects the variant. Read here only to name it in errors.
        let kind = string("type", dict.get("type"))?;
        let settings = figment::value::Value::from(dict)
            .deserialize()
            .map_err(|e| D::Error::custom(format!("sink `{name}` ({kind}): {e}")))?;
        Ok(SinkConfig {
            name,
            settings,
            kind,
        })
    }
}

impl SinkConfig {
    /// The configured name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The `type` key (`file`, `kafka`, `nats`).
    pub fn kind(&self) -> &str {
        &self.kind
    }
}

/// `[dead_letter]`: where inputs that cannot be normalized are kept, raw, with the reason.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterConfig {
    /// Name of the sink that carries dead letters (one of `[[sinks]]`).
    pub sink: String,
    /// Topic (Kafka), subject (NATS) or file path (file) on that sink.
    pub destination: String,
}

impl Config {
    /// Load `path` (or the embedded default when `None`), apply `VODBRIDGE_*` overrides and
    /// validate. Errors name the offending key.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let base = match path {
            Some(p) => {
                if !p.is_file() {
                    bail!("configuration file {} not found", p.display());
                }
                Figment::from(Toml::file_exact(p))
            }
            None => Figment::from(Toml::string(EMBEDDED_DEFAULT)),
        };
        Self::extract(base)
    }

    /// Parse configuration text (plus `VODBRIDGE_*` overrides) and validate it.
    pub fn parse(toml: &str) -> anyhow::Result<Self> {
        Self::extract(Figment::from(Toml::string(toml)))
    }

    fn extract(base: Figment) -> anyhow::Result<Self> {
        let env = Env::prefixed("VODBRIDGE_")
            .filter(|key| {
                let section = key.as_str().split("__").next().unwrap_or_default();
                ENV_SECTIONS.iter().any(|s| section.eq_ignore_ascii_case(s))
            })
            .split("__");
        let mut config: Config = base.merge(env).extract().map_err(describe)?;
        if config.dead_letter.is_none() {
            config.dead_letter = config.default_dead_letter();
            config.dead_letter_defaulted = config.dead_letter.is_some();
        }
        config.validate().context("invalid configuration")?;
        Ok(config)
    }

    /// The dead-letter route of a configuration without `[dead_letter]`: the first sink, at
    /// `deadletter.jsonl` beside a file sink's `path`, or the `vodbridge.deadletter` topic or
    /// subject of a Kafka or NATS sink. `None` without sinks (refused by validation anyway).
    pub fn default_dead_letter(&self) -> Option<DeadLetterConfig> {
        let sink = self.sinks.first()?;
        let destination = match &sink.settings {
            SinkSettings::File(config) => {
                let name = if config.path.file_name() == Some(DEFAULT_DEAD_LETTER_FILE.as_ref()) {
                    // The events file already has that name: do not share it.
                    format!("{DEFAULT_DEAD_LETTER_TOPIC}.jsonl")
                } else {
                    DEFAULT_DEAD_LETTER_FILE.to_owned()
                };
                config
                    .path
                    .with_file_name(name)
                    .to_string_lossy()
                    .into_owned()
            }
            // Brokers: a topic or subject of that name.
            SinkSettings::Kafka(_) | SinkSettings::Nats(_) => DEFAULT_DEAD_LETTER_TOPIC.to_owned(),
        };
        Some(DeadLetterConfig {
            sink: sink.name().to_owned(),
            destination,
        })
    }

    /// One line on where dead letters go, for the start-up log and `check-config`.
    pub fn dead_letter_summary(&self) -> String {
        match &self.dead_letter {
            Some(dl) => format!(
                "dead letters to sink `{}` at `{}`{}",
                dl.sink,
                dl.destination,
                if self.dead_letter_defaulted {
                    " (default: no [dead_letter] section)"
                } else {
                    ""
                }
            ),
            None => "no dead-letter route".to_owned(),
        }
    }
}

/// File name of the default dead-letter file, beside a file sink's `path`.
pub const DEFAULT_DEAD_LETTER_FILE: &str = "deadletter.jsonl";

/// Topic (Kafka) or subject (NATS) of the default dead-letter route.
pub const DEFAULT_DEAD_LETTER_TOPIC: &str = "vodbridge.deadletter";

/// Every figment error on its own line, each naming its key and where the value came from.
fn describe(err: figment::Error) -> anyhow::Error {
    let lines: Vec<String> = err
        .into_iter()
        .map(|e| {
            let key = e.path.join(".");
            if key.is_empty() || e.to_string().contains(&format!("`{key}`")) {
                e.to_string()
            } else {
                format!("{e} (key `{key}`)")
            }
        })
        .collect();
    anyhow::anyhow!("invalid configuration: {}", lines.join("; "))
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 8080))
}
fn default_admin_listen() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 9464))
}
fn default_max_body_bytes() -> usize {
    1024 * 1024
}
fn default_ack_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_header_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_body_timeout() -> Duration {
    Duration::from_secs(15)
}
fn default_max_in_flight() -> usize {
    1024
}
fn default_shutdown_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_level() -> String {
    "info".to_owned()
}
fn default_skew() -> Duration {
    Duration::from_secs(300)
}

#[cfg(test)]
mod tests;
