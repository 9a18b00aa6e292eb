//! Shared helpers of the HTTP receiver tests: a recording test double of the `Sink` trait (not a
//! broker: it stands in for one at the trait boundary) and request builders.
#![allow(dead_code, unreachable_pub)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Body;
use axum::Router;
use http::{Request, Response};
use http_body_util::BodyExt as _;
use prometheus::Registry;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;
use vodbridge_core::{CanonicalEvent, Sink, SinkError, SinkHealth};
use vodbridge_ingress::http::{router, CallbackSource, HttpSettings, HttpState};
use vodbridge_ingress::{DeadLetterRoute, Dispatcher};

/// How the recording sink answers.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Acknowledge at once.
    Ack,
    /// Fail with a retriable error.
    Fail,
    /// Never answer (ack timeout).
    Hang,
    /// Wait for a permit from `gate` (load shedding tests).
    Gated,
}

/// A sink test double that records every batch it acknowledged.
pub struct RecordingSink {
    name: String,
    mode: Mutex<Mode>,
    pub gate: Semaphore,
    /// `(destination, events)`; destination `None` for `publish`.
    pub batches: Mutex<Vec<(Option<String>, Vec<CanonicalEvent>)>>,
}

impl RecordingSink {
    pub fn new(name: &str, mode: Mode) -> Arc<Self> {
        Arc::new(Self {
            name: name.into(),
            mode: Mutex::new(mode),
            gate: Semaphore::new(0),
            batches: Mutex::default(),
        })
    }

    pub fn events(&self) -> Vec<CanonicalEvent> {
        self.batches
            .lock()
            .expect("lock")
            .iter()
            .filter(|(d, _)| d.is_none())
            .flat_map(|(_, e)| e.clone())
            .collect()
    }

    pub fn dead_letters(&self) -> Vec<(String, CanonicalEvent)> {
        self.batches
            .lock()
            .expect("lock")
            .iter()
            .filter_map(|(d, e)| d.clone().map(|d| (d, e[0].clone())))
            .collect()
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().expect("lock") = mode;
    }

    async fn answer(
        &self,
        destination: Option<&str>,
        events: &[CanonicalEvent],
    ) -> Result<(), SinkError> {
        let mode = *self.mode.lock().expect("lock");
        match mode {
            Mode::Ack => {}
            Mode::Fail => {
                return Err(SinkError::retriable(
                    &self.name,
                    "unreachable",
                    "broker down",
                ))
            }
            Mode::Hang => std::future::pending::<()>().await,
            Mode::Gated => self.gate.acquire().await.expect("gate").forget(),
        }
        self.batches
            .lock()
            .expect("lock")
            .push((destination.map(str::to_owned), events.to_vec()));
        Ok(())
    }
}

#[async_trait]
impl Sink for RecordingSink {
    fn name(&self) -> &str {
        &self.name
    }
    async fn publish(&self, events: &[CanonicalEvent]) -> Result<(), SinkError> {
        self.answer(None, events).await
    }
    async fn publish_to(
        &self,
        destination: &str,
        events: &[CanonicalEvent],
    ) -> Result<(), SinkError> {
        self.answer(Some(destination), events).await
    }
    async fn health(&self) -> SinkHealth {
        SinkHealth::Healthy
    }
    async fn flush(&self, _deadline: Duration) -> Result<(), SinkError> {
        Ok(())
    }
}

/// A router over `sources` delivering to `sinks`; dead letters go to the first sink at
/// `dead/letters`.
pub struct Harness {
    pub router: Router,
    pub registry: Registry,
}

pub fn harness(
    sources: Vec<CallbackSource>,
    sinks: &[Arc<RecordingSink>],
    settings: HttpSettings,
) -> Harness {
    harness_with_timeout(sources, sinks, settings, Duration::from_secs(5))
}

pub fn harness_with_timeout(
    sources: Vec<CallbackSource>,
    sinks: &[Arc<RecordingSink>],
    settings: HttpSettings,
    ack_timeout: Duration,
) -> Harness {
    let registry = Registry::new();
    let dyn_sinks: Vec<Arc<dyn Sink>> = sinks
        .iter()
        .map(|s| Arc::clone(s) as Arc<dyn Sink>)
        .collect();
    let route = DeadLetterRoute {
        sink: Arc::clone(&dyn_sinks[0]),
        destination: "dead/letters".into(),
    };
    let dispatcher =
        Dispatcher::new(dyn_sinks, Some(route), ack_timeout, &registry).expect("dispatcher");
    let state = HttpState::new(settings, sources, dispatcher, &registry).expect("state");
    Harness {
        router: router(state),
        registry,
    }
}

pub fn request(uri: &str, headers: &[(&str, &str)], body: &[u8]) -> Request<Body> {
    let mut builder = Request::post(uri).header("content-type", "application/octet-stream");
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    builder.body(Body::from(body.to_vec())).expect("request")
}

/// Send one request without a socket; return status, headers and the JSON body.
pub async fn send(
    router: &Router,
    req: Request<Body>,
) -> (http::StatusCode, http::HeaderMap, serde_json::Value) {
    let response: Response<Body> = router.clone().oneshot(req).await.expect("infallible");
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (parts.status, parts.headers, json)
}

/// Sum of a counter family's samples whose labels include every `(name, value)` in `labels`.
pub fn counter(registry: &Registry, family: &str, labels: &[(&str, &str)]) -> f64 {
    vodbridge_test_support::metrics::metric(registry, family, labels)
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

pub const TENCENT_UPLOAD: &str = r#"{"EventType":"NewFileUpload","FileUploadEvent":{"FileId":"5285890784273533167","MediaBasicInfo":{"Name":"a","CreateTime":"2019-01-09T16:36:22Z"}}}"#;

pub const VOLC_UPLOAD: &str = "{\"RequestId\":\"r-1\",\"Version\":\"1.0\",\"EventType\":\"FileUploadComplete\",\"EventTime\":\"2024-05-06T09:49:33Z\",\"Data\":{\"Code\":\"Success\",\"Vid\":\"v0d399g1\",\"SpaceName\":\"s\"}}";
