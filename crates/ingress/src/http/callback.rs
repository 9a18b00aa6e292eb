//! `POST /v1/callbacks/{source}`: verify, normalize, deliver, answer.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use chrono::{SecondsFormat, Utc};
use http::{HeaderMap, StatusCode, Uri};
use tracing::{debug, error, warn};
use vodbridge_core::DeadLetter;
use vodbridge_normalizer::{dead_letter_id, normalize, SourceContext};

use super::error::CallbackError;
use super::source::CallbackSource;
use super::verify::verify;
use super::HttpState;

/// Canonical type the normalizer gives vendor event types it has no mapping for.
pub use vodbridge_normalizer::UNMAPPED_TYPE;

/// The callback handler. The body is read as raw bytes whatever the `Content-Type` (Volcengine
/// sends `application/octet-stream` by default) because signatures cover the exact bytes.
pub(crate) async fn handle(
    State(state): State<HttpState>,
    Path(source): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, CallbackError> {
    let inner = &state.inner;
    let source = inner
        .sources
        .get(&source)
        .ok_or(CallbackError::UnknownSource)?;
    let result = accept(&state, source, &uri, &headers, body).await;
    if let Err(err) = &result {
        inner
            .metrics
            .rejected
            .with_label_values(&[source.name.as_str(), reason(err)])
            .inc();
    }
    result
}

fn reason(err: &CallbackError) -> &'static str {
    match err {
        CallbackError::Unauthorized(auth) => auth.reason(),
        other => other.code(),
    }
}

async fn accept(
    state: &HttpState,
    source: &CallbackSource,
    uri: &Uri,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, CallbackError> {
    let inner = &state.inner;
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => CallbackError::TooLarge(inner.max_body_bytes),
        _ => CallbackError::UnreadableBody,
    })?;
    let query: HashMap<String, String> = Query::try_from_uri(uri)
        .map(|Query(q)| q)
        .unwrap_or_default();
    if let Err(auth) = verify(&source.auth, headers, &query, &body, unix_now()) {
        // Unauthenticated input is not ours to keep: counted and logged, not dead-lettered.
        warn!(source = %source.name, reason = auth.reason(), "callback rejected: not authenticated");
        return Err(auth.into());
    }
    let provider = source.provider.as_str();
    inner
        .metrics
        .received
        .with_label_values(&[source.name.as_str(), provider])
        .inc();
    let received_at = Utc::now();
    let ctx = SourceContext {
        source_name: &source.name,
        source_uri: &source.ce_source,
        received_at,
    };
    let events = match normalize(source.provider, &body, &ctx) {
        Ok(events) => events,
        Err(err) => {
            let letter = DeadLetter {
                id: dead_letter_id(&source.name, &body),
                source_name: source.name.clone(),
                source: source.ce_source.clone(),
                provider: source.provider,
                reason: err.to_string(),
                received_at: received_at.to_rfc3339_opts(SecondsFormat::Millis, true),
                ingress: "http",
                body: body.to_vec(),
            };
            // 400 only once the raw body is safely stored: nothing the bridge was given is lost.
            return match inner.dispatcher.dead_letter(&letter).await {
                Ok(()) => {
                    inner
                        .metrics
                        .dead_letters
                        .with_label_values(&[source.name.as_str(), err.reason()])
                        .inc();
                    warn!(source = %source.name, reason = err.reason(), error = %err, id = %letter.id, "payload dead-lettered");
                    Err(CallbackError::Malformed(err.to_string()))
                }
                Err(delivery) => {
                    error!(source = %source.name, reason = err.reason(), error = %delivery, "dead letter not stored; asking the sender to retry");
                    Err(CallbackError::DeadLetterFailed(delivery))
                }
            };
        }
    };
    for event in &events {
        inner
            .metrics
            .normalized
            .with_label_values(&[source.name.as_str(), provider, event.ty.as_str()])
            .inc();
        if event.ty == UNMAPPED_TYPE {
            inner
                .metrics
                .unmapped
                .with_label_values(&[source.name.as_str(), provider])
                .inc();
        }
    }
    inner
        .dispatcher
        .deliver(&events)
        .await
        .map_err(CallbackError::Delivery)?;
    debug!(source = %source.name, events = events.len(), "callback delivered");
    Ok((
        StatusCode::OK,
        Json(serde_json::json!({ "status": "ok", "events": events.len() })),
    )
        .into_response())
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
