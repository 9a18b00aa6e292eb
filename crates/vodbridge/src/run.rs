//! `vodbridge run`: build the sinks, the dispatcher (and the spool with its forwarders), the
//! receiver and the admin server; serve until SIGTERM/SIGINT; then, within one
//! `shutdown_timeout`, stop accepting, finish in-flight requests, forward what the spool holds
//! and flush the sinks.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use prometheus::Registry;
use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};
use vodbridge_core::{ErrorChain, Sink};
use vodbridge_ingress::forward::{spawn_forwarders, ForwardMetrics};
use vodbridge_ingress::http::{
    admin_router, router, serve as serve_http, AdminState, ConnectionMetrics, HttpSettings,
    HttpState,
};
use vodbridge_ingress::poller::Poller;
use vodbridge_ingress::{DeadLetterRoute, Dispatcher, Readiness};
use vodbridge_spool::{Spool, SpoolConfig};

use crate::config::{resolve_sources, Config, SinkConfig, SinkSettings};
use crate::telemetry;

/// Run the bridge with `config` until a shutdown signal.
pub fn run(config: Config) -> anyhow::Result<()> {
    telemetry::init_logging(&config.log);
    let value = match std::env::var("TOKIO_WORKER_THREADS") {
        Ok(value) => Some(value),
        Err(std::env::VarError::NotPresent) => None,
        Err(std::env::VarError::NotUnicode(_)) => {
            anyhow::bail!("TOKIO_WORKER_THREADS must be a positive integer, not a non-UTF-8 value")
        }
    };
    let workers = worker_threads(value.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(serve(config))
}

/// The runtime's worker threads: Tokio's own `TOKIO_WORKER_THREADS` when it is set to a positive
/// integer, else one per available core (Tokio's default).
///
/// Read here and passed explicitly because Tokio panics at start-up on an empty or invalid value;
/// an empty one (as `VAR=` in a unit file or a compose environment leaves it) means unset, and an
/// invalid one is refused with a message that names the variable.
fn worker_threads(value: Option<&str>) -> anyhow::Result<usize> {
    match value.map(str::trim) {
        None | Some("") => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
        Some(text) => match text.parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => anyhow::bail!("TOKIO_WORKER_THREADS must be a positive integer, not {text:?}"),
        },
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let registry = Registry::new();
    telemetry::register_build_info(&registry)?;
    let sink_names: Vec<String> = config.sinks.iter().map(|s| s.name().to_owned()).collect();
    // The spool first: a bad path stops start-up before any broker is dialled.
    let spool = match &config.spool {
        Some(spool_config) => {
            Some(open_spool(spool_config.clone(), sink_names.clone(), &registry).await?)
        }
        None => None,
    };
    let mut dispatcher = build_dispatcher(&config, &registry).await?;
    if let Some(spool) = &spool {
        dispatcher = dispatcher.with_spool(spool.clone());
    }
    let settings = HttpSettings {
        max_body_bytes: config.server.max_body_bytes,
        max_in_flight: config.server.max_in_flight,
        body_timeout: config.server.body_timeout,
    };
    let resolved = resolve_sources(&config.sources)?;
    let readiness = Readiness::new();
    // Tencent sources with a `[sources.poll]` block also consume the PullEvents queue.
    let mut pollers = Vec::new();
    for (source, callback) in config.sources.iter().zip(&resolved) {
        if let Some(poll) = &source.poll {
            let poller = Poller::new(
                &source.name,
                &callback.ce_source,
                poll.clone(),
                dispatcher.clone(),
                readiness.clone(),
                &registry,
            )
            .with_context(|| format!("source `{}`: poller", source.name))?;
            pollers.push(poller);
        }
    }
    let state = HttpState::new(settings, resolved, dispatcher.clone(), &registry)?;

    let shutdown = CancellationToken::new();
    let tracker = TaskTracker::new();
    // Forwarders outlive the servers at shutdown: they drain the spool until the deadline.
    let forwarders = TaskTracker::new();
    let drain = CancellationToken::new();
    let stop_forwarding = CancellationToken::new();
    if let Some(spool_config) = &config.spool {
        let metrics = ForwardMetrics::register(&registry, &sink_names)?;
        let started = spawn_forwarders(
            &dispatcher,
            spool_config.batch_size,
            &metrics,
            &forwarders,
            &drain,
            &stop_forwarding,
        );
        // A sink without its forwarder would hold the spool's data back for ever.
        anyhow::ensure!(
            started == dispatcher.sinks().len(),
            "spool: {started} of {} sink forwarders started (see the log)",
            dispatcher.sinks().len()
        );
    }
    // A poller stops pulling on shutdown and confirms what it holds; the tracker waits for it.
    for poller in pollers {
        tracker.spawn(poller.run(shutdown.clone()));
    }
    let callbacks = bind(config.server.listen, "server.listen").await?;
    let admin = bind(config.server.admin_listen, "server.admin_listen").await?;
    info!(listen = %config.server.listen, admin = %config.server.admin_listen, sources = config.sources.len(), sinks = config.sinks.len(), spool = ?config.spool.as_ref().map(|s| &s.path), dead_letter = %config.dead_letter_summary(), "vodbridge started");
    for warning in config.warnings() {
        warn!(%warning, "configuration");
    }

    let admin_state = AdminState {
        dispatcher: dispatcher.clone(),
        readiness,
        registry: registry.clone(),
    };
    let connections = ConnectionMetrics::register(&registry)?;
    let header_timeout = config.server.header_timeout;
    let serve = |name, listener, app| Served {
        name,
        listener,
        app,
        header_timeout,
        metrics: connections.clone(),
    };
    spawn_server(
        &tracker,
        &shutdown,
        serve("callbacks", callbacks, router(state)),
    );
    spawn_server(
        &tracker,
        &shutdown,
        serve("admin", admin, admin_router(admin_state)),
    );

    tokio::select! {
        signal = wait_for_signal() => info!(%signal, "shutting down: no new connections, finishing in-flight requests"),
        () = shutdown.cancelled() => warn!("a server stopped; shutting down"),
    }
    // One budget for the whole shutdown: requests in flight, then (with a spool) forwarding what
    // is left, then flushing the sinks, each taking what the previous steps left over.
    let deadline = Instant::now() + config.server.shutdown_timeout;
    shutdown.cancel();
    tracker.close();
    if tokio::time::timeout_at(deadline, tracker.wait())
        .await
        .is_err()
    {
        warn!(
            budget = ?config.server.shutdown_timeout,
            "in-flight requests did not finish before the shutdown deadline"
        );
    }
    if let Some(spool) = &spool {
        drain.cancel();
        forwarders.close();
        if tokio::time::timeout_at(deadline, forwarders.wait())
            .await
            .is_err()
        {
            stop_forwarding.cancel();
            forwarders.wait().await;
        }
        let (events, bytes) = spool.retained();
        spool.close().await;
        info!(
            events,
            bytes, "spool closed; what is left is forwarded at the next start"
        );
    }
    let remaining = deadline.saturating_duration_since(Instant::now());
    match dispatcher.flush(remaining).await {
        Ok(()) => info!("sinks flushed; bye"),
        Err(e) => warn!(error = %ErrorChain(&e), "sinks not flushed before the shutdown deadline"),
    }
    Ok(())
}

/// Open the spool off the runtime's threads (recovery reads the database).
async fn open_spool(
    config: SpoolConfig,
    sinks: Vec<String>,
    registry: &Registry,
) -> anyhow::Result<Spool> {
    let registry = registry.clone();
    let path = config.path.clone();
    let (spool, recovery) =
        tokio::task::spawn_blocking(move || Spool::open(config, &sinks, &registry))
            .await
            .context("spool: opening was interrupted")?
            .with_context(|| format!("spool.path {}", path.display()))?;
    if recovery.truncated > 0 || recovery.clamped_cursors > 0 {
        warn!(?recovery, "spool recovered from damage");
    }
    Ok(spool)
}

async fn bind(addr: SocketAddr, key: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("{key}: cannot listen on {addr}"))
}

/// One listener and what it serves.
struct Served {
    name: &'static str,
    listener: TcpListener,
    app: axum::Router,
    header_timeout: Duration,
    metrics: ConnectionMetrics,
}

/// Serve until `shutdown`: stop accepting, then let in-flight requests finish. A server that
/// fails takes the process down (cancels `shutdown`).
fn spawn_server(tracker: &TaskTracker, shutdown: &CancellationToken, served: Served) {
    let token = shutdown.clone();
    tracker.spawn(async move {
        let name = served.name;
        let result = serve_http(
            name,
            served.listener,
            served.app,
            served.header_timeout,
            served.metrics,
            token.clone(),
        )
        .await;
        if let Err(error) = result {
            error!(server = name, %error, "server failed");
        }
        token.cancel();
    });
}

/// The sinks of `config`, connected, behind a dispatcher with the configured dead-letter route
/// (no spool): what `serve` publishes through, and what `redrive` and `replay` do.
pub(crate) async fn build_dispatcher(
    config: &Config,
    registry: &Registry,
) -> anyhow::Result<Dispatcher> {
    let sinks = build_sinks(config, registry).await?;
    let dead_letter = match &config.dead_letter {
        Some(dl) => Some(DeadLetterRoute {
            sink: sinks.get(&dl.sink).cloned().with_context(|| {
                format!("dead_letter.sink `{}` is not a configured sink", dl.sink)
            })?,
            destination: dl.destination.clone(),
        }),
        None => None,
    };
    // Keep the configured order for fan-out and /readyz.
    let ordered: Vec<Arc<dyn Sink>> = config
        .sinks
        .iter()
        .filter_map(|s| sinks.get(s.name()).cloned())
        .collect();
    Dispatcher::new(ordered, dead_letter, config.server.ack_timeout, registry).context("dispatcher")
}

async fn build_sinks(
    config: &Config,
    registry: &Registry,
) -> anyhow::Result<HashMap<String, Arc<dyn Sink>>> {
    let mut sinks: HashMap<String, Arc<dyn Sink>> = HashMap::new();
    for sink in &config.sinks {
        let built = with_deadline(build_sink(sink, registry))
            .await
            .and_then(|built| built)
            .with_context(|| match &sink.settings {
                SinkSettings::File(file) => {
                    format!("sink `{}` (file {})", sink.name, file.path.display())
                }
                _ => format!("sink `{}` ({})", sink.name, sink.kind()),
            })?;
        sinks.insert(sink.name.clone(), built);
    }
    Ok(sinks)
}

/// One sink from its configuration: every sink crate exports a `build(name, config, registry)`,
/// so a new sink type is one [`SinkSettings`] variant and one arm here.
async fn build_sink(sink: &SinkConfig, registry: &Registry) -> anyhow::Result<Arc<dyn Sink>> {
    let name = sink.name.clone();
    Ok(match sink.settings.clone() {
        SinkSettings::File(config) => vodbridge_sink_file::build(name, config, registry).await?,
        SinkSettings::Kafka(config) => vodbridge_sink_kafka::build(name, config, registry).await?,
        SinkSettings::Nats(config) => vodbridge_sink_nats::build(name, config, registry).await?,
    })
}

/// Connecting to a broker must not hang start-up forever.
async fn with_deadline<T>(fut: impl Future<Output = T>) -> anyhow::Result<T> {
    tokio::time::timeout(Duration::from_secs(60), fut)
        .await
        .context("did not connect within 60s")
}

async fn wait_for_signal() -> &'static str {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => "SIGINT",
        () = term => "SIGTERM",
    }
}

#[cfg(test)]
mod tests {
    use super::worker_threads;

    #[test]
    fn worker_threads_follow_the_variable_and_treat_empty_as_unset() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        for (value, expected) in [
            (None, cores),
            (Some(""), cores),
            (Some("  "), cores),
            (Some("3"), 3),
            (Some(" 1 "), 1),
        ] {
            let got = worker_threads(value).expect("accepted");
            assert_eq!(got, expected, "{value:?}");
        }
        for bad in ["0", "-1", "two", "1.5"] {
            let err = worker_threads(Some(bad)).expect_err("refused").to_string();
            assert!(err.contains("TOKIO_WORKER_THREADS"), "{bad}: {err}");
        }
    }
}
