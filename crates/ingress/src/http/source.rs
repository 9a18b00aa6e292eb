//! What the receiver knows about each configured callback source.

use std::time::Duration;

use vodbridge_core::{Provider, Secret};

/// Default tolerated clock difference for signed timestamps: 5 minutes.
pub const DEFAULT_MAX_CLOCK_SKEW: Duration = Duration::from_secs(300);

/// One `[[sources]]` entry as the receiver uses it (built by the binary from configuration).
#[derive(Debug, Clone)]
pub struct CallbackSource {
    /// The configured name; the route is `POST /v1/callbacks/{name}`.
    pub name: String,
    /// Which vendor format and signature scheme the source uses.
    pub provider: Provider,
    /// CloudEvents `source` attribute of events from this source.
    pub ce_source: String,
    /// How callers must authenticate.
    pub auth: SourceAuth,
}

impl CallbackSource {
    /// A source with no authentication and the default CloudEvents source `/vodbridge/{name}`.
    pub fn new(name: impl Into<String>, provider: Provider) -> Self {
        let name = name.into();
        Self {
            ce_source: format!("/vodbridge/{name}"),
            name,
            provider,
            auth: SourceAuth::default(),
        }
    }
}

/// Authentication rules of one source. Every configured rule must pass.
#[derive(Debug, Clone)]
pub struct SourceAuth {
    /// Shared secret expected as `?token=` or `Authorization: Bearer`.
    pub token: Option<Secret>,
    /// Tencent `SignKey`: `Sign = md5_hex(SignKey + T)`, `T` the expiry time.
    pub tencent_sign_key: Option<Secret>,
    /// Volcengine callback signature (`X-VOD-TIMESTAMP` / `X-VOD-SIGNATURE`).
    pub volcengine: Option<VolcengineAuth>,
    /// Tolerated clock difference for timestamps (Volcengine) and expiry times (Tencent).
    pub max_clock_skew: Duration,
}

impl Default for SourceAuth {
    fn default() -> Self {
        Self {
            token: None,
            tencent_sign_key: None,
            volcengine: None,
            max_clock_skew: DEFAULT_MAX_CLOCK_SKEW,
        }
    }
}

/// Volcengine signature settings.
#[derive(Debug, Clone)]
pub struct VolcengineAuth {
    /// The callback URL exactly as configured in the Volcengine console (it is part of the
    /// signed text, and a proxy may change the URL the request arrives on).
    pub callback_url: String,
    /// Accepted private keys; several during a key rotation.
    pub keys: Vec<Secret>,
}
