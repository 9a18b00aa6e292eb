//! Waiting for a sink's health to change, as the start-up and recovery tests of every sink do.

use std::time::Duration;

use vodbridge_core::{Sink, SinkHealth};

/// Poll `sink.health()` every 100 ms until it satisfies `accept`; panic after `within` with the
/// last answer and `log()` (the broker's log, which usually says why).
pub async fn wait_health(
    sink: &dyn Sink,
    within: Duration,
    accept: impl Fn(&SinkHealth) -> bool,
    log: impl Fn() -> String,
) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let health = sink.health().await;
        if accept(&health) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "health still {health:?} after {within:?}; broker log:\n{}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
