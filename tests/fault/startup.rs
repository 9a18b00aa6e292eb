//! Fault test: the broker is down when the bridge starts. The contract: the bridge starts anyway,
//! degraded — `/readyz` answers 503, callbacks are answered 503 with `Retry-After` (so vendors
//! retry, nothing is acknowledged that is not stored) — and once the broker is up, readiness
//! turns 200 and the retried callbacks are delivered. Nothing answered 200 may be missing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use vodbridge_test_support::nats::NatsServer;
use vodbridge_tests::ledger::{Ledger, Outcome};
use vodbridge_tests::nats::{bridge_config, read_stream};
use vodbridge_tests::sender::{media_id, post_once, Sender, SenderConfig};
use vodbridge_tests::{free_port, vodbridge_binary, Bridge};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::print_stdout, reason = "the figures are the test's output")]
async fn bridge_started_without_broker_is_degraded_then_delivers() {
    vodbridge_binary();
    let started = Instant::now();
    let mut nats = NatsServer::start().await;
    // Keep the port and the (empty) store, but nobody listens there when the bridge starts.
    nats.stop().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (listen, admin) = (free_port(), free_port());
    let config = bridge_config(listen, admin, &nats.url(), "");
    let mut bridge = Bridge::spawn(dir.path(), &config, admin);
    let url = format!("http://127.0.0.1:{listen}/v1/callbacks/tencent");

    // The bridge must come up (admin listener answering) while the broker is down.
    let deadline = Instant::now() + Duration::from_secs(20);
    let (status, body) = loop {
        bridge.assert_running();
        if let Some(answer) = bridge.readyz().await {
            break answer;
        }
        assert!(
            Instant::now() < deadline,
            "admin listener not up within 20 s; log:\n{}",
            bridge.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        status,
        503,
        "not ready while the broker is down: {body}; log:\n{}",
        bridge.log()
    );

    let ledger = Arc::new(Ledger::new(
        "fault_startup: vodbridge started with nats-server down; broker started 3 s later",
    ));
    // A callback now is refused with a hint when to come back.
    let client = reqwest::Client::new();
    let probe = media_id(999_999);
    ledger.sent(&probe);
    let outcome = post_once(&client, &url, &probe).await;
    ledger.answered(&probe, &outcome);
    assert!(
        matches!(
            &outcome,
            Outcome::Rejected {
                status: 503,
                retry_after: true,
                ..
            }
        ),
        "a callback while the broker is down: {outcome:?}; log:\n{}",
        bridge.log()
    );

    let sender = Sender::start(SenderConfig::new(url.clone()), Arc::clone(&ledger));
    tokio::time::sleep(Duration::from_secs(3)).await;
    bridge.assert_running();
    let acknowledged_while_down = ledger.acknowledged();

    nats.start_again().await;
    let broker_up = Instant::now();
    bridge.wait_ready(Duration::from_secs(30)).await;
    let ready_after = broker_up.elapsed();
    // The probe callback is retried too, like a vendor would.
    let retried = vodbridge_tests::sender::send_until_accepted(
        &client,
        &SenderConfig::new(url),
        &ledger,
        &probe,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    sender.stop().await;

    let read = read_stream(&nats.url(), &ledger).await;
    let report = ledger.report();
    println!(
        "ready {ready_after:.1?} after the broker started; acknowledged while it was down: \
         {acknowledged_while_down}; stream messages read: {read}; wall time {:.1?}",
        started.elapsed()
    );
    report.assert_nothing_lost(&bridge.log());
    assert_eq!(
        acknowledged_while_down, 0,
        "nothing can be acknowledged without a broker\n{report}"
    );
    assert!(retried, "the first refused callback is accepted on retry");
    report.assert_retry_after();
    assert_eq!(
        report.delivered, report.acknowledged,
        "every retried callback is delivered\n{report}"
    );
}
