//! A server crash mid-stream loses no acknowledged event: the NATS server is killed (SIGKILL)
//! and restarted on the same port and store while a publisher keeps going. Publishes during the
//! outage must fail as retriable errors (never `Ok`, never silently), the publisher retries them
//! until `Ok`, and afterwards every acknowledged event is in the stream, each exactly once.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{client, event, header, jetstream_config, read_stream, sink};
use vodbridge_core::Sink;
use vodbridge_sink_nats::binding::MSG_ID_HEADER;
use vodbridge_test_support::nats::NatsServer;

const BATCHES: usize = 200;
const BATCH: usize = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_acknowledged_event_is_lost_across_a_server_crash() {
    let mut server = NatsServer::start().await;
    let mut config = jetstream_config(&server.url());
    config.ack_timeout = Duration::from_millis(500);
    let (sink, _registry) = sink("nats", config).await;
    let sink = Arc::new(sink);
    let acked_batches = Arc::new(AtomicUsize::new(0));

    let publisher = tokio::spawn({
        let sink = Arc::clone(&sink);
        let acked_batches = Arc::clone(&acked_batches);
        async move {
            let mut acknowledged = Vec::new();
            let mut failures: HashMap<&'static str, usize> = HashMap::new();
            for b in 0..BATCHES {
                let events: Vec<_> = (0..BATCH)
                    .map(|i| event(&format!("ev-{b}-{i}"), "vod.media.uploaded"))
                    .collect();
                loop {
                    match sink.publish(&events).await {
                        Ok(()) => break,
                        Err(e) => {
                            assert!(e.is_retriable(), "an outage must be retriable: {e}");
                            *failures.entry(e.reason).or_default() += 1;
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
                acknowledged.extend(events.into_iter().map(|e| e.id));
                acked_batches.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            (acknowledged, failures)
        }
    });

    while acked_batches.load(Ordering::SeqCst) < BATCHES / 4 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.stop().await;
    // Stay down long enough that publishes surely hit the outage.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let during_outage = acked_batches.load(Ordering::SeqCst);
    server.start_again().await;

    let (acknowledged, failures) = tokio::time::timeout(Duration::from_secs(120), publisher)
        .await
        .expect("publisher finished")
        .expect("no panic");
    assert!(
        during_outage < BATCHES,
        "the publisher finished before the outage; the test proved nothing"
    );
    assert!(
        !failures.is_empty(),
        "publishes during the outage must have failed"
    );

    let stored = read_stream(&client(&server.url()).await, "VOD").await;
    let stored_ids: Vec<String> = stored
        .iter()
        .map(|m| header(m, MSG_ID_HEADER).unwrap_or_default().to_owned())
        .collect();
    let unique: BTreeSet<&String> = stored_ids.iter().collect();
    let missing: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !unique.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged but lost: {missing:?}; failures {failures:?}; log:\n{}",
        server.log()
    );
    assert_eq!(acknowledged.len(), BATCHES * BATCH);
    assert_eq!(
        stored_ids.len(),
        unique.len(),
        "retried events stored twice despite Nats-Msg-Id"
    );
    eprintln!("failures during the outage by reason: {failures:?}");
}
