//! Fault test: the Kafka broker (tansu) is killed (SIGKILL) in the middle of a callback stream
//! and started again on the same port. The sender keeps going the whole time and retries every
//! callback not answered 200.
//!
//! tansu's local storage is `memory://`: a restart comes back empty (topics included). So a
//! consumer runs from the start, reading every partition from the beginning and again from the
//! beginning of the new log after the restart, and records each record as it arrives. Lost =
//! answered 200 and never read. The topic is recreated after the restart as a real broker would
//! still have it. A record the broker acknowledged in the instant before its kill may be gone
//! before the consumer fetched it — the broker's loss, not the bridge's — so the test waits until
//! the consumer has caught up before killing, and a callback acknowledged within 250 ms before
//! the kill and never read is reported apart ("lost with the broker"), not as lost.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use vodbridge_test_support::kafka::KafkaBroker;
use vodbridge_tests::ledger::Ledger;
use vodbridge_tests::sender::{Sender, SenderConfig};
use vodbridge_tests::{free_port, vodbridge_binary, Bridge};

const TOPIC: &str = "vod.events";
const PARTITIONS: i32 = 3;

fn config(listen: u16, admin: u16, brokers: &str) -> String {
    config_with(listen, admin, brokers, "")
}

/// [`config`] followed by `extra` (a `[spool]` section).
fn config_with(listen: u16, admin: u16, brokers: &str, extra: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:{listen}"
admin_listen = "127.0.0.1:{admin}"
ack_timeout = "3s"
shutdown_timeout = "2s"

[log]
level = "info"

[[sources]]
name = "tencent"
provider = "tencent"

[[sinks]]
name = "kafka"
type = "kafka"
brokers = "{brokers}"
topic = "{TOPIC}"
mode = "binary"
create_topics = true
partitions = {PARTITIONS}
message_timeout = "2s"

# Reconnect within half a second of the broker's return instead of up to 10 s.
[sinks.librdkafka]
"reconnect.backoff.max.ms" = "500"

[dead_letter]
sink = "kafka"
destination = "vodbridge.deadletter"
{extra}
"#
    )
}

/// Create `TOPIC` (after a restart of the in-memory broker); "already exists" is fine.
async fn create_topic(brokers: &str) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("admin client");
    let topic = NewTopic::new(TOPIC, PARTITIONS, TopicReplication::Fixed(1));
    let _ = admin
        .create_topics(
            [&topic],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(5))),
        )
        .await;
}

/// Reads `TOPIC` from the beginning into the ledger until `stop`. `epoch` is odd while the
/// broker is down or its topic not yet recreated: the consumer is dropped and waits (a librdkafka
/// client polling a restarted tansu before the topic exists crashes in its metadata cache); when
/// it turns even again, reading starts over from the beginning of the new log.
fn consume(brokers: String, ledger: Arc<Ledger>, epoch: Arc<AtomicU64>, stop: Arc<AtomicBool>) {
    // (epoch, partition, offset) of every record recorded: a re-read is not a duplicate.
    let mut seen: HashSet<(u64, i32, i64)> = HashSet::new();
    while !stop.load(Ordering::Relaxed) {
        let current = epoch.load(Ordering::Relaxed);
        if current % 2 == 1 {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .set("group.id", format!("fault-kafka-{current}"))
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("fetch.wait.max.ms", "10")
            .set("reconnect.backoff.max.ms", "200")
            .create()
            .expect("consumer");
        let partitions = consumer
            .fetch_metadata(Some(TOPIC), Duration::from_secs(1))
            .ok()
            .and_then(|m| {
                m.topics()
                    .iter()
                    .find(|t| t.name() == TOPIC && t.error().is_none())
                    .map(|t| t.partitions().len())
            })
            .unwrap_or(0);
        if partitions == 0 {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions as i32 {
            tpl.add_partition_offset(TOPIC, p, Offset::Beginning)
                .expect("offset");
        }
        consumer.assign(&tpl).expect("assign");
        while !stop.load(Ordering::Relaxed) && epoch.load(Ordering::Relaxed) == current {
            let Some(Ok(msg)) = consumer.poll(Duration::from_millis(20)) else {
                continue;
            };
            if !seen.insert((current, msg.partition(), msg.offset())) {
                continue;
            }
            let value: serde_json::Value =
                serde_json::from_slice(msg.payload().unwrap_or_default()).unwrap_or_default();
            let key = value["media"]["id"].as_str().unwrap_or_default();
            let id = msg
                .headers()
                .and_then(|hs| {
                    hs.iter()
                        .find(|h| h.key == "ce_id")
                        .and_then(|h| h.value)
                        .map(|v| String::from_utf8_lossy(v).into_owned())
                })
                .unwrap_or_default();
            ledger.delivered(key, &id);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::print_stdout, reason = "the figures are the test's output")]
async fn kafka_killed_mid_stream_loses_nothing_acknowledged() {
    vodbridge_binary();
    let started = Instant::now();
    let mut broker = KafkaBroker::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (listen, admin) = (free_port(), free_port());
    let bridge = Bridge::start(
        dir.path(),
        &config(listen, admin, &broker.bootstrap()),
        admin,
    )
    .await;

    let ledger = Arc::new(Ledger::new(
        "fault_kafka: tansu (memory storage) SIGKILLed mid-stream, restarted after 2 s on the same port",
    ));
    let (epoch, stop) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    let reader = {
        let (brokers, ledger) = (broker.bootstrap(), Arc::clone(&ledger));
        let (epoch, stop) = (Arc::clone(&epoch), Arc::clone(&stop));
        std::thread::spawn(move || consume(brokers, ledger, epoch, stop))
    };
    let sender = Sender::start(
        SenderConfig::new(format!("http://127.0.0.1:{listen}/v1/callbacks/tencent")),
        Arc::clone(&ledger),
    );

    tokio::time::sleep(Duration::from_secs(2)).await;
    // Kill at a moment the consumer has read everything acknowledged so far (the sender keeps
    // sending: requests are in flight), so the broker's in-memory loss hits nothing acknowledged.
    let catch_up = Instant::now();
    while !ledger.all_acknowledged_delivered() && catch_up.elapsed() < Duration::from_secs(3) {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let before_kill = ledger.acknowledged();
    let killed_at = Instant::now();
    epoch.fetch_add(1, Ordering::Relaxed);
    broker.stop().await;
    // An answer already on its way from the bridge may still land just after the kill.
    ledger.broker_lost(
        killed_at - Duration::from_millis(250),
        killed_at + Duration::from_millis(500),
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    broker.start_again().await;
    create_topic(&broker.bootstrap()).await;
    epoch.fetch_add(1, Ordering::Relaxed);
    let restarted = ledger.acknowledged();
    let restart = Instant::now();
    while ledger.acknowledged() == restarted && restart.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let recovered_after = restart.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    sender.stop().await;
    let after_restart = ledger.acknowledged() - restarted;
    let drain = Instant::now();
    while !ledger.all_acknowledged_delivered() && drain.elapsed() < Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::Relaxed);
    reader.join().expect("reader thread");

    let report = ledger.report();
    println!(
        "acknowledged before the kill: {before_kill}, first 200 {recovered_after:.1?} after the restart, \
         {after_restart} after it; wall time {:.1?}",
        started.elapsed()
    );
    report.assert_nothing_lost(&format!(
        "{}\n--- tansu ---\n{}",
        bridge.log(),
        broker.log()
    ));
    report.assert_outage_answered(before_kill, after_restart);
}

/// With a spool, a Kafka outage longer than Volcengine retries loses nothing: tansu down 120 s,
/// the bridge SIGKILLed and restarted in the middle of it, the sender on Volcengine's schedule
/// (+5 s, +10 s, +30 s, then give up). The broker keeps nothing across its restart (memory
/// storage), so it is stopped only once the consumer has read everything acknowledged before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::print_stdout, reason = "the figures are the test's output")]
async fn kafka_down_longer_than_volcengine_retries_with_a_spool_and_a_sigkill_loses_nothing() {
    vodbridge_binary();
    let mut broker = KafkaBroker::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (listen, admin) = (free_port(), free_port());
    let spool = format!(
        "[spool]\npath = \"{}\"\ncommit_interval = \"200ms\"\n",
        dir.path().join("spool").display()
    );
    let mut bridge = Bridge::start(
        dir.path(),
        &config_with(listen, admin, &broker.bootstrap(), &spool),
        admin,
    )
    .await;
    let ledger = Arc::new(Ledger::new(
        "fault_kafka: tansu down 120 s with a spool, bridge SIGKILLed mid-outage, sender on Volcengine's schedule (+5 s, +10 s, +30 s, give up)",
    ));
    let (epoch, stop) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    let reader = {
        let (brokers, ledger) = (broker.bootstrap(), Arc::clone(&ledger));
        let (epoch, stop) = (Arc::clone(&epoch), Arc::clone(&stop));
        std::thread::spawn(move || consume(brokers, ledger, epoch, stop))
    };
    let mut sender_config =
        SenderConfig::volcengine(format!("http://127.0.0.1:{listen}/v1/callbacks/tencent"));
    sender_config.workers = 2;
    sender_config.pace = Duration::from_millis(200);
    let sender = Sender::start(sender_config, Arc::clone(&ledger));
    tokio::time::sleep(Duration::from_secs(3)).await;

    // The broker forgets what it held when it stops: stop it once everything answered 200 so
    // far has been read. The bridge goes on answering 200 from the spool meanwhile.
    let catch_up = Instant::now();
    while !ledger.all_acknowledged_delivered() && catch_up.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let before = ledger.acknowledged();
    let killed_at = Instant::now();
    epoch.fetch_add(1, Ordering::Relaxed);
    broker.stop().await;
    ledger.broker_lost(
        killed_at - Duration::from_millis(250),
        killed_at + Duration::from_millis(500),
    );
    tokio::time::sleep(Duration::from_secs(50)).await;
    bridge.kill();
    bridge.restart(Duration::from_secs(30)).await;
    let during = ledger.acknowledged() - before;
    tokio::time::sleep(Duration::from_secs(120).saturating_sub(killed_at.elapsed())).await;
    broker.start_again().await;
    create_topic(&broker.bootstrap()).await;
    epoch.fetch_add(1, Ordering::Relaxed);
    let outage = killed_at.elapsed();
    tokio::time::sleep(Duration::from_secs(5)).await;
    sender.stop().await;
    let drain = Instant::now();
    while !ledger.all_acknowledged_delivered() && drain.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    reader.join().expect("reader thread");

    let report = ledger.report();
    println!("outage {outage:.1?}; accepted before it: {before}, during it: {during}; caught up {:.1?} after the sender stopped", drain.elapsed());
    report.assert_nothing_lost(&format!(
        "{}\n--- tansu ---\n{}",
        bridge.log(),
        broker.log()
    ));
    assert!(
        during > 100,
        "callbacks must be accepted during the outage\n{report}"
    );
}
