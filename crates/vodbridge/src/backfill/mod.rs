//! `vodbridge redrive` and `vodbridge replay`: read records back from a file, a Kafka topic or a
//! JetStream stream and publish them through the configured sinks.
//!
//! - **redrive** turns dead letters and `vod.unmapped` events into canonical events with the
//!   current mapping (the dead letter's raw body, the unmapped event's `data.original`) and
//!   publishes them; what still fails is published to the dead-letter route again.
//! - **replay** publishes canonical events unchanged (backfilling a new sink, topic or consumer),
//!   optionally filtered by type and time and paced by a rate.
//!
//! Both publish with the receiver's rule: a batch counts as published only when every sink it
//! routes to acknowledged it (no spool: the sinks are written directly). Ids are deterministic,
//! so a second run creates no new occurrences. A run ends at what the input held when it began.

mod input;
mod redrive;
mod report;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use prometheus::Registry;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use vodbridge_core::{CanonicalEvent, DeadLetter, ErrorChain, TypeFilter};
use vodbridge_ingress::{DeliveryError, Dispatcher};

pub use input::InputSpec;
use input::{Input, Position};
use redrive::{RedriveFilter, ReplayFilter, Sources, Verdict};
use report::{Progress, Summary};

use crate::config::Config;

/// What a run does with each record.
#[derive(Debug)]
pub enum Job {
    /// Re-normalize dead letters and unmapped events.
    Redrive {
        /// Only dead letters whose reason contains this text.
        reason: Option<String>,
    },
    /// Publish canonical events unchanged.
    Replay {
        /// Only events whose `time` is at or after this.
        since: Option<DateTime<Utc>>,
        /// Only events whose `time` is before this.
        until: Option<DateTime<Utc>>,
        /// At most this many events per second.
        rate: Option<u32>,
    },
}

impl Job {
    fn name(&self) -> &'static str {
        match self {
            Job::Redrive { .. } => "redrive",
            Job::Replay { .. } => "replay",
        }
    }
}

/// One `redrive` or `replay` run.
#[derive(Debug)]
pub struct Run {
    /// Which command, with its own options.
    pub job: Job,
    /// Where to read.
    pub input: InputSpec,
    /// Canonical-type patterns (`*`, `?`): what is published must match one; empty for all.
    pub types: Vec<String>,
    /// Print what each record would become instead of publishing.
    pub dry_run: bool,
    /// Records read and published per batch.
    pub batch_size: usize,
    /// Kafka consumer group of a `kafka://` input (default `vodbridge-redrive` or
    /// `vodbridge-replay`).
    pub group: Option<String>,
}

/// Run `run` with `config`'s sinks and sources until the input is exhausted, something fails
/// for good, or Ctrl-C.
pub fn main(config: Config, run: Run) -> anyhow::Result<ExitCode> {
    crate::telemetry::init_logging(&config.log);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(execute(config, run))
}

/// The pause before publishing attempt `n` (from 1) again.
fn retry_delay(attempt: u32) -> Duration {
    Duration::from_millis(250) * 2u32.pow(attempt.min(5))
}

/// Attempts at one batch before the run stops.
const ATTEMPTS: u32 = 6;

async fn execute(config: Config, run: Run) -> anyhow::Result<ExitCode> {
    let group = run
        .group
        .clone()
        .unwrap_or_else(|| format!("vodbridge-{}", run.job.name()));
    let mut input = Input::open(&run.input, &config, &group).await?;
    let dispatcher = if run.dry_run {
        None
    } else {
        Some(crate::run::build_dispatcher(&config, &Registry::new()).await?)
    };
    let sources = Sources::new(&config);
    let types = TypeFilter::new(&run.types);
    let (redrive_filter, replay_filter, rate) = match &run.job {
        Job::Redrive { reason } => (
            Some(RedriveFilter {
                reason: reason.clone(),
                types,
            }),
            None,
            None,
        ),
        Job::Replay { since, until, rate } => (
            None,
            Some(ReplayFilter {
                types,
                since: *since,
                until: *until,
            }),
            *rate,
        ),
    };
    info!(command = run.job.name(), input = %input.describe(), dry_run = run.dry_run, "reading");

    let stop = CancellationToken::new();
    let on_signal = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_signal.cancel();
        }
    });

    let mut summary = Summary::default();
    let mut progress = Progress::new(input.extent());
    let mut last: Option<Position> = None;
    let started = Instant::now();
    let batch_size = match rate {
        Some(rate) => run.batch_size.min(rate.max(1) as usize),
        None => run.batch_size,
    }
    .max(1);
    let mut stdout = std::io::stdout().lock();
    let outcome: anyhow::Result<()> = async {
        loop {
            if stop.is_cancelled() {
                summary.interrupted = true;
                break;
            }
            let batch = tokio::select! {
                biased;
                () = stop.cancelled() => { summary.interrupted = true; break; }
                batch = input.next_batch(batch_size) => batch?,
            };
            let Some(end) = batch.last().map(|r| r.at.clone()) else {
                break;
            };
            let mut events: Vec<CanonicalEvent> = Vec::new();
            let mut letters: Vec<(&'static str, Box<DeadLetter>)> = Vec::new();
            for record in batch {
                summary.read += 1;
                let verdict = match record.event {
                    Err(bad) => Verdict::Bad {
                        reason: bad.reason,
                        detail: bad.detail,
                    },
                    Ok(event) => match (&redrive_filter, &replay_filter) {
                        (Some(filter), _) => redrive::redrive(&event, &sources, filter),
                        (None, Some(filter)) => redrive::replay(event, &sources, filter),
                        (None, None) => unreachable!("one of the filters is set"),
                    },
                };
                match verdict {
                    Verdict::Publish(mut out) => {
                        if run.dry_run {
                            progress.suspend(|| {
                                out.iter()
                                    .try_for_each(|e| report::print_event(&mut stdout, e))
                            })?;
                            summary.published += out.len() as u64;
                        } else {
                            events.append(&mut out);
                        }
                    }
                    Verdict::Skip(reason) => summary.skip(reason, &record.at),
                    Verdict::StillFailing { reason, letter } => {
                        summary.still_failing(reason, &record.at, &letter.reason);
                        if run.dry_run {
                            progress.suspend(|| {
                                report::print_error(&mut stdout, &record.at, reason, &letter.reason)
                            })?;
                        } else {
                            letters.push((reason, letter));
                        }
                    }
                    Verdict::Bad { reason, detail } => {
                        summary.bad(reason, &record.at, &detail);
                        if run.dry_run {
                            progress.suspend(|| {
                                report::print_error(&mut stdout, &record.at, reason, &detail)
                            })?;
                        }
                    }
                }
            }
            if let Some(dispatcher) = &dispatcher {
                let count = events.len() as u64;
                if let Some(rate) = rate {
                    // Paced by what is published: the n-th event goes out no sooner than n/rate
                    // seconds after the start.
                    let due = started
                        + Duration::from_secs_f64(
                            summary.published as f64 / f64::from(rate.max(1)),
                        );
                    tokio::time::sleep_until(due).await;
                }
                if let Err(e) = deliver(dispatcher, &events).await {
                    summary.failed(failure_reason(&e), count);
                    return Err(anyhow::Error::new(e)
                        .context(format!("{count} event(s) read up to {end} not published")));
                }
                summary.published += count;
                for (_, letter) in &letters {
                    if let Err(e) = dead_letter(dispatcher, letter).await {
                        summary.failed(failure_reason(&e), 1);
                        return Err(anyhow::Error::new(e).context(format!(
                            "dead letter {} (read up to {end}) not published",
                            letter.id
                        )));
                    }
                    summary.dead_lettered += 1;
                }
            }
            // A dry run publishes nothing, so it must not move a Kafka group past what it read.
            if !run.dry_run {
                input.commit().await?;
            }
            last = Some(end);
            progress.update(input.progress(), &summary);
        }
        Ok(())
    }
    .await;
    progress.finish();
    if let Some(dispatcher) = &dispatcher {
        if let Err(e) = dispatcher.flush(Duration::from_secs(10)).await {
            warn!(error = %ErrorChain(&e), "sinks not flushed");
        }
    }
    let failed = outcome.as_ref().err().map(|e| format!("{e:#}"));
    summary.print(
        run.job.name(),
        last.as_ref(),
        failed.as_deref(),
        started.elapsed(),
        &mut std::io::stderr(),
    );
    Ok(if summary.interrupted {
        ExitCode::from(130)
    } else if failed.is_some() || !summary.clean() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn failure_reason(e: &DeliveryError) -> String {
    match e {
        DeliveryError::Sink(s) => format!("sink {}: {}", s.sink, s.reason),
        DeliveryError::Timeout(_) => "ack_timeout".to_owned(),
        DeliveryError::NoDeadLetterRoute => "no_dead_letter_route".to_owned(),
        DeliveryError::Spool(_) => "spool".to_owned(),
    }
}

/// Publish `events` to every sink, retrying what a retry may fix.
async fn deliver(dispatcher: &Dispatcher, events: &[CanonicalEvent]) -> Result<(), DeliveryError> {
    if events.is_empty() {
        return Ok(());
    }
    let mut attempt = 1;
    loop {
        match dispatcher.deliver(events.to_vec()).await {
            Ok(()) => return Ok(()),
            Err(e) if e.is_retriable() && attempt < ATTEMPTS => {
                warn!(error = %ErrorChain(&e), attempt, "publish failed; retrying");
                tokio::time::sleep(retry_delay(attempt)).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Publish a dead letter to the dead-letter route, retrying what a retry may fix.
async fn dead_letter(dispatcher: &Dispatcher, letter: &DeadLetter) -> Result<(), DeliveryError> {
    let mut attempt = 1;
    loop {
        match dispatcher.dead_letter(letter).await {
            Ok(()) => return Ok(()),
            Err(e) if e.is_retriable() && attempt < ATTEMPTS => {
                warn!(error = %ErrorChain(&e), attempt, "dead letter not published; retrying");
                tokio::time::sleep(retry_delay(attempt)).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// `--since` / `--until`: an RFC 3339 time, or a duration (`90m`, `7d`) meaning that long ago.
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    match humantime_serde::re::humantime::parse_duration(text) {
        Ok(ago) => chrono::Duration::from_std(ago)
            .ok()
            .and_then(|ago| Utc::now().checked_sub_signed(ago))
            .ok_or_else(|| format!("{text:?} is too long ago")),
        Err(_) => Err(format!(
            "{text:?} is neither an RFC 3339 time (2026-12-01T00:00:00Z) nor a duration (90m, 7d)"
        )),
    }
}

/// Where the redrive or replay input is, for the CLI's `--input` parser.
pub fn parse_input(text: &str) -> Result<InputSpec, String> {
    InputSpec::parse(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_or_a_duration_ago() {
        assert_eq!(
            parse_time("2026-12-01T10:00:00+01:00").expect("rfc3339"),
            DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z").expect("time")
        );
        let ago = parse_time("90m").expect("duration");
        let expected = Utc::now() - chrono::Duration::minutes(90);
        assert!((ago - expected).num_seconds().abs() < 5, "{ago}");
        assert!(parse_time("yesterday").is_err());
    }

    #[test]
    fn retries_back_off() {
        assert_eq!(retry_delay(1), Duration::from_millis(500));
        assert_eq!(retry_delay(5), Duration::from_secs(8));
        assert_eq!(retry_delay(9), Duration::from_secs(8));
    }
}
