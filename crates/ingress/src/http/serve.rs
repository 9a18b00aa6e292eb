//! Serving a router over HTTP/1.1 with a header read timeout and graceful shutdown.
//!
//! `axum::serve` gives hyper no timer, so hyper's header read timeout never runs there and a
//! client that opens a connection and sends its request line one byte a minute holds a task and a
//! socket forever. This loop is `axum::serve` with that limit: accept, hand each connection to
//! hyper's HTTP/1 builder with a Tokio timer and the configured timeout, and on shutdown stop
//! accepting and let every connection finish the request it is in (hyper closes idle ones).
//! The body read timeout lives in the callback handler, which answers it with 408.

use std::io;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use prometheus::{IntCounterVec, Opts, Registry};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

/// Connection-level failures of the HTTP listeners: `vodbridge_http_connection_errors_total`.
#[derive(Clone)]
pub struct ConnectionMetrics {
    errors: IntCounterVec,
}

impl ConnectionMetrics {
    /// Register the counter on `registry`.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let errors = IntCounterVec::new(
            Opts::new(
                "vodbridge_http_connection_errors_total",
                "HTTP connections closed on an error before a response: slow request headers \
                 (header_timeout), unparsable HTTP (protocol) or socket errors (io).",
            ),
            &["listener", "reason"],
        )?;
        registry.register(Box::new(errors.clone()))?;
        Ok(Self { errors })
    }

    fn count(&self, listener: &str, error: &hyper::Error) -> &'static str {
        let reason = if error.is_timeout() {
            "header_timeout"
        } else if error.is_parse() || error.is_parse_status() || error.is_user() {
            "protocol"
        } else {
            "io"
        };
        self.errors.with_label_values(&[listener, reason]).inc();
        reason
    }
}

/// Serve `app` on `listener` until `shutdown` is cancelled, then wait for open connections to
/// finish their current request. `name` is the `listener` label of the connection metrics.
///
/// A client that has not sent complete request headers `header_timeout` after the connection
/// opened (or after its previous response, on a kept-alive connection) is disconnected.
pub async fn serve(
    name: &'static str,
    listener: TcpListener,
    app: Router,
    header_timeout: Duration,
    metrics: ConnectionMetrics,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) if is_per_connection(&error) => {
                    debug!(listener = name, %error, "accept failed for one connection");
                    continue;
                }
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    warn!(listener = name, %error, "accept failed; retrying in 100ms");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        // Callbacks are small request/response pairs: don't let Nagle hold the answer back.
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        let metrics = metrics.clone();
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                let reason = metrics.count(name, &error);
                debug!(listener = name, %peer, reason, %error, "connection closed on an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Accept errors that concern one connection only (it was reset before it was accepted).
fn is_per_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}
