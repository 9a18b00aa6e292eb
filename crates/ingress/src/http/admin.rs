//! Admin endpoints: `/healthz` (alive), `/readyz` (sinks — or the spool — and components ready),
//! `/metrics`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::{header, StatusCode};
use prometheus::{Encoder, Registry, TextEncoder};
use vodbridge_core::SinkHealth;
use vodbridge_spool::SpoolHealth;

use crate::dispatch::Dispatcher;
use crate::health::Readiness;

/// State of the admin router.
#[derive(Clone)]
pub struct AdminState {
    /// The sinks whose health `/readyz` reports.
    pub dispatcher: Dispatcher,
    /// Long-running components (pollers) whose state `/readyz` reports.
    pub readiness: Readiness,
    /// The registry `/metrics` exposes.
    pub registry: Registry,
}

/// `/healthz`, `/readyz`, `/metrics`.
pub fn admin_router(state: AdminState) -> Router {
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({ "status": "alive" })) }),
        )
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn readyz(State(state): State<AdminState>) -> Response {
    let sinks = state.dispatcher.health().await;
    let components = state.readiness.snapshot();
    let mut ready = true;
    // With a spool, callbacks are accepted while a broker is down (that is what the spool is
    // for): the spool's own health decides, and the sinks are reported for information.
    let spool = state.dispatcher.spool().map(|spool| {
        let (events, bytes) = spool.retained();
        let (ok, detail) = match spool.health() {
            SpoolHealth::Healthy => (true, None),
            SpoolHealth::Unhealthy(why) => (false, Some(why)),
        };
        ready &= ok;
        serde_json::json!({ "ready": ok, "detail": detail, "retained_events": events, "retained_bytes": bytes })
    });
    let sinks_decide = spool.is_none();
    let sinks: Vec<_> = sinks
        .into_iter()
        .map(|(name, health)| {
            let (ok, detail) = match health {
                SinkHealth::Healthy => (true, None),
                SinkHealth::Unhealthy(why) => (false, Some(why)),
            };
            if sinks_decide {
                ready &= ok;
            }
            serde_json::json!({ "name": name, "ready": ok, "detail": detail })
        })
        .collect();
    let components: Vec<_> = components
        .into_iter()
        .map(|(name, state)| {
            ready &= state.is_ready();
            serde_json::json!({ "name": name, "ready": state.is_ready(), "state": format!("{state:?}") })
        })
        .collect();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(serde_json::json!({ "ready": ready, "sinks": sinks, "components": components, "spool": spool })),
    )
        .into_response()
}

async fn metrics(State(state): State<AdminState>) -> Response {
    let encoder = TextEncoder::new();
    let mut body = Vec::new();
    match encoder.encode(&state.registry.gather(), &mut body) {
        Ok(()) => (
            [(header::CONTENT_TYPE, encoder.format_type().to_owned())],
            body,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
