//! Broker outage in the middle of a stream: nothing acknowledged is lost, and nothing is
//! acknowledged that was not written.
//!
//! Design, and why: the test broker (`tansu` with `memory://` storage) loses everything when its
//! process stops, so events acknowledged *before* the outage cannot be read back afterwards —
//! that is the test broker's storage, not the sink. The test therefore checks what an outage can
//! actually break:
//!
//! 1. A producer task streams batches through the sink, retrying each failed batch (as the
//!    vendor's redelivery would) until it is acknowledged, and records every acknowledgement with
//!    the time it arrived and the broker generation at the moment the attempt started.
//! 2. Mid-stream the broker is killed and stays down longer than the sink's `message_timeout`.
//!    While it is down, publishes must fail with a retriable error: no acknowledgement may arrive
//!    between the moment the broker was gone and the moment it is started again.
//! 3. The broker is started again on the same port (empty storage; the test re-creates the topic,
//!    as a durable broker would still have it), and the stream continues until enough batches
//!    were acknowledged by the new broker.
//!    With `tansu`'s memory storage the restarted broker has forgotten the idempotent producer's
//!    id and rejects it for good; the sink detects "timing out against a reachable broker" and
//!    replaces its producer (see `src/producer.rs`), which this test exercises.
//! 4. A real consumer reads the topic back: every event whose acknowledged attempt started after
//!    the broker was stopped (so it can only have been written to the new broker) must be there.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{consume, event};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use vodbridge_core::{BindingMode, Sink};
use vodbridge_sink_kafka::{connect, KafkaSinkConfig};
use vodbridge_test_support::kafka::KafkaBroker;

const TOPIC: &str = "outage.vod.media.uploaded";
const BATCH: usize = 5;

#[derive(Default)]
struct Log {
    /// (event id, broker generation when the acknowledged attempt started, when the ack arrived)
    acked: Vec<(String, u32, Instant)>,
    /// Failed attempts and whether each was retriable.
    failures: Vec<(bool, &'static str, String)>,
}

async fn create_topic(bootstrap: &str) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("admin client");
    let topic = NewTopic::new(TOPIC, 3, TopicReplication::Fixed(1));
    let results = admin
        .create_topics([&topic], &AdminOptions::new())
        .await
        .expect("create topics request");
    for r in results {
        match r {
            Ok(_) | Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((t, code)) => panic!("cannot create {t}: {code}"),
        }
    }
}

/// Wait until `count` events whose attempt started in generation `min_gen` or later are acked.
async fn wait_for(log: &Mutex<Log>, min_gen: u32, count: usize, broker: &KafkaBroker) {
    let acked = || {
        log.lock()
            .expect("log")
            .acked
            .iter()
            .filter(|a| a.1 >= min_gen)
            .count()
    };
    let started = Instant::now();
    while acked() < count {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "stream stalled at {} acks; last failures: {:?}; broker log:\n{}",
            acked(),
            log.lock()
                .expect("log")
                .failures
                .iter()
                .rev()
                .take(3)
                .collect::<Vec<_>>(),
            broker.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_outage_loses_nothing_acknowledged() {
    let mut broker = KafkaBroker::start().await;
    let mut cfg = KafkaSinkConfig::new(broker.bootstrap());
    cfg.topic = "outage.{type}".into();
    cfg.mode = BindingMode::Binary;
    cfg.create_topics = true;
    cfg.message_timeout = Duration::from_secs(2);
    let registry = prometheus::Registry::new();
    let sink = connect("kafka".into(), cfg, &registry)
        .await
        .expect("connect");

    let generation = Arc::new(AtomicU32::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let log = Arc::new(Mutex::new(Log::default()));
    let producer = {
        let (sink, generation, done, log) =
            (sink.clone(), generation.clone(), done.clone(), log.clone());
        tokio::spawn(async move {
            let mut batch_no = 0usize;
            while !done.load(Ordering::SeqCst) {
                let batch: Vec<_> = (0..BATCH)
                    .map(|j| {
                        event(
                            "vod.media.uploaded",
                            &format!("m-{}", batch_no % 4),
                            batch_no * BATCH + j,
                        )
                    })
                    .collect();
                loop {
                    let gen = generation.load(Ordering::SeqCst);
                    match sink.publish(&batch).await {
                        Ok(()) => {
                            let now = Instant::now();
                            let mut log = log.lock().expect("log");
                            log.acked
                                .extend(batch.iter().map(|e| (e.id.clone(), gen, now)));
                            break;
                        }
                        Err(e) => {
                            log.lock().expect("log").failures.push((
                                e.is_retriable(),
                                e.reason,
                                e.message.clone(),
                            ));
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
                batch_no += 1;
            }
        })
    };
    wait_for(&log, 0, 20 * BATCH, &broker).await;
    // From here on, every attempt that gets acknowledged can only have been written to the
    // restarted broker.
    generation.store(1, Ordering::SeqCst);
    broker.stop().await;
    let down_since = Instant::now();
    tokio::time::sleep(Duration::from_secs(5)).await; // longer than message_timeout
    let down_until = Instant::now();
    broker.start_again().await;
    create_topic(&broker.bootstrap()).await;
    wait_for(&log, 1, 20 * BATCH, &broker).await;
    done.store(true, Ordering::SeqCst);
    producer.await.expect("producer task");

    let log = Arc::try_unwrap(log)
        .ok()
        .expect("sole owner")
        .into_inner()
        .expect("log");
    assert!(
        !log.failures.is_empty(),
        "publishes must fail while the broker is down"
    );
    assert!(
        log.failures.iter().all(|(retriable, _, _)| *retriable),
        "outage failures are retriable: {:?}",
        log.failures
    );
    let during_outage: Vec<_> = log
        .acked
        .iter()
        .filter(|a| a.2 > down_since && a.2 < down_until)
        .collect();
    assert!(
        during_outage.is_empty(),
        "acknowledged while the broker was down: {during_outage:?}"
    );

    let must_exist: Vec<&str> = log
        .acked
        .iter()
        .filter(|a| a.1 >= 1)
        .map(|a| a.0.as_str())
        .collect();
    let records = consume(
        &broker.bootstrap(),
        TOPIC,
        must_exist.len(),
        Duration::from_secs(30),
    )
    .await;
    let consumed: std::collections::HashSet<&str> =
        records.iter().filter_map(|r| r.header("ce_id")).collect();
    let missing: Vec<_> = must_exist
        .iter()
        .filter(|id| !consumed.contains(**id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged events missing: {missing:?}",
        missing.len()
    );
    let metrics = prometheus::TextEncoder::new()
        .encode_to_string(&registry.gather())
        .expect("metrics");
    let replaced = metrics
        .lines()
        .find(|l| l.starts_with("vodbridge_kafka_producer_replaced_total"))
        .unwrap_or("");
    eprintln!("{replaced}");
    eprintln!(
        "acked {} events ({} after the outage began), {} failed attempts ({:?}), {} records read back",
        log.acked.len(),
        must_exist.len(),
        log.failures.len(),
        log.failures.iter().map(|f| f.1).collect::<std::collections::BTreeSet<_>>(),
        records.len()
    );
}
