//! One long-poll loop and the handling of one pulled batch (deliver, dead-letter, confirm).

use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use futures::future::join_all;
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, warn};
use vodbridge_core::{DeadLetter, ErrorChain, Provider, TraceContext};
use vodbridge_normalizer::{dead_letter_id, normalize_pulled, SourceContext};

use super::client::{Action, ErrorClass};
use super::limit::Backoff;
use super::Shared;
use crate::health::ComponentState;

/// VOD makes an unconfirmed event visible again 30 s after the pull; confirms are attempted only
/// within this shorter budget so a late confirm never races the redelivery.
const CONFIRM_BUDGET: Duration = Duration::from_secs(25);

/// The most handles one `ConfirmEvents` call accepts.
const MAX_CONFIRM: usize = 16;

/// Why one poll loop ended.
pub(super) enum Exit {
    /// Shutdown (or another poll hit a configuration error).
    Shutdown,
    /// This poll hit a configuration error (the code).
    Fatal(String),
}

/// What became of one batch.
enum BatchEnd {
    /// Everything deliverable was delivered and its confirmation attempted.
    Done,
    /// A sink or the dead-letter route failed: back off before pulling more.
    SinkFailed,
    /// `ConfirmEvents` hit a configuration error.
    Fatal(String),
}

/// Pull, handle, repeat, until `stop` is cancelled. A batch in hand is always finished, even
/// after `stop`: only the waiting (long poll, backoff) is cancelled.
pub(super) async fn poll_loop(
    shared: &Shared,
    stop: &CancellationToken,
    proven: &watch::Sender<bool>,
) -> Exit {
    let mut backoff = Backoff::new(shared.config.backoff_initial, shared.config.backoff_max);
    let metrics = &shared.metrics;
    loop {
        let pulled = tokio::select! {
            biased;
            _ = stop.cancelled() => return Exit::Shutdown,
            r = async {
                shared.pull_limiter.acquire().await;
                shared.client.pull_events().await
            } => r,
        };
        let delay = match pulled {
            Ok(events) => {
                proven.send_replace(true);
                shared.set_state(ComponentState::Ready);
                backoff.reset();
                if events.is_empty() {
                    metrics.pulls.with_label_values(&["empty"]).inc();
                    continue;
                }
                metrics.pulls.with_label_values(&["events"]).inc();
                match handle_batch(shared, events).await {
                    BatchEnd::Done => continue,
                    BatchEnd::Fatal(code) => return Exit::Fatal(code),
                    // Sink health has its own lines in /readyz; the poller's state is about the
                    // VOD API, so it stays as it is and only backs off.
                    BatchEnd::SinkFailed => backoff.next_delay(),
                }
            }
            Err(e) => {
                metrics
                    .api_errors
                    .with_label_values(&[Action::PullEvents.as_str(), e.label()])
                    .inc();
                match e.class(Action::PullEvents) {
                    ErrorClass::Empty => {
                        proven.send_replace(true);
                        shared.set_state(ComponentState::Ready);
                        metrics.pulls.with_label_values(&["empty"]).inc();
                        continue;
                    }
                    ErrorClass::Fatal => {
                        metrics.pulls.with_label_values(&["error"]).inc();
                        return Exit::Fatal(e.code());
                    }
                    ErrorClass::Transient | ErrorClass::Rejected => {
                        metrics.pulls.with_label_values(&["error"]).inc();
                        let delay = backoff.next_delay();
                        warn!(source = %shared.source_name, error = %e, retry_in = ?delay, "PullEvents failed, backing off");
                        shared.set_state(ComponentState::Degraded(e.code()));
                        delay
                    }
                }
            }
        };
        tokio::select! {
            _ = stop.cancelled() => return Exit::Shutdown,
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

#[derive(Deserialize)]
struct HandleOnly {
    #[serde(rename = "EventHandle", default)]
    event_handle: Option<String>,
}

/// The `EventHandle` of a raw element, for elements the normalizer could not even read.
fn handle_of(raw: &str) -> Option<String> {
    serde_json::from_str::<HandleOnly>(raw)
        .ok()
        .and_then(|h| h.event_handle)
}

/// Normalize, deliver, dead-letter and confirm one batch.
async fn handle_batch(shared: &Shared, raw: Vec<Box<RawValue>>) -> BatchEnd {
    let received = Instant::now();
    let received_at = Utc::now();
    let batch = shared.next_batch.fetch_add(1, Ordering::Relaxed);
    shared
        .in_hand
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(batch, received);
    let metrics = &shared.metrics;
    metrics.events_pulled.inc_by(raw.len() as u64);
    // One trace per pull: `PullEvents` carries no trace context of its own.
    let trace = TraceContext::start();
    debug!(source = %shared.source_name, trace_id = %trace, events = raw.len(), "pulled batch");

    let ctx = SourceContext {
        source_name: &shared.source_name,
        source_uri: &shared.ce_source,
        received_at,
    };
    let mut events = Vec::with_capacity(raw.len());
    let mut event_handles = Vec::with_capacity(raw.len());
    let mut poison = Vec::new();
    for element in &raw {
        let pulled = normalize_pulled(element.get(), &ctx);
        let handle = pulled.handle.or_else(|| handle_of(element.get()));
        if handle.is_none() {
            // Nothing to confirm; VOD should never send this. Publish anyway: losing it is worse.
            warn!(source = %shared.source_name, trace_id = %trace, "pulled event has no EventHandle");
            metrics
                .events_unconfirmed
                .with_label_values(&["no_handle"])
                .inc();
        }
        match pulled.result {
            Ok(mut event) => {
                let again = shared
                    .seen
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .check_and_insert(&event.id);
                if again {
                    metrics.events_redelivered.inc();
                    debug!(source = %shared.source_name, id = %event.id, "redelivered event");
                }
                event.set_trace(&trace);
                events.push(event);
                event_handles.extend(handle);
            }
            Err(reason) => poison.push((handle, element, reason)),
        }
    }

    let count = events.len();
    let received_text = received_at.to_rfc3339_opts(SecondsFormat::Millis, true);
    let dead_letters = poison.iter().map(|(handle, element, reason)| {
        let body = element.get().as_bytes();
        let letter = DeadLetter {
            id: dead_letter_id(&shared.source_name, body),
            source_name: shared.source_name.clone(),
            source: shared.ce_source.clone(),
            provider: Provider::Tencent,
            reason: reason.to_string(),
            received_at: received_text.clone(),
            ingress: "pull",
            body: body.to_vec(),
            trace: Some(trace.clone()),
        };
        async move { (handle, reason, shared.dispatcher.dead_letter(&letter).await) }
    });
    let (delivered, dead_lettered) =
        tokio::join!(shared.dispatcher.deliver(events), join_all(dead_letters));

    let mut confirm = Vec::with_capacity(raw.len());
    let mut failed = false;
    match delivered {
        Ok(()) => confirm.extend(event_handles),
        Err(e) => {
            failed = true;
            warn!(source = %shared.source_name, trace_id = %trace, error = %ErrorChain(&e), events = count, "delivery failed; events stay unconfirmed and come back in 30 s");
            metrics
                .events_unconfirmed
                .with_label_values(&["sink_failed"])
                .inc_by(event_handles.len() as u64);
        }
    }
    for (handle, reason, result) in dead_lettered {
        match result {
            Ok(()) => {
                metrics.events_dead_lettered.inc();
                warn!(source = %shared.source_name, trace_id = %trace, reason = reason.reason(), "pulled event dead-lettered");
                confirm.extend(handle.clone());
            }
            Err(e) => {
                failed = true;
                error!(source = %shared.source_name, trace_id = %trace, error = %ErrorChain(&e), reason = reason.reason(), "dead letter not acknowledged; event stays unconfirmed");
                if handle.is_some() {
                    metrics
                        .events_unconfirmed
                        .with_label_values(&["dead_letter_failed"])
                        .inc();
                }
            }
        }
    }

    let end = match confirm_handles(shared, &confirm, received).await {
        Err(code) => BatchEnd::Fatal(code),
        Ok(()) if failed => BatchEnd::SinkFailed,
        Ok(()) => BatchEnd::Done,
    };
    shared
        .in_hand
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&batch);
    shared.update_oldest_gauge();
    end
}

/// Confirm `handles` in calls of ≤ 16, retrying transient errors within the confirm budget.
/// Returns the code of a configuration error.
async fn confirm_handles(
    shared: &Shared,
    handles: &[String],
    received: Instant,
) -> Result<(), String> {
    let metrics = &shared.metrics;
    let deadline = received + CONFIRM_BUDGET;
    let mut chunks = handles.chunks(MAX_CONFIRM);
    while let Some(chunk) = chunks.next() {
        let mut backoff = Backoff::new(
            shared.config.backoff_initial,
            shared.config.backoff_max.min(Duration::from_secs(2)),
        );
        loop {
            shared.confirm_limiter.acquire().await;
            let e = match shared.client.confirm_events(chunk).await {
                Ok(()) => {
                    metrics.events_confirmed.inc_by(chunk.len() as u64);
                    metrics
                        .confirm_latency
                        .observe(received.elapsed().as_secs_f64());
                    break;
                }
                Err(e) => e,
            };
            metrics
                .api_errors
                .with_label_values(&[Action::ConfirmEvents.as_str(), e.label()])
                .inc();
            match e.class(Action::ConfirmEvents) {
                ErrorClass::Rejected => {
                    warn!(source = %shared.source_name, error = %e, handles = chunk.len(), "ConfirmEvents rejected the handles; VOD will redeliver");
                    metrics
                        .events_unconfirmed
                        .with_label_values(&["confirm_rejected"])
                        .inc_by(chunk.len() as u64);
                    break;
                }
                ErrorClass::Fatal => {
                    let left = chunk.len() + chunks.map(<[String]>::len).sum::<usize>();
                    metrics
                        .events_unconfirmed
                        .with_label_values(&["confirm_failed"])
                        .inc_by(left as u64);
                    return Err(e.code());
                }
                ErrorClass::Transient | ErrorClass::Empty => {
                    let delay = backoff.next_delay();
                    if Instant::now() + delay >= deadline {
                        warn!(source = %shared.source_name, error = %e, handles = chunk.len(), "ConfirmEvents kept failing; VOD will redeliver");
                        metrics
                            .events_unconfirmed
                            .with_label_values(&["confirm_failed"])
                            .inc_by(chunk.len() as u64);
                        break;
                    }
                    debug!(source = %shared.source_name, error = %e, retry_in = ?delay, "ConfirmEvents failed, retrying");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }
    Ok(())
}
