//! Fault test: a broker that hangs. A TCP proxy between the bridge and nats-server stops moving
//! bytes (connections stay open, nothing is answered) while a burst of callbacks arrives from
//! more senders than `server.max_in_flight` admits. Expected: callbacks are answered 503
//! `ack_timeout` after `server.ack_timeout` (500 ms here) instead of hanging, the excess is shed at
//! once with 503 `overloaded`, in-flight requests never exceed `max_in_flight`, and the bridge's
//! memory stays bounded. When the proxy forwards again delivery resumes, and every callback
//! answered 200 is in the stream.

use std::sync::Arc;
use std::time::{Duration, Instant};

use vodbridge_test_support::metrics::scraped;
use vodbridge_test_support::nats::NatsServer;
use vodbridge_test_support::proxy::TcpProxy;
use vodbridge_tests::ledger::Ledger;
use vodbridge_tests::nats::{bridge_config, read_stream};
use vodbridge_tests::sender::{Sender, SenderConfig};
use vodbridge_tests::{free_port, vodbridge_binary, Bridge};

/// `server.max_in_flight` of the bridge under test.
const MAX_IN_FLIGHT: u64 = 16;
/// Senders during the stall: four times what the bridge admits at once.
const BURST_WORKERS: usize = 64;
/// A generous bound on the bridge's resident memory (a debug build idles at a few tens of MiB).
const RSS_BOUND_KIB: u64 = 256 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::print_stdout, reason = "the figures are the test's output")]
async fn stalled_broker_answers_503_with_bounded_memory_and_in_flight() {
    vodbridge_binary();
    let started = Instant::now();
    let nats = NatsServer::start().await;
    let proxy = TcpProxy::start(([127, 0, 0, 1], nats.port()).into())
        .await
        .expect("proxy");
    let dir = tempfile::tempdir().expect("temp dir");
    let (listen, admin) = (free_port(), free_port());
    let config = bridge_config(
        listen,
        admin,
        &format!("nats://127.0.0.1:{}", proxy.port()),
        &format!("ack_timeout = \"500ms\"\nmax_in_flight = {MAX_IN_FLIGHT}"),
    );
    let mut bridge = Bridge::start(dir.path(), &config, admin).await;
    let url = format!("http://127.0.0.1:{listen}/v1/callbacks/tencent");

    let ledger = Arc::new(Ledger::new(format!(
        "fault_slow: proxy to nats-server stalled for 4 s; ack_timeout 500 ms, max_in_flight \
         {MAX_IN_FLIGHT}, {BURST_WORKERS} burst senders"
    )));
    let steady = Sender::start(SenderConfig::new(url.clone()), Arc::clone(&ledger));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_before = bridge.rss_kib().unwrap_or(0);
    let before_stall = ledger.acknowledged();

    proxy.stall();
    let stalled_at = Instant::now();
    // Answers already on their way back through the proxy may still land; nothing after that.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let acknowledged_at_stall = ledger.acknowledged();
    let burst = Sender::start(
        SenderConfig {
            workers: BURST_WORKERS,
            pace: Duration::ZERO,
            first: 1_000_000,
            ..SenderConfig::new(url)
        },
        Arc::clone(&ledger),
    );
    let mut samples = Vec::new();
    let (mut max_rss, mut max_in_flight) = (rss_before, 0.0f64);
    while stalled_at.elapsed() < Duration::from_secs(4) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        bridge.assert_running();
        let rss = bridge.rss_kib().unwrap_or(0);
        let in_flight = scraped(
            &bridge.metrics().await,
            "vodbridge_http_in_flight_requests",
            &[],
        );
        max_rss = max_rss.max(rss);
        max_in_flight = max_in_flight.max(in_flight);
        samples.push(format!(
            "{:>5.2}s rss {:>6} KiB in-flight {in_flight}",
            stalled_at.elapsed().as_secs_f64(),
            rss
        ));
    }
    let acknowledged_during_stall = ledger.acknowledged() - acknowledged_at_stall;
    let during_stall = ledger.report();
    let metrics_stalled = bridge.metrics().await;

    proxy.resume();
    let resumed = ledger.acknowledged();
    tokio::time::sleep(Duration::from_secs(3)).await;
    burst.stop().await;
    steady.stop().await;
    let after_resume = ledger.acknowledged() - resumed;
    let rss_after = bridge.rss_kib().unwrap_or(0);

    let read = read_stream(&nats.url(), &ledger).await;
    let report = ledger.report();
    let rejected = |reason: &str| {
        scraped(
            &metrics_stalled,
            "vodbridge_callbacks_rejected_total",
            &[("reason", reason)],
        )
    };
    let (ack_timeouts, overloaded) = (rejected("ack_timeout"), rejected("overloaded"));
    println!(
        "RSS and in-flight samples while stalled:\n{}",
        samples.join("\n")
    );
    println!(
        "RSS before the stall {rss_before} KiB, max while stalled {max_rss} KiB, after {rss_after} KiB; \
         max in-flight {max_in_flight} (limit {MAX_IN_FLIGHT}); /metrics rejected while stalled: \
         ack_timeout {ack_timeouts}, overloaded {overloaded}; acknowledged during the stall \
         {acknowledged_during_stall}, after it {after_resume}; proxy {:?}; stream messages read: \
         {read}; wall time {:.1?}",
        proxy.stats(),
        started.elapsed()
    );
    report.assert_nothing_lost(&bridge.log());
    assert!(
        ack_timeouts > 0.0
            && during_stall
                .reasons
                .get("ack_timeout")
                .copied()
                .unwrap_or(0)
                > 0,
        "a stalled broker surfaces as 503 ack_timeout\n{report}"
    );
    assert!(
        overloaded > 0.0 && during_stall.reasons.get("overloaded").copied().unwrap_or(0) > 0,
        "senders beyond max_in_flight are shed with 503 overloaded\n{report}"
    );
    assert!(
        max_in_flight <= MAX_IN_FLIGHT as f64,
        "in-flight {max_in_flight} exceeded max_in_flight {MAX_IN_FLIGHT}"
    );
    assert!(
        max_rss < RSS_BOUND_KIB,
        "RSS {max_rss} KiB over the bound {RSS_BOUND_KIB} KiB"
    );
    assert_eq!(
        acknowledged_during_stall, 0,
        "nothing can be acknowledged while the broker does not answer\n{report}"
    );
    assert!(
        before_stall > 0 && after_resume > 0,
        "callbacks accepted before the stall and after it\n{report}"
    );
}
