//! Drain-rate benchmark of the poller against the fake VOD API. Ignored by default (it measures,
//! it does not assert a speed); run it with `scripts/bench/poller.sh`.
//!
//! Environment: `BENCH_EVENTS` (default 16000), `BENCH_CONCURRENCY` (8), `BENCH_API_RATE`
//! (requests/s per action on both the fake and the poller, default 100 as documented),
//! `BENCH_SINK` = `file` (default) | `null` | `nats`, `NATS_URL` (127.0.0.1:4222).

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use prometheus::Registry;
use tokio_util::sync::CancellationToken;
use vodbridge_core::{CanonicalEvent, Sink, SinkError, SinkHealth};
use vodbridge_ingress::poller::{PollConfig, Poller};
use vodbridge_ingress::{DeadLetterRoute, Dispatcher, Readiness};
use vodbridge_sink_file::FileSinkConfig;
use vodbridge_sink_nats::{NatsSinkConfig, StreamConfig, StreamStorage};
use vodbridge_test_support::fake_vod::{procedure_event, upload_event, FakeVod, FakeVodConfig};
use vodbridge_test_support::metrics::metric;

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Acknowledges everything at once: the poller's own ceiling.
struct NullSink;

#[async_trait]
impl Sink for NullSink {
    fn name(&self) -> &str {
        "null"
    }
    async fn publish(&self, _events: &[CanonicalEvent]) -> Result<(), SinkError> {
        Ok(())
    }
    async fn publish_to(
        &self,
        _destination: &str,
        _events: &[CanonicalEvent],
    ) -> Result<(), SinkError> {
        Ok(())
    }
    async fn health(&self) -> SinkHealth {
        SinkHealth::Healthy
    }
    async fn flush(&self, _deadline: Duration) -> Result<(), SinkError> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run scripts/bench/poller.sh"]
async fn drain_rate() {
    let events: u64 = env("BENCH_EVENTS", 16_000);
    let concurrency: usize = env("BENCH_CONCURRENCY", 8);
    let api_rate: u32 = env("BENCH_API_RATE", 100);
    let sink_kind: String = env("BENCH_SINK", "file".to_owned());

    let fake = FakeVod::start(FakeVodConfig {
        rate_limit: api_rate,
        ..FakeVodConfig::default()
    })
    .await
    .expect("fake");
    fake.push_all((0..events).map(|n| {
        if n % 2 == 0 {
            upload_event(n)
        } else {
            procedure_event(n)
        }
    }));

    let registry = Registry::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let sink: Arc<dyn Sink> = match sink_kind.as_str() {
        "null" => Arc::new(NullSink),
        "nats" => {
            let url: String = env("NATS_URL", "127.0.0.1:4222".to_owned());
            let run = std::process::id();
            let mut config = NatsSinkConfig::new(url);
            config.subject = format!("vodbench{run}.{{type}}");
            config.stream = Some(StreamConfig {
                name: format!("VODBENCH{run}"),
                subjects: vec![format!("vodbench{run}.>")],
                max_age: Some(Duration::from_secs(600)),
                duplicate_window: None,
                replicas: 1,
                storage: StreamStorage::File,
            });
            vodbridge_sink_nats::build("nats".into(), config, &registry)
                .await
                .expect("nats")
        }
        _ => vodbridge_sink_file::build(
            "file".into(),
            FileSinkConfig::new(dir.path().join("events.jsonl")),
            &registry,
        )
        .await
        .expect("file"),
    };
    let route = DeadLetterRoute {
        sink: sink.clone(),
        destination: dir.path().join("dead.jsonl").display().to_string(),
    };
    let dispatcher = Dispatcher::new(vec![sink], Some(route), Duration::from_secs(10), &registry)
        .expect("dispatcher");
    let mut config = PollConfig::new(
        fake.config().secret_id.clone(),
        fake.config().secret_key.clone(),
    );
    config.endpoint = fake.endpoint();
    config.concurrency = concurrency;
    config.rate_limit = api_rate;
    let poller = Poller::new(
        "bench",
        "/vodbridge/bench",
        config,
        dispatcher,
        Readiness::new(),
        &registry,
    )
    .expect("poller");

    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let task = tokio::spawn(poller.run(shutdown.clone()));
    let drained = fake
        .wait_confirmed(events as usize, Duration::from_secs(600))
        .await;
    let elapsed = started.elapsed();
    shutdown.cancel();
    task.await.expect("poller");
    assert!(drained, "drained {} of {events}", fake.confirmed());

    let rate = events as f64 / elapsed.as_secs_f64();
    eprintln!(
        "poller drain: sink={sink_kind} events={events} concurrency={concurrency} api_rate={api_rate}/s \
         elapsed={:.2}s rate={rate:.0} events/s pulls={} confirms={} throttled={} redelivered={}",
        elapsed.as_secs_f64(),
        fake.requests("PullEvents"),
        fake.requests("ConfirmEvents"),
        fake.errors("RequestLimitExceeded"),
        metric(&registry, "vodbridge_poller_events_redelivered_total", &[]),
    );
}
