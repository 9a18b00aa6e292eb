//! Fault test: the NATS server is killed (SIGKILL) in the middle of a callback stream and
//! started again on the same port and JetStream store. The sender keeps going the whole time and
//! retries every callback not answered 200, as the vendors do. Afterwards every callback ever
//! answered 200 must be in the stream (read back from the first message): the bridge answers
//! 200 only on a PubAck, and a PubAck means the file store has it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use vodbridge_test_support::nats::NatsServer;
use vodbridge_tests::ledger::Ledger;
use vodbridge_tests::nats::{bridge_config, read_stream};
use vodbridge_tests::sender::{Sender, SenderConfig};
use vodbridge_tests::{free_port, vodbridge_binary, Bridge};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::print_stdout, reason = "the figures are the test's output")]
async fn nats_killed_mid_stream_loses_nothing_acknowledged() {
    vodbridge_binary();
    let started = Instant::now();
    let mut nats = NatsServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (listen, admin) = (free_port(), free_port());
    let config = bridge_config(listen, admin, &nats.url(), "");
    let bridge = Bridge::start(dir.path(), &config, admin).await;

    let ledger = Arc::new(Ledger::new(
        "fault_nats: nats-server SIGKILLed mid-stream, restarted after 2 s (same port and store)",
    ));
    let sender = Sender::start(
        SenderConfig::new(format!("http://127.0.0.1:{listen}/v1/callbacks/tencent")),
        Arc::clone(&ledger),
    );

    tokio::time::sleep(Duration::from_secs(2)).await;
    let before_kill = ledger.acknowledged();
    nats.stop().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    nats.start_again().await;
    let restarted = ledger.acknowledged();
    tokio::time::sleep(Duration::from_secs(3)).await;
    sender.stop().await;
    let after_restart = ledger.acknowledged() - restarted;

    let read = read_stream(&nats.url(), &ledger).await;
    let report = ledger.report();
    println!(
        "acknowledged before the kill: {before_kill}, during the outage and restart: {}, after: {after_restart}; \
         stream messages read: {read}; wall time {:.1?}",
        restarted - before_kill,
        started.elapsed()
    );
    report.assert_nothing_lost(&bridge.log());
    report.assert_outage_answered(before_kill, after_restart);
}
