//! End to end over NATS: the real `vodbridge` binary with a JetStream sink on a test
//! `nats-server`; every fixture payload is POSTed to its callback route, and every event of
//! every acknowledged (200) callback must then be in the stream, read back by a JetStream
//! consumer on `vod.>`, with the subject its canonical type and the body the CloudEvent.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer};
use futures::StreamExt as _;
use vodbridge_test_support::nats::NatsServer;
use vodbridge_tests::{callback_config, fixtures, free_port, nats_sink_toml, Bridge};

async fn start_bridge(dir: &Path, nats_url: &str, listen: u16, admin: u16) -> Bridge {
    let config = callback_config(listen, admin, &nats_sink_toml(nats_url));
    Bridge::start(dir, &config, admin).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_callback_event_reaches_jetstream() {
    let nats = NatsServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (listen, admin) = (free_port(), free_port());
    let bridge = start_bridge(dir.path(), &nats.url(), listen, admin).await;
    let http = reqwest::Client::new();

    // Every event a 200 answer promised, by id → canonical type.
    let mut promised: HashMap<String, String> = HashMap::new();
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
            "{}: a healthy sink must not refuse",
            path.display()
        );
        if !status.is_success() {
            continue;
        }
        acknowledged_callbacks += 1;
        // What the normalizer promises for this input (a JSON array of CloudEvents), when the
        // fixture has one; an error object means the input went to the dead-letter subject.
        let expected = path.with_file_name(
            path.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .replace(".json", ".expected.json"),
        );
        if let Ok(text) = std::fs::read_to_string(&expected) {
            if let Ok(serde_json::Value::Array(events)) = serde_json::from_str(&text) {
                for ev in events {
                    let id = ev["id"].as_str().expect("expected id").to_owned();
                    promised.insert(id, ev["type"].as_str().expect("expected type").to_owned());
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

    // Read back everything on vod.> with a JetStream consumer.
    let client = async_nats::connect(nats.url()).await.expect("reader");
    let js = jetstream::new(client);
    let stream = js
        .get_stream("VOD")
        .await
        .expect("stream created by the bridge");
    let consumer = stream
        .create_consumer(consumer::pull::Config {
            filter_subject: "vod.>".into(),
            ack_policy: consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .expect("consumer");
    let mut seen: HashMap<String, String> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while promised.keys().any(|id| !seen.contains_key(id)) && Instant::now() < deadline {
        let mut batch = consumer
            .fetch()
            .max_messages(500)
            .expires(Duration::from_secs(1))
            .messages()
            .await
            .expect("fetch");
        while let Some(msg) = batch.next().await {
            let msg = msg.expect("message");
            let event: serde_json::Value =
                serde_json::from_slice(&msg.payload).expect("structured CloudEvent");
            let headers = msg.headers.as_ref().expect("headers");
            assert_eq!(
                headers.get("Content-Type").map(|v| v.as_str()),
                Some("application/cloudevents+json")
            );
            let id = event["id"].as_str().expect("id").to_owned();
            assert_eq!(
                headers.get("Nats-Msg-Id").map(|v| v.as_str()),
                Some(id.as_str())
            );
            assert_eq!(
                msg.subject.as_str(),
                event["type"].as_str().expect("type"),
                "subject is the type"
            );
            seen.insert(id, event["type"].as_str().unwrap_or_default().to_owned());
        }
    }
    let missing: Vec<_> = promised
        .iter()
        .filter(|(id, _)| !seen.contains_key(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not in JetStream: {missing:?}; log:\n{}",
        bridge.log()
    );
    for (id, ty) in &promised {
        assert_eq!(seen.get(id), Some(ty), "event {id} has the promised type");
    }
    eprintln!(
        "{acknowledged_callbacks} callbacks acknowledged, {} events promised and consumed",
        promised.len()
    );
}
