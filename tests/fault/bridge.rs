//! Fault test: the bridge itself is killed with SIGKILL in the middle of a callback stream and
//! started again on the same ports. Requests cut by the crash (reset connections) and refused
//! while it is down are retried by the sender; every callback answered 200 before, during or
//! after the crash must be in the JetStream stream. The bridge keeps no state of its own, so a
//! 200 must never depend on anything the crash can take away.

use std::sync::Arc;
use std::time::{Duration, Instant};

use vodbridge_test_support::nats::NatsServer;
use vodbridge_tests::ledger::Ledger;
use vodbridge_tests::nats::{bridge_config, read_stream};
use vodbridge_tests::sender::{Sender, SenderConfig};
use vodbridge_tests::{free_port, vodbridge_binary, Bridge};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::print_stdout, reason = "the figures are the test's output")]
async fn bridge_sigkilled_mid_stream_loses_nothing_acknowledged() {
    vodbridge_binary();
    let started = Instant::now();
    let nats = NatsServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (listen, admin) = (free_port(), free_port());
    let config = bridge_config(listen, admin, &nats.url(), "");
    let mut bridge = Bridge::start(dir.path(), &config, admin).await;

    let ledger = Arc::new(Ledger::new(
        "fault_bridge: vodbridge SIGKILLed mid-stream, restarted on the same ports after 1 s",
    ));
    let sender = Sender::start(
        SenderConfig::new(format!("http://127.0.0.1:{listen}/v1/callbacks/tencent")),
        Arc::clone(&ledger),
    );

    tokio::time::sleep(Duration::from_secs(2)).await;
    let before_kill = ledger.acknowledged();
    let first_pid = bridge.pid();
    bridge.kill();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let restart = Instant::now();
    bridge.restart(Duration::from_secs(30)).await;
    let ready_after = restart.elapsed();
    let restarted = ledger.acknowledged();
    tokio::time::sleep(Duration::from_secs(3)).await;
    sender.stop().await;
    let after_restart = ledger.acknowledged() - restarted;

    let read = read_stream(&nats.url(), &ledger).await;
    let report = ledger.report();
    println!(
        "pid {first_pid} killed, pid {} ready {ready_after:.1?} after the restart; acknowledged before the kill: \
         {before_kill}, after the restart: {after_restart}; stream messages read: {read}; wall time {:.1?}",
        bridge.pid(),
        started.elapsed()
    );
    report.assert_nothing_lost(&bridge.log());
    assert!(
        before_kill > 0 && after_restart > 0,
        "callbacks must be accepted before the kill and after the restart\n{report}"
    );
    assert!(
        report.transport_errors > 0,
        "the crash must have been noticed (refused or reset connections)\n{report}"
    );
}
