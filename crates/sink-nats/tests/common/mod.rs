//! Shared helpers of the NATS sink integration tests: test events, a sink on a test server, and
//! reading a stream back through a real JetStream consumer.

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use async_nats::jetstream::{self, consumer};
use futures::StreamExt as _;
use vodbridge_core::CanonicalEvent;
use vodbridge_sink_nats::{NatsSink, NatsSinkConfig, StreamConfig};

/// A canonical event literal (the normalizer is not needed to test a sink).
pub fn event(id: &str, ty: &str) -> CanonicalEvent {
    vodbridge_test_support::event(id, ty)
        .data(&format!(r#"{{"media":{{"id":"media-{id}"}},"n":"{id}"}}"#))
        .build()
}

/// A JetStream sink config that creates stream `VOD` on `vod.>`.
pub fn jetstream_config(url: &str) -> NatsSinkConfig {
    let mut config = NatsSinkConfig::new(url);
    config.stream = Some(StreamConfig {
        name: "VOD".into(),
        subjects: vec!["vod.>".into()],
        max_age: Some(Duration::from_secs(3600)),
        duplicate_window: None,
        replicas: 1,
        storage: Default::default(),
    });
    config
}

/// Connect a sink named `name` with its own registry.
pub async fn sink(name: &str, config: NatsSinkConfig) -> (NatsSink, prometheus::Registry) {
    let registry = prometheus::Registry::new();
    let sink = NatsSink::connect(name.into(), config, &registry)
        .await
        .expect("connect sink");
    (sink, registry)
}

/// A plain client to read back with.
pub async fn client(url: &str) -> async_nats::Client {
    async_nats::connect(url).await.expect("connect reader")
}

/// Subscribe to `prefix.>` and return once the server is known to have the subscription.
///
/// `flush` only empties the client's socket buffer, so a message published right after it on
/// another connection could reach the server first and miss the subscriber; a probe of the
/// reader's own (`prefix.probe`) coming back proves the subscription is in place.
pub async fn subscribed(reader: &async_nats::Client, prefix: &str) -> async_nats::Subscriber {
    let mut sub = reader
        .subscribe(format!("{prefix}.>"))
        .await
        .expect("subscribe");
    let probe = format!("{prefix}.probe");
    reader
        .publish(probe.clone(), "probe".into())
        .await
        .expect("publish probe");
    let back = tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("probe comes back")
        .expect("subscription open");
    assert_eq!(back.subject.as_str(), probe);
    sub
}

/// Every message of `stream`, in order, read by a fresh pull consumer.
pub async fn read_stream(client: &async_nats::Client, stream: &str) -> Vec<async_nats::Message> {
    let js = jetstream::new(client.clone());
    let mut stream = js.get_stream(stream).await.expect("stream exists");
    let total = stream.info().await.expect("stream info").state.messages as usize;
    let consumer = stream
        .create_consumer(consumer::pull::Config {
            ack_policy: consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .expect("create consumer");
    let mut out = Vec::with_capacity(total);
    while out.len() < total {
        let mut batch = consumer
            .fetch()
            .max_messages(total - out.len())
            .expires(Duration::from_secs(2))
            .messages()
            .await
            .expect("fetch");
        let before = out.len();
        while let Some(msg) = batch.next().await {
            out.push(msg.expect("message").split().0);
        }
        assert!(
            out.len() > before,
            "consumer stalled at {} of {total} messages",
            out.len()
        );
    }
    out
}

/// The value of header `name` (case-insensitive lookup is not needed: we set exact names).
pub fn header<'a>(msg: &'a async_nats::Message, name: &str) -> Option<&'a str> {
    msg.headers
        .as_ref()
        .and_then(|h| h.get(name))
        .map(|v| v.as_str())
}

/// Sum of a metric's samples whose labels contain every `(name, value)` of `labels` (counters and
/// gauges: the value; histograms: the sample count).
pub fn metric(registry: &prometheus::Registry, name: &str, labels: &[(&str, &str)]) -> f64 {
    vodbridge_test_support::metrics::metric(registry, name, labels)
}
