//! Start-up without the broker: the sink starts anyway, reports not ready and fails publishes
//! as retriable within its timeouts (no hang), then recovers by itself when the broker appears —
//! ready, events acknowledged and read back by a real consumer. A fixed topic whose check had to
//! be deferred is checked once the broker answers: created with `create_topics`, otherwise a
//! missing topic is reported (unhealthy, retriable `unknown_topic`) until an operator creates it.

mod common;

use std::time::{Duration, Instant};

use common::{consume, event};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use vodbridge_core::{CanonicalEvent, Sink, SinkHealth};
use vodbridge_sink_kafka::{connect, KafkaSink, KafkaSinkConfig};
use vodbridge_test_support::kafka::KafkaBroker;

/// Upper bound for anything that must not hang (connect, one failing publish); the sink's own
/// bounds are `metadata_timeout` (3 s) and `message_timeout` (4 s here).
const NO_HANG: Duration = Duration::from_secs(20);
/// Upper bound for the sink to notice a broker that came up (librdkafka's reconnect backoff
/// grows to 10 s).
const RECOVERY: Duration = Duration::from_secs(60);

/// A broker that ran once (so its port is reserved) and is now stopped.
async fn stopped_broker() -> KafkaBroker {
    let mut broker = KafkaBroker::start().await;
    broker.stop().await;
    broker
}

fn config(broker: &KafkaBroker, topic: &str, create_topics: bool) -> KafkaSinkConfig {
    let mut c = KafkaSinkConfig::new(broker.bootstrap());
    c.topic = topic.to_owned();
    c.create_topics = create_topics;
    c.message_timeout = Duration::from_secs(4);
    c
}

async fn connect_bounded(name: &str, config: KafkaSinkConfig) -> KafkaSink {
    let registry = prometheus::Registry::new();
    tokio::time::timeout(NO_HANG, connect(name.into(), config, &registry))
        .await
        .expect("connect returned while the broker is down")
        .expect("connect succeeds while the broker is down")
}

/// Poll `health` until it satisfies `accept`, failing after [`RECOVERY`] with the last answer.
async fn wait_health(sink: &KafkaSink, broker: &KafkaBroker, accept: impl Fn(&SinkHealth) -> bool) {
    vodbridge_test_support::wait_health(sink, RECOVERY, accept, || broker.log()).await;
}

/// Publish `events` expecting a retriable failure within [`NO_HANG`]; returns its reason.
async fn publish_fails(sink: &KafkaSink, events: &[CanonicalEvent]) -> &'static str {
    let error = tokio::time::timeout(NO_HANG, sink.publish(events))
        .await
        .expect("a publish while the topic is unavailable does not hang")
        .expect_err("nothing can be acknowledged");
    assert!(error.is_retriable(), "{error}");
    eprintln!(
        "publish failed as expected: {} ({})",
        error.message, error.reason
    );
    error.reason
}

/// Publish until acknowledged: the first attempts right after recovery may still meet a
/// producer that is (re)connecting, which is a retriable failure like any other.
async fn publish_acknowledged(sink: &KafkaSink, events: &[CanonicalEvent]) {
    let deadline = tokio::time::Instant::now() + RECOVERY;
    loop {
        match sink.publish(events).await {
            Ok(()) => return,
            Err(e) => {
                assert!(e.is_retriable(), "{e}");
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "not acknowledged after recovery: {e}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

fn ids(records: &[common::Record]) -> Vec<&str> {
    records.iter().filter_map(|r| r.header("ce_id")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixed_topic_sink_starts_without_the_broker_and_creates_the_topic_when_it_appears() {
    let mut broker = stopped_broker().await;
    let started = Instant::now();
    let sink = connect_bounded("late", config(&broker, "late-fixed", true)).await;
    let connect_took = started.elapsed();

    assert!(
        matches!(sink.health().await, SinkHealth::Unhealthy(_)),
        "not ready while the broker is down"
    );
    let started = Instant::now();
    let reason = publish_fails(&sink, &[event("vod.media.uploaded", "m-1", 0)]).await;
    let publish_took = started.elapsed();

    broker.start_again().await;
    let started = Instant::now();
    wait_health(&sink, &broker, |h| *h == SinkHealth::Healthy).await;
    eprintln!(
        "broker down: connect {connect_took:?}, failing publish {publish_took:?} ({reason}); ready {:?} after the broker answered",
        started.elapsed()
    );
    publish_acknowledged(&sink, &[event("vod.media.uploaded", "m-1", 1)]).await;
    let records = consume(
        &broker.bootstrap(),
        "late-fixed",
        1,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(ids(&records), ["m-1-1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templated_sink_starts_without_the_broker_and_delivers_when_it_appears() {
    let mut broker = stopped_broker().await;
    let sink = connect_bounded("late-tpl", config(&broker, "late.{type}", true)).await;

    assert!(matches!(sink.health().await, SinkHealth::Unhealthy(_)));
    publish_fails(&sink, &[event("vod.media.uploaded", "m-2", 0)]).await;

    broker.start_again().await;
    wait_health(&sink, &broker, |h| *h == SinkHealth::Healthy).await;
    publish_acknowledged(&sink, &[event("vod.media.uploaded", "m-2", 1)]).await;
    let records = consume(
        &broker.bootstrap(),
        "late.vod.media.uploaded",
        1,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(ids(&records), ["m-2-1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_fixed_topic_found_after_a_late_start_is_reported_until_created() {
    let mut broker = stopped_broker().await;
    let sink = connect_bounded("strict-late", config(&broker, "late-strict", false)).await;

    broker.start_again().await;
    wait_health(
        &sink,
        &broker,
        |h| matches!(h, SinkHealth::Unhealthy(why) if why.contains("does not exist")),
    )
    .await;
    let reason = publish_fails(&sink, &[event("vod.media.uploaded", "m-3", 0)]).await;
    assert_eq!(reason, "unknown_topic");

    // The operator creates the topic; the sink notices by itself.
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .create()
        .expect("admin client");
    let results = admin
        .create_topics(
            [&NewTopic::new("late-strict", 1, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        )
        .await
        .expect("create topics request");
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    wait_health(&sink, &broker, |h| *h == SinkHealth::Healthy).await;
    publish_acknowledged(&sink, &[event("vod.media.uploaded", "m-3", 1)]).await;
    let records = consume(
        &broker.bootstrap(),
        "late-strict",
        1,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(ids(&records), ["m-3-1"]);
}
