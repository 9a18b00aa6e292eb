//! Admin endpoints: liveness, readiness (sinks and components), Prometheus text.

mod http_support;

use std::time::Duration;

use axum::body::Body;
use http::Request;
use http_support::*;
use prometheus::Registry;
use vodbridge_ingress::http::{admin_router, AdminState};
use vodbridge_ingress::{ComponentState, Dispatcher, Readiness};
use vodbridge_sink_file::FileSinkConfig;

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).expect("request")
}

#[tokio::test]
async fn readyz_lists_sinks_and_components() {
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = Registry::new();
    let file = vodbridge_sink_file::build(
        "local".into(),
        FileSinkConfig::new(dir.path().join("e.jsonl")),
        &registry,
    )
    .await
    .expect("open");
    let dispatcher =
        Dispatcher::new(vec![file], None, Duration::from_secs(1), &registry).expect("dispatcher");
    let readiness = Readiness::new();
    readiness.set("poller:tc", ComponentState::Ready);
    let app = admin_router(AdminState {
        dispatcher,
        readiness: readiness.clone(),
        registry: registry.clone(),
    });

    let (status, _, body) = send(&app, get("/healthz")).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "alive");

    let (status, _, body) = send(&app, get("/readyz")).await;
    assert_eq!(status, 200);
    assert_eq!(body["ready"], true);
    assert_eq!(body["sinks"][0]["name"], "local");
    assert_eq!(body["components"][0]["name"], "poller:tc");

    readiness.set("poller:tc", ComponentState::Failed("AuthFailure".into()));
    let (status, _, body) = send(&app, get("/readyz")).await;
    assert_eq!(status, 503);
    assert_eq!(body["ready"], false);
    assert_eq!(body["components"][0]["ready"], false);

    drop(dir); // the sink's directory disappears: not ready
    readiness.set("poller:tc", ComponentState::Ready);
    let (status, _, body) = send(&app, get("/readyz")).await;
    assert_eq!(status, 503);
    assert_eq!(body["sinks"][0]["ready"], false);
}

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let sink = RecordingSink::new("rec", Mode::Ack);
    let h = harness(
        vec![vodbridge_ingress::http::CallbackSource::new(
            "tc",
            vodbridge_core::Provider::Tencent,
        )],
        std::slice::from_ref(&sink),
        Default::default(),
    );
    let (status, _, _) = send(
        &h.router,
        request("/v1/callbacks/tc", &[], TENCENT_UPLOAD.as_bytes()),
    )
    .await;
    assert_eq!(status, 200);
    let dispatcher = Dispatcher::new(vec![], None, Duration::from_secs(1), &Registry::new())
        .expect("dispatcher");
    let app = admin_router(AdminState {
        dispatcher,
        readiness: Readiness::new(),
        registry: h.registry.clone(),
    });
    let response = tower::ServiceExt::oneshot(app, get("/metrics"))
        .await
        .expect("infallible");
    assert_eq!(response.status(), 200);
    let ctype = response.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(ctype.starts_with("text/plain"), "{ctype}");
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .expect("body")
        .to_bytes();
    let text = String::from_utf8(bytes.to_vec()).expect("utf8");
    assert!(
        text.contains(
            "vodbridge_http_requests_total{route=\"/v1/callbacks/{source}\",status=\"200\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains("vodbridge_sink_events_published_total{sink=\"rec\"} 1"),
        "{text}"
    );
}
