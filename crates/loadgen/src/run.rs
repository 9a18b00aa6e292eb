//! The load itself: open-loop at a fixed rate or closed-loop at a fixed concurrency, a reporter
//! that prints one line per interval, and the collected figures.
//!
//! Every request is spawned on the runtime with its sequence number; the template, the body and
//! the fresh media id follow from that number. Completions are recorded into three windows under
//! one short lock (never held across an `.await`): the warm-up, the current interval and the whole
//! measured phase. A request belongs to the warm-up when its reference time (due time, or send
//! time in closed loop) falls before the end of the warm-up.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use reqwest::header::CONTENT_TYPE;
use tokio::sync::{oneshot, Semaphore};

use crate::mix::{Deck, ProviderKey};
use crate::payload::Template;
use crate::rss::{metric_value, read_status, status_field_kib, RssSource, RssTrack};
use crate::schedule::Schedule;
use crate::stats::{classify, Failure, Outcome, Snapshot, Window};

/// How requests are paced.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Mode {
    /// Open loop: `rate` requests per second whatever the answers, at most `max_in_flight` at
    /// once (connections are opened up to that number and kept alive).
    Rate {
        /// Requests per second.
        rate: f64,
        /// Requests (and so connections) outstanding at once.
        max_in_flight: usize,
    },
    /// Closed loop: `concurrency` senders, each sending its next request when the previous one
    /// is answered (the server's maximum rate at that concurrency).
    Closed {
        /// Senders (and keep-alive connections).
        concurrency: usize,
    },
}

/// Everything a run needs.
pub(crate) struct Plan {
    /// Request templates.
    pub(crate) templates: Vec<Template>,
    /// Which template each sequence number uses.
    pub(crate) deck: Deck,
    /// Callback URL per vendor (index: [`ProviderKey`]).
    pub(crate) urls: [reqwest::Url; 2],
    /// Run tag in every fresh media id.
    pub(crate) run_tag: u16,
    /// Pacing.
    pub(crate) mode: Mode,
    /// Load before measuring.
    pub(crate) warmup: Duration,
    /// Measured load.
    pub(crate) duration: Duration,
    /// Interval between report lines.
    pub(crate) report_every: Duration,
    /// Whole-request timeout.
    pub(crate) timeout: Duration,
    /// Where the bridge's RSS comes from.
    pub(crate) rss: RssSource,
}

/// The figures of a finished run.
pub(crate) struct RunResult {
    /// One snapshot per report interval (the last one may be shorter).
    pub(crate) intervals: Vec<Snapshot>,
    /// The warm-up.
    pub(crate) warmup: Snapshot,
    /// The whole measured phase.
    pub(crate) total: Snapshot,
    /// Sequence numbers answered 200, warm-up included (for verification).
    pub(crate) acked_seqs: Vec<u64>,
    /// Requests sent, warm-up included.
    pub(crate) sent: u64,
    /// Fixed-rate requests due before the end but not sent by the end plus [`LATE_GRACE`] (the
    /// generator, or the in-flight limit, could not keep up).
    pub(crate) unsent: u64,
    /// Bad bodies refused with 400, warm-up included (each should be a dead letter).
    pub(crate) rejected_all: u64,
    /// Errors, warm-up included.
    pub(crate) errors_all: u64,
    /// RSS of the bridge.
    pub(crate) rss: RssTrack,
}

#[derive(Default)]
struct Collector {
    warmup: Window,
    interval: Window,
    total: Window,
    acked: Vec<u64>,
}

struct Shared {
    plan: Plan,
    client: reqwest::Client,
    collector: Mutex<Collector>,
    measure_start: Instant,
    logged_errors: AtomicUsize,
}

/// How late past the end of the run a due request may still be sent (fixed rate).
const LATE_GRACE: Duration = Duration::from_secs(1);

/// Transport errors printed to stderr (the first few; the rest are only counted).
const ERRORS_LOGGED: usize = 5;

fn failure(e: &reqwest::Error) -> Failure {
    if e.is_connect() {
        Failure::Connect
    } else if e.is_timeout() {
        Failure::Timeout
    } else {
        Failure::Other
    }
}

impl Shared {
    fn collector(&self) -> std::sync::MutexGuard<'_, Collector> {
        self.collector
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Send request `seq`; `reference` is the time its latency is measured from.
    async fn request(&self, seq: u64, reference: Instant) {
        let t = &self.plan.templates[self.plan.deck.pick(seq)];
        let body = t.render(self.plan.run_tag, seq);
        let url = self.plan.urls[ProviderKey::from(t.provider) as usize].clone();
        let sent = Instant::now();
        let result = match self
            .client
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
        {
            // The body is read to the end so the connection goes back to the pool.
            Ok(resp) => {
                let status = resp.status().as_u16();
                resp.bytes().await.map(|_| status)
            }
            Err(e) => Err(e),
        };
        let done = Instant::now();
        let result = result.map_err(|e| {
            if self.logged_errors.fetch_add(1, Ordering::Relaxed) < ERRORS_LOGGED {
                eprintln!("request {seq} ({}): {e}", t.name);
            }
            failure(&e)
        });
        let outcome = classify(t.is_accepted(), result);
        let (latency, service) = (done - reference, done - sent);
        let mut c = self.collector();
        if reference < self.measure_start {
            c.warmup.record(outcome, latency, service);
        } else {
            c.interval.record(outcome, latency, service);
            c.total.record(outcome, latency, service);
        }
        if outcome == Outcome::Acked {
            c.acked.push(seq);
        }
    }
}

/// One RSS sample of the bridge, KiB.
pub(crate) async fn sample_rss(source: &RssSource, client: &reqwest::Client) -> Option<u64> {
    match source {
        RssSource::Pid(pid) => status_field_kib(&read_status(*pid)?, "VmRSS"),
        RssSource::Metrics(url) => {
            let page = client.get(url).send().await.ok()?.text().await.ok()?;
            metric_value(&page, "process_resident_memory_bytes").map(|b| (b / 1024.0) as u64)
        }
        RssSource::None => None,
    }
}

/// Build the HTTP client: HTTP/1.1 keep-alive, no proxy, Nagle off.
pub(crate) fn client(timeout: Duration, pool: usize) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .http1_only()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(pool)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .timeout(timeout)
        .build()?)
}

fn write_line(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// Run the load described by `plan`, printing one line per report interval.
pub(crate) async fn run(plan: Plan) -> anyhow::Result<RunResult> {
    let pool = match plan.mode {
        Mode::Rate { max_in_flight, .. } => max_in_flight,
        Mode::Closed { concurrency } => concurrency,
    };
    let client = client(plan.timeout, pool)?;
    let mut rss = RssTrack::default();
    rss.sample(sample_rss(&plan.rss, &client).await);

    let start = Instant::now();
    let shared = Arc::new(Shared {
        measure_start: start + plan.warmup,
        client: client.clone(),
        collector: Mutex::new(Collector::default()),
        logged_errors: AtomicUsize::new(0),
        plan,
    });
    let (stop_tx, stop_rx) = oneshot::channel();
    let reporter = tokio::spawn(report(shared.clone(), stop_rx));

    let end = shared.measure_start + shared.plan.duration;
    let (sent, unsent) = match shared.plan.mode {
        Mode::Rate {
            rate,
            max_in_flight,
        } => open_loop(&shared, start, end, rate, max_in_flight).await,
        Mode::Closed { concurrency } => (closed_loop(&shared, end, concurrency).await, 0),
    };
    let finished = Instant::now();
    let _ = stop_tx.send(());
    let mut intervals = reporter.await?;

    let measured_until = finished.max(shared.measure_start);
    let last_tick = shared.measure_start
        + shared.plan.report_every * u32::try_from(intervals.len()).unwrap_or(u32::MAX);
    let end_kib = sample_rss(&shared.plan.rss, &client).await;
    for snap in &intervals {
        rss.sample(snap.rss_kib);
    }
    rss.sample(end_kib);
    if let RssSource::Pid(pid) = shared.plan.rss {
        rss.hwm_kib = read_status(pid).and_then(|s| status_field_kib(&s, "VmHWM"));
    }
    let c = std::mem::take(&mut *shared.collector());
    if c.interval.completed() > 0 {
        let snap = Snapshot::of(
            &c.interval,
            (measured_until - shared.measure_start).as_secs_f64(),
            (measured_until.max(last_tick) - last_tick).as_secs_f64(),
            end_kib,
        );
        // A sliver of a period (the answers that came in after the last tick) would print a
        // meaningless rate; it stays in the JSON series and in the totals.
        if snap.secs >= 1.0 {
            write_line(&snap.line());
        }
        intervals.push(snap);
    }
    let measured = (measured_until - shared.measure_start).as_secs_f64();
    Ok(RunResult {
        warmup: Snapshot::of(&c.warmup, 0.0, shared.plan.warmup.as_secs_f64(), None),
        total: Snapshot::of(&c.total, measured, measured, end_kib),
        intervals,
        sent,
        unsent,
        rejected_all: c.warmup.rejected + c.total.rejected,
        errors_all: c.warmup.errors() + c.total.errors(),
        acked_seqs: c.acked,
        rss,
    })
}

/// Fixed rate: request `n` is due at `start + n / rate`; returns (sent, due but not sent: the
/// generator was more than [`LATE_GRACE`] behind schedule at the end).
async fn open_loop(
    shared: &Arc<Shared>,
    start: Instant,
    end: Instant,
    rate: f64,
    max_in_flight: usize,
) -> (u64, u64) {
    let schedule = Schedule::new(rate);
    let total = schedule.count_before(end - start);
    let permits = Arc::new(Semaphore::new(max_in_flight));
    let mut seq = 0;
    while seq < total {
        let due = start + schedule.offset(seq);
        if due > Instant::now() {
            tokio::time::sleep_until(due.into()).await;
        }
        // When every slot is busy the request waits here; its latency still counts from `due`.
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        // A request due before the end is still sent when the generator is a little late (a
        // timer tick, a descheduled thread); only one more than LATE_GRACE behind is given up.
        if Instant::now() >= end + LATE_GRACE {
            break;
        }
        let shared = shared.clone();
        tokio::spawn(async move {
            shared.request(seq, due).await;
            drop(permit);
        });
        seq += 1;
    }
    // Wait for the requests still in flight.
    let _ = permits
        .acquire_many(u32::try_from(max_in_flight).unwrap_or(u32::MAX))
        .await;
    (seq, total - seq)
}

/// Maximum rate: `concurrency` senders back to back until `end`; returns the requests sent.
async fn closed_loop(shared: &Arc<Shared>, end: Instant, concurrency: usize) -> u64 {
    let next = Arc::new(AtomicU64::new(0));
    let senders: Vec<_> = (0..concurrency)
        .map(|_| {
            let (shared, next) = (shared.clone(), next.clone());
            tokio::spawn(async move {
                while Instant::now() < end {
                    let seq = next.fetch_add(1, Ordering::Relaxed);
                    shared.request(seq, Instant::now()).await;
                }
            })
        })
        .collect();
    for s in senders {
        let _ = s.await;
    }
    next.load(Ordering::Relaxed)
}

/// Print a line every `report_every` of the measured phase until told to stop.
async fn report(shared: Arc<Shared>, mut stop: oneshot::Receiver<()>) -> Vec<Snapshot> {
    let every = shared.plan.report_every;
    let mut snapshots = Vec::new();
    write_line(&Snapshot::header());
    let mut tick = shared.measure_start + every;
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep_until(tick.into()) => {}
        }
        let window = std::mem::take(&mut shared.collector().interval);
        let kib = sample_rss(&shared.plan.rss, &shared.client).await;
        let t = (tick - shared.measure_start).as_secs_f64();
        let snap = Snapshot::of(&window, t, every.as_secs_f64(), kib);
        write_line(&snap.line());
        snapshots.push(snap);
        tick += every;
    }
    snapshots
}
