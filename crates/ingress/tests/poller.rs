//! Poller behaviour against the fake VOD API (real HTTP on loopback, real TC3 signatures), with a
//! recording in-memory sink. Broker end-to-end runs live in the workspace `tests/` crate.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use prometheus::Registry;
use tokio_util::sync::CancellationToken;
use vodbridge_core::{CanonicalEvent, Sink, SinkError, SinkHealth, DEAD_LETTER_TYPE};
use vodbridge_ingress::poller::{PollConfig, Poller};
use vodbridge_ingress::{ComponentState, DeadLetterRoute, Dispatcher, Readiness};
use vodbridge_test_support::fake_vod::{
    poison_event, procedure_event, upload_event, FakeVod, FakeVodConfig,
};
use vodbridge_test_support::metrics::{scraped, text};

/// Records what it is given; can be told to fail or to be slow.
#[derive(Default)]
struct RecordingSink {
    published: Mutex<Vec<CanonicalEvent>>,
    attempted: Mutex<Vec<String>>,
    dead: Mutex<Vec<CanonicalEvent>>,
    fail: AtomicBool,
    fail_dead: AtomicBool,
    delay: Mutex<Duration>,
}

impl RecordingSink {
    fn published_ids(&self) -> Vec<String> {
        self.published
            .lock()
            .expect("lock")
            .iter()
            .map(|e| e.id.clone())
            .collect()
    }
}

#[async_trait]
impl Sink for RecordingSink {
    fn name(&self) -> &str {
        "recording"
    }

    async fn publish(&self, events: &[CanonicalEvent]) -> Result<(), SinkError> {
        self.attempted
            .lock()
            .expect("lock")
            .extend(events.iter().map(|e| e.id.clone()));
        let delay = *self.delay.lock().expect("lock");
        tokio::time::sleep(delay).await;
        if self.fail.load(Ordering::SeqCst) {
            return Err(SinkError::retriable(
                "recording",
                "unreachable",
                "test sink is down",
            ));
        }
        self.published
            .lock()
            .expect("lock")
            .extend(events.iter().cloned());
        Ok(())
    }

    async fn publish_to(
        &self,
        _destination: &str,
        events: &[CanonicalEvent],
    ) -> Result<(), SinkError> {
        if self.fail_dead.load(Ordering::SeqCst) {
            return Err(SinkError::retriable(
                "recording",
                "unreachable",
                "dead-letter route is down",
            ));
        }
        self.dead
            .lock()
            .expect("lock")
            .extend(events.iter().cloned());
        Ok(())
    }

    async fn health(&self) -> SinkHealth {
        SinkHealth::Healthy
    }

    async fn flush(&self, _deadline: Duration) -> Result<(), SinkError> {
        Ok(())
    }
}

struct Harness {
    fake: FakeVod,
    sink: Arc<RecordingSink>,
    registry: Registry,
    readiness: Readiness,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

fn fast_fake() -> FakeVodConfig {
    FakeVodConfig {
        hold: Duration::from_millis(200),
        visibility_timeout: Duration::from_secs(1),
        ..FakeVodConfig::default()
    }
}

fn poll_config(fake: &FakeVod) -> PollConfig {
    let mut config = PollConfig::new(
        fake.config().secret_id.clone(),
        fake.config().secret_key.clone(),
    );
    config.endpoint = fake.endpoint();
    config.concurrency = 2;
    config.backoff_initial = Duration::from_millis(20);
    config.backoff_max = Duration::from_millis(200);
    config
}

impl Harness {
    async fn start(fake_config: FakeVodConfig, tweak: impl FnOnce(&mut PollConfig)) -> Self {
        let fake = FakeVod::start(fake_config).await.expect("fake vod");
        let mut config = poll_config(&fake);
        tweak(&mut config);
        Self::start_with(fake, config, Arc::new(RecordingSink::default()))
    }

    fn start_with(fake: FakeVod, config: PollConfig, sink: Arc<RecordingSink>) -> Self {
        let registry = Registry::new();
        let readiness = Readiness::new();
        let route = DeadLetterRoute {
            sink: sink.clone(),
            destination: "vod.deadletter".into(),
        };
        let dispatcher = Dispatcher::new(
            vec![sink.clone()],
            Some(route),
            Duration::from_secs(5),
            &registry,
        )
        .expect("dispatcher");
        let poller = Poller::new(
            "tc",
            "/vodbridge/tc",
            config,
            dispatcher,
            readiness.clone(),
            &registry,
        )
        .expect("poller");
        let shutdown = CancellationToken::new();
        let task = Some(tokio::spawn(poller.run(shutdown.clone())));
        Self {
            fake,
            sink,
            registry,
            readiness,
            shutdown,
            task,
        }
    }

    fn state(&self) -> Option<ComponentState> {
        self.readiness
            .snapshot()
            .into_iter()
            .find(|(name, _)| name == "poller:tc")
            .map(|(_, s)| s)
    }

    /// Sum of the poller series `name` whose labels include every `labels` pair.
    fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        scraped(&text(&self.registry), name, labels)
    }

    async fn stop(mut self) -> Self {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("poller stops")
                .expect("no panic");
        }
        self
    }
}

async fn eventually(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn every_event_reaches_the_sink_exactly_once() {
    let h = Harness::start(fast_fake(), |_| {}).await;
    h.fake.push_all(
        (0..60)
            .map(upload_event)
            .chain((0..40).map(procedure_event)),
    );
    assert!(
        h.fake.wait_confirmed(100, Duration::from_secs(20)).await,
        "confirmed {}",
        h.fake.confirmed()
    );
    let h = h.stop().await;

    let ids = h.sink.published_ids();
    assert_eq!(ids.len(), 100);
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        100,
        "distinct canonical ids"
    );
    assert!(
        h.fake.delivery_counts().iter().all(|&n| n == 1),
        "{:?}",
        h.fake.delivery_counts()
    );
    assert_eq!(h.fake.pending(), 0);
    assert!(h.fake.max_confirm_batch() <= 16);
    assert_eq!(
        h.metric("vodbridge_poller_events_pulled_total", &[("source", "tc")]),
        100.0
    );
    assert_eq!(
        h.metric("vodbridge_poller_events_confirmed_total", &[]),
        100.0
    );
    assert_eq!(
        h.metric("vodbridge_poller_events_redelivered_total", &[]),
        0.0
    );
    assert!(
        h.metric("vodbridge_poller_confirm_latency_seconds_count", &[]) >= 7.0,
        "≥ 100/16 confirm calls"
    );
    assert_eq!(h.state(), Some(ComponentState::Ready));
    let published = h.sink.published.lock().expect("lock");
    assert!(published
        .iter()
        .all(|e| e.source == "/vodbridge/tc" && e.source_name == "tc"));
    assert!(published.iter().any(|e| e.providertype == "NewFileUpload"));
    assert!(published
        .iter()
        .any(|e| e.providertype == "ProcedureStateChanged"));
    // One trace per pull: as many trace ids as pulls that returned events.
    let trace_ids: HashSet<&str> = published
        .iter()
        .map(|e| {
            let tp = e
                .traceparent
                .as_deref()
                .expect("every pulled event is traced");
            assert_eq!(tp.len(), 55, "{tp}");
            &tp[3..35]
        })
        .collect();
    let pulls_with_events = h.metric("vodbridge_poller_pulls_total", &[("result", "events")]);
    assert!(pulls_with_events >= 1.0);
    assert_eq!(trace_ids.len() as f64, pulls_with_events);
}

#[tokio::test]
async fn sink_failure_leaves_events_unconfirmed_until_redelivered_with_the_same_ids() {
    let sink = Arc::new(RecordingSink::default());
    sink.fail.store(true, Ordering::SeqCst);
    let fake = FakeVod::start(fast_fake()).await.expect("fake");
    let config = poll_config(&fake);
    let h = Harness::start_with(fake, config, sink);
    h.fake.push_all((0..20).map(upload_event));

    eventually(
        "every event attempted once",
        Duration::from_secs(10),
        || h.fake.pulled_events() >= 20,
    )
    .await;
    // Give the poller time to (wrongly) confirm if it were going to.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        h.fake.confirmed(),
        0,
        "nothing is confirmed while the sink fails"
    );
    assert_eq!(h.fake.requests("ConfirmEvents"), 0);
    let first_attempt: HashSet<String> = h
        .sink
        .attempted
        .lock()
        .expect("lock")
        .iter()
        .cloned()
        .collect();
    assert_eq!(first_attempt.len(), 20);

    h.sink.fail.store(false, Ordering::SeqCst);
    assert!(
        h.fake.wait_confirmed(20, Duration::from_secs(20)).await,
        "confirmed {}",
        h.fake.confirmed()
    );
    let h = h.stop().await;

    let delivered: HashSet<String> = h.sink.published_ids().into_iter().collect();
    assert_eq!(
        delivered, first_attempt,
        "redelivered events keep their canonical ids"
    );
    assert!(
        h.fake.delivery_counts().iter().all(|&n| n >= 2),
        "each came back from VOD"
    );
    assert!(h.metric("vodbridge_poller_events_redelivered_total", &[]) >= 20.0);
    assert!(
        h.metric(
            "vodbridge_poller_events_unconfirmed_total",
            &[("reason", "sink_failed")]
        ) >= 20.0
    );
    assert_eq!(h.state(), Some(ComponentState::Ready));
}

#[tokio::test]
async fn poison_event_is_dead_lettered_then_confirmed() {
    let h = Harness::start(fast_fake(), |_| {}).await;
    let poison = h.fake.push(poison_event(7));
    h.fake.push(upload_event(1));
    assert!(h.fake.wait_confirmed(2, Duration::from_secs(10)).await);
    let h = h.stop().await;

    assert!(h.fake.is_confirmed(poison));
    assert_eq!(h.fake.deliveries(poison), 1);
    let dead = h.sink.dead.lock().expect("lock");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].ty, DEAD_LETTER_TYPE);
    assert!(dead[0].traceparent.is_some(), "the pull's trace");
    let data: serde_json::Value = serde_json::from_str(dead[0].data_json()).expect("json");
    assert_eq!(data["ingress"], "pull");
    let body: serde_json::Value =
        serde_json::from_str(data["body"].as_str().expect("body text")).expect("raw element");
    assert_eq!(body["NotAnEvent"], 7, "the raw element is kept");
    assert_eq!(h.sink.published_ids().len(), 1);
    assert_eq!(
        h.metric("vodbridge_poller_events_dead_lettered_total", &[]),
        1.0
    );
}

#[tokio::test]
async fn poison_event_stays_unconfirmed_while_the_dead_letter_route_fails() {
    let sink = Arc::new(RecordingSink::default());
    sink.fail_dead.store(true, Ordering::SeqCst);
    let fake = FakeVod::start(fast_fake()).await.expect("fake");
    let config = poll_config(&fake);
    let h = Harness::start_with(fake, config, sink);
    let poison = h.fake.push(poison_event(1));
    let good = h.fake.push(upload_event(1));

    eventually("poison pulled twice", Duration::from_secs(10), || {
        h.fake.deliveries(poison) >= 2
    })
    .await;
    assert!(!h.fake.is_confirmed(poison));
    assert!(
        h.fake.is_confirmed(good),
        "the good event in the same batch is confirmed"
    );
    assert!(
        h.metric(
            "vodbridge_poller_events_unconfirmed_total",
            &[("reason", "dead_letter_failed")]
        ) >= 1.0
    );

    h.sink.fail_dead.store(false, Ordering::SeqCst);
    eventually(
        "poison confirmed once the route recovers",
        Duration::from_secs(10),
        || h.fake.is_confirmed(poison),
    )
    .await;
    let h = h.stop().await;
    assert_eq!(h.sink.dead.lock().expect("lock").len(), 1);
}

#[tokio::test]
async fn wrong_key_marks_the_poller_failed_without_tight_looping() {
    let h = Harness::start(fast_fake(), |c| {
        c.secret_key = Some(vodbridge_core::Secret::new("wrong-key"))
    })
    .await;
    eventually("failed state", Duration::from_secs(5), || {
        matches!(h.state(), Some(ComponentState::Failed(_)))
    })
    .await;
    assert_eq!(
        h.state(),
        Some(ComponentState::Failed(
            "AuthFailure.SignatureFailure".into()
        ))
    );
    assert!(!h.readiness.all_ready());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        h.fake.requests("PullEvents"),
        1,
        "one request, then a 5 min pause"
    );
    assert_eq!(
        h.metric(
            "vodbridge_poller_api_errors_total",
            &[("code", "AuthFailure.SignatureFailure")]
        ),
        1.0
    );
    h.stop().await;
}

#[tokio::test]
async fn unknown_secret_id_fails_and_a_fixed_key_file_recovers() {
    let fake = FakeVod::start(fast_fake()).await.expect("fake");
    let dir = tempfile::tempdir().expect("tempdir");
    let id_file = dir.path().join("secret_id");
    std::fs::write(&id_file, "AKIDnobodyknowsthisid").expect("write");
    let mut config = poll_config(&fake);
    config.secret_id = None;
    config.secret_id_file = Some(id_file.clone());
    config.fatal_retry_interval = Duration::from_millis(500);
    let h = Harness::start_with(fake, config, Arc::new(RecordingSink::default()));
    h.fake.push(upload_event(1));

    eventually("failed state", Duration::from_secs(5), || {
        matches!(h.state(), Some(ComponentState::Failed(_)))
    })
    .await;
    assert_eq!(
        h.state(),
        Some(ComponentState::Failed(
            "AuthFailure.SecretIdNotFound".into()
        ))
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let requests = h.fake.requests("PullEvents");
    assert!(
        (2..=4).contains(&requests),
        "one request per retry interval, saw {requests}"
    );

    // The operator fixes the mounted secret; the next slow retry picks it up.
    std::fs::write(&id_file, &h.fake.config().secret_id).expect("write");
    assert!(h.fake.wait_confirmed(1, Duration::from_secs(5)).await);
    eventually("ready again", Duration::from_secs(5), || {
        h.state() == Some(ComponentState::Ready)
    })
    .await;
    h.stop().await;
}

#[tokio::test]
async fn throttling_and_server_errors_back_off_then_recover() {
    let h = Harness::start(fast_fake(), |_| {}).await;
    h.fake.fail_next("PullEvents", 3, "RequestLimitExceeded");
    h.fake.fail_next("PullEvents", 2, "InternalError");
    h.fake.fail_next("PullEvents", 1, "FailedOperation");
    h.fake.fail_next("ConfirmEvents", 2, "InternalError");
    h.fake.push_all((0..10).map(upload_event));
    assert!(h.fake.wait_confirmed(10, Duration::from_secs(20)).await);
    let h = h.stop().await;

    assert_eq!(h.fake.errors("RequestLimitExceeded"), 3);
    assert_eq!(h.fake.errors("InternalError"), 4);
    assert_eq!(
        h.metric(
            "vodbridge_poller_api_errors_total",
            &[("action", "PullEvents"), ("code", "RequestLimitExceeded")]
        ),
        3.0
    );
    assert_eq!(
        h.metric(
            "vodbridge_poller_api_errors_total",
            &[("action", "ConfirmEvents"), ("code", "InternalError")]
        ),
        2.0
    );
    // Confirm errors were retried inside the 30 s window: no event had to come back.
    assert!(h.fake.delivery_counts().iter().all(|&n| n == 1));
    assert_eq!(h.sink.published_ids().len(), 10);
    assert_eq!(h.state(), Some(ComponentState::Ready));
}

#[tokio::test]
async fn resource_not_found_is_an_empty_queue() {
    let config = FakeVodConfig {
        empty_as_error: true,
        hold: Duration::from_millis(100),
        ..fast_fake()
    };
    let h = Harness::start(config, |_| {}).await;
    eventually("a few empty polls", Duration::from_secs(5), || {
        h.fake.errors("ResourceNotFound") >= 3
    })
    .await;
    assert_eq!(h.state(), Some(ComponentState::Ready));
    h.fake.push(upload_event(1));
    assert!(h.fake.wait_confirmed(1, Duration::from_secs(5)).await);
    let h = h.stop().await;
    assert!(h.metric("vodbridge_poller_pulls_total", &[("result", "empty")]) >= 3.0);
    assert_eq!(
        h.metric("vodbridge_poller_pulls_total", &[("result", "error")]),
        0.0
    );
}

#[tokio::test]
async fn shutdown_finishes_and_confirms_the_batch_in_hand() {
    let sink = Arc::new(RecordingSink::default());
    *sink.delay.lock().expect("lock") = Duration::from_millis(1500);
    let fake = FakeVod::start(FakeVodConfig {
        hold: Duration::from_secs(5),
        visibility_timeout: Duration::from_secs(30),
        ..fast_fake()
    })
    .await
    .expect("fake");
    let mut config = poll_config(&fake);
    config.concurrency = 1;
    let h = Harness::start_with(fake, config, sink);
    h.fake.push_all((0..5).map(upload_event));
    eventually("batch in the sink", Duration::from_secs(5), || {
        !h.sink.attempted.lock().expect("lock").is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(
        h.metric("vodbridge_poller_oldest_unconfirmed_age_seconds", &[]) > 0.0,
        "gauge shows the batch in hand"
    );

    let started = tokio::time::Instant::now();
    let h = h.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "no further long poll after shutdown"
    );
    assert_eq!(
        h.fake.confirmed(),
        5,
        "the batch in hand was delivered and confirmed"
    );
    assert_eq!(h.sink.published_ids().len(), 5);
    assert_eq!(
        h.metric("vodbridge_poller_oldest_unconfirmed_age_seconds", &[]),
        0.0
    );
}
