//! The Tencent reliable-callback consumer: `PullEvents` → normalize → every sink → `ConfirmEvents`.
//!
//! One [`Poller`] per Tencent source with a `[sources.poll]` block. It keeps `concurrency` long
//! polls in flight; each poll hands its events (≤ 16) to the [`Dispatcher`] and confirms only the
//! handles whose events every sink acknowledged (or, for elements that cannot be normalized,
//! whose dead letter was acknowledged). Anything not confirmed comes back from VOD after its 30 s
//! visibility timeout with the same canonical id, so a crash or a broker outage causes
//! redelivery, never loss.
//!
//! Error policy:
//! - empty queue (`EventSet` empty/null, or `ResourceNotFound`): poll again at once;
//! - throttling, server errors, network trouble: exponential backoff with full jitter, the
//!   component shows `Degraded` in `/readyz`;
//! - configuration errors (`AuthFailure.*`, `UnauthorizedOperation`,
//!   `FailedOperation.InvalidVodUser`, …): logged at ERROR once, `Failed(code)` in `/readyz`,
//!   then one request every `fatal_retry_interval` (default 5 min) after re-reading the
//!   credential files. It retries instead of exiting because such faults are usually fixed outside
//!   the process (a CAM policy, a rotated key file), and the HTTP receiver keeps working meanwhile.

pub mod client;
pub mod config;
mod metrics;
mod seen;
pub mod tc3;
mod worker;

mod limit;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use prometheus::Registry;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::dispatch::Dispatcher;
use crate::health::{ComponentState, Readiness};

pub use client::{Action, ApiError, ErrorClass, VodClient};
pub use config::{Credentials, PollConfig};

use limit::RateLimiter;
use metrics::PollerMetrics;
use seen::SeenIds;

/// How many recent canonical ids each poller remembers to detect redeliveries: more than the
/// 30 s redelivery window holds at the API's maximum rate (1,600 events/s × 30 s).
const SEEN_CAPACITY: usize = 100_000;

/// Why a poller could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PollerError {
    /// A value in `[sources.poll]` is not usable.
    #[error("invalid poll configuration: {0}")]
    InvalidConfig(String),
    /// No SecretId or SecretKey inline, in a file or in the environment.
    #[error("poll credential `{0}` is not set (inline, as a file, or in the environment)")]
    MissingCredential(&'static str),
    /// A credential file could not be read.
    #[error("cannot read credential file {path}")]
    CredentialFile {
        /// The configured path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP client could not be built (TLS setup).
    #[error("cannot build the http client")]
    HttpClient(#[source] reqwest::Error),
    /// The metrics could not be registered (the same source twice on one registry).
    #[error("cannot register poller metrics")]
    Metrics(#[source] prometheus::Error),
}

/// Consumes the `PullEvents` queue of one Tencent source.
pub struct Poller {
    shared: Arc<Shared>,
}

/// State shared by the concurrent polls of one source.
struct Shared {
    source_name: String,
    ce_source: String,
    component: String,
    config: PollConfig,
    client: VodClient,
    dispatcher: Dispatcher,
    readiness: Readiness,
    pull_limiter: RateLimiter,
    confirm_limiter: RateLimiter,
    metrics: PollerMetrics,
    seen: Mutex<SeenIds>,
    /// Receive instant of every batch in hand (pulled, not yet confirmed or given up), by batch number.
    in_hand: Mutex<BTreeMap<u64, tokio::time::Instant>>,
    next_batch: AtomicU64,
    /// Last state written to the readiness table, so hot paths write only on change.
    state: Mutex<ComponentState>,
}

/// Why a run of the polls ended.
enum RunEnd {
    Shutdown,
    Fatal(String),
}

impl Poller {
    /// Build the poller of source `source_name` (CloudEvents `source` = `ce_source`), resolve its
    /// credentials and register its metrics. Nothing is sent until [`Poller::run`].
    pub fn new(
        source_name: &str,
        ce_source: &str,
        config: PollConfig,
        dispatcher: Dispatcher,
        readiness: Readiness,
        registry: &Registry,
    ) -> Result<Self, PollerError> {
        config.validate()?;
        let credentials = config.credentials()?;
        let client = VodClient::new(&config, credentials)?;
        let metrics =
            PollerMetrics::register(registry, source_name).map_err(PollerError::Metrics)?;
        let component = format!("poller:{source_name}");
        readiness.set(&component, ComponentState::Starting);
        Ok(Self {
            shared: Arc::new(Shared {
                source_name: source_name.to_owned(),
                ce_source: ce_source.to_owned(),
                component,
                pull_limiter: RateLimiter::new(config.rate_limit),
                confirm_limiter: RateLimiter::new(config.rate_limit),
                config,
                client,
                dispatcher,
                readiness,
                metrics,
                seen: Mutex::new(SeenIds::new(SEEN_CAPACITY)),
                in_hand: Mutex::new(BTreeMap::new()),
                next_batch: AtomicU64::new(0),
                state: Mutex::new(ComponentState::Starting),
            }),
        })
    }

    /// The readiness component name (`poller:<source>`).
    pub fn component(&self) -> &str {
        &self.shared.component
    }

    /// Poll until `shutdown` is cancelled; then stop pulling, deliver and confirm what is in
    /// hand, and return.
    pub async fn run(self, shutdown: CancellationToken) {
        let shared = self.shared;
        info!(source = %shared.source_name, endpoint = %shared.config.endpoint, concurrency = shared.config.concurrency, "poller started");
        let gauge = tokio::spawn(gauge_loop(Arc::clone(&shared), shutdown.clone()));
        let mut last_fatal: Option<String> = None;
        loop {
            match run_polls(&shared, &shutdown).await {
                RunEnd::Shutdown => break,
                RunEnd::Fatal(code) => {
                    if last_fatal.as_deref() != Some(code.as_str()) {
                        error!(
                            source = %shared.source_name,
                            code = %code,
                            retry_in = ?shared.config.fatal_retry_interval,
                            "poller stopped on a configuration error; fix credentials/permissions/SubAppId"
                        );
                    } else {
                        warn!(source = %shared.source_name, code = %code, "poller still failing on a configuration error");
                    }
                    shared.set_state(ComponentState::Failed(code.clone()));
                    last_fatal = Some(code);
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(shared.config.fatal_retry_interval) => {}
                    }
                    // A rotated key file is picked up here, without a restart.
                    match shared.config.credentials() {
                        Ok(credentials) => shared.client.set_credentials(credentials),
                        Err(e) => {
                            warn!(source = %shared.source_name, error = %e, "cannot reload poll credentials")
                        }
                    }
                }
            }
        }
        gauge.abort();
        shared.metrics.oldest_unconfirmed_age.set(0.0);
        info!(source = %shared.source_name, "poller stopped");
    }
}

impl Shared {
    /// Write `state` to the readiness table if it changed.
    fn set_state(&self, state: ComponentState) {
        let mut current = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if *current != state {
            self.readiness.set(&self.component, state.clone());
            *current = state;
        }
    }

    fn update_oldest_gauge(&self) {
        let oldest = self
            .in_hand
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .min()
            .copied();
        let age = oldest.map_or(0.0, |t| t.elapsed().as_secs_f64());
        self.metrics.oldest_unconfirmed_age.set(age);
    }
}

/// Keep the oldest-unconfirmed gauge current while batches wait on slow sinks.
async fn gauge_loop(shared: Arc<Shared>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => shared.update_oldest_gauge(),
        }
    }
}

/// Run `concurrency` polls until shutdown or a configuration error. Only one poll runs until a
/// first answer proves the credentials, so a bad key costs one request, not `concurrency`.
async fn run_polls(shared: &Arc<Shared>, shutdown: &CancellationToken) -> RunEnd {
    let stop = shutdown.child_token();
    let (proven_tx, proven_rx) = watch::channel(false);
    let proven_tx = Arc::new(proven_tx);
    let mut polls = JoinSet::new();
    for index in 0..shared.config.concurrency {
        let shared = Arc::clone(shared);
        let stop = stop.clone();
        let proven_tx = Arc::clone(&proven_tx);
        let mut proven_rx = proven_rx.clone();
        polls.spawn(async move {
            if index > 0 {
                tokio::select! {
                    _ = stop.cancelled() => return worker::Exit::Shutdown,
                    r = proven_rx.wait_for(|p| *p) => if r.is_err() { return worker::Exit::Shutdown },
                }
            }
            worker::poll_loop(&shared, &stop, &proven_tx).await
        });
    }
    let mut end = RunEnd::Shutdown;
    while let Some(result) = polls.join_next().await {
        let fatal = match result {
            Ok(worker::Exit::Shutdown) => continue,
            Ok(worker::Exit::Fatal(code)) => code,
            Err(e) => {
                error!(source = %shared.source_name, error = %e, "poll task panicked");
                "panic".to_owned()
            }
        };
        // The other polls stop pulling, finish their batches, and the poller waits to retry.
        stop.cancel();
        if matches!(end, RunEnd::Shutdown) {
            end = RunEnd::Fatal(fatal);
        }
    }
    if shutdown.is_cancelled() {
        RunEnd::Shutdown
    } else {
        end
    }
}
