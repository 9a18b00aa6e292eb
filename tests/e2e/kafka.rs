//! End to end over Kafka: the real `vodbridge` binary with a Kafka sink (binary CloudEvents mode,
//! topic = canonical type, topics created on first use) on a test `tansu` broker. Every fixture
//! payload is POSTed to its callback route; every event of every acknowledged (200) callback must
//! then be on the topic named by its type, read back by a real rdkafka consumer, with the media
//! id as key, the attributes as `ce_` headers and the `data` object as the value.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use vodbridge_test_support::kafka::KafkaBroker;
use vodbridge_tests::kafka_read::{read_topic, Record};
use vodbridge_tests::{callback_config, fixtures, free_port, Bridge};

async fn start_bridge(dir: &Path, brokers: &str, listen: u16, admin: u16) -> Bridge {
    let tables = format!(
        r#"
[[sinks]]
name = "kafka"
type = "kafka"
brokers = "{brokers}"
topic = "{{type}}"
mode = "binary"
create_topics = true
partitions = 3

[dead_letter]
sink = "kafka"
destination = "vodbridge.deadletter"
"#
    );
    let config = callback_config(listen, admin, &tables);
    Bridge::start(dir, &config, admin).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_callback_event_reaches_its_kafka_topic() {
    let broker = KafkaBroker::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (listen, admin) = (free_port(), free_port());
    let bridge = start_bridge(dir.path(), &broker.bootstrap(), listen, admin).await;
    let http = reqwest::Client::new();

    // Every event a 200 answer promised, by topic (= type): (id, expected CloudEvent). One id
    // may be promised twice with different `data` (the same occurrence as a normal callback and
    // inside a PullEvents response, whose `original` keeps the `EventHandle`), so each promise
    // must be matched by a record of its own content.
    let mut promised: BTreeMap<String, Vec<(String, serde_json::Value)>> = BTreeMap::new();
    let mut acknowledged_callbacks = 0;
    for (provider, path) in fixtures() {
        let body = std::fs::read(&path).expect("fixture");
        let response = http
            .post(format!("http://127.0.0.1:{listen}/v1/callbacks/{provider}"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("callback answered");
        let status = response.status();
        assert_ne!(
            status.as_u16(),
            503,
            "{}: a healthy sink must not refuse; log:\n{}",
            path.display(),
            bridge.log()
        );
        if !status.is_success() {
            continue;
        }
        acknowledged_callbacks += 1;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .replace(".json", ".expected.json");
        if let Ok(text) = std::fs::read_to_string(path.with_file_name(name)) {
            if let Ok(serde_json::Value::Array(events)) = serde_json::from_str(&text) {
                for ev in events {
                    let ty = ev["type"].as_str().expect("expected type").to_owned();
                    let id = ev["id"].as_str().expect("expected id").to_owned();
                    promised.entry(ty).or_default().push((id, ev));
                }
            }
        }
    }
    assert!(
        acknowledged_callbacks > 0,
        "no callback was acknowledged; log:\n{}",
        bridge.log()
    );
    assert!(!promised.is_empty(), "fixtures promised no events");

    let brokers = broker.bootstrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut consumed = 0;
    for (topic, events) in &promised {
        let (brokers, topic_name, want) = (brokers.clone(), topic.clone(), events.len());
        let records =
            tokio::task::spawn_blocking(move || read_topic(&brokers, &topic_name, want, deadline))
                .await
                .expect("reader task");
        let mut seen: HashMap<String, Vec<&Record>> = HashMap::new();
        for r in &records {
            let id = r.headers.get("ce_id").expect("ce_id header").clone();
            assert_eq!(r.headers.get("ce_type"), Some(topic), "topic is the type");
            assert_eq!(
                r.headers.get("ce_specversion").map(String::as_str),
                Some("1.0")
            );
            assert_eq!(
                r.headers.get("content-type").map(String::as_str),
                Some("application/json")
            );
            seen.entry(id).or_default().push(r);
        }
        for (id, expected) in events {
            let candidates = seen.get(id).unwrap_or_else(|| {
                panic!(
                    "event {id} ({topic}) acknowledged but not on its topic; log:\n{}",
                    bridge.log()
                )
            });
            let r = candidates
                .iter()
                .find(|r| r.value == expected["data"])
                .unwrap_or_else(|| {
                    panic!(
                        "event {id}: no record carries the promised data {}",
                        expected["data"]
                    )
                });
            let key = expected["partitionkey"].as_str().expect("partitionkey");
            assert_eq!(
                r.key.as_deref(),
                Some(key),
                "{id}: key is the partition key"
            );
            assert_eq!(
                r.headers.get("ce_partitionkey").map(String::as_str),
                Some(key)
            );
            for attr in [
                "source",
                "provider",
                "providertype",
                "outcome",
                "timesource",
            ] {
                assert_eq!(
                    r.headers.get(&format!("ce_{attr}")).map(String::as_str),
                    expected[attr].as_str(),
                    "{id}: {attr}"
                );
            }
            consumed += 1;
        }
    }
    eprintln!(
        "{acknowledged_callbacks} callbacks acknowledged, {consumed} events on {} topics consumed back",
        promised.len()
    );
}
