//! Fault test: the Tencent reliable-callback poller while its only sink is down. The bridge
//! pulls from the fake VOD API (visibility timeout shortened to 3 s) into JetStream; nats-server
//! is stopped before the events are queued. Expected: no `ConfirmEvents` at all while the sink is
//! down (an event is confirmed only once every sink acknowledged it), the events come back after
//! their visibility timeout and are pulled again, and once the broker is back every event is
//! delivered and confirmed. Lost = confirmed at VOD but not in the stream.

use std::time::{Duration, Instant};

use vodbridge_test_support::fake_vod::{upload_event, FakeVod, FakeVodConfig};
use vodbridge_test_support::nats::NatsServer;
use vodbridge_tests::ledger::{Ledger, Outcome};
use vodbridge_tests::nats::read_stream;
use vodbridge_tests::{free_port, nats_sink_toml, vodbridge_binary, Bridge};

/// Events queued while the sink is down.
const EVENTS: u64 = 48;

fn config(listen: u16, admin: u16, nats_url: &str, fake: &FakeVod) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:{listen}"
admin_listen = "127.0.0.1:{admin}"
ack_timeout = "1s"
shutdown_timeout = "2s"

[log]
level = "info"

[[sources]]
name = "tencent"
provider = "tencent"

[sources.poll]
secret_id = "{secret_id}"
secret_key = "{secret_key}"
sub_app_id = 1500000001
endpoint = "{endpoint}"
concurrency = 2
backoff_initial = "50ms"
backoff_max = "500ms"
{sinks}
"#,
        secret_id = fake.config().secret_id,
        secret_key = fake.config().secret_key,
        endpoint = fake.endpoint(),
        sinks = nats_sink_toml(nats_url),
    )
}

/// The media id the normalizer gives [`upload_event`]`(n)`: its FileId.
fn file_id(n: u64) -> String {
    upload_event(n)["FileUploadEvent"]["FileId"]
        .as_str()
        .expect("FileId")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::print_stdout, reason = "the figures are the test's output")]
async fn poller_confirms_nothing_while_the_sink_is_down_and_everything_after() {
    vodbridge_binary();
    let started = Instant::now();
    let mut nats = NatsServer::start().await;
    let fake = FakeVod::start(FakeVodConfig {
        hold: Duration::from_millis(200),
        visibility_timeout: Duration::from_secs(3),
        ..FakeVodConfig::default()
    })
    .await
    .expect("fake vod");
    let dir = tempfile::tempdir().expect("temp dir");
    let (listen, admin) = (free_port(), free_port());
    let mut bridge = Bridge::start(
        dir.path(),
        &config(listen, admin, &nats.url(), &fake),
        admin,
    )
    .await;

    nats.stop().await;
    let ledger = Ledger::new(
        "fault_poller: PullEvents source, nats-server down for 7 s while 48 events wait \
         (visibility timeout 3 s); sent = queued at VOD, acknowledged = confirmed",
    );
    for n in 0..EVENTS {
        ledger.sent(&file_id(n));
        fake.push(upload_event(n));
    }
    let outage = Instant::now();
    let mut not_ready_seen = false;
    while outage.elapsed() < Duration::from_secs(7) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        bridge.assert_running();
        not_ready_seen |= matches!(bridge.readyz().await, Some((503, _)));
        assert_eq!(
            fake.requests("ConfirmEvents"),
            0,
            "ConfirmEvents while the sink is down; log:\n{}",
            bridge.log()
        );
    }
    let pulled_during_outage = fake.pulled_events();
    let counts = fake.delivery_counts();
    let min_deliveries = counts.iter().copied().min().unwrap_or(0);

    nats.start_again().await;
    let back = Instant::now();
    let all_confirmed = fake
        .wait_confirmed(EVENTS as usize, Duration::from_secs(30))
        .await;
    let confirmed_after = back.elapsed();
    for n in 0..EVENTS {
        if fake.is_confirmed(n as usize) {
            ledger.answered(&file_id(n), &Outcome::Accepted);
        }
    }
    let read = read_stream(&nats.url(), &ledger).await;
    let report = ledger.report();
    let metrics = bridge.metrics().await;
    let redelivered: Vec<&str> = metrics
        .lines()
        .filter(|l| {
            l.starts_with("vodbridge_poller_events_redelivered_total")
                || l.starts_with("vodbridge_poller_events_unconfirmed_total")
        })
        .collect();
    println!(
        "pulled during the outage: {pulled_during_outage} (each event at least {min_deliveries} times); \
         ConfirmEvents during the outage: 0; all {EVENTS} confirmed {confirmed_after:.1?} after the broker \
         returned: {all_confirmed}; pulled in all: {}; deliveries per event: {:?}; stream messages read: \
         {read}; {}; wall time {:.1?}",
        fake.pulled_events(),
        fake.delivery_counts(),
        redelivered.join(", "),
        started.elapsed()
    );
    report.assert_nothing_lost(&bridge.log());
    assert!(not_ready_seen, "/readyz reports the sink down");
    assert!(
        min_deliveries >= 2,
        "every event was redelivered while the sink was down: {counts:?}"
    );
    assert!(
        all_confirmed,
        "confirmed {} of {EVENTS}\n{report}\n{}",
        fake.confirmed(),
        bridge.log()
    );
    assert_eq!(
        report.delivered, EVENTS as usize,
        "every event is in the stream\n{report}"
    );
}
