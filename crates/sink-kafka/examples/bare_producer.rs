//! The floor for the HTTP → Kafka benchmark (`scripts/bench/kafka.sh`): rdkafka used directly,
//! with the sink's producer settings (`acks=all`, idempotence, lz4, `linger.ms=5`), producing the
//! same binary-mode CloudEvents message the bridge produces for the benchmark's callback body
//! (the fixture's expected canonical event: `ce_` headers, `data` as value, media id as key,
//! a fresh media id per message), from `CONCURRENCY`
//! closed-loop senders that each wait for the delivery report before sending the next — as
//! `wrk`'s connections wait for the bridge's 200. Prints acknowledged messages/s and p99.
//!
//! ```text
//! BROKERS=127.0.0.1:9092 TOPIC=vod.media.uploaded CONCURRENCY=64 DURATION_SECS=15 \
//!     cargo run --release -p vodbridge-sink-kafka --example bare_producer
//! ```

#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use vodbridge_core::CanonicalEvent;

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[tokio::main]
async fn main() {
    let brokers = env("BROKERS", "127.0.0.1:9092");
    let topic = Arc::new(env("TOPIC", "vod.media.uploaded"));
    let concurrency: usize = env("CONCURRENCY", "64").parse().expect("CONCURRENCY");
    let duration = Duration::from_secs(env("DURATION_SECS", "15").parse().expect("DURATION_SECS"));
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("acks", "all")
        .set("enable.idempotence", env("IDEMPOTENCE", "true"))
        .set("linger.ms", "5")
        .set("compression.type", "lz4")
        .set("message.timeout.ms", "8000")
        .create()
        .expect("producer");
    // The canonical event the bridge makes of the benchmark's callback body; every message gets
    // a fresh media id in place of the fixture's, as the wrk script does for the bridge.
    let event_path = env(
        "EVENT",
        "tests/fixtures/tencent/new_file_upload.expected.json",
    );
    let marker = Arc::new(env("BENCH_MARKER", "5285890784273533167"));
    let text = std::fs::read_to_string(&event_path).expect("EVENT file");
    let events: Vec<CanonicalEvent> =
        serde_json::from_str(&text).expect("EVENT is a JSON array of CloudEvents");
    let event = Arc::new(events.into_iter().next().expect("one event"));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(concurrency);
    for worker in 0..concurrency {
        let (producer, topic) = (producer.clone(), Arc::clone(&topic));
        let (event, marker) = (Arc::clone(&event), Arc::clone(&marker));
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failed = 0u64;
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let media = format!("{worker}{n:09}");
                let data = event.data_json().replace(marker.as_str(), &media);
                let attrs: Vec<(String, String)> = event
                    .attributes()
                    .into_iter()
                    .map(|(k, v)| (format!("ce_{k}"), v.replace(marker.as_str(), &media)))
                    .collect();
                let headers = attrs.iter().fold(
                    OwnedHeaders::new_with_capacity(attrs.len() + 1).insert(Header {
                        key: "content-type",
                        value: Some("application/json"),
                    }),
                    |h, (key, value)| {
                        h.insert(Header {
                            key,
                            value: Some(value.as_str()),
                        })
                    },
                );
                let record = FutureRecord::to(&topic)
                    .key(&media)
                    .payload(&data)
                    .headers(headers);
                let sent = Instant::now();
                match producer.send(record, Duration::from_secs(8)).await {
                    Ok(_) => latencies.push(sent.elapsed()),
                    Err(_) => failed += 1,
                }
            }
            (latencies, failed)
        }));
    }
    let mut latencies = Vec::new();
    let mut failed = 0;
    for t in tasks {
        let (l, f) = t.await.expect("worker");
        latencies.extend(l);
        failed += f;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let p = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
    };
    println!(
        "bare_producer acked={} failed={failed} rate={:.0}/s p50={:?} p99={:?}",
        latencies.len(),
        latencies.len() as f64 / elapsed,
        p(0.50).copied().unwrap_or_default(),
        p(0.99).copied().unwrap_or_default()
    );
}
