//! The NATS sink: connection set-up, the [`Sink`] implementation and batch chunking.
//!
//! Delivery rules (why each is so; the JetStream and core NATS paths are in [`jetstream`] and
//! [`core_nats`], the `max_in_flight` bound in [`in_flight`], `/readyz` in [`health`]):
//! - A batch is cut into chunks of at most `max_in_flight` events; each chunk is sent whole and
//!   then its acknowledgements are awaited, so a chunk costs one round trip.
//! - Every failure is a [`SinkError`], never a silent drop. Retriable: `timeout`, `disconnected`,
//!   `overloaded`, `rejected` (a JetStream API error such as a full stream) and `no_stream`.
//!   "No responders" is retriable on purpose: it also happens for a few moments after a server
//!   restart, before JetStream has recovered its streams, and a permanent answer would
//!   dead-letter good events; a missing stream is an operator error that `/readyz` (stream info)
//!   and the `vodbridge_nats_failed_total{reason="no_stream"}` metric make visible while vendors
//!   keep retrying. Permanent: `too_large` (over the server's or the stream's message size limit)
//!   and `invalid_subject` — a retry cannot fix either.

mod core_nats;
mod health;
mod in_flight;
mod jetstream;

use std::sync::Arc;
use std::time::Duration;

use async_nats::{Client, HeaderMap};
use async_trait::async_trait;
use bytes::Bytes;
use prometheus::Registry;
use vodbridge_core::{
    BindingMode, CanonicalEvent, DestinationTemplate, Sink, SinkError, SinkErrorKind, SinkHealth,
    TypeFilter,
};

use crate::binding::{encode, valid_publish_subject};
use crate::config::NatsSinkConfig;
use crate::core_ping::CorePing;
use crate::error::NatsSinkError;
use crate::metrics::Metrics;
use crate::options::connect_client;
use crate::stream::StreamSetup;
use in_flight::InFlightLimit;

/// One message ready to send.
struct Outgoing {
    subject: String,
    headers: HeaderMap,
    payload: Bytes,
}

/// Publishes canonical events to NATS subjects (JetStream or core NATS).
pub struct NatsSink {
    name: String,
    client: Client,
    jetstream: Option<async_nats::jetstream::Context>,
    /// Core NATS only: the round trip that acknowledges a batch.
    core_ping: Option<CorePing>,
    subject: DestinationTemplate,
    filter: TypeFilter,
    mode: BindingMode,
    /// `[sinks.stream]`: its set-up state; publishes wait for it.
    stream: Option<StreamSetup>,
    ack_timeout: Duration,
    /// Bounds events awaiting acknowledgement; `flush` waits for quiet through it.
    in_flight: InFlightLimit,
    metrics: Metrics,
}

impl std::fmt::Debug for NatsSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsSink")
            .field("name", &self.name)
            .field("jetstream", &self.jetstream.is_some())
            .field("mode", &self.mode)
            .field("stream", &self.stream.as_ref().map(StreamSetup::name))
            .finish_non_exhaustive()
    }
}

/// Build a NATS sink for the binary: [`NatsSink::connect`], behind the [`Sink`] trait. Every sink
/// crate exports a `build` of this shape (name, its configuration, the metrics registry).
pub async fn build(
    name: String,
    config: NatsSinkConfig,
    registry: &Registry,
) -> Result<Arc<dyn Sink>, NatsSinkError> {
    Ok(Arc::new(NatsSink::connect(name, config, registry).await?))
}

/// Connect a NATS sink; see [`NatsSink::connect`].
pub async fn connect(
    name: String,
    config: NatsSinkConfig,
    registry: &Registry,
) -> Result<NatsSink, NatsSinkError> {
    NatsSink::connect(name, config, registry).await
}

impl NatsSink {
    /// Validate `config`, register the `vodbridge_nats_*` metrics on `registry`, connect, and
    /// create or update `[sinks.stream]` when set.
    ///
    /// Returns within about `connect_timeout` whether or not the server is there. Fails only for
    /// what a retry cannot fix: an invalid configuration, credentials or TLS set-up the server
    /// refuses, or (server reachable) a stream configuration the server refuses. When the server
    /// cannot be reached, the sink starts disconnected and the client keeps connecting in the
    /// background; a stream set-up that could not run then runs once the connection is up
    /// (the crate documentation spells out the whole contract). Either way the client
    /// reconnects by itself forever after a loss.
    pub async fn connect(
        name: String,
        config: NatsSinkConfig,
        registry: &Registry,
    ) -> Result<NatsSink, NatsSinkError> {
        let subject =
            DestinationTemplate::parse(&config.subject).map_err(NatsSinkError::Template)?;
        let in_flight = InFlightLimit::new(config.max_in_flight)?;
        if config.ack_timeout.is_zero() {
            return Err(NatsSinkError::Config("ack_timeout must be positive".into()));
        }
        if config.stream.is_some() && !config.jetstream {
            return Err(NatsSinkError::Config(
                "[sinks.stream] needs jetstream = true".into(),
            ));
        }
        let metrics = Metrics::register(&name, registry).map_err(NatsSinkError::Metrics)?;
        let client = connect_client(&name, &config).await?;

        let jetstream = config.jetstream.then(|| {
            async_nats::jetstream::ContextBuilder::new()
                .timeout(config.ack_timeout)
                .ack_timeout(config.ack_timeout)
                // Our own semaphore bounds in-flight events; the client's limit is set above it so
                // PubAck futures abandoned by a cancelled batch (held until they time out) cannot
                // starve live batches.
                .max_ack_inflight(config.max_in_flight.saturating_mul(2))
                .build(client.clone())
        });
        let stream = match (&jetstream, config.stream) {
            (Some(js), Some(stream)) => Some(StreamSetup::start(&name, &client, js, stream).await?),
            _ => None,
        };
        let core_ping = match &jetstream {
            Some(_) => None,
            None => Some(CorePing::start(&name, &client).await?),
        };
        Ok(NatsSink {
            name,
            client,
            jetstream,
            core_ping,
            subject,
            filter: TypeFilter::new(&config.types),
            mode: config.mode,
            stream,
            ack_timeout: config.ack_timeout,
            in_flight,
            metrics,
        })
    }

    /// The underlying client (for tests and tools that want to subscribe on the same connection).
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn error(&self, kind: SinkErrorKind, reason: &'static str, message: String) -> SinkError {
        SinkError::new(&self.name, kind, reason, message)
    }

    /// Send `batch` and wait until it is acknowledged, in chunks of at most `max_in_flight`.
    async fn send_batch(&self, batch: Vec<Outgoing>) -> Result<(), SinkError> {
        if batch.is_empty() {
            return Ok(());
        }
        if let Some(bad) = batch.iter().find(|m| !valid_publish_subject(&m.subject)) {
            self.metrics.failed("invalid_subject", batch.len() as u64);
            return Err(self.error(
                SinkErrorKind::Permanent,
                "invalid_subject",
                format!("`{}` is not a valid subject to publish to", bad.subject),
            ));
        }
        // While the client is away, commands would only queue inside it until the timeout (and
        // be sent late on reconnection): fail at once instead, so the vendor retries promptly.
        let state = self.client.connection_state();
        if state != async_nats::connection::State::Connected {
            self.metrics.failed("disconnected", batch.len() as u64);
            return Err(self.error(
                SinkErrorKind::Retriable,
                "disconnected",
                format!("nats connection {state}"),
            ));
        }
        // Publishing before the configured stream exists could store nothing, or store into
        // whatever other stream binds the subject; wait for the set-up (bounded) instead.
        if let Some(stream) = &self.stream {
            if let Err(why) = stream.ready(self.ack_timeout).await {
                self.metrics.failed("no_stream", batch.len() as u64);
                return Err(self.error(SinkErrorKind::Retriable, "no_stream", why));
            }
        }
        let mut rest = batch;
        while !rest.is_empty() {
            let tail = rest.split_off(rest.len().min(self.in_flight.max() as usize));
            let chunk = std::mem::replace(&mut rest, tail);
            let n = chunk.len();
            let sent = match self.jetstream {
                // The wait for room, each event's hand-off and each PubAck are bounded by
                // `ack_timeout` one by one (the client's own timers, set on the context at
                // connect), so a timer around the chunk would only add one more per event; the
                // dispatcher's ack timeout bounds the delivery as a whole.
                Some(_) => Ok(self.send_chunk(chunk).await),
                // A core NATS round trip has no bound of its own.
                None => tokio::time::timeout(self.ack_timeout, self.send_chunk(chunk)).await,
            };
            match sent {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    self.metrics.failed("timeout", n as u64);
                    return Err(self.error(
                        SinkErrorKind::Retriable,
                        "timeout",
                        format!("{n} events not acknowledged within {:?}", self.ack_timeout),
                    ));
                }
            }
        }
        Ok(())
    }

    async fn send_chunk(&self, chunk: Vec<Outgoing>) -> Result<(), SinkError> {
        let _admitted = self.admit(chunk.len()).await?;
        match &self.jetstream {
            Some(js) => self.send_jetstream(js, chunk).await,
            None => self.send_core(chunk).await,
        }
    }

    fn outgoing(&self, subject: String, event: &CanonicalEvent) -> Outgoing {
        let (headers, payload) = encode(event, self.mode);
        Outgoing {
            subject,
            headers,
            payload,
        }
    }
}

#[async_trait]
impl Sink for NatsSink {
    fn name(&self) -> &str {
        &self.name
    }

    async fn publish(&self, events: &[CanonicalEvent]) -> Result<(), SinkError> {
        // Events the filter excludes are not ours to carry: they count as acknowledged.
        let batch: Vec<Outgoing> = events
            .iter()
            .filter(|e| self.filter.accepts(&e.ty))
            .map(|e| self.outgoing(self.subject.render(e), e))
            .collect();
        self.send_batch(batch).await
    }

    async fn publish_to(
        &self,
        destination: &str,
        events: &[CanonicalEvent],
    ) -> Result<(), SinkError> {
        let batch = events
            .iter()
            .map(|e| self.outgoing(destination.to_owned(), e))
            .collect();
        self.send_batch(batch).await
    }

    async fn health(&self) -> SinkHealth {
        self.check_health().await
    }

    async fn flush(&self, deadline: Duration) -> Result<(), SinkError> {
        let quiet = async {
            self.in_flight.quiet().await;
            self.client.flush().await
        };
        match tokio::time::timeout(deadline, quiet).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self
                .error(
                    SinkErrorKind::Retriable,
                    "disconnected",
                    format!("flush failed: {e}"),
                )
                .with_source(e)),
            Err(_) => Err(self.error(
                SinkErrorKind::Retriable,
                "timeout",
                format!("events still unacknowledged after {deadline:?}"),
            )),
        }
    }
}
