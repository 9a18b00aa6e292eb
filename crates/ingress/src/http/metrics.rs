//! Receiver metrics (`vodbridge_*`). Labels come only from closed sets: configured source names,
//! providers, canonical types from the normalizer's taxonomy, route templates, status codes and
//! error reasons.

use std::sync::{Arc, OnceLock};

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
};

/// Metric handles of the HTTP receiver.
#[derive(Clone)]
pub(crate) struct HttpMetrics {
    pub(crate) received: IntCounterVec,
    pub(crate) normalized: IntCounterVec,
    pub(crate) unmapped: IntCounterVec,
    pub(crate) rejected: IntCounterVec,
    pub(crate) dead_letters: IntCounterVec,
    pub(crate) traceparent_invalid: IntCounterVec,
    pub(crate) requests: IntCounterVec,
    pub(crate) duration: HistogramVec,
    pub(crate) in_flight: IntGauge,
    /// `requests{route=callback,status=200}` and `duration{route=callback}`, resolved on first
    /// use (not at start-up, so `/metrics` lists no series before a request was seen).
    callback_ok: Arc<OnceLock<(IntCounter, Histogram)>>,
}

impl HttpMetrics {
    pub(crate) fn register(registry: &Registry) -> prometheus::Result<Self> {
        let received = IntCounterVec::new(
            Opts::new(
                "vodbridge_callbacks_received_total",
                "Authenticated callbacks received, by source.",
            ),
            &["source", "provider"],
        )?;
        let normalized = IntCounterVec::new(
            Opts::new(
                "vodbridge_events_normalized_total",
                "Canonical events produced, by canonical type.",
            ),
            &["source", "provider", "type"],
        )?;
        let unmapped = IntCounterVec::new(
            Opts::new(
                "vodbridge_events_unmapped_total",
                "Events of a vendor type with no canonical mapping (forwarded as vod.unmapped).",
            ),
            &["source", "provider"],
        )?;
        let rejected = IntCounterVec::new(
            Opts::new(
                "vodbridge_callbacks_rejected_total",
                "Callbacks not answered 200, by reason.",
            ),
            &["source", "reason"],
        )?;
        let dead_letters = IntCounterVec::new(
            Opts::new(
                "vodbridge_dead_letters_total",
                "Inputs stored as dead letters, by reason.",
            ),
            &["source", "reason"],
        )?;
        let traceparent_invalid = IntCounterVec::new(
            Opts::new(
                "vodbridge_traceparent_invalid_total",
                "Callbacks whose traceparent header was invalid and ignored (a new trace started).",
            ),
            &["source"],
        )?;
        let requests = IntCounterVec::new(
            Opts::new(
                "vodbridge_http_requests_total",
                "HTTP requests by route template and status.",
            ),
            &["route", "status"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "vodbridge_http_request_duration_seconds",
                "HTTP request duration by route template.",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ]),
            &["route"],
        )?;
        let in_flight = IntGauge::new(
            "vodbridge_http_in_flight_requests",
            "Callback requests being processed.",
        )?;
        for c in [
            &received,
            &normalized,
            &unmapped,
            &rejected,
            &dead_letters,
            &traceparent_invalid,
            &requests,
        ] {
            registry.register(Box::new(c.clone()))?;
        }
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(in_flight.clone()))?;
        Ok(Self {
            received,
            normalized,
            unmapped,
            rejected,
            dead_letters,
            traceparent_invalid,
            requests,
            duration,
            in_flight,
            callback_ok: Arc::default(),
        })
    }

    /// Handles for a callback answered 200: the request counter and the duration histogram.
    pub(crate) fn callback_ok(&self) -> &(IntCounter, Histogram) {
        self.callback_ok.get_or_init(|| {
            (
                self.requests
                    .with_label_values(&[super::CALLBACK_ROUTE, "200"]),
                self.duration.with_label_values(&[super::CALLBACK_ROUTE]),
            )
        })
    }
}
