//! `[[sinks]] type = "kafka"` configuration.

use std::collections::BTreeMap;
use std::time::Duration;

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
    /// Applied last, so they override every default below.
    #[serde(default)]
    pub librdkafka: BTreeMap<String, String>,
    /// Create missing topics through the admin API (lazily, on first use of each topic; eagerly
    /// at start-up for a fixed template). Default `false`: a fixed topic that does not exist makes
    /// [`connect`](crate::connect) fail when the broker is reachable at start-up; when it is not,
    /// the check runs once the broker answers, and a missing topic then makes the sink unhealthy
    /// and its publishes fail as retriable `unknown_topic` until the topic is created.
    #[serde(default)]
    pub create_topics: bool,
    /// Partitions of topics this sink creates. Default 3.
    #[serde(default = "default_partitions")]
    pub partitions: i32,
    /// Replication factor of topics this sink creates. Default 1.
    #[serde(default = "default_replication_factor")]
    pub replication_factor: i32,
    /// Idempotent producer (`enable.idempotence`): no duplicates or reordering from producer
    /// retries. Default `true`; turn off only for brokers without `InitProducerId` support.
    #[serde(default = "default_true")]
    pub idempotence: bool,
    /// Upper bound on one message's delivery, retries included (`message.timeout.ms`). Keep it
    /// below the receiver's acknowledgement timeout so a dead broker surfaces as an error (and an
    /// HTTP 503) rather than a timeout. Default `8s`.
    #[serde(default = "default_message_timeout", with = "humantime_serde")]
    pub message_timeout: Duration,
    /// How long the producer waits to fill a batch (`linger.ms`). Small, because every callback
    /// waits for its acknowledgement. Default `5ms`.
    #[serde(default = "default_linger", with = "humantime_serde")]
    pub linger: Duration,
    /// Batch compression (`compression.type`): `none`, `gzip`, `snappy`, `lz4`, `zstd`.
    /// Default `lz4` (cheap on CPU, good on JSON).
    #[serde(default = "default_compression")]
    pub compression: String,
    /// Timeout of the broker metadata request used by health checks and topic checks (and of
    /// topic creation). Also bounds the start-up topic check, so [`connect`](crate::connect)
    /// returns within about this long when the broker is down. Default `3s`.
    #[serde(default = "default_metadata_timeout", with = "humantime_serde")]
    pub metadata_timeout: Duration,
}

impl KafkaSinkConfig {
    /// A configuration with every default, for `brokers`.
    pub fn new(brokers: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            topic: default_topic(),
            mode: default_mode(),
            types: Vec::new(),
            librdkafka: BTreeMap::new(),
            create_topics: false,
            partitions: default_partitions(),
            replication_factor: default_replication_factor(),
            idempotence: true,
            message_timeout: default_message_timeout(),
            linger: default_linger(),
            compression: default_compression(),
            metadata_timeout: default_metadata_timeout(),
        }
    }
}

fn default_topic() -> String {
    "{type}".to_owned()
}

fn default_mode() -> BindingMode {
    BindingMode::Binary
}

fn default_partitions() -> i32 {
    3
}

fn default_replication_factor() -> i32 {
    1
}

fn default_true() -> bool {
    true
}

fn default_message_timeout() -> Duration {
    Duration::from_secs(8)
}

fn default_linger() -> Duration {
    Duration::from_millis(5)
}

fn default_compression() -> String {
    "lz4".to_owned()
}

fn default_metadata_timeout() -> Duration {
    Duration::from_secs(3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_favour_safe_delivery() {
        let c: KafkaSinkConfig =
            serde_json::from_value(serde_json::json!({"brokers": "b:9092"})).expect("valid");
        assert_eq!(c.topic, "{type}");
        assert_eq!(c.mode, BindingMode::Binary);
        assert!(c.idempotence);
        assert!(!c.create_topics);
        assert_eq!(c.message_timeout, Duration::from_secs(8));
        assert_eq!(c.linger, Duration::from_millis(5));
        assert_eq!(c.compression, "lz4");
        let n = KafkaSinkConfig::new("b:9092");
        assert_eq!(
            (n.topic, n.partitions, n.message_timeout),
            (c.topic, c.partitions, c.message_timeout)
        );
    }

    #[test]
    fn parses_durations_and_rejects_unknown_fields() {
        let c: KafkaSinkConfig = serde_json::from_value(serde_json::json!({
            "brokers": "b:9092", "mode": "structured", "message_timeout": "3s", "linger": "1ms",
            "librdkafka": {"security.protocol": "SASL_SSL"}
        }))
        .expect("valid");
        assert_eq!(c.mode, BindingMode::Structured);
        assert_eq!(c.message_timeout, Duration::from_secs(3));
        assert_eq!(c.librdkafka["security.protocol"], "SASL_SSL");
        let bad = serde_json::from_value::<KafkaSinkConfig>(
            serde_json::json!({"brokers": "b", "topik": "x"}),
        );
        assert!(bad.is_err());
    }
}
