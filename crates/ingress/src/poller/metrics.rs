//! `vodbridge_poller_*` metrics. Each poller registers its own series with a constant `source`
//! label, so several Tencent sources can share one registry.

use prometheus::{Gauge, Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts, Registry};

/// Metric handles of one poller, label values bound once.
#[derive(Clone)]
pub(crate) struct PollerMetrics {
    /// `PullEvents` calls by result (`events`, `empty`, `error`).
    pub(crate) pulls: IntCounterVec,
    /// Events received from `PullEvents`.
    pub(crate) events_pulled: IntCounter,
    /// Events confirmed with `ConfirmEvents`.
    pub(crate) events_confirmed: IntCounter,
    /// Pulled events whose canonical id was pulled before (redelivered by VOD).
    pub(crate) events_redelivered: IntCounter,
    /// Elements that could not be normalized and went to the dead-letter route.
    pub(crate) events_dead_lettered: IntCounter,
    /// Pulled events left unconfirmed, by reason (VOD redelivers them after 30 s).
    pub(crate) events_unconfirmed: IntCounterVec,
    /// API errors by action and code (documented codes, `other`, or a transport label).
    pub(crate) api_errors: IntCounterVec,
    /// Seconds from receiving a pull response to confirming its events.
    pub(crate) confirm_latency: Histogram,
    /// Age in seconds of the oldest pulled, not yet confirmed event in hand (0 when none).
    pub(crate) oldest_unconfirmed_age: Gauge,
}

impl PollerMetrics {
    /// Register the series of poller `source` on `registry`.
    pub(crate) fn register(registry: &Registry, source: &str) -> prometheus::Result<Self> {
        let opts = |name: &str, help: &str| Opts::new(name, help).const_label("source", source);
        let pulls = IntCounterVec::new(
            opts(
                "vodbridge_poller_pulls_total",
                "PullEvents calls by result.",
            ),
            &["result"],
        )?;
        let events_pulled = IntCounter::with_opts(opts(
            "vodbridge_poller_events_pulled_total",
            "Events received from PullEvents.",
        ))?;
        let events_confirmed = IntCounter::with_opts(opts(
            "vodbridge_poller_events_confirmed_total",
            "Events confirmed with ConfirmEvents.",
        ))?;
        let events_redelivered = IntCounter::with_opts(opts(
            "vodbridge_poller_events_redelivered_total",
            "Pulled events whose canonical id was pulled recently before (redelivered by VOD).",
        ))?;
        let events_dead_lettered = IntCounter::with_opts(opts(
            "vodbridge_poller_events_dead_lettered_total",
            "Pulled elements that could not be normalized and were dead-lettered.",
        ))?;
        let events_unconfirmed = IntCounterVec::new(
            opts(
                "vodbridge_poller_events_unconfirmed_total",
                "Pulled events left unconfirmed (VOD redelivers them), by reason.",
            ),
            &["reason"],
        )?;
        let api_errors = IntCounterVec::new(
            opts(
                "vodbridge_poller_api_errors_total",
                "VOD API errors by action and code.",
            ),
            &["action", "code"],
        )?;
        let confirm_latency = Histogram::with_opts(
            HistogramOpts::new(
                "vodbridge_poller_confirm_latency_seconds",
                "Time from receiving a PullEvents response to confirming its events.",
            )
            .const_label("source", source)
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0,
            ]),
        )?;
        let oldest_unconfirmed_age = Gauge::with_opts(opts(
            "vodbridge_poller_oldest_unconfirmed_age_seconds",
            "Age of the oldest pulled, not yet confirmed event in hand (0 when none).",
        ))?;
        registry.register(Box::new(pulls.clone()))?;
        registry.register(Box::new(events_pulled.clone()))?;
        registry.register(Box::new(events_confirmed.clone()))?;
        registry.register(Box::new(events_redelivered.clone()))?;
        registry.register(Box::new(events_dead_lettered.clone()))?;
        registry.register(Box::new(events_unconfirmed.clone()))?;
        registry.register(Box::new(api_errors.clone()))?;
        registry.register(Box::new(confirm_latency.clone()))?;
        registry.register(Box::new(oldest_unconfirmed_age.clone()))?;
        Ok(Self {
            pulls,
            events_pulled,
            events_confirmed,
            events_redelivered,
            events_dead_lettered,
            events_unconfirmed,
            api_errors,
            confirm_latency,
            oldest_unconfirmed_age,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_sources_share_a_registry() {
        let registry = Registry::new();
        let a = PollerMetrics::register(&registry, "a").expect("a");
        PollerMetrics::register(&registry, "b").expect("b");
        assert!(
            PollerMetrics::register(&registry, "a").is_err(),
            "same source twice is a wiring bug"
        );
        a.events_pulled.inc();
        let text = prometheus::TextEncoder::new()
            .encode_to_string(&registry.gather())
            .expect("encode");
        assert!(
            text.contains(r#"vodbridge_poller_events_pulled_total{source="a"} 1"#),
            "{text}"
        );
    }
}
