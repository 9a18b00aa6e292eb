//! Start-up without the server: the sink starts anyway, reports not ready and fails publishes
//! as retriable at once (no hang), then recovers by itself when the server appears — ready,
//! the JetStream stream created only then, events acknowledged and readable. A stream the
//! server refuses is loud (at start-up: `connect` fails; later: unhealthy with the reason) and
//! is retried, so fixing the server side is enough.

mod common;

use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream};
use common::{client, event, header, jetstream_config, metric, read_stream, sink, subscribed};
use futures::StreamExt as _;
use vodbridge_core::{Sink, SinkHealth};
use vodbridge_sink_nats::binding::MSG_ID_HEADER;
use vodbridge_sink_nats::{NatsSink, NatsSinkConfig, NatsSinkError};
use vodbridge_test_support::nats::NatsServer;

/// Upper bound for anything that must not hang (connect, one failing publish).
const NO_HANG: Duration = Duration::from_secs(15);
/// Upper bound for the sink to notice a server that came (back) up.
const RECOVERY: Duration = Duration::from_secs(30);

/// Connect, failing the test when `connect` does not return within [`NO_HANG`].
async fn connect_bounded(config: NatsSinkConfig) -> (NatsSink, prometheus::Registry) {
    tokio::time::timeout(NO_HANG, sink("nats", config))
        .await
        .expect("connect returned while the server is down")
}

/// Poll `health` until it satisfies `accept`, failing after [`RECOVERY`] with the last answer.
async fn wait_health(sink: &NatsSink, server: &NatsServer, accept: impl Fn(&SinkHealth) -> bool) {
    vodbridge_test_support::wait_health(sink, RECOVERY, accept, || server.log()).await;
}

fn unhealthy_because(health: &SinkHealth, needle: &str) -> bool {
    matches!(health, SinkHealth::Unhealthy(why) if why.contains(needle))
}

#[tokio::test]
async fn jetstream_sink_starts_without_the_server_and_recovers_when_it_appears() {
    let mut server = NatsServer::start().await;
    // Only the sink creates streams on this server: the stream is not there before it runs.
    let reader = jetstream::new(client(&server.url()).await);
    assert!(reader.get_stream("VOD").await.is_err(), "fresh store");
    drop(reader);
    server.stop().await;

    let mut config = jetstream_config(&server.url());
    config.ack_timeout = Duration::from_secs(1);
    let started = Instant::now();
    let (sink, registry) = connect_bounded(config).await;
    let connect_took = started.elapsed();

    let health = sink.health().await;
    assert!(
        unhealthy_because(&health, "nats connection"),
        "not ready while the server is down: {health:?}"
    );
    let started = Instant::now();
    for attempt in [
        sink.publish(&[event("down-1", "vod.media.uploaded")]),
        sink.publish_to("vod.dead", &[event("down-2", "vod.media.uploaded")]),
    ] {
        let error = tokio::time::timeout(NO_HANG, attempt)
            .await
            .expect("a publish while down does not hang")
            .expect_err("nothing can be acknowledged while the server is down");
        assert!(error.is_retriable(), "{error}");
        assert_eq!(error.reason, "disconnected", "{error}");
    }
    assert_eq!(
        metric(
            &registry,
            "vodbridge_nats_failed_total",
            &[("sink", "nats"), ("reason", "disconnected")]
        ),
        2.0
    );
    let publishes_took = started.elapsed();

    server.start_again().await;
    let started = Instant::now();
    wait_health(&sink, &server, |h| *h == SinkHealth::Healthy).await;
    eprintln!(
        "server down: connect {connect_took:?}, two failing publishes {publishes_took:?}; ready {:?} after the server answered",
        started.elapsed()
    );
    sink.publish(&[event("up-1", "vod.media.uploaded")])
        .await
        .expect("acknowledged once the server is up");

    let stored = read_stream(&client(&server.url()).await, "VOD").await;
    let ids: Vec<&str> = stored
        .iter()
        .filter_map(|m| header(m, MSG_ID_HEADER))
        .collect();
    assert_eq!(
        ids,
        ["up-1"],
        "the stream was created after start-up and holds the event"
    );
}

#[tokio::test]
async fn core_nats_sink_starts_without_the_server_and_recovers_when_it_appears() {
    let mut server = NatsServer::start().await;
    server.stop().await;
    let mut config = NatsSinkConfig::new(server.url());
    config.jetstream = false;
    config.ack_timeout = Duration::from_secs(1);
    let (sink, _registry) = connect_bounded(config).await;

    assert!(unhealthy_because(&sink.health().await, "nats connection"));
    let error = tokio::time::timeout(NO_HANG, sink.publish(&[event("c0", "vod.media.uploaded")]))
        .await
        .expect("a publish while down does not hang")
        .expect_err("not acknowledged while down");
    assert!(error.is_retriable(), "{error}");

    server.start_again().await;
    wait_health(&sink, &server, |h| *h == SinkHealth::Healthy).await;
    let reader = client(&server.url()).await;
    let mut sub = subscribed(&reader, "vod").await;
    sink.publish(&[event("c1", "vod.media.uploaded")])
        .await
        .expect("acknowledged once the server is up");
    let msg = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("message arrives")
        .expect("subscription open");
    assert_eq!(header(&msg, MSG_ID_HEADER), Some("c1"));
}

/// A stream `OTHER` that already binds `vod.>`, which the sink's `VOD` stream would overlap.
async fn create_overlapping_stream(server: &NatsServer) -> jetstream::Context {
    let js = jetstream::new(client(&server.url()).await);
    js.create_stream(stream::Config {
        name: "OTHER".into(),
        subjects: vec!["vod.>".into()],
        ..Default::default()
    })
    .await
    .expect("create OTHER");
    js
}

#[tokio::test]
async fn stream_refused_at_start_up_fails_connect() {
    let server = NatsServer::start().await;
    let _js = create_overlapping_stream(&server).await;
    let registry = prometheus::Registry::new();
    let error =
        vodbridge_sink_nats::connect("nats".into(), jetstream_config(&server.url()), &registry)
            .await
            .expect_err("a reachable server refusing the stream stops start-up");
    assert!(
        matches!(error, NatsSinkError::Stream { ref stream, .. } if stream == "VOD"),
        "{error:?}"
    );
}

#[tokio::test]
async fn stream_refused_after_a_late_start_is_reported_and_retried() {
    let mut server = NatsServer::start().await;
    drop(create_overlapping_stream(&server).await);
    server.stop().await;

    let mut config = jetstream_config(&server.url());
    config.ack_timeout = Duration::from_secs(1);
    let (sink, registry) = connect_bounded(config).await;
    server.start_again().await;
    wait_health(&sink, &server, |h| {
        unhealthy_because(h, "refused by the server")
    })
    .await;

    // OTHER would take the message and acknowledge it; the sink must not publish past a stream
    // it could not set up.
    let error = tokio::time::timeout(NO_HANG, sink.publish(&[event("r1", "vod.media.uploaded")]))
        .await
        .expect("a publish does not hang")
        .expect_err("no publish before the stream is set up");
    assert!(error.is_retriable(), "{error}");
    assert_eq!(error.reason, "no_stream", "{error}");
    let js = jetstream::new(client(&server.url()).await);
    let mut other = js.get_stream("OTHER").await.expect("OTHER exists");
    assert_eq!(other.info().await.expect("info").state.messages, 0);
    assert_eq!(
        metric(
            &registry,
            "vodbridge_nats_failed_total",
            &[("sink", "nats"), ("reason", "no_stream")]
        ),
        1.0
    );

    // The operator removes the conflict; the sink retries by itself.
    js.delete_stream("OTHER").await.expect("delete OTHER");
    wait_health(&sink, &server, |h| *h == SinkHealth::Healthy).await;
    sink.publish(&[event("r2", "vod.media.uploaded")])
        .await
        .expect("acknowledged after the fix");
    let stored = read_stream(&client(&server.url()).await, "VOD").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(header(&stored[0], MSG_ID_HEADER), Some("r2"));
}
