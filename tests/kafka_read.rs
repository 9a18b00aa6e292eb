//! Reading a Kafka topic back in the end-to-end tests: every partition from the beginning.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};

/// One record as a test looks at it.
#[derive(Debug)]
pub struct Record {
    /// The record's key, when it has one.
    pub key: Option<String>,
    /// Headers by name (the last value of a repeated one).
    pub headers: HashMap<String, String>,
    /// The value, parsed as JSON (the data in binary mode, the whole event in structured mode).
    pub value: serde_json::Value,
}

impl Record {
    /// The value of header `name`, or `""`.
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }
}

/// Read every partition of `topic` from the beginning until `want` records arrived or
/// `deadline` passed; blocking (call it from `spawn_blocking` or `block_in_place`).
pub fn read_topic(brokers: &str, topic: &str, want: usize, deadline: Instant) -> Vec<Record> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "vodbridge-e2e-reader")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    let partitions = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .map(|t| t.partitions().len())
        .unwrap_or(0);
    assert!(partitions > 0, "topic {topic} does not exist");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions as i32 {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .expect("offset");
    }
    consumer.assign(&tpl).expect("assign");
    let mut out = Vec::new();
    while out.len() < want && Instant::now() < deadline {
        let Some(msg) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let msg = msg.expect("consume");
        let headers = msg
            .headers()
            .map(|hs| {
                hs.iter()
                    .map(|h| {
                        let value = String::from_utf8_lossy(h.value.unwrap_or_default());
                        (h.key.to_owned(), value.into_owned())
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push(Record {
            key: msg.key().map(|k| String::from_utf8_lossy(k).into_owned()),
            headers,
            value: serde_json::from_slice(msg.payload().unwrap_or_default())
                .expect("the value is JSON"),
        });
    }
    out
}
