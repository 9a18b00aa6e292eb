//! `[spool]`: where the spool lives, how big it may grow and how it commits.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Default `max_bytes`: 1 GiB.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;

/// The `[spool]` section. With it, a callback is answered 200 once its events are fsync'd here;
/// per-sink forwarders publish them afterwards.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpoolConfig {
    /// Directory holding the spool (`spool.db` and its WAL, the `LOCK` file, `quarantine/`).
    /// Created when missing; it must be writable. Required.
    pub path: PathBuf,
    /// Retained data (events not yet forwarded to every sink) above which new callbacks are
    /// answered 503 `spool_full` instead of being accepted; old data is never dropped to make
    /// room. A number of bytes or a size such as `"512MiB"` or `"2GB"`. Default `1GiB`.
    #[serde(default = "default_max_bytes", deserialize_with = "deserialize_size")]
    pub max_bytes: u64,
    /// How often forwarders' cursors (and the removal of data every sink has passed) are
    /// committed when no new events arrive; under load they ride along with each group commit.
    /// This bounds the window in which a crash can redeliver events a sink already acknowledged.
    /// Default `1s`.
    #[serde(default = "default_commit_interval", with = "humantime_serde")]
    pub commit_interval: Duration,
    /// Most events a forwarder reads from the spool and publishes to its sink at once.
    /// Default 512.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Most events one group commit writes; concurrent callbacks beyond it wait for the next
    /// commit. Default 4096.
    #[serde(default = "default_max_commit_events")]
    pub max_commit_events: usize,
}

impl SpoolConfig {
    /// A configuration with every default and `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            max_bytes: DEFAULT_MAX_BYTES,
            commit_interval: default_commit_interval(),
            batch_size: default_batch_size(),
            max_commit_events: default_max_commit_events(),
        }
    }

    /// Check the values that deserialization alone cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.path.as_os_str().is_empty() {
            return Err("spool.path must not be empty".into());
        }
        if self.max_bytes == 0 {
            return Err("spool.max_bytes must be greater than 0".into());
        }
        if self.commit_interval.is_zero() {
            return Err("spool.commit_interval must be greater than 0".into());
        }
        if self.batch_size == 0 {
            return Err("spool.batch_size must be greater than 0".into());
        }
        if self.max_commit_events == 0 {
            return Err("spool.max_commit_events must be greater than 0".into());
        }
        Ok(())
    }
}

fn default_max_bytes() -> u64 {
    DEFAULT_MAX_BYTES
}
fn default_commit_interval() -> Duration {
    Duration::from_secs(1)
}
fn default_batch_size() -> usize {
    512
}
fn default_max_commit_events() -> usize {
    4096
}

/// Parse a size: a plain number of bytes, or a number followed by `B`, `KB`/`MB`/`GB`/`TB`
/// (powers of 1000) or `KiB`/`MiB`/`GiB`/`TiB` (powers of 1024), case-insensitive, with optional
/// spaces in between.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("invalid size {text:?}: expected a number such as 512MiB"))?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        other => {
            return Err(format!(
                "invalid size {text:?}: unknown unit {other:?} (use B, KB, MB, GB, KiB, MiB, GiB)"
            ))
        }
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("invalid size {text:?}: too large"))
}

fn deserialize_size<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    struct Size;
    impl serde::de::Visitor<'_> for Size {
        type Value = u64;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a number of bytes or a size such as \"512MiB\"")
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| E::custom("a size cannot be negative"))
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<u64, E> {
            parse_size(v).map_err(E::custom)
        }
    }
    deserializer.deserialize_any(Size)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_parse_with_binary_and_decimal_units() {
        for (text, bytes) in [
            ("0", 0),
            ("1024", 1024),
            ("512MiB", 512 << 20),
            ("512 mib", 512 << 20),
            ("1GiB", 1 << 30),
            ("2GB", 2_000_000_000),
            ("10kb", 10_000),
            ("7B", 7),
        ] {
            assert_eq!(parse_size(text), Ok(bytes), "{text}");
        }
        for bad in [
            "",
            "MiB",
            "1.5GiB",
            "12 parsecs",
            "-1",
            "99999999999999999999TiB",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
