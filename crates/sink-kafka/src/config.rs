//! `[[sinks]] type = "kafka"` configuration.

use std::collections::BTreeMap;

use serde::Deserialize;
use vodbridge_core::BindingMode;

/// Configuration of one Kafka sink.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSinkConfig {
    /// Bootstrap servers, comma-separated (`host:port,host:port`).
    pub brokers: String,
    /// Topic template: `{type}`, `{provider}`, `{source}`, `{outcome}`. Default `{type}`.
    #[serde(default = "default_topic")]
    pub topic: String,
    /// CloudEvents Kafka binding mode. Default `binary`.
    #[serde(default = "default_mode")]
    pub mode: BindingMode,
    /// Canonical types this sink carries (`*` wildcards); empty = all.
    #[serde(default)]
    pub types: Vec<String>,
    /// Extra librdkafka settings passed through verbatim (`security.protocol`, `sasl.*`, …).
    #[serde(default)]
    pub librdkafka: BTreeMap<String, String>,
}

fn default_topic() -> String {
    "{type}".to_owned()
}

fn default_mode() -> BindingMode {
    BindingMode::Binary
}
