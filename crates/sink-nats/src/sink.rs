//! The NATS sink: connection set-up, batch publishing with acknowledgement, health and flush.
//!
//! Delivery rules (why each is so):
//! - JetStream: every event of a batch is sent first and the PubAcks are awaited together, so a
//!   batch costs one round trip rather than one per event. The batch is `Ok` only when every
//!   event has its PubAck; a PubAck flagged `duplicate` is success too (the stream already holds
//!   that id, which is exactly what a redelivery needs).
//! - Core NATS: the batch is `Ok` after a request sent behind it has come back through the
//!   server ([`CorePing`]), i.e. the server has read every message. (The client's `flush` only
//!   empties its socket buffer, which proves nothing.) Core NATS keeps nothing for absent
//!   subscribers; use JetStream for durability.
//! - Every failure is a [`SinkError`], never a silent drop. Retriable: `timeout`, `disconnected`,
//!   `overloaded`, `rejected` (a JetStream API error such as a full stream) and `no_stream`.
//!   "No responders" is retriable on purpose: it also happens for a few moments after a server
//!   restart, before JetStream has recovered its streams, and a permanent answer would
//!   dead-letter good events; a missing stream is an operator error that `/readyz` (stream info)
//!   and the `vodbridge_nats_failed_total{reason="no_stream"}` metric make visible while vendors
//!   keep retrying. Permanent: `too_large` (over the server's or the stream's message size limit)
//!   and `invalid_subject` — a retry cannot fix either.

use std::future::IntoFuture as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, message::PublishMessage};
use async_nats::{Client, HeaderMap};
use async_trait::async_trait;
use bytes::Bytes;
use futures::future::join_all;
use prometheus::Registry;
use tokio::sync::{Semaphore, TryAcquireError};
use tracing::debug;
use vodbridge_core::{
    BindingMode, CanonicalEvent, DestinationTemplate, Sink, SinkError, SinkErrorKind, SinkHealth,
    TypeFilter,
};

use crate::binding::{encode, valid_publish_subject};
use crate::classify::classify;
use crate::config::NatsSinkConfig;
use crate::core_ping::CorePing;
use crate::error::NatsSinkError;
use crate::metrics::Metrics;
use crate::options::connect_client;
use crate::stream::{SetupState, StreamSetup};

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
    jetstream: Option<jetstream::Context>,
    /// Core NATS only: the round trip that acknowledges a batch.
    core_ping: Option<CorePing>,
    subject: DestinationTemplate,
    filter: TypeFilter,
    mode: BindingMode,
    /// `[sinks.stream]`: its set-up state; publishes wait for it.
    stream: Option<StreamSetup>,
    ack_timeout: Duration,
    /// Bounds events awaiting acknowledgement; `flush` takes every permit to wait for quiet.
    in_flight: Arc<Semaphore>,
    max_in_flight: u32,
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
        if config.max_in_flight == 0
            || config.max_in_flight > Semaphore::MAX_PERMITS.min(u32::MAX as usize)
        {
            return Err(NatsSinkError::Config(
                "max_in_flight must be between 1 and 2^32-1".into(),
            ));
        }
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

        let max_in_flight = config.max_in_flight as u32;
        let jetstream = config.jetstream.then(|| {
            jetstream::ContextBuilder::new()
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
            in_flight: Arc::new(Semaphore::new(config.max_in_flight)),
            max_in_flight,
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
            let tail = rest.split_off(rest.len().min(self.max_in_flight as usize));
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
        let n = chunk.len();
        let closed = || {
            self.error(
                SinkErrorKind::Retriable,
                "disconnected",
                "sink is closed".into(),
            )
        };
        // `n <= max_in_flight <= u32::MAX` (checked at connect).
        let _permits = match self.in_flight.try_acquire_many(n as u32) {
            Ok(permits) => permits,
            Err(TryAcquireError::Closed) => return Err(closed()),
            // Full: wait for room, bounded like the hand-off itself. The timer is armed only
            // here, when the sink is saturated, not for every event.
            Err(TryAcquireError::NoPermits) => {
                match tokio::time::timeout(self.ack_timeout, self.in_flight.acquire_many(n as u32))
                    .await
                {
                    Ok(Ok(permits)) => permits,
                    Ok(Err(_)) => return Err(closed()),
                    Err(_) => {
                        self.metrics.failed("timeout", n as u64);
                        return Err(self.error(
                            SinkErrorKind::Retriable,
                            "timeout",
                            format!(
                                "no room for {n} events within {:?} ({} in flight at most)",
                                self.ack_timeout, self.max_in_flight
                            ),
                        ));
                    }
                }
            }
        };
        let _gauge = InFlight::add(&self.metrics, n);
        match &self.jetstream {
            Some(js) => self.send_jetstream(js, chunk).await,
            None => self.send_core(chunk).await,
        }
    }

    async fn send_jetstream(
        &self,
        js: &jetstream::Context,
        chunk: Vec<Outgoing>,
    ) -> Result<(), SinkError> {
        let n = chunk.len();
        let mut acks = Vec::with_capacity(n);
        for msg in chunk {
            let publish = PublishMessage::build()
                .payload(msg.payload)
                .headers(msg.headers);
            match js.send_publish(msg.subject, publish).await {
                Ok(ack) => acks.push((Instant::now(), ack)),
                Err(e) => {
                    let (kind, reason) = classify(&e);
                    self.metrics.failed(reason, n as u64);
                    return Err(self
                        .error(kind, reason, format!("publish failed: {e}"))
                        .with_source(e));
                }
            }
        }
        let mut outcome = Outcome::default();
        if acks.len() == 1 {
            // One event (a callback) is awaited directly: a join would put its future on the heap.
            let (sent, ack) = acks.pop().expect("one ack");
            let result = ack.into_future().await;
            self.settle(&mut outcome, sent.elapsed(), result);
        } else {
            let results = join_all(acks.into_iter().map(|(sent, ack)| async move {
                let result = ack.into_future().await;
                (sent.elapsed(), result)
            }))
            .await;
            for (latency, result) in results {
                self.settle(&mut outcome, latency, result);
            }
        }
        // A permanent failure wins: retrying the batch cannot get that event through.
        match outcome.first_permanent.or(outcome.first_retriable) {
            None => Ok(()),
            Some((kind, reason, detail)) => Err(self.error(
                kind,
                reason,
                format!(
                    "{} of {n} events not acknowledged: {detail}",
                    outcome.failed
                ),
            )),
        }
    }

    /// Count one PubAck (or its failure) into `outcome` and the metrics.
    fn settle(
        &self,
        outcome: &mut Outcome,
        latency: Duration,
        result: Result<jetstream::publish::PublishAck, jetstream::context::PublishError>,
    ) {
        match result {
            Ok(ack) => {
                self.metrics.ack_latency.observe(latency.as_secs_f64());
                self.metrics.published.inc();
                if ack.duplicate {
                    self.metrics.duplicates.inc();
                    debug!(sink = %self.name, stream = %ack.stream, seq = ack.sequence, "duplicate acknowledged");
                }
            }
            Err(e) => {
                outcome.failed += 1;
                let (kind, reason) = classify(&e);
                self.metrics.failed(reason, 1);
                let slot = if kind == SinkErrorKind::Permanent {
                    &mut outcome.first_permanent
                } else {
                    &mut outcome.first_retriable
                };
                slot.get_or_insert((kind, reason, e.to_string()));
            }
        }
    }

    async fn send_core(&self, chunk: Vec<Outgoing>) -> Result<(), SinkError> {
        let n = chunk.len();
        let started = Instant::now();
        for msg in chunk {
            if let Err(e) = self
                .client
                .publish_with_headers(msg.subject, msg.headers, msg.payload)
                .await
            {
                let (kind, reason) = match e.kind() {
                    async_nats::client::PublishErrorKind::MaxPayloadExceeded => {
                        (SinkErrorKind::Permanent, "too_large")
                    }
                    async_nats::client::PublishErrorKind::InvalidSubject => {
                        (SinkErrorKind::Permanent, "invalid_subject")
                    }
                    async_nats::client::PublishErrorKind::Send => {
                        (SinkErrorKind::Retriable, "disconnected")
                    }
                };
                self.metrics.failed(reason, n as u64);
                return Err(self
                    .error(kind, reason, format!("publish failed: {e}"))
                    .with_source(e));
            }
        }
        if let Some(ping) = &self.core_ping {
            if let Err(why) = ping.round_trip(&self.client).await {
                self.metrics.failed("disconnected", n as u64);
                return Err(self.error(SinkErrorKind::Retriable, "disconnected", why));
            }
        }
        let latency = started.elapsed().as_secs_f64();
        for _ in 0..n {
            self.metrics.ack_latency.observe(latency);
        }
        self.metrics.published.inc_by(n as u64);
        Ok(())
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

/// The PubAcks of one chunk, settled: how many failed, and the first failure of each kind.
#[derive(Default)]
struct Outcome {
    failed: usize,
    first_permanent: Option<(SinkErrorKind, &'static str, String)>,
    first_retriable: Option<(SinkErrorKind, &'static str, String)>,
}

/// Keeps the in-flight gauge right even when a batch future is dropped half-way.
struct InFlight<'a> {
    metrics: &'a Metrics,
    n: i64,
}

impl<'a> InFlight<'a> {
    fn add(metrics: &'a Metrics, n: usize) -> Self {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        metrics.in_flight.add(n);
        Self { metrics, n }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.metrics.in_flight.sub(self.n);
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
        let state = self.client.connection_state();
        if state != async_nats::connection::State::Connected {
            return SinkHealth::Unhealthy(format!("nats connection {state}"));
        }
        if let (Some(js), Some(setup)) = (&self.jetstream, &self.stream) {
            let stream = setup.name();
            match setup.state() {
                SetupState::Ready => {}
                SetupState::Refused(why) => {
                    return SinkHealth::Unhealthy(format!(
                        "stream `{stream}` refused by the server: {why}"
                    ))
                }
                SetupState::Pending(why) => {
                    return SinkHealth::Unhealthy(match why {
                        Some(why) => format!("stream `{stream}` not set up yet: {why}"),
                        None => format!("stream `{stream}` not set up yet"),
                    })
                }
            }
            match tokio::time::timeout(self.ack_timeout, js.get_stream(stream)).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return SinkHealth::Unhealthy(format!("stream `{stream}`: {e}")),
                Err(_) => {
                    return SinkHealth::Unhealthy(format!(
                        "stream `{stream}`: no answer within {:?}",
                        self.ack_timeout
                    ))
                }
            }
        }
        SinkHealth::Healthy
    }

    async fn flush(&self, deadline: Duration) -> Result<(), SinkError> {
        let quiet = async {
            // Holding every permit means no batch is between send and acknowledgement.
            let _all = self.in_flight.acquire_many(self.max_in_flight).await;
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
