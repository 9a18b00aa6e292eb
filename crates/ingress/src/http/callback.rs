//! `POST /v1/callbacks/{source}`: verify, normalize, deliver, answer.

use std::borrow::Cow;
use std::collections::HashMap;
use std::task::Poll;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use tracing::{debug, error, warn};
use vodbridge_core::{DeadLetter, ErrorChain, TraceContext, TraceOrigin};
use vodbridge_normalizer::{dead_letter_id, normalize, SourceContext};

use super::error::CallbackError;
use super::source::CallbackSource;
use super::verify::verify;
use super::HttpState;

/// The W3C Trace Context request headers.
const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";

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
    let inner = &state.inner;
    // A sender that stalls mid-body is cut off: hyper's own timeout covers only the headers.
    let mut read = std::pin::pin!(Bytes::from_request(Request::from_parts(parts, body), &()));
    // A callback body usually arrives with its headers and is read at the first poll; the
    // timeout is set up only when it was not. Setting one up costs a clock read and a runtime
    // handle look-up, and dropping it takes the timer driver's lock, even when it never fires.
    let read = match futures::poll!(read.as_mut()) {
        Poll::Ready(result) => Ok(result),
        Poll::Pending => tokio::time::timeout(inner.body_timeout, read).await,
    };
    let body = match read {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(rejection)) => Err(match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => CallbackError::TooLarge(inner.max_body_bytes),
            _ => CallbackError::UnreadableBody,
        }),
        Err(_elapsed) => Err(CallbackError::BodyTimeout(inner.body_timeout)),
    };
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
    body: Result<Bytes, CallbackError>,
) -> Result<Response, CallbackError> {
    let inner = &state.inner;
    let trace = trace_context(state, source, headers);
    let body = body?;
    // Most callbacks carry no query string: skip the parse (and its map) for them.
    let query: HashMap<String, String> = match uri.query() {
        Some(_) => Query::try_from_uri(uri)
            .map(|Query(q)| q)
            .unwrap_or_default(),
        None => HashMap::new(),
    };
    if let Err(auth) = verify(&source.auth, headers, &query, &body, unix_now()) {
        // Unauthenticated input is not ours to keep: counted and logged, not dead-lettered.
        warn!(source = %source.name, trace_id = %trace, reason = auth.reason(), "callback rejected: not authenticated");
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
    if let Some(content_type) = unsupported_content_type(headers) {
        // The sender is authenticated, so what it sent is kept even though it is not a callback.
        let reason = format!("unsupported content type {content_type:?}");
        dead_letter(
            state,
            source,
            &body,
            "unsupported_media_type",
            reason,
            received_at,
            &trace,
        )
        .await?;
        return Err(CallbackError::UnsupportedMediaType(content_type));
    }
    let mut events = match normalize(source.provider, &body, &ctx) {
        Ok(events) => events,
        Err(err) => {
            dead_letter(
                state,
                source,
                &body,
                err.reason(),
                err.to_string(),
                received_at,
                &trace,
            )
            .await?;
            return Err(CallbackError::Malformed(err));
        }
    };
    for event in &mut events {
        event.set_trace(&trace);
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
    let count = events.len();
    inner
        .dispatcher
        .deliver(events)
        .await
        .map_err(|e| {
            debug!(source = %source.name, trace_id = %trace, error = %ErrorChain(&e), "callback not delivered; asking the sender to retry");
            CallbackError::Delivery(e)
        })?;
    debug!(source = %source.name, trace_id = %trace, events = count, "callback delivered");
    Ok(ok_response(count))
}

/// Store `body` as a dead letter; `Ok` once it is acknowledged (the caller then answers 4xx),
/// [`CallbackError::DeadLetterFailed`] (503, so the sender retries) when it is not.
async fn dead_letter(
    state: &HttpState,
    source: &CallbackSource,
    body: &Bytes,
    reason: &'static str,
    detail: String,
    received_at: DateTime<Utc>,
    trace: &TraceContext,
) -> Result<(), CallbackError> {
    let inner = &state.inner;
    let letter = DeadLetter {
        id: dead_letter_id(&source.name, body),
        source_name: source.name.clone(),
        source: source.ce_source.clone(),
        provider: source.provider,
        reason: detail,
        received_at: received_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        ingress: "http",
        body: body.to_vec(),
        trace: Some(trace.clone()),
    };
    // 4xx only once the raw body is safely stored: nothing the bridge was given is lost.
    match inner.dispatcher.dead_letter(&letter).await {
        Ok(()) => {
            inner
                .metrics
                .dead_letters
                .with_label_values(&[source.name.as_str(), reason])
                .inc();
            warn!(source = %source.name, trace_id = %trace, reason, error = %letter.reason, id = %letter.id, "payload dead-lettered");
            Ok(())
        }
        Err(delivery) => {
            error!(source = %source.name, trace_id = %trace, reason, error = %ErrorChain(&delivery), "dead letter not stored; asking the sender to retry");
            Err(CallbackError::DeadLetterFailed(delivery))
        }
    }
}

/// The trace the callback continues (its valid `traceparent` and `tracestate`) or starts. An
/// invalid `traceparent` is the sender's tracing problem, not a bad callback: it is counted and
/// a new trace starts.
fn trace_context(state: &HttpState, source: &CallbackSource, headers: &HeaderMap) -> TraceContext {
    let (trace, origin) = TraceContext::continue_or_start(
        headers.get(TRACEPARENT).map(HeaderValue::as_bytes),
        headers
            .get_all(TRACESTATE)
            .iter()
            .map(HeaderValue::as_bytes),
    );
    if origin == TraceOrigin::Invalid {
        state
            .inner
            .metrics
            .traceparent_invalid
            .with_label_values(&[source.name.as_str()])
            .inc();
        debug!(source = %source.name, trace_id = %trace, "invalid traceparent ignored; a new trace starts");
    }
    trace
}

/// The media type of a `Content-Type` no vendor callback uses, or `None` when it is acceptable:
/// absent, JSON (`application/json`, `text/json`, any `+json`), `application/octet-stream`
/// (Volcengine's default) or `text/plain`, with any parameters. Lenient on purpose: Tencent
/// documents no content type for normal callbacks. Forms, multipart, HTML and XML are refused.
fn unsupported_content_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?;
    let Ok(text) = value.to_str() else {
        return Some("(not ASCII)".to_owned());
    };
    let essence = text.split(';').next().unwrap_or_default().trim();
    let accepted = essence.is_empty()
        || [
            "application/json",
            "text/json",
            "application/octet-stream",
            "text/plain",
        ]
        .iter()
        .any(|ok| essence.eq_ignore_ascii_case(ok))
        || (essence.len() > 5
            && essence.as_bytes()[essence.len() - 5..].eq_ignore_ascii_case(b"+json"));
    // The value is the sender's: keep what is echoed back and logged short.
    (!accepted).then(|| essence.chars().take(64).collect())
}

/// `{"events":N,"status":"ok"}` — byte for byte what `Json(json!({..}))` gives (keys sorted),
/// written directly instead of through a `serde_json::Map`.
fn ok_response(events: usize) -> Response {
    // A callback carries one event: its answer is a constant, with no allocation for the text.
    let body = match events {
        1 => Cow::Borrowed(r#"{"events":1,"status":"ok"}"#),
        n => Cow::Owned(format!(r#"{{"events":{n},"status":"ok"}}"#)),
    };
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
