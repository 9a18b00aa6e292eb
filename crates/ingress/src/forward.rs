//! Spool forwarders: one per sink, reading the spool in order and publishing to that sink.
//!
//! A forwarder publishes a batch through the [`Dispatcher`] (same ack timeout and metrics as a
//! direct delivery) and moves its sink's cursor only after the sink acknowledged. Retriable
//! failures are retried with backoff, without limit; a permanent rejection is narrowed down to
//! the events the sink refuses, which become dead letters, and the forwarder moves on. Dead
//! letters in the spool, and records damaged on disk, are published by the forwarder of the
//! dead-letter sink only; the others step over them.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use prometheus::{IntCounter, IntCounterVec, Opts, Registry};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};
use vodbridge_core::{CanonicalEvent, DeadLetter, ErrorChain, Provider, SinkError, TraceContext};
use vodbridge_spool::{Entry, EntryBody, Reader, Spool};

use crate::dispatch::Dispatcher;

/// `reason` label of dead letters made from events a sink rejected for good.
pub const REJECTED_REASON: &str = "sink_rejected";
/// `reason` label (and dead-letter reason prefix) of records damaged in the spool.
pub const CORRUPT_REASON: &str = "spool_corrupt";

/// First and longest pause between retries of a batch a sink did not acknowledge.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// The forwarders' metrics, every series initialized per sink.
#[derive(Clone)]
pub struct ForwardMetrics {
    forwarded: IntCounterVec,
    retries: IntCounterVec,
    dead_lettered: IntCounterVec,
}

impl ForwardMetrics {
    /// Register `vodbridge_spool_forwarded_events_total`, `..._forward_retries_total` and
    /// `..._forward_dead_letters_total` with a zero series for each of `sinks`.
    pub fn register(registry: &Registry, sinks: &[String]) -> prometheus::Result<Self> {
        let forwarded = IntCounterVec::new(
            Opts::new(
                "vodbridge_spool_forwarded_events_total",
                "Spooled records a sink acknowledged (its cursor moved past them).",
            ),
            &["sink"],
        )?;
        let retries = IntCounterVec::new(
            Opts::new(
                "vodbridge_spool_forward_retries_total",
                "Batches a forwarder published again after a retriable failure.",
            ),
            &["sink"],
        )?;
        let dead_lettered = IntCounterVec::new(
            Opts::new(
                "vodbridge_spool_forward_dead_letters_total",
                "Spooled records a forwarder turned into dead letters, by reason (sink_rejected, spool_corrupt).",
            ),
            &["sink", "reason"],
        )?;
        registry.register(Box::new(forwarded.clone()))?;
        registry.register(Box::new(retries.clone()))?;
        registry.register(Box::new(dead_lettered.clone()))?;
        for sink in sinks {
            forwarded.with_label_values(&[sink]);
            retries.with_label_values(&[sink]);
            for reason in [REJECTED_REASON, CORRUPT_REASON] {
                dead_lettered.with_label_values(&[sink, reason]);
            }
        }
        Ok(Self {
            forwarded,
            retries,
            dead_lettered,
        })
    }
}

/// Forwards the spool to one sink.
pub struct Forwarder {
    index: usize,
    name: String,
    reader: Reader,
    spool: Spool,
    dispatcher: Dispatcher,
    /// True for the sink that carries dead letters.
    carries_dead_letters: bool,
    batch: usize,
    forwarded: IntCounter,
    retries: IntCounter,
    metrics: ForwardMetrics,
}

/// What became of one attempt to hand a batch over.
enum Handed {
    Done,
    Stopped,
}

impl Forwarder {
    /// The forwarder of the dispatcher's sink at `index`, reading `batch` records at a time.
    /// `None` when the dispatcher has no spool or the spool has no reader for that sink.
    pub fn new(
        dispatcher: &Dispatcher,
        index: usize,
        batch: usize,
        metrics: &ForwardMetrics,
    ) -> Option<Self> {
        let spool = dispatcher.spool()?.clone();
        let sink = dispatcher.sinks().get(index)?;
        let name = sink.name().to_owned();
        let reader = match spool.reader(&name)? {
            Ok(reader) => reader,
            Err(e) => {
                error!(sink = %name, error = %e, "cannot open the spool for this sink's forwarder");
                return None;
            }
        };
        let carries_dead_letters = dispatcher
            .dead_letter_route()
            .is_some_and(|route| std::ptr::addr_eq(route.sink.as_ref(), sink.as_ref()));
        Some(Self {
            index,
            reader,
            spool,
            dispatcher: dispatcher.clone(),
            carries_dead_letters,
            batch,
            forwarded: metrics.forwarded.with_label_values(&[&name]),
            retries: metrics.retries.with_label_values(&[&name]),
            metrics: metrics.clone(),
            name,
        })
    }

    /// Forward until `stop` is cancelled. Once `drain` is cancelled, return as soon as every
    /// committed record is forwarded (shutdown: leave nothing behind that there was time for).
    pub async fn run(mut self, drain: CancellationToken, stop: CancellationToken) {
        let mut draining = false;
        loop {
            if draining && self.reader.caught_up() {
                debug!(sink = %self.name, "forwarder drained");
                return;
            }
            let entries = tokio::select! {
                biased;
                () = stop.cancelled() => return,
                () = drain.cancelled(), if !draining => {
                    draining = true;
                    continue;
                }
                read = self.reader.next(self.batch) => read,
            };
            let entries = match entries {
                Ok(entries) => entries,
                Err(e) => {
                    warn!(sink = %self.name, error = %e, "reading the spool failed; retrying");
                    if sleep_or_stop(BACKOFF_MAX, &stop).await {
                        return;
                    }
                    continue;
                }
            };
            let Some(last) = entries.last().map(|e| e.seq) else {
                continue;
            };
            match self.hand_over(&entries, &stop).await {
                Handed::Done => {
                    self.forwarded.inc_by(entries.len() as u64);
                    self.reader.ack(last, 0);
                }
                Handed::Stopped => return,
            }
        }
    }

    /// Publish what `entries` hold for this sink; `Done` once the sink acknowledged all of it
    /// (or it was dead-lettered), `Stopped` when `stop` came first.
    async fn hand_over(&self, entries: &[Arc<Entry>], stop: &CancellationToken) -> Handed {
        let mut events = Vec::with_capacity(entries.len());
        let mut letters: Vec<(String, CanonicalEvent)> = Vec::new();
        for entry in entries {
            match &entry.body {
                // Another sink's dead letter: not even decoded here.
                EntryBody::Record { route: Some(_), .. } if !self.carries_dead_letters => {}
                EntryBody::Record {
                    route,
                    source_name,
                    payload,
                } => match decode(entry, payload, source_name) {
                    Ok(event) => match route {
                        None => events.push(event),
                        Some(dest) => letters.push((dest.clone(), event)),
                    },
                    Err(e) => {
                        let detail = format!("spool record {} does not decode: {e}", entry.seq);
                        self.quarantine(Some(payload), &detail, entry.received_ms, &mut letters);
                    }
                },
                EntryBody::Corrupt { raw, detail } => {
                    self.quarantine(raw.as_deref(), detail, entry.received_ms, &mut letters);
                }
            }
        }
        if !events.is_empty() {
            if let Handed::Stopped = self.publish(None, events, stop).await {
                return Handed::Stopped;
            }
        }
        for (dest, letter) in letters {
            if let Handed::Stopped = self.publish(Some(&dest), vec![letter], stop).await {
                return Handed::Stopped;
            }
        }
        Handed::Done
    }

    /// A damaged record becomes a dead letter on the dead-letter sink's forwarder; the others
    /// step over it (it is counted once).
    fn quarantine(
        &self,
        raw: Option<&[u8]>,
        detail: &str,
        received_ms: i64,
        letters: &mut Vec<(String, CanonicalEvent)>,
    ) {
        if !self.carries_dead_letters {
            return;
        }
        let Some(route) = self.dispatcher.dead_letter_route() else {
            return;
        };
        error!(sink = %self.name, detail, "spool record damaged; quarantined as a dead letter");
        self.spool.note_quarantined();
        self.metrics
            .dead_lettered
            .with_label_values(&[&self.name, CORRUPT_REASON])
            .inc();
        let body = raw.map_or_else(|| detail.as_bytes().to_vec(), <[u8]>::to_vec);
        let letter = DeadLetter {
            id: vodbridge_normalizer::dead_letter_id("spool", &body),
            source_name: "spool".to_owned(),
            source: "/vodbridge/spool".to_owned(),
            provider: Provider::Vodbridge,
            reason: format!("{CORRUPT_REASON}: {detail}"),
            received_at: rfc3339_ms(received_ms),
            ingress: "spool",
            body,
            // The damaged record's own trace cannot be trusted: the dead letter starts one.
            trace: Some(TraceContext::start()),
        };
        letters.push((route.destination.clone(), letter.to_event()));
    }

    /// Publish `events` until the sink acknowledges them, retrying retriable failures without
    /// limit; events the sink rejects for good become dead letters.
    async fn publish(
        &self,
        destination: Option<&str>,
        events: Vec<CanonicalEvent>,
        stop: &CancellationToken,
    ) -> Handed {
        let mut backoff = BACKOFF_MIN;
        loop {
            // Raced against `stop` so shutdown keeps its budget; the cursor has not moved, so
            // an abandoned publish is published again at the next start.
            let published = tokio::select! {
                () = stop.cancelled() => return Handed::Stopped,
                result = self.dispatcher.publish_to_sink(self.index, destination, &events) => result,
            };
            match published {
                Ok(()) => return Handed::Done,
                Err(e) if e.is_retriable() => {
                    self.retries.inc();
                    if sleep_or_stop(backoff, stop).await {
                        return Handed::Stopped;
                    }
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
                Err(e) if events.len() > 1 => {
                    // Find the events the sink refuses: one at a time from here.
                    debug!(sink = %self.name, error = %ErrorChain(&e), "batch rejected; publishing its events one by one");
                    for event in events {
                        if let Handed::Stopped =
                            Box::pin(self.publish(destination, vec![event], stop)).await
                        {
                            return Handed::Stopped;
                        }
                    }
                    return Handed::Done;
                }
                Err(e) => return self.reject(destination, &events[0], e, stop).await,
            }
        }
    }

    /// `event` was refused for good by the sink: keep it as a dead letter (through the spool)
    /// and move on. A dead letter the dead-letter sink itself refuses can only be logged.
    async fn reject(
        &self,
        destination: Option<&str>,
        event: &CanonicalEvent,
        err: SinkError,
        stop: &CancellationToken,
    ) -> Handed {
        self.metrics
            .dead_lettered
            .with_label_values(&[&self.name, REJECTED_REASON])
            .inc();
        let route = match (destination, self.dispatcher.dead_letter_route()) {
            (None, Some(route)) => route,
            _ => {
                error!(sink = %self.name, id = %event.id, error = %ErrorChain(&err), "dead letter rejected by its sink for good; it cannot be kept");
                return Handed::Done;
            }
        };
        warn!(sink = %self.name, id = %event.id, error = %ErrorChain(&err), "event rejected by the sink for good; kept as a dead letter");
        let body = event.to_structured_json();
        let letter = DeadLetter {
            id: vodbridge_normalizer::dead_letter_id(&event.source_name, &body),
            source_name: event.source_name.clone(),
            source: event.source.clone(),
            provider: event.provider,
            reason: format!("{REJECTED_REASON}: sink `{}`: {}", self.name, err.message),
            received_at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            ingress: "spool",
            body,
            // The rejected event's own trace, so the dead letter links back to its callback.
            trace: Some(
                event
                    .traceparent
                    .as_deref()
                    .and_then(|tp| TraceContext::from_attributes(tp, event.tracestate.as_deref()))
                    .unwrap_or_else(TraceContext::start),
            ),
        };
        // Through the spool, so the dead letter is durable before the cursor moves.
        let record = route.spool_record(&letter);
        let mut backoff = BACKOFF_MIN;
        loop {
            match self.spool.append_replacing(vec![record.clone()]).await {
                Ok(()) => return Handed::Done,
                Err(e) => {
                    warn!(sink = %self.name, error = %e, "cannot spool the dead letter of a rejected event; retrying");
                    if sleep_or_stop(backoff, stop).await {
                        return Handed::Stopped;
                    }
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
    }
}

/// Start one forwarder per sink; they return when `stop` is cancelled, or once drained after
/// `drain` is.
pub fn spawn_forwarders(
    dispatcher: &Dispatcher,
    batch: usize,
    metrics: &ForwardMetrics,
    tracker: &tokio_util::task::TaskTracker,
    drain: &CancellationToken,
    stop: &CancellationToken,
) -> usize {
    let mut started = 0;
    for index in 0..dispatcher.sinks().len() {
        if let Some(forwarder) = Forwarder::new(dispatcher, index, batch, metrics) {
            info!(sink = %forwarder.name, dead_letters = forwarder.carries_dead_letters, "spool forwarder started");
            tracker.spawn(forwarder.run(drain.clone(), stop.clone()));
            started += 1;
        }
    }
    started
}

/// The event a record holds: the copy its producer attached while the record is still in the
/// spool's memory, else decoded from its payload.
fn decode(
    entry: &Entry,
    payload: &[u8],
    source_name: &str,
) -> Result<CanonicalEvent, serde_json::Error> {
    if let Some(event) = entry
        .attachment
        .as_ref()
        .and_then(|a| a.downcast_ref::<CanonicalEvent>())
    {
        return Ok(event.clone());
    }
    let mut event: CanonicalEvent = serde_json::from_slice(payload)?;
    event.source_name = source_name.to_owned();
    Ok(event)
}

fn rfc3339_ms(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_else(Utc::now)
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Sleep `pause` unless `stop` comes first; true when stopped.
async fn sleep_or_stop(pause: Duration, stop: &CancellationToken) -> bool {
    tokio::select! {
        () = stop.cancelled() => true,
        () = tokio::time::sleep(pause) => false,
    }
}
