//! Shared helpers of the Kafka sink integration tests: sample events and a real rdkafka consumer
//! that reads a topic back from the beginning.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use vodbridge_core::CanonicalEvent;

/// A canonical event of type `ty` about media `media`, numbered `n`.
pub(crate) fn event(ty: &str, media: &str, n: usize) -> CanonicalEvent {
    vodbridge_test_support::event(format!("{media}-{n}"), ty)
        .media(media)
        .source("tencent-main")
        .data(&format!(r#"{{"media":{{"id":"{media}"}},"n":{n}}}"#))
        .build()
}

/// One consumed record, owned.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub(crate) topic: String,
    pub(crate) partition: i32,
    pub(crate) offset: i64,
    pub(crate) key: Option<String>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) value: Vec<u8>,
}

impl Record {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.value).expect("value is JSON")
    }
}

fn owned(m: &BorrowedMessage<'_>) -> Record {
    let headers = m
        .headers()
        .map(|hs| {
            hs.iter()
                .map(|h| {
                    (
                        h.key.to_owned(),
                        String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Record {
        topic: m.topic().to_owned(),
        partition: m.partition(),
        offset: m.offset(),
        key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
        headers,
        value: m.payload().unwrap_or_default().to_vec(),
    }
}

/// Read `topic` from the beginning of every partition until `expected` records arrived (or
/// `timeout` passed), then keep reading briefly to catch unexpected extra records.
pub(crate) async fn consume(
    bootstrap: &str,
    topic: &str,
    expected: usize,
    timeout: Duration,
) -> Vec<Record> {
    let bootstrap = bootstrap.to_owned();
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || consume_blocking(&bootstrap, &topic, expected, timeout))
        .await
        .expect("consumer task")
}

fn consume_blocking(
    bootstrap: &str,
    topic: &str,
    expected: usize,
    timeout: Duration,
) -> Vec<Record> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("vodbridge-test-{topic}"))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("consumer");
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("topic metadata");
    let partitions = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .map(|t| t.partitions().len())
        .unwrap_or(0);
    assert!(partitions > 0, "topic {topic} has no partitions");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions as i32 {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .expect("partition offset");
    }
    consumer.assign(&tpl).expect("assign");
    let mut out = Vec::new();
    let started = Instant::now();
    let mut extra_until: Option<Instant> = None;
    while started.elapsed() < timeout {
        if out.len() >= expected && extra_until.is_none() {
            extra_until = Some(Instant::now() + Duration::from_millis(500));
        }
        if extra_until.is_some_and(|t| Instant::now() > t) {
            break;
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => out.push(owned(&m)),
            Some(Err(e)) => eprintln!("consumer error (continuing): {e}"),
            None => {}
        }
    }
    out
}
