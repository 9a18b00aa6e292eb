//! Round trip through a real broker: the Kafka sink produces, a real rdkafka consumer reads back
//! and checks topic, key, headers and body in both CloudEvents binding modes.

mod common;

use std::time::Duration;

use common::{consume, event};
use vodbridge_core::{BindingMode, Sink};
use vodbridge_sink_kafka::{connect, KafkaSinkConfig};
use vodbridge_test_support::kafka::KafkaBroker;

fn config(broker: &KafkaBroker, topic: &str, mode: BindingMode) -> KafkaSinkConfig {
    let mut c = KafkaSinkConfig::new(broker.bootstrap());
    c.topic = topic.to_owned();
    c.mode = mode;
    c.create_topics = true;
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_mode_round_trip() {
    let broker = KafkaBroker::start().await;
    let registry = prometheus::Registry::new();
    let sink = connect(
        "kafka".into(),
        config(&broker, "bin.{type}", BindingMode::Binary),
        &registry,
    )
    .await
    .expect("connect");
    let events: Vec<_> = (0..5)
        .map(|n| event("vod.media.uploaded", "m-42", n))
        .collect();
    sink.publish(&events).await.expect("acknowledged");

    let records = consume(
        &broker.bootstrap(),
        "bin.vod.media.uploaded",
        5,
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(records.len(), 5, "{records:?}");
    for (n, r) in records.iter().enumerate() {
        assert_eq!(r.key.as_deref(), Some("m-42"));
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("ce_specversion"), Some("1.0"));
        assert_eq!(
            r.header("ce_id"),
            Some(format!("m-42-{n}").as_str()),
            "same key, same partition, in order"
        );
        assert_eq!(r.header("ce_type"), Some("vod.media.uploaded"));
        assert_eq!(r.header("ce_source"), Some("/vodbridge/tencent-main"));
        assert_eq!(r.header("ce_subject"), Some("m-42"));
        assert_eq!(r.header("ce_provider"), Some("tencent"));
        assert_eq!(r.header("ce_partitionkey"), Some("m-42"));
        assert_eq!(
            r.json(),
            serde_json::json!({"media": {"id": "m-42"}, "n": n})
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn structured_mode_round_trip() {
    let broker = KafkaBroker::start().await;
    let registry = prometheus::Registry::new();
    let sink = connect(
        "kafka".into(),
        config(&broker, "st.{provider}.{type}", BindingMode::Structured),
        &registry,
    )
    .await
    .expect("connect");
    let events = vec![
        event("vod.media.deleted", "m-1", 0),
        event("vod.media.deleted", "m-2", 1),
    ];
    sink.publish(&events).await.expect("acknowledged");

    let mut records = consume(
        &broker.bootstrap(),
        "st.tencent.vod.media.deleted",
        2,
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(records.len(), 2, "{records:?}");
    records.sort_by_key(|r| r.key.clone());
    for (r, ev) in records.iter().zip(&events) {
        assert_eq!(r.topic, "st.tencent.vod.media.deleted");
        assert_eq!(r.key.as_deref(), Some(ev.partitionkey.as_str()));
        assert_eq!(
            r.header("content-type"),
            Some("application/cloudevents+json; charset=UTF-8")
        );
        assert_eq!(
            r.header("ce_id"),
            None,
            "structured mode carries attributes in the value only"
        );
        let v = r.json();
        assert_eq!(v["specversion"], "1.0");
        assert_eq!(v["id"], ev.id.as_str());
        assert_eq!(v["type"], "vod.media.deleted");
        assert_eq!(v["datacontenttype"], "application/json");
        assert_eq!(v["partitionkey"], ev.partitionkey.as_str());
        assert_eq!(v["data"]["media"]["id"], ev.partitionkey.as_str());
    }
    let text = prometheus::TextEncoder::new()
        .encode_to_string(&registry.gather())
        .expect("metrics");
    assert!(
        text.contains(r#"vodbridge_kafka_produced_total{sink="kafka"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"vodbridge_kafka_delivery_seconds_count{sink="kafka"} 2"#),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn type_filter_skips_and_publish_to_overrides_the_template() {
    let broker = KafkaBroker::start().await;
    let registry = prometheus::Registry::new();
    let mut cfg = config(&broker, "flt.{type}", BindingMode::Binary);
    cfg.types = vec!["vod.media.*".into()];
    let sink = connect("kafka".into(), cfg, &registry)
        .await
        .expect("connect");

    // The workflow event is filtered out: acknowledged without being produced anywhere.
    let events = vec![
        event("vod.workflow.completed", "m-1", 0),
        event("vod.media.uploaded", "m-1", 1),
    ];
    sink.publish(&events).await.expect("acknowledged");
    let records = consume(
        &broker.bootstrap(),
        "flt.vod.media.uploaded",
        1,
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].header("ce_id"), Some("m-1-1"));

    // Dead letters: an explicit topic, no filter, no template.
    sink.publish_to("flt.deadletter", &events)
        .await
        .expect("acknowledged");
    let records = consume(
        &broker.bootstrap(),
        "flt.deadletter",
        2,
        Duration::from_secs(20),
    )
    .await;
    let ids: Vec<_> = records.iter().filter_map(|r| r.header("ce_id")).collect();
    assert_eq!(ids, ["m-1-0", "m-1-1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixed_topic_must_exist_unless_creation_is_on() {
    let broker = KafkaBroker::start().await;
    let registry = prometheus::Registry::new();
    let mut cfg = config(&broker, "fixed-missing", BindingMode::Binary);
    cfg.create_topics = false;
    let error = connect("strict".into(), cfg.clone(), &registry)
        .await
        .err()
        .expect("missing topic refused");
    assert_eq!(
        error.to_string(),
        "topic `fixed-missing` does not exist and create_topics is off"
    );

    cfg.create_topics = true;
    let sink = connect("eager".into(), cfg.clone(), &registry)
        .await
        .expect("created eagerly");
    assert_eq!(sink.health().await, vodbridge_core::SinkHealth::Healthy);

    // Now it exists, so a sink without creation starts too.
    cfg.create_topics = false;
    connect("strict2".into(), cfg, &registry)
        .await
        .expect("topic exists now");
}
