//! Why a callback was not accepted, and the HTTP answer for each case.

use std::time::Duration;

use axum::response::{IntoResponse, Response};
use axum::Json;
use http::{header, HeaderValue, StatusCode};

use vodbridge_normalizer::NormalizeError;

use super::verify::AuthError;
use crate::dispatch::DeliveryError;

/// A callback that is not answered 200.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    /// No source is configured under that name.
    #[error("unknown source")]
    UnknownSource,
    /// The body is larger than `max_body_bytes`.
    #[error("body larger than {0} bytes")]
    TooLarge(usize),
    /// The body could not be read (client went away, bad framing).
    #[error("body could not be read")]
    UnreadableBody,
    /// The body did not arrive within `server.body_timeout` of the request headers.
    #[error("body not received within {0:?}")]
    BodyTimeout(Duration),
    /// The `Content-Type` is not one a vendor callback uses (JSON, octet-stream, plain text, or
    /// none); the body was stored as a dead letter.
    #[error("unsupported content type {0:?}: send application/json or application/octet-stream")]
    UnsupportedMediaType(String),
    /// Signature or token check failed.
    #[error("not authenticated: {0}")]
    Unauthorized(#[from] AuthError),
    /// The body could not be normalized; it was stored as a dead letter. The text keeps the
    /// normalizer's reason (the answer's `message` and the dead letter's `reason` say the same).
    #[error("payload rejected: {0}")]
    Malformed(#[source] NormalizeError),
    /// The body could not be normalized and the dead letter was not acknowledged either.
    #[error("payload rejected and could not be stored; retry later")]
    DeadLetterFailed(#[source] DeliveryError),
    /// Not every sink acknowledged.
    #[error("events not acknowledged by every sink; retry later")]
    Delivery(#[source] DeliveryError),
    /// Too many requests in flight: shed instead of queueing.
    #[error("overloaded; retry later")]
    Overloaded,
}

impl CallbackError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            CallbackError::UnknownSource => StatusCode::NOT_FOUND,
            CallbackError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            CallbackError::UnreadableBody | CallbackError::Malformed(_) => StatusCode::BAD_REQUEST,
            CallbackError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            CallbackError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            CallbackError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            CallbackError::DeadLetterFailed(_)
            | CallbackError::Delivery(_)
            | CallbackError::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Short machine-readable code, also the `error` field of the JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            CallbackError::UnknownSource => "unknown_source",
            CallbackError::TooLarge(_) => "too_large",
            CallbackError::UnreadableBody => "unreadable_body",
            CallbackError::BodyTimeout(_) => "body_timeout",
            CallbackError::UnsupportedMediaType(_) => "unsupported_media_type",
            CallbackError::Unauthorized(_) => "unauthorized",
            CallbackError::Malformed(_) => "malformed",
            // With a spool, the spool's own reason (spool_full, spool_io) says why.
            CallbackError::Delivery(DeliveryError::Spool(e))
            | CallbackError::DeadLetterFailed(DeliveryError::Spool(e)) => e.reason(),
            CallbackError::DeadLetterFailed(_) => "dead_letter_failed",
            CallbackError::Delivery(DeliveryError::Timeout(_)) => "ack_timeout",
            CallbackError::Delivery(_) => "sink_failed",
            CallbackError::Overloaded => "overloaded",
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            CallbackError::Delivery(DeliveryError::Sink(e))
            | CallbackError::DeadLetterFailed(DeliveryError::Sink(e)) => {
                Some(e.retry_after.unwrap_or(DEFAULT_RETRY_AFTER))
            }
            CallbackError::Delivery(_) | CallbackError::DeadLetterFailed(_) => {
                Some(DEFAULT_RETRY_AFTER)
            }
            CallbackError::Overloaded => Some(Duration::from_secs(1)),
            _ => None,
        }
    }
}

/// `Retry-After` when a sink gives no hint.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);

impl IntoResponse for CallbackError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = Json(serde_json::json!({ "error": self.code(), "message": self.to_string() }));
        let mut response = (status, body).into_response();
        if let Some(after) = self.retry_after() {
            let secs = after.as_secs().max(1);
            if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}
