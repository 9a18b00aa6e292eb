//! The NATS sink against a real `nats-server -js`: what a JetStream consumer and a core
//! subscriber read back (subject, headers, body) in both binding modes, acknowledgement rules,
//! deduplication, filtering and failure classes.

mod common;

use std::time::Duration;

use common::{client, event, header, jetstream_config, metric, read_stream, sink, subscribed};
use futures::StreamExt as _;
use vodbridge_core::{BindingMode, CanonicalEvent, Sink, SinkHealth};
use vodbridge_sink_nats::binding::{MSG_ID_HEADER, STRUCTURED_CONTENT_TYPE};
use vodbridge_sink_nats::NatsSinkConfig;
use vodbridge_test_support::nats::NatsServer;
use vodbridge_test_support::proxy::TcpProxy;

fn sample() -> Vec<CanonicalEvent> {
    vec![
        event("a1", "vod.media.uploaded"),
        event("a2", "vod.transcode.completed"),
        event("a3", "vod.media.deleted"),
    ]
}

/// Collect `n` messages from a core subscription, failing after a few seconds.
async fn take(sub: &mut async_nats::Subscriber, n: usize) -> Vec<async_nats::Message> {
    let mut out = Vec::new();
    while out.len() < n {
        let msg = tokio::time::timeout(Duration::from_secs(5), sub.next())
            .await
            .unwrap_or_else(|_| panic!("only {} of {n} messages arrived", out.len()))
            .expect("subscription open");
        out.push(msg);
    }
    out
}

#[tokio::test]
async fn structured_mode_reaches_consumer_and_subscriber() {
    let server = NatsServer::start().await;
    let reader = client(&server.url()).await;
    let mut sub = subscribed(&reader, "vod").await;
    let (sink, registry) = sink("nats", jetstream_config(&server.url())).await;

    let events = sample();
    sink.publish(&events).await.expect("acknowledged");

    for stored in [read_stream(&reader, "VOD").await, take(&mut sub, 3).await] {
        assert_eq!(stored.len(), 3);
        for (msg, ev) in stored.iter().zip(&events) {
            assert_eq!(msg.subject.as_str(), ev.ty, "subject is the canonical type");
            assert_eq!(header(msg, "Content-Type"), Some(STRUCTURED_CONTENT_TYPE));
            assert_eq!(header(msg, MSG_ID_HEADER), Some(ev.id.as_str()));
            assert!(
                header(msg, "ce-id").is_none(),
                "structured mode has no ce- headers"
            );
            assert_eq!(&msg.payload[..], &ev.to_structured_json()[..]);
            let parsed: CanonicalEvent =
                serde_json::from_slice(&msg.payload).expect("cloudevent json");
            assert_eq!(parsed.id, ev.id);
            assert_eq!(parsed.data.get(), ev.data.get());
        }
    }
    assert_eq!(
        metric(
            &registry,
            "vodbridge_nats_published_total",
            &[("sink", "nats")]
        ),
        3.0
    );
    assert_eq!(
        metric(
            &registry,
            "vodbridge_nats_ack_latency_seconds",
            &[("sink", "nats")]
        ),
        3.0
    );
    assert_eq!(
        metric(&registry, "vodbridge_nats_in_flight", &[("sink", "nats")]),
        0.0
    );
    assert_eq!(sink.health().await, SinkHealth::Healthy);
}

#[tokio::test]
async fn binary_mode_maps_attributes_to_headers() {
    let server = NatsServer::start().await;
    let reader = client(&server.url()).await;
    let mut sub = subscribed(&reader, "tencent").await;
    let mut config = jetstream_config(&server.url());
    config.mode = BindingMode::Binary;
    config.subject = "{provider}.{type}".into();
    if let Some(stream) = config.stream.as_mut() {
        stream.subjects = vec!["tencent.>".into()];
    }
    let (sink, _registry) = sink("nats-binary", config).await;

    let events = sample();
    sink.publish(&events).await.expect("acknowledged");

    for stored in [read_stream(&reader, "VOD").await, take(&mut sub, 3).await] {
        assert_eq!(stored.len(), 3);
        for (msg, ev) in stored.iter().zip(&events) {
            assert_eq!(msg.subject.as_str(), format!("tencent.{}", ev.ty));
            assert_eq!(header(msg, "Content-Type"), Some("application/json"));
            assert_eq!(header(msg, MSG_ID_HEADER), Some(ev.id.as_str()));
            for (name, value) in ev.attributes() {
                assert_eq!(header(msg, &format!("ce-{name}")), Some(value), "ce-{name}");
            }
            assert_eq!(header(msg, "ce-datacontenttype"), Some("application/json"));
            assert_eq!(&msg.payload[..], ev.data_json().as_bytes());
        }
    }
}

#[tokio::test]
async fn redelivered_event_is_stored_once() {
    let server = NatsServer::start().await;
    let (sink, registry) = sink("nats", jetstream_config(&server.url())).await;
    let first = event("same-id", "vod.media.uploaded");
    sink.publish(std::slice::from_ref(&first))
        .await
        .expect("first delivery");
    // A vendor retry: the same occurrence normalizes to the same id, in a batch with a new event.
    sink.publish(&[first.clone(), event("other", "vod.media.uploaded")])
        .await
        .expect("redelivery acknowledged");

    let stored = read_stream(&client(&server.url()).await, "VOD").await;
    let ids: Vec<_> = stored
        .iter()
        .map(|m| header(m, MSG_ID_HEADER).unwrap_or_default().to_owned())
        .collect();
    assert_eq!(ids, ["same-id", "other"]);
    assert_eq!(
        metric(
            &registry,
            "vodbridge_nats_duplicates_total",
            &[("sink", "nats")]
        ),
        1.0
    );
    assert_eq!(
        metric(
            &registry,
            "vodbridge_nats_published_total",
            &[("sink", "nats")]
        ),
        3.0
    );
}

#[tokio::test]
async fn filtered_types_count_as_acknowledged_and_are_not_sent() {
    let server = NatsServer::start().await;
    let mut config = jetstream_config(&server.url());
    config.types = vec!["vod.media.*".into()];
    let (sink, _registry) = sink("nats", config).await;
    sink.publish(&[event("t1", "vod.transcode.completed")])
        .await
        .expect("nothing to send is success");
    sink.publish(&sample()).await.expect("acknowledged");

    let stored = read_stream(&client(&server.url()).await, "VOD").await;
    let subjects: Vec<_> = stored.iter().map(|m| m.subject.to_string()).collect();
    assert_eq!(subjects, ["vod.media.uploaded", "vod.media.deleted"]);
}

#[tokio::test]
async fn publish_to_sends_dead_letters_to_one_subject() {
    let server = NatsServer::start().await;
    let mut config = jetstream_config(&server.url());
    config.types = vec!["vod.media.*".into()];
    let (sink, _registry) = sink("nats", config).await;
    // publish_to ignores the filter: a dead letter must go out whatever its type.
    let letter = event("dl-1", "vodbridge.deadletter");
    sink.publish_to("vod.deadletter", std::slice::from_ref(&letter))
        .await
        .expect("acknowledged");

    let stored = read_stream(&client(&server.url()).await, "VOD").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].subject.as_str(), "vod.deadletter");
    assert_eq!(header(&stored[0], MSG_ID_HEADER), Some("dl-1"));
}

#[tokio::test]
async fn subject_without_stream_is_a_retriable_failure() {
    let server = NatsServer::start().await;
    let (sink, registry) = sink("nats", jetstream_config(&server.url())).await;
    let err = sink
        .publish_to("elsewhere.events", &sample())
        .await
        .expect_err("no stream binds the subject");
    assert!(err.is_retriable(), "{err}");
    assert_eq!(err.reason, "no_stream");
    assert_eq!(
        metric(
            &registry,
            "vodbridge_nats_failed_total",
            &[("sink", "nats"), ("reason", "no_stream")]
        ),
        3.0
    );
}

#[tokio::test]
async fn oversized_and_invalid_subjects_are_permanent() {
    let server = NatsServer::start().await;
    let (sink, _registry) = sink("nats", jetstream_config(&server.url())).await;
    let mut big = event("big", "vod.media.uploaded");
    let blob = "x".repeat(2 * 1024 * 1024);
    big.data =
        serde_json::value::RawValue::from_string(format!(r#"{{"blob":"{blob}"}}"#)).expect("json");
    let err = sink.publish(&[big]).await.expect_err("over max_payload");
    assert!(!err.is_retriable(), "{err}");
    assert_eq!(err.reason, "too_large");

    let err = sink
        .publish_to("vod.>", &sample())
        .await
        .expect_err("wildcard subject");
    assert!(!err.is_retriable(), "{err}");
    assert_eq!(err.reason, "invalid_subject");
}

#[tokio::test]
async fn core_nats_is_acknowledged_after_a_round_trip() {
    let server = NatsServer::start().await;
    let reader = client(&server.url()).await;
    let mut sub = subscribed(&reader, "vod").await;
    let mut config = NatsSinkConfig::new(server.url());
    config.jetstream = false;
    config.mode = BindingMode::Binary;
    let (sink, registry) = sink("core", config).await;

    let events = sample();
    sink.publish(&events).await.expect("acknowledged");
    let got = take(&mut sub, 3).await;
    for (msg, ev) in got.iter().zip(&events) {
        assert_eq!(msg.subject.as_str(), ev.ty);
        assert_eq!(header(msg, "ce-id"), Some(ev.id.as_str()));
        assert_eq!(header(msg, MSG_ID_HEADER), Some(ev.id.as_str()));
        assert_eq!(&msg.payload[..], ev.data_json().as_bytes());
    }
    assert_eq!(
        metric(
            &registry,
            "vodbridge_nats_published_total",
            &[("sink", "core")]
        ),
        3.0
    );
    sink.flush(Duration::from_secs(2))
        .await
        .expect("nothing pending");
}

#[tokio::test]
async fn large_batch_is_acknowledged_in_chunks() {
    let server = NatsServer::start().await;
    let mut config = jetstream_config(&server.url());
    // Smaller than the batch: the sink must send it in several windows without deadlocking.
    config.max_in_flight = 64;
    let (sink, registry) = sink("nats", config).await;
    let events: Vec<_> = (0..500)
        .map(|i| event(&format!("bulk-{i}"), "vod.media.uploaded"))
        .collect();
    sink.publish(&events).await.expect("acknowledged");
    let stored = read_stream(&client(&server.url()).await, "VOD").await;
    assert_eq!(stored.len(), 500);
    assert_eq!(
        metric(
            &registry,
            "vodbridge_nats_published_total",
            &[("sink", "nats")]
        ),
        500.0
    );
}

#[tokio::test]
async fn stream_is_updated_not_replaced_and_two_sinks_share_a_registry() {
    let server = NatsServer::start().await;
    let registry = prometheus::Registry::new();
    let first =
        vodbridge_sink_nats::connect("a".into(), jetstream_config(&server.url()), &registry)
            .await
            .expect("first sink");
    first.publish(&sample()).await.expect("acknowledged");
    let mut config = jetstream_config(&server.url());
    if let Some(stream) = config.stream.as_mut() {
        stream.subjects = vec!["vod.>".into(), "dead.>".into()];
    }
    let second = vodbridge_sink_nats::connect("b".into(), config, &registry)
        .await
        .expect("second sink");
    second
        .publish_to("dead.letters", &[event("d", "vodbridge.deadletter")])
        .await
        .expect("new subject bound");
    assert_eq!(
        read_stream(&client(&server.url()).await, "VOD").await.len(),
        4,
        "stream kept its messages"
    );
    assert_eq!(
        metric(
            &registry,
            "vodbridge_nats_published_total",
            &[("sink", "a")]
        ),
        3.0
    );
    assert_eq!(
        metric(
            &registry,
            "vodbridge_nats_published_total",
            &[("sink", "b")]
        ),
        1.0
    );
}

#[tokio::test]
async fn token_authentication() {
    let server = NatsServer::start_with_args(&["--auth", "s3cret"]).await;
    let registry = prometheus::Registry::new();
    let refused =
        vodbridge_sink_nats::connect("x".into(), jetstream_config(&server.url()), &registry).await;
    assert!(refused.is_err(), "connecting without the token must fail");
    let mut config = jetstream_config(&server.url());
    config.token = Some(vodbridge_core::Secret::new("s3cret"));
    let (sink, _registry) = sink("nats", config).await;
    sink.publish(&sample()).await.expect("acknowledged");
}

#[tokio::test]
async fn health_follows_the_connection() {
    let mut server = NatsServer::start().await;
    let (sink, _registry) = sink("nats", jetstream_config(&server.url())).await;
    assert_eq!(sink.health().await, SinkHealth::Healthy);
    server.stop().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let SinkHealth::Unhealthy(why) = sink.health().await {
            assert!(!why.is_empty());
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still healthy with the server gone"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.start_again().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while sink.health().await != SinkHealth::Healthy {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not healthy again after the restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A client-side flush would report success here: the bytes fit in the socket buffers between
/// the sink and the stalled proxy. Only a round trip through the server proves it read them.
#[tokio::test]
async fn core_nats_through_a_stalled_link_is_not_acknowledged() {
    let server = NatsServer::start().await;
    let proxy = TcpProxy::start(([127, 0, 0, 1], server.port()).into())
        .await
        .expect("proxy");
    let reader = client(&server.url()).await;
    let mut sub = subscribed(&reader, "vod").await;
    let mut config = NatsSinkConfig::new(format!("nats://127.0.0.1:{}", proxy.port()));
    config.jetstream = false;
    config.ack_timeout = Duration::from_millis(500);
    let (sink, registry) = sink("core", config).await;
    sink.publish(&[event("before", "vod.media.uploaded")])
        .await
        .expect("acknowledged while the link moves");
    assert_eq!(
        header(&take(&mut sub, 1).await[0], MSG_ID_HEADER),
        Some("before")
    );

    proxy.stall();
    let error = sink
        .publish(&[event("stalled", "vod.media.uploaded")])
        .await
        .expect_err("the server never read it, so it is not acknowledged");
    assert!(error.is_retriable(), "{error}");
    assert_eq!(error.reason, "timeout", "{error}");
    assert_eq!(
        metric(
            &registry,
            "vodbridge_nats_failed_total",
            &[("sink", "core"), ("reason", "timeout")]
        ),
        1.0
    );

    proxy.resume();
    sink.publish(&[event("after", "vod.media.uploaded")])
        .await
        .expect("acknowledged once the link moves again");
    // The stalled message may still arrive (core NATS is at most once); nothing else may, and
    // "after" must.
    loop {
        let msg = take(&mut sub, 1).await.remove(0);
        match header(&msg, MSG_ID_HEADER) {
            Some("after") => break,
            Some("stalled") => {}
            other => panic!("unexpected message {other:?}"),
        }
    }
}

/// With JetStream the client itself bounds each event's hand-off and PubAck wait by
/// `ack_timeout`: a batch whose PubAcks never come back fails as a retriable `timeout` within a
/// small multiple of it, not only when the caller gives up.
#[tokio::test]
async fn jetstream_through_a_stalled_link_times_out_and_recovers() {
    let server = NatsServer::start().await;
    let proxy = TcpProxy::start(([127, 0, 0, 1], server.port()).into())
        .await
        .expect("proxy");
    // Long enough for the stream set-up through the proxy on a loaded machine; the bound checked
    // below is what matters.
    let ack_timeout = Duration::from_secs(2);
    let mut config = jetstream_config(&format!("nats://127.0.0.1:{}", proxy.port()));
    config.ack_timeout = ack_timeout;
    let (sink, registry) = sink("js", config).await;
    sink.publish(&[event("before", "vod.media.uploaded")])
        .await
        .expect("acknowledged while the link moves");

    proxy.stall();
    let started = std::time::Instant::now();
    let error = sink
        .publish(&sample())
        .await
        .expect_err("no PubAck came back, so nothing is acknowledged");
    let waited = started.elapsed();
    assert!(error.is_retriable(), "{error}");
    assert_eq!(error.reason, "timeout", "{error}");
    // Three hand-offs and the PubAck waits, each step bounded; generous for a loaded machine.
    assert!(
        waited < ack_timeout * 5,
        "failed only after {waited:?} with ack_timeout {ack_timeout:?}"
    );
    assert!(
        metric(
            &registry,
            "vodbridge_nats_failed_total",
            &[("sink", "js"), ("reason", "timeout")]
        ) >= 1.0
    );

    proxy.resume();
    sink.publish(&[event("after", "vod.media.uploaded")])
        .await
        .expect("acknowledged once the link moves again");
    // JetStream is at least once: the stalled batch may have been stored too, "after" must be.
    let ids: Vec<String> = read_stream(&client(&server.url()).await, "VOD")
        .await
        .iter()
        .filter_map(|m| header(m, MSG_ID_HEADER).map(str::to_owned))
        .collect();
    assert!(ids.contains(&"before".to_owned()), "{ids:?}");
    assert!(ids.contains(&"after".to_owned()), "{ids:?}");
}
