//! A callback sender that behaves like a vendor: it POSTs a stream of Tencent `NewFileUpload`
//! callbacks, each with a fresh media id (so each is a distinct event with a distinct
//! CloudEvents id), and retries every callback that is not answered 200 — 503, another status,
//! a refused or reset connection — after a short delay, until it is accepted or its retry
//! budget runs out. Everything goes into a [`Ledger`].
//!
//! The vendors' own retry schedules are slower (and honour `Retry-After` loosely); the sender
//! retries after [`SenderConfig::retry_delay`] whatever `Retry-After` says, so an outage of a few
//! seconds costs a few seconds of test time, not minutes.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::ledger::{Ledger, Outcome};

/// The media id in `fixtures/tencent/new_file_upload.json` (its FileId and Vid).
pub const FIXTURE_MEDIA_ID: &str = "5285890784273533167";

/// The media id of callback `n`: as long as the fixture's, and distinct per `n`.
pub fn media_id(n: u64) -> String {
    format!("{}", 7_000_000_000_000_000_000u64 + n)
}

/// The fixture callback with its media id replaced by `key` (the normalizer hashes the whole
/// event, so a new media id is a new event id).
pub fn callback_body(key: &str) -> Vec<u8> {
    static TEMPLATE: OnceLock<String> = OnceLock::new();
    TEMPLATE
        .get_or_init(|| {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures")
                .join("tencent")
                .join("new_file_upload.json");
            std::fs::read_to_string(path).expect("new_file_upload fixture")
        })
        .replace(FIXTURE_MEDIA_ID, key)
        .into_bytes()
}

/// POST the callback for `key` once to `url` and classify the answer.
pub async fn post_once(client: &reqwest::Client, url: &str, key: &str) -> Outcome {
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .body(callback_body(key))
        .send()
        .await;
    let Ok(response) = response else {
        return Outcome::Transport;
    };
    let status = response.status().as_u16();
    if status == 200 {
        return Outcome::Accepted;
    }
    let retry_after = response.headers().contains_key("retry-after");
    let reason = match response.json::<serde_json::Value>().await {
        Ok(body) => body["error"].as_str().map(str::to_owned),
        Err(_) => None,
    };
    Outcome::Rejected {
        status,
        reason,
        retry_after,
    }
}

/// How the sender behaves.
#[derive(Debug, Clone)]
pub struct SenderConfig {
    /// The callback URL (`http://127.0.0.1:<port>/v1/callbacks/tencent`).
    pub url: String,
    /// Callbacks in progress at once (one task each).
    pub workers: usize,
    /// Pause of each worker after a callback is accepted (sets the rate).
    pub pace: Duration,
    /// Pause before retrying a callback that was not accepted.
    pub retry_delay: Duration,
    /// Attempts per callback before giving up (counted in the ledger: a failure of the test).
    pub max_attempts: u32,
    /// Per-request timeout (a hung request counts as "no answer" and is retried).
    pub request_timeout: Duration,
    /// The first callback number ([`media_id`]); distinct senders on one broker need distinct
    /// ranges.
    pub first: u64,
    /// When set, the pauses before each retry instead of `retry_delay` × `max_attempts`: one
    /// attempt, then one retry after each pause, then give up (a vendor's own schedule).
    pub schedule: Option<Vec<Duration>>,
}

impl SenderConfig {
    /// Defaults for `url`: 4 workers, 20 ms pace, 100 ms retry delay, 300 attempts (≥ 30 s),
    /// 5 s request timeout.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            workers: 4,
            pace: Duration::from_millis(20),
            retry_delay: Duration::from_millis(100),
            max_attempts: 300,
            request_timeout: Duration::from_secs(5),
            first: 0,
            schedule: None,
        }
    }

    /// Volcengine's documented behaviour: one attempt, retries after 5 s, 10 s and 30 s, then
    /// the callback is dropped (`gave_up` in the ledger).
    pub fn volcengine(url: impl Into<String>) -> Self {
        Self {
            schedule: Some(vec![
                Duration::from_secs(5),
                Duration::from_secs(10),
                Duration::from_secs(30),
            ]),
            ..Self::new(url)
        }
    }
}

/// Retry `key` until it is accepted or `config.max_attempts` ran out; true when accepted.
pub async fn send_until_accepted(
    client: &reqwest::Client,
    config: &SenderConfig,
    ledger: &Ledger,
    key: &str,
) -> bool {
    ledger.sent(key);
    let pauses: Vec<Duration> = match &config.schedule {
        Some(schedule) => schedule.clone(),
        None => vec![config.retry_delay; config.max_attempts.saturating_sub(1) as usize],
    };
    for attempt in 0..=pauses.len() {
        let outcome = post_once(client, &config.url, key).await;
        ledger.answered(key, &outcome);
        if outcome == Outcome::Accepted {
            return true;
        }
        if let Some(pause) = pauses.get(attempt) {
            tokio::time::sleep(*pause).await;
        }
    }
    ledger.gave_up(key);
    false
}

/// A running sender; see the module docs.
pub struct Sender {
    stop: Arc<AtomicBool>,
    next: Arc<AtomicU64>,
    first: u64,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Sender {
    /// Start `config.workers` tasks sending fresh callbacks until [`Sender::stop`].
    pub fn start(config: SenderConfig, ledger: Arc<Ledger>) -> Sender {
        let client = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .build()
            .expect("http client");
        let stop = Arc::new(AtomicBool::new(false));
        let next = Arc::new(AtomicU64::new(config.first));
        let config = Arc::new(config);
        let tasks = (0..config.workers)
            .map(|_| {
                let (client, config, ledger) =
                    (client.clone(), Arc::clone(&config), Arc::clone(&ledger));
                let (stop, next) = (Arc::clone(&stop), Arc::clone(&next));
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let key = media_id(next.fetch_add(1, Ordering::Relaxed));
                        send_until_accepted(&client, &config, &ledger, &key).await;
                        if !config.pace.is_zero() {
                            tokio::time::sleep(config.pace).await;
                        }
                    }
                })
            })
            .collect();
        Sender {
            stop,
            next,
            first: config.first,
            tasks,
        }
    }

    /// Callbacks started so far.
    pub fn started(&self) -> u64 {
        self.next.load(Ordering::Relaxed) - self.first
    }

    /// Start no new callback; wait until every callback in progress is accepted or gave up.
    pub async fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for task in std::mem::take(&mut self.tasks) {
            task.await.expect("sender task");
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        // A test that panicked half-way must not leave senders running.
        self.stop.store(true, Ordering::Relaxed);
        for task in &self.tasks {
            task.abort();
        }
    }
}
