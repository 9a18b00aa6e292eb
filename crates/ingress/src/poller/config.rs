//! `[sources.poll]`: how to reach the Tencent VOD API for one source.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use vodbridge_core::Secret;

use super::PollerError;

/// Environment variable read for the SecretId when neither `secret_id` nor `secret_id_file` is set
/// (the name the Tencent Cloud SDKs and CLI use).
pub const ENV_SECRET_ID: &str = "TENCENTCLOUD_SECRET_ID";
/// Environment variable read for the SecretKey when neither `secret_key` nor `secret_key_file` is set.
pub const ENV_SECRET_KEY: &str = "TENCENTCLOUD_SECRET_KEY";
/// Environment variable read for the STS session token when `token` is not set.
pub const ENV_TOKEN: &str = "TENCENTCLOUD_SESSION_TOKEN";

/// Default public endpoint of the VOD API (China site; the international site is
/// `https://vod.intl.tencentcloudapi.com`).
pub const DEFAULT_ENDPOINT: &str = "https://vod.tencentcloudapi.com";

/// Reliable-callback settings of a Tencent source: when present, the source also consumes the
/// `PullEvents` queue.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollConfig {
    /// API SecretId. Alternatives: `secret_id_file`, or the `TENCENTCLOUD_SECRET_ID` environment
    /// variable when neither is set.
    #[serde(default)]
    pub secret_id: Option<String>,
    /// File whose content (trimmed) is the SecretId (e.g. a mounted Kubernetes secret).
    #[serde(default)]
    pub secret_id_file: Option<PathBuf>,
    /// API SecretKey. Alternatives: `secret_key_file`, or `TENCENTCLOUD_SECRET_KEY`.
    #[serde(default)]
    pub secret_key: Option<Secret>,
    /// File whose content (trimmed) is the SecretKey. Re-read when the poller retries after an
    /// authentication failure, so a rotated key is picked up without a restart.
    #[serde(default)]
    pub secret_key_file: Option<PathBuf>,
    /// STS session token (sent as `X-TC-Token`) for temporary credentials; falls back to
    /// `TENCENTCLOUD_SESSION_TOKEN`. Unset for permanent keys.
    #[serde(default)]
    pub token: Option<Secret>,
    /// VOD sub-application id (`SubAppId`). Optional for old accounts; required for accounts
    /// that activated VOD on or after 2023-12-25.
    #[serde(default)]
    pub sub_app_id: Option<u64>,
    /// API endpoint URL. Default `https://vod.tencentcloudapi.com`; `http://` is allowed for
    /// proxies and tests.
    #[serde(default = "default_endpoint")]
    pub endpoint: String,
    /// `X-TC-Region`; sent only when set (VOD does not need it).
    #[serde(default)]
    pub region: Option<String>,
    /// Number of long polls kept in flight at once. Default 4.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// HTTP timeout of one API call. The server holds an empty `PullEvents` for up to 5 s, so
    /// keep this above 5 s. Default `10s`.
    #[serde(default = "default_request_timeout", with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Client-side limit of requests per second per action (`PullEvents`, `ConfirmEvents`),
    /// shared by all concurrent polls of this source. The API allows 100. Default 100.
    #[serde(default = "default_rate_limit")]
    pub rate_limit: u32,
    /// First backoff after a transient error (throttling, server error, network). Each further
    /// error doubles it up to `backoff_max`; the actual wait is random in `[0, backoff]` (full
    /// jitter). Default `200ms`.
    #[serde(default = "default_backoff_initial", with = "humantime_serde")]
    pub backoff_initial: Duration,
    /// Upper bound of the transient-error backoff. Default `30s`.
    #[serde(default = "default_backoff_max", with = "humantime_serde")]
    pub backoff_max: Duration,
    /// After a configuration error (`AuthFailure.*`, `UnauthorizedOperation`,
    /// `FailedOperation.InvalidVodUser`) the poller is marked failed and tries again only after
    /// this long, with a single request. Default `5m`.
    #[serde(default = "default_fatal_retry", with = "humantime_serde")]
    pub fatal_retry_interval: Duration,
}

fn default_endpoint() -> String {
    DEFAULT_ENDPOINT.to_owned()
}
fn default_concurrency() -> usize {
    4
}
fn default_request_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_rate_limit() -> u32 {
    100
}
fn default_backoff_initial() -> Duration {
    Duration::from_millis(200)
}
fn default_backoff_max() -> Duration {
    Duration::from_secs(30)
}
fn default_fatal_retry() -> Duration {
    Duration::from_secs(300)
}

impl PollConfig {
    /// A configuration with the given credentials and every other field at its default.
    pub fn new(secret_id: impl Into<String>, secret_key: impl Into<String>) -> Self {
        Self {
            secret_id: Some(secret_id.into()),
            secret_id_file: None,
            secret_key: Some(Secret::new(secret_key)),
            secret_key_file: None,
            token: None,
            sub_app_id: None,
            endpoint: default_endpoint(),
            region: None,
            concurrency: default_concurrency(),
            request_timeout: default_request_timeout(),
            rate_limit: default_rate_limit(),
            backoff_initial: default_backoff_initial(),
            backoff_max: default_backoff_max(),
            fatal_retry_interval: default_fatal_retry(),
        }
    }

    /// Check the values that serde cannot (called by `Poller::new`).
    pub fn validate(&self) -> Result<(), PollerError> {
        let bad = |msg: &str| Err(PollerError::InvalidConfig(msg.to_owned()));
        if self.concurrency == 0 {
            return bad("poll.concurrency must be at least 1");
        }
        if self.rate_limit == 0 {
            return bad("poll.rate_limit must be at least 1");
        }
        if self.request_timeout <= Duration::from_secs(5) {
            return bad("poll.request_timeout must exceed the 5 s long-poll hold");
        }
        if self.backoff_initial.is_zero() || self.backoff_max < self.backoff_initial {
            return bad("poll.backoff_initial must be > 0 and <= poll.backoff_max");
        }
        if self.secret_id.is_some() && self.secret_id_file.is_some() {
            return bad("set only one of poll.secret_id and poll.secret_id_file");
        }
        if self.secret_key.is_some() && self.secret_key_file.is_some() {
            return bad("set only one of poll.secret_key and poll.secret_key_file");
        }
        Ok(())
    }

    /// Resolve the credentials from the inline values, files or environment.
    pub fn credentials(&self) -> Result<Credentials, PollerError> {
        let secret_id = resolve(
            self.secret_id.as_deref(),
            self.secret_id_file.as_deref(),
            ENV_SECRET_ID,
            "secret_id",
        )?;
        let secret_key = resolve(
            self.secret_key.as_ref().map(Secret::expose),
            self.secret_key_file.as_deref(),
            ENV_SECRET_KEY,
            "secret_key",
        )?;
        let token = match &self.token {
            Some(t) if !t.is_empty() => Some(t.clone()),
            _ => std::env::var(ENV_TOKEN)
                .ok()
                .filter(|t| !t.is_empty())
                .map(Secret::new),
        };
        Ok(Credentials {
            secret_id,
            secret_key: Secret::new(secret_key),
            token,
        })
    }
}

/// Resolved API credentials.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// SecretId (not secret: it is sent in every `Authorization` header).
    pub secret_id: String,
    /// SecretKey.
    pub secret_key: Secret,
    /// Optional STS token.
    pub token: Option<Secret>,
}

fn resolve(
    inline: Option<&str>,
    file: Option<&Path>,
    env: &str,
    field: &'static str,
) -> Result<String, PollerError> {
    let value = match (inline, file) {
        (Some(v), _) => v.to_owned(),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|source| PollerError::CredentialFile {
                path: path.to_owned(),
                source,
            })?
            .trim()
            .to_owned(),
        (None, None) => std::env::var(env).unwrap_or_default(),
    };
    if value.trim().is_empty() {
        return Err(PollerError::MissingCredential(field));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Wrapper {
        poll: PollConfig,
    }

    fn parse(toml_text: &str) -> Result<PollConfig, serde_json::Error> {
        // The binary reads TOML through figment; the serde contract is the same with JSON.
        serde_json::from_str::<Wrapper>(toml_text).map(|w| w.poll)
    }

    #[test]
    fn defaults_and_durations() {
        let cfg = parse(r#"{"poll":{"secret_id":"AKID","secret_key":"k","sub_app_id":1500000001,"request_timeout":"8s"}}"#)
            .expect("valid");
        assert_eq!(cfg.endpoint, DEFAULT_ENDPOINT);
        assert_eq!(cfg.concurrency, 4);
        assert_eq!(cfg.request_timeout, Duration::from_secs(8));
        assert_eq!(cfg.rate_limit, 100);
        assert_eq!(cfg.sub_app_id, Some(1_500_000_001));
        assert!(cfg.region.is_none());
        cfg.validate().expect("valid");
        let creds = cfg.credentials().expect("creds");
        assert_eq!(creds.secret_id, "AKID");
        assert_eq!(creds.secret_key.expose(), "k");
    }

    #[test]
    fn rejects_unknown_fields_and_bad_values() {
        assert!(parse(r#"{"poll":{"secret_id":"a","secret_key":"k","secretkey":"x"}}"#).is_err());
        let mut cfg = PollConfig::new("a", "k");
        cfg.request_timeout = Duration::from_secs(5);
        assert!(matches!(cfg.validate(), Err(PollerError::InvalidConfig(_))));
        cfg.request_timeout = Duration::from_secs(10);
        cfg.concurrency = 0;
        assert!(cfg.validate().is_err());
    }

    #[test]
    fn reads_secret_files() {
        let dir = std::env::temp_dir().join(format!("vodbridge-poll-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let key_path = dir.join("key");
        std::fs::write(&key_path, "s3cret\n").expect("write");
        let mut cfg = PollConfig::new("AKID", "unused");
        cfg.secret_key = None;
        cfg.secret_key_file = Some(key_path.clone());
        assert_eq!(
            cfg.credentials().expect("creds").secret_key.expose(),
            "s3cret"
        );
        cfg.secret_key_file = Some(dir.join("missing"));
        assert!(matches!(
            cfg.credentials(),
            Err(PollerError::CredentialFile { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
