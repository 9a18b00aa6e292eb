//! A minimal Tencent VOD API 3.0 client for the two reliable-callback actions, signed with TC3.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::config::{Credentials, PollConfig};
use super::tc3::{self, SignRequest};
use super::PollerError;

/// API version of every VOD event action.
pub const API_VERSION: &str = "2018-07-17";
/// `Content-Type` of every request (signed exactly as sent).
const CONTENT_TYPE: &str = "application/json";

/// The two actions the poller calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `PullEvents`: long-poll up to 16 events.
    PullEvents,
    /// `ConfirmEvents`: delete up to 16 events by handle.
    ConfirmEvents,
}

impl Action {
    /// The `X-TC-Action` value (also the metric label).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::PullEvents => "PullEvents",
            Action::ConfirmEvents => "ConfirmEvents",
        }
    }
}

/// How the poller must react to a failed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// `ResourceNotFound` from `PullEvents`: no event in the queue (same as an empty `EventSet`).
    Empty,
    /// Throttling, server or network trouble: back off with jitter and retry.
    Transient,
    /// Configuration an operator must fix (credentials, permissions, VOD not activated).
    Fatal,
    /// `ConfirmEvents` refused the handles (expired after 30 s, or unknown): the events will be
    /// delivered again; nothing to retry.
    Rejected,
}

/// A failed API call.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The API answered with `Response.Error`.
    #[error("{action} returned {code}: {message}")]
    Api {
        /// Which call.
        action: &'static str,
        /// Error code, e.g. `AuthFailure.SignatureFailure`.
        code: String,
        /// Error message from the API.
        message: String,
        /// `RequestId`, for support tickets.
        request_id: String,
    },
    /// No answer in time.
    #[error("{action} timed out")]
    Timeout {
        /// Which call.
        action: &'static str,
    },
    /// Connection or HTTP-level failure.
    #[error("{action} request failed")]
    Transport {
        /// Which call.
        action: &'static str,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The answer was not the documented JSON envelope.
    #[error("{action} returned an unexpected response (HTTP {status})")]
    InvalidResponse {
        /// Which call.
        action: &'static str,
        /// HTTP status.
        status: u16,
    },
}

/// Error codes that mean "an operator must fix the configuration": retrying soon cannot help.
fn is_fatal(code: &str) -> bool {
    code.starts_with("AuthFailure")
        || code.starts_with("UnauthorizedOperation")
        || code == "FailedOperation.InvalidVodUser"
        || matches!(
            code,
            "InvalidAction" | "NoSuchVersion" | "UnsupportedRegion" | "ActionOffline"
        )
}

/// The closed set of codes used as metric label values; anything else is counted as `other`.
const KNOWN_CODES: &[&str] = &[
    "FailedOperation",
    "FailedOperation.InvalidVodUser",
    "InternalError",
    "InvalidParameter",
    "InvalidParameterValue",
    "ResourceNotFound",
    "UnauthorizedOperation",
    "AuthFailure.SignatureFailure",
    "AuthFailure.SignatureExpire",
    "AuthFailure.SecretIdNotFound",
    "AuthFailure.TokenFailure",
    "AuthFailure.InvalidSecretId",
    "AuthFailure.InvalidAuthorization",
    "AuthFailure.UnauthorizedOperation",
    "AuthFailure.MFAFailure",
    "RequestLimitExceeded",
    "LimitExceeded",
    "InvalidAction",
    "NoSuchVersion",
    "UnsupportedRegion",
    "UnsupportedOperation",
    "ActionOffline",
];

impl ApiError {
    /// How to react to this error on `action`.
    pub fn class(&self, action: Action) -> ErrorClass {
        match self {
            ApiError::Api { code, .. } if is_fatal(code) => ErrorClass::Fatal,
            ApiError::Api { code, .. }
                if action == Action::PullEvents && code.starts_with("ResourceNotFound") =>
            {
                ErrorClass::Empty
            }
            // On PullEvents an invalid parameter can only be our SubAppId: configuration.
            ApiError::Api { code, .. } if code.starts_with("InvalidParameter") => match action {
                Action::PullEvents => ErrorClass::Fatal,
                Action::ConfirmEvents => ErrorClass::Rejected,
            },
            _ => ErrorClass::Transient,
        }
    }

    /// A bounded metric label: a documented code, `other`, or `timeout`/`transport`/`invalid_response`.
    pub fn label(&self) -> &'static str {
        match self {
            ApiError::Api { code, .. } => KNOWN_CODES
                .iter()
                .find(|k| **k == code.as_str())
                .copied()
                .unwrap_or("other"),
            ApiError::Timeout { .. } => "timeout",
            ApiError::Transport { .. } => "transport",
            ApiError::InvalidResponse { .. } => "invalid_response",
        }
    }

    /// The API error code or the transport label, for logs and readiness.
    pub fn code(&self) -> String {
        match self {
            ApiError::Api { code, .. } => code.clone(),
            other => other.label().to_owned(),
        }
    }
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "Response")]
    response: ResponseBody,
}

#[derive(Deserialize)]
struct ResponseBody {
    #[serde(rename = "Error", default)]
    error: Option<ErrorBody>,
    #[serde(rename = "EventSet", default)]
    event_set: Option<Vec<Box<RawValue>>>,
    #[serde(rename = "RequestId", default)]
    request_id: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(rename = "Code")]
    code: String,
    #[serde(rename = "Message", default)]
    message: String,
}

#[derive(Serialize)]
struct PullRequest {
    #[serde(rename = "SubAppId", skip_serializing_if = "Option::is_none")]
    sub_app_id: Option<u64>,
}

#[derive(Serialize)]
struct ConfirmRequest<'a> {
    #[serde(rename = "EventHandles")]
    event_handles: &'a [String],
    #[serde(rename = "SubAppId", skip_serializing_if = "Option::is_none")]
    sub_app_id: Option<u64>,
}

/// Signs and sends `PullEvents` / `ConfirmEvents`.
pub struct VodClient {
    http: reqwest::Client,
    url: reqwest::Url,
    host: String,
    region: Option<String>,
    sub_app_id: Option<u64>,
    timeout: Duration,
    credentials: RwLock<Arc<Credentials>>,
}

impl VodClient {
    /// Build a client from the configuration and resolved credentials.
    pub fn new(config: &PollConfig, credentials: Credentials) -> Result<Self, PollerError> {
        let url = reqwest::Url::parse(&config.endpoint).map_err(|e| {
            PollerError::InvalidConfig(format!("poll.endpoint `{}`: {e}", config.endpoint))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(PollerError::InvalidConfig(format!(
                "poll.endpoint `{}` must be http(s)",
                config.endpoint
            )));
        }
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => {
                return Err(PollerError::InvalidConfig(format!(
                    "poll.endpoint `{}` has no host",
                    config.endpoint
                )))
            }
        };
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(Duration::from_secs(5))
            // Concurrent long polls each need their own connection.
            .pool_max_idle_per_host(config.concurrency * 2 + 2)
            .build()
            .map_err(PollerError::HttpClient)?;
        Ok(Self {
            http,
            url,
            host,
            region: config.region.clone(),
            sub_app_id: config.sub_app_id,
            timeout: config.request_timeout,
            credentials: RwLock::new(Arc::new(credentials)),
        })
    }

    /// Replace the credentials (after re-reading secret files).
    pub fn set_credentials(&self, credentials: Credentials) {
        *self.credentials.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(credentials);
    }

    /// `PullEvents`: the raw `EventSet` elements (empty when the queue is empty).
    pub async fn pull_events(&self) -> Result<Vec<Box<RawValue>>, ApiError> {
        let body = serde_json::to_vec(&PullRequest {
            sub_app_id: self.sub_app_id,
        })
        .unwrap_or_default();
        let response = self.call(Action::PullEvents, body).await?;
        Ok(response.event_set.unwrap_or_default())
    }

    /// `ConfirmEvents` for at most 16 handles.
    pub async fn confirm_events(&self, handles: &[String]) -> Result<(), ApiError> {
        let request = ConfirmRequest {
            event_handles: handles,
            sub_app_id: self.sub_app_id,
        };
        let body = serde_json::to_vec(&request).unwrap_or_default();
        self.call(Action::ConfirmEvents, body).await.map(|_| ())
    }

    async fn call(&self, action: Action, body: Vec<u8>) -> Result<ResponseBody, ApiError> {
        let name = action.as_str();
        let credentials = Arc::clone(&self.credentials.read().unwrap_or_else(|p| p.into_inner()));
        let timestamp = chrono::Utc::now().timestamp();
        let signature = tc3::sign(
            &SignRequest {
                host: &self.host,
                content_type: CONTENT_TYPE,
                action: Some(name),
                payload: &body,
                timestamp,
                service: tc3::VOD_SERVICE,
            },
            credentials.secret_key.expose(),
        );
        let mut request = self
            .http
            .post(self.url.clone())
            .header(http::header::HOST, &self.host)
            .header(http::header::CONTENT_TYPE, CONTENT_TYPE)
            .header(
                http::header::AUTHORIZATION,
                signature.authorization(&credentials.secret_id),
            )
            .header("X-TC-Action", name)
            .header("X-TC-Version", API_VERSION)
            .header("X-TC-Timestamp", timestamp.to_string());
        if let Some(region) = &self.region {
            request = request.header("X-TC-Region", region);
        }
        if let Some(token) = &credentials.token {
            request = request.header("X-TC-Token", token.expose());
        }
        let send = async {
            let response = request.body(body).send().await?;
            let status = response.status().as_u16();
            Ok::<_, reqwest::Error>((status, response.bytes().await?))
        };
        // reqwest applies the same timeout; this outer one also bounds a stalled body read.
        let (status, bytes) = match tokio::time::timeout(self.timeout, send).await {
            Err(_) => return Err(ApiError::Timeout { action: name }),
            Ok(Err(e)) if e.is_timeout() => return Err(ApiError::Timeout { action: name }),
            Ok(Err(source)) => {
                return Err(ApiError::Transport {
                    action: name,
                    source,
                })
            }
            Ok(Ok(ok)) => ok,
        };
        let envelope: Envelope =
            serde_json::from_slice(&bytes).map_err(|_| ApiError::InvalidResponse {
                action: name,
                status,
            })?;
        let response = envelope.response;
        if let Some(error) = response.error {
            return Err(ApiError::Api {
                action: name,
                code: error.code,
                message: error.message,
                request_id: response.request_id,
            });
        }
        if !(200..300).contains(&status) {
            return Err(ApiError::InvalidResponse {
                action: name,
                status,
            });
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: &str) -> ApiError {
        ApiError::Api {
            action: "PullEvents",
            code: code.into(),
            message: String::new(),
            request_id: String::new(),
        }
    }

    #[test]
    fn classifies_codes() {
        use ErrorClass::*;
        assert_eq!(
            api("AuthFailure.SecretIdNotFound").class(Action::PullEvents),
            Fatal
        );
        assert_eq!(
            api("UnauthorizedOperation").class(Action::ConfirmEvents),
            Fatal
        );
        assert_eq!(
            api("FailedOperation.InvalidVodUser").class(Action::PullEvents),
            Fatal
        );
        assert_eq!(api("FailedOperation").class(Action::PullEvents), Transient);
        assert_eq!(
            api("RequestLimitExceeded").class(Action::PullEvents),
            Transient
        );
        assert_eq!(api("InternalError").class(Action::ConfirmEvents), Transient);
        assert_eq!(api("ResourceNotFound").class(Action::PullEvents), Empty);
        assert_eq!(
            api("InvalidParameterValue").class(Action::ConfirmEvents),
            Rejected
        );
        assert_eq!(api("Something.New").class(Action::PullEvents), Transient);
    }

    #[test]
    fn labels_are_a_closed_set() {
        assert_eq!(
            api("AuthFailure.SignatureExpire").label(),
            "AuthFailure.SignatureExpire"
        );
        assert_eq!(api("Made.Up.Code").label(), "other");
        assert_eq!(
            ApiError::Timeout {
                action: "PullEvents"
            }
            .label(),
            "timeout"
        );
    }
}
