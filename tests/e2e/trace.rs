//! End to end, W3C trace context: the real `vodbridge` binary with a file, a Kafka (binary mode,
//! on `tansu`) and a JetStream (structured mode, on `nats-server`) sink. A callback carrying a
//! known `traceparent` must reach all three with that trace id — in the file's JSON, in Kafka's
//! `ce_traceparent` and `traceparent` headers, in the NATS event and its `traceparent` header —
//! and every sink must carry the same `traceparent` for one event. A callback without one gets
//! a fresh valid trace; an invalid one is answered 200, counted and replaced by a fresh trace. A
//! dead letter keeps its callback's trace, and the callback's log line names the trace id.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer};
use futures::StreamExt as _;
use vodbridge_test_support::kafka::KafkaBroker;
use vodbridge_test_support::nats::NatsServer;
use vodbridge_tests::kafka_read::read_topic;
use vodbridge_tests::{callback_config, free_port, read_lines, Bridge};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const INVALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01";
const TOPIC: &str = "vod.media.uploaded";

fn config(dir: &Path, listen: u16, admin: u16, brokers: &str, nats_url: &str) -> String {
    let events = dir.join("events.jsonl");
    let dead = dir.join("deadletter.jsonl");
    let tables = format!(
        r#"
[[sinks]]
name = "file"
type = "file"
path = "{events}"

[[sinks]]
name = "kafka"
type = "kafka"
brokers = "{brokers}"
topic = "{{type}}"
mode = "binary"
create_topics = true
partitions = 1

[[sinks]]
name = "nats"
type = "nats"
url = "{nats_url}"
subject = "{{type}}"
jetstream = true
mode = "structured"

[sinks.stream]
name = "VOD"
subjects = ["vod.>"]

[dead_letter]
sink = "file"
destination = "{dead}"
"#,
        events = events.display(),
        dead = dead.display(),
    );
    callback_config(listen, admin, &tables)
}

/// A `NewFileUpload` callback for `file_id` (a distinct event per file id).
fn upload(file_id: &str) -> String {
    format!(r#"{{"EventType":"NewFileUpload","FileUploadEvent":{{"FileId":"{file_id}"}}}}"#)
}

/// The trace id of a version-00 `traceparent`, checking the format on the way.
fn trace_id(traceparent: &str) -> &str {
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparent}");
    assert_eq!(
        [
            parts[0].len(),
            parts[1].len(),
            parts[2].len(),
            parts[3].len()
        ],
        [2, 32, 16, 2],
        "{traceparent}"
    );
    assert!(
        traceparent
            .bytes()
            .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{traceparent}"
    );
    assert!(parts[1].bytes().any(|b| b != b'0') && parts[2].bytes().any(|b| b != b'0'));
    &traceparent[3..35]
}

/// Kafka records of `TOPIC` from the beginning: (key, headers), until `want` or a minute
/// passed.
fn read_kafka(brokers: &str, want: usize) -> Vec<(String, HashMap<String, String>)> {
    let deadline = Instant::now() + Duration::from_secs(60);
    read_topic(brokers, TOPIC, want, deadline)
        .into_iter()
        .map(|r| (r.key.unwrap_or_default(), r.headers))
        .collect()
}

/// JetStream messages on `vod.media.uploaded`: (event JSON, `traceparent` header).
async fn read_nats(url: &str, want: usize) -> Vec<(serde_json::Value, Option<String>)> {
    let client = async_nats::connect(url).await.expect("reader");
    let stream = jetstream::new(client)
        .get_stream("VOD")
        .await
        .expect("stream VOD");
    let reader = stream
        .create_consumer(consumer::pull::Config {
            filter_subject: TOPIC.to_owned(),
            ..Default::default()
        })
        .await
        .expect("consumer");
    let mut messages = reader.messages().await.expect("messages");
    let mut out = Vec::new();
    while out.len() < want {
        let next = tokio::time::timeout(Duration::from_secs(30), messages.next()).await;
        let msg = next
            .expect("a message within 30 s")
            .expect("stream open")
            .expect("message");
        let header = msg
            .headers
            .as_ref()
            .and_then(|h| h.get("traceparent"))
            .map(|v| v.as_str().to_owned());
        out.push((serde_json::from_slice(&msg.payload).expect("event"), header));
        msg.ack().await.expect("ack");
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callbacks_trace_reaches_every_sink() {
    let (kafka, nats) = (KafkaBroker::start().await, NatsServer::start().await);
    let dir = tempfile::tempdir().expect("temp dir");
    let (listen, admin) = (free_port(), free_port());
    let config = config(dir.path(), listen, admin, &kafka.bootstrap(), &nats.url());
    let bridge = Bridge::start(dir.path(), &config, admin).await;
    let http = reqwest::Client::new();
    let post = |body: String, headers: Vec<(&'static str, &'static str)>| {
        let mut request = http
            .post(format!("http://127.0.0.1:{listen}/v1/callbacks/tencent"))
            .header("content-type", "application/json")
            .body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        async move { request.send().await.expect("answered").status().as_u16() }
    };

    let traced = vec![
        ("traceparent", TRACEPARENT),
        ("tracestate", "rojo=00f067aa0ba902b7"),
    ];
    assert_eq!(post(upload("trace-continued"), traced.clone()).await, 200);
    assert_eq!(post(upload("trace-started"), vec![]).await, 200);
    let invalid = vec![("traceparent", INVALID), ("tracestate", "rojo=1")];
    assert_eq!(
        post(upload("trace-invalid"), invalid).await,
        200,
        "never a 4xx"
    );
    assert_eq!(post("{\"EventType\": broken".into(), traced).await, 400);

    // The file sink: the reference for what each event carries.
    let events: HashMap<String, serde_json::Value> = read_lines(&dir.path().join("events.jsonl"))
        .into_iter()
        .map(|e| (e["subject"].as_str().expect("subject").to_owned(), e))
        .collect();
    assert_eq!(events.len(), 3, "{events:?}");
    let traceparent = |subject: &str| -> String {
        events[subject]["traceparent"]
            .as_str()
            .unwrap_or_else(|| panic!("{subject}: no traceparent in {}", events[subject]))
            .to_owned()
    };
    let continued = traceparent("trace-continued");
    assert_eq!(trace_id(&continued), TRACE_ID);
    assert_ne!(continued, TRACEPARENT, "vodbridge's own parent id");
    assert_eq!(
        events["trace-continued"]["tracestate"],
        "rojo=00f067aa0ba902b7"
    );
    let started = traceparent("trace-started");
    let replaced = traceparent("trace-invalid");
    for (name, tp) in [("started", &started), ("invalid", &replaced)] {
        assert_ne!(trace_id(tp), TRACE_ID, "{name}: a new trace");
    }
    assert_ne!(trace_id(&started), trace_id(&replaced));
    assert!(events["trace-invalid"].get("tracestate").is_none());

    let dead = read_lines(&dir.path().join("deadletter.jsonl"));
    assert_eq!(dead.len(), 1);
    assert_eq!(
        trace_id(dead[0]["traceparent"].as_str().expect("traceparent")),
        TRACE_ID
    );
    let log_line = format!("trace_id={TRACE_ID}");
    assert!(
        bridge
            .log()
            .lines()
            .any(|l| l.contains("dead-lettered") && l.contains(&log_line)),
        "the dead-letter log line names the trace id; log:\n{}",
        bridge.log()
    );

    // Kafka: binary mode's `ce_traceparent` and the plain `traceparent`, both the file's value.
    let brokers = kafka.bootstrap();
    let records = tokio::task::spawn_blocking(move || read_kafka(&brokers, 3))
        .await
        .expect("reader task");
    assert_eq!(records.len(), 3);
    for (key, headers) in &records {
        let expected = traceparent(key);
        assert_eq!(headers.get("ce_traceparent"), Some(&expected), "{key}");
        assert_eq!(headers.get("traceparent"), Some(&expected), "{key}");
        let state = events[key.as_str()]["tracestate"].as_str();
        assert_eq!(
            headers.get("ce_tracestate").map(String::as_str),
            state,
            "{key}"
        );
    }

    // NATS: structured mode, in the event and in the `traceparent` header.
    let messages = read_nats(&nats.url(), 3).await;
    for (event, header) in &messages {
        let subject = event["subject"].as_str().expect("subject");
        let expected = traceparent(subject);
        assert_eq!(event["traceparent"], expected.as_str(), "{subject}");
        assert_eq!(header.as_deref(), Some(expected.as_str()), "{subject}");
        assert_eq!(event["id"], events[subject]["id"], "{subject}");
    }

    let metrics = bridge.metrics().await;
    assert!(
        metrics
            .lines()
            .any(|l| l == "vodbridge_traceparent_invalid_total{source=\"tencent\"} 1"),
        "one invalid traceparent counted:\n{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l == "vodbridge_traceparent_invalid_total{source=\"volcengine\"} 0"),
        "initialized at zero for every source"
    );
}
