//! `POST /v1/callbacks/{source}`: verify, normalize, deliver, answer.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{SecondsFormat, Utc};
use http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
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
    request: Request,
) -> Result<Response, CallbackError> {
    // The request is taken whole rather than through the `Uri` and `HeaderMap` extractors,
    // which clone both for every request; reading the body needs neither.
    let (mut parts, body) = request.into_parts();
    let headers = std::mem::take(&mut parts.headers);
    let uri = std::mem::take(&mut parts.uri);
    let body = Bytes::from_request(Request::from_parts(parts, body), &()).await;
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
    // Most callbacks carry no query string: skip the parse (and its map) for them.
    let query: HashMap<String, String> = match uri.query() {
        Some(_) => Query::try_from_uri(uri)
            .map(|Query(q)| q)
            .unwrap_or_default(),
        None => HashMap::new(),
    };
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
    Ok(ok_response(events.len()))
}

/// `{"events":N,"status":"ok"}` — byte for byte what `Json(json!({..}))` gives (keys sorted),
/// written directly instead of through a `serde_json::Map`.
fn ok_response(events: usize) -> Response {
    let body = format!(r#"{{"events":{events},"status":"ok"}}"#);
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test]
    async fn ok_response_matches_the_json_value_encoding() {
        for n in [0usize, 1, 16, 12345] {
            let response = ok_response(n);
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(
                response.headers().get(header::CONTENT_TYPE),
                Some(&HeaderValue::from_static("application/json"))
            );
            let body = response
                .into_body()
                .collect()
                .await
                .expect("body")
                .to_bytes();
            let expected = serde_json::to_vec(&serde_json::json!({ "status": "ok", "events": n }))
                .expect("json");
            assert_eq!(body.as_ref(), expected.as_slice());
        }
    }
}
