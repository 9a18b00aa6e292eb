//! The axum callback receiver and the admin endpoints.
//!
//! [`router`] serves `POST /v1/callbacks/{source}`: read the raw body, check the source's
//! signature rules ([`verify`]), normalize with the source's provider, hand the events to the
//! [`Dispatcher`] and answer 200 only after every sink acknowledged (503 + `Retry-After`
//! otherwise). Bodies that cannot be normalized are stored as dead letters before the 400.
//! [`admin_router`] serves `/healthz`, `/readyz` and `/metrics`.

mod admin;
mod callback;
mod error;
mod metrics;
mod serve;
mod source;
pub mod verify;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use futures::future::BoxFuture;
use tokio::sync::Semaphore;

pub use admin::{admin_router, AdminState};
pub use callback::UNMAPPED_TYPE;
pub use error::CallbackError;
pub use serve::{serve, ConnectionMetrics};
pub use source::{CallbackSource, SourceAuth, VolcengineAuth, DEFAULT_MAX_CLOCK_SKEW};

use crate::dispatch::Dispatcher;
use metrics::HttpMetrics;

/// Limits of the receiver (`[server]` configuration).
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Largest accepted body; larger ones get 413.
    pub max_body_bytes: usize,
    /// Requests processed at once; more are answered 503 at once (load shedding, not queueing).
    pub max_in_flight: usize,
    /// How long a body may take to arrive after the request headers; slower ones get 408.
    pub body_timeout: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            max_in_flight: 1024,
            body_timeout: Duration::from_secs(15),
        }
    }
}

/// Shared state of the callback router; cheap to clone.
#[derive(Clone)]
pub struct HttpState {
    inner: Arc<Inner>,
}

struct Inner {
    sources: HashMap<String, CallbackSource>,
    dispatcher: Dispatcher,
    metrics: HttpMetrics,
    in_flight: Arc<Semaphore>,
    max_body_bytes: usize,
    body_timeout: Duration,
}

impl HttpState {
    /// Build the receiver state and register its metrics on `registry`.
    pub fn new(
        settings: HttpSettings,
        sources: Vec<CallbackSource>,
        dispatcher: Dispatcher,
        registry: &prometheus::Registry,
    ) -> prometheus::Result<Self> {
        let metrics = HttpMetrics::register(registry)?;
        for source in &sources {
            // Initialized, so a dashboard sees a zero rather than no series.
            metrics
                .traceparent_invalid
                .with_label_values(&[source.name.as_str()]);
        }
        let sources = sources.into_iter().map(|s| (s.name.clone(), s)).collect();
        let inner = Inner {
            sources,
            dispatcher,
            metrics,
            in_flight: Arc::new(Semaphore::new(settings.max_in_flight.max(1))),
            max_body_bytes: settings.max_body_bytes,
            body_timeout: settings.body_timeout,
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// The dispatcher the receiver delivers to.
    pub fn dispatcher(&self) -> &Dispatcher {
        &self.inner.dispatcher
    }
}

/// Route template of the callback endpoint (also its `route` metric label).
const CALLBACK_ROUTE: &str = "/v1/callbacks/{source}";

/// The callback router: `POST /v1/callbacks/{source}`; everything else is a JSON 404.
pub fn router(state: HttpState) -> Router {
    Router::new()
        .route(CALLBACK_ROUTE, post(callback::handle))
        .fallback(|| async { CallbackError::UnknownSource })
        .layer(DefaultBodyLimit::max(state.inner.max_body_bytes))
        .layer(TrackLayer {
            state: state.clone(),
        })
        .with_state(state)
}

/// Load shedding and request metrics around every request ([`Track`]).
///
/// A hand-written layer rather than `axum::middleware::from_fn`: that one boxes the inner service
/// and clones the state for every request, a measurable share of a callback's cost.
#[derive(Clone)]
struct TrackLayer {
    state: HttpState,
}

impl<S> tower::Layer<S> for TrackLayer {
    type Service = Track<S>;
    fn layer(&self, inner: S) -> Track<S> {
        Track {
            inner,
            state: self.state.clone(),
        }
    }
}

/// The service of [`TrackLayer`].
#[derive(Clone)]
struct Track<S> {
    inner: S,
    state: HttpState,
}

impl<S> tower::Service<Request> for Track<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The service that was polled ready handles this request; its clone waits for the next.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(track(self.state.clone(), request, inner))
    }
}

/// Load shedding and request metrics around one request.
async fn track<S>(state: HttpState, request: Request, mut inner: S) -> Result<Response, Infallible>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    let started = Instant::now();
    // `MatchedPath` is a shared string: cloning it does not allocate per request.
    let route = request.extensions().get::<MatchedPath>().cloned();
    let metrics = &state.inner.metrics;
    // A full house answers 503 at once: queueing would only make every caller time out.
    let response = match Arc::clone(&state.inner.in_flight).try_acquire_owned() {
        Ok(permit) => {
            // A guard, not a `dec()` after the await: a caller that hangs up drops this future.
            let _in_flight = InFlight::enter(&metrics.in_flight, permit);
            inner.call(request).await?
        }
        Err(_) => {
            // Shed before the source is known: the source label stays empty.
            metrics
                .rejected
                .with_label_values(&["", "overloaded"])
                .inc();
            CallbackError::Overloaded.into_response()
        }
    };
    let route = route.as_ref().map_or("unmatched", |p| p.as_str());
    let elapsed = started.elapsed().as_secs_f64();
    if route == CALLBACK_ROUTE && response.status() == http::StatusCode::OK {
        // The common case uses handles resolved once instead of a label look-up per request.
        let (requests, duration) = metrics.callback_ok();
        requests.inc();
        duration.observe(elapsed);
    } else {
        metrics
            .requests
            .with_label_values(&[route, response.status().as_str()])
            .inc();
        metrics
            .duration
            .with_label_values(&[route])
            .observe(elapsed);
    }
    Ok(response)
}

/// Holds an in-flight slot and the gauge increment for as long as a request runs.
struct InFlight {
    gauge: prometheus::IntGauge,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl InFlight {
    fn enter(gauge: &prometheus::IntGauge, permit: tokio::sync::OwnedSemaphorePermit) -> Self {
        gauge.inc();
        Self {
            gauge: gauge.clone(),
            _permit: permit,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}
