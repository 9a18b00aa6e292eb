//! `vodbridge-loadgen`: load generator and soak driver for vodbridge.
//!
//! It replays the vendor fixtures of `tests/fixtures/{tencent,volcengine}` to the bridge's
//! callback routes (`/v1/callbacks/<source>`), every request with a fresh media id so that every
//! request is a distinct occurrence with its own canonical event id (`payload`). The mix is
//! weighted by vendor, by traffic class and by a share of bad bodies (`mix`); by default half
//! Tencent, half Volcengine, and within each vendor 40 % uploads, 30 % transcodes (transcode,
//! procedure/workflow and processing completions), 10 % deletes and 20 % other event types, no
//! bad bodies.
//!
//! Two modes:
//! - `--rate N`: open loop, N requests per second on a fixed schedule; latency is measured from
//!   each request's due time, so server stalls are not hidden by coordinated omission
//!   (`schedule`).
//! - `--concurrency C`: closed loop, C senders back to back: the maximum rate at C connections.
//!
//! Every `--report-every` it prints acknowledged events per second, latency p50/p90/p99/p99.9/max
//! (HDR histograms), bad bodies refused, errors by class (unexpected status by code, connect,
//! timeout, other) and the bridge's RSS (`--pid`, or `--metrics-url`); at the end a summary, and
//! with `--json` the whole series. `--verify-events FILE` then checks that every acknowledged
//! event is in the bridge's JSON Lines file sink (`verify`), `--verify-deadletters FILE` that
//! every refused bad body was stored as a dead letter; `--fail-on-error` makes errors fatal.
//!
//! Requests go only to a loopback target unless `--allow-non-loopback` is given, and every run
//! is bounded by `--warmup` plus `--duration` (at most 24 h).
//!
//! ```text
//! vodbridge-loadgen --target 127.0.0.1:8080 --rate 2000 --duration 3m --pid $(pidof vodbridge) \
//!     --verify-events data/events.jsonl --json soak.json
//! vodbridge-loadgen --concurrency 64 --duration 60s
//! ```

mod cli;
mod mix;
mod payload;
mod rss;
mod run;
mod schedule;
mod stats;
mod verify;

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use serde::Serialize;

use crate::cli::Args;
use crate::mix::{build_deck, MixSpec};
use crate::rss::{load_average, RssSource, RssTrack};
use crate::run::{Mode, Plan, RunResult};
use crate::stats::Snapshot;

/// Closed-loop senders when neither --rate nor --concurrency is given.
const DEFAULT_CONCURRENCY: usize = 64;

fn out(line: impl AsRef<str>) {
    let _ = writeln!(std::io::stdout().lock(), "{}", line.as_ref());
}

/// Everything `--json` writes.
#[derive(Serialize)]
struct JsonReport<'a> {
    settings: Settings,
    load_average_start: Option<[f64; 3]>,
    load_average_end: Option<[f64; 3]>,
    intervals: &'a [Snapshot],
    warmup: &'a Snapshot,
    summary: &'a Snapshot,
    sent: u64,
    unsent: u64,
    rss_kib: &'a RssTrack,
    verify_events: Option<&'a verify::Report>,
    deadletters: Option<DeadLetters>,
    passed: bool,
}

#[derive(Serialize, Clone)]
struct Settings {
    target: String,
    mode: &'static str,
    rate: Option<f64>,
    concurrency: Option<usize>,
    max_in_flight: Option<usize>,
    duration_secs: f64,
    warmup_secs: f64,
    report_every_secs: f64,
    threads: usize,
    run_tag: u16,
    mix: String,
    templates: usize,
}

#[derive(Serialize, Clone, Copy)]
struct DeadLetters {
    expected_at_least: u64,
    lines: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match real_main(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("vodbridge-loadgen: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Run and report; `Ok(false)` when a check failed.
fn real_main(args: Args) -> anyhow::Result<bool> {
    args.validate().map_err(anyhow::Error::msg)?;
    let fixtures = payload::load(&args.fixtures)?;
    for (name, why) in &fixtures.skipped {
        eprintln!("skipped fixture {name}: {why}");
    }
    let spec = MixSpec {
        classes: args.mix.clone(),
        tencent_pct: args.tencent_share,
        bad_pct: args.bad_share,
    };
    let deck = build_deck(&fixtures.templates, &spec, args.seed).map_err(anyhow::Error::msg)?;
    let used = deck.per_bucket.values().sum::<usize>() as f64;
    let mix_text = deck
        .per_bucket
        .iter()
        .map(|(b, n)| format!("{b} {:.1}%", *n as f64 * 100.0 / used))
        .collect::<Vec<_>>()
        .join(", ");
    if args.list {
        for (i, t) in fixtures.templates.iter().enumerate() {
            let slots = deck.slots.iter().filter(|&&s| s as usize == i).count();
            out(format!("{:>6.2}%  {t}", slots as f64 * 100.0 / used));
        }
        out(format!("mix: {mix_text}"));
        return Ok(true);
    }

    let run_tag = args.run_tag.unwrap_or_else(|| {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        (secs % 10_000) as u16
    });
    let url = |source: &str| {
        reqwest::Url::parse(&format!("http://{}/v1/callbacks/{source}", args.target))
            .with_context(|| format!("bad target or source name `{source}`"))
    };
    let mode = match (args.rate, args.concurrency) {
        (Some(rate), _) => Mode::Rate {
            rate,
            max_in_flight: args.max_in_flight,
        },
        (None, c) => Mode::Closed {
            concurrency: c.unwrap_or(DEFAULT_CONCURRENCY),
        },
    };
    let rss = match (args.pid, &args.metrics_url) {
        (Some(pid), _) => RssSource::Pid(pid),
        (None, Some(url)) => RssSource::Metrics(url.clone()),
        (None, None) => RssSource::None,
    };
    let settings = Settings {
        target: args.target.clone(),
        mode: match mode {
            Mode::Rate { .. } => "rate",
            Mode::Closed { .. } => "closed",
        },
        rate: args.rate,
        concurrency: match mode {
            Mode::Closed { concurrency } => Some(concurrency),
            Mode::Rate { .. } => None,
        },
        max_in_flight: args.rate.map(|_| args.max_in_flight),
        duration_secs: args.duration.as_secs_f64(),
        warmup_secs: args.warmup.as_secs_f64(),
        report_every_secs: args.report_every.as_secs_f64(),
        threads: args.threads,
        run_tag,
        mix: mix_text.clone(),
        templates: fixtures.templates.len(),
    };
    let pacing = match mode {
        Mode::Rate {
            rate,
            max_in_flight,
        } => format!("fixed rate {rate}/s (open loop, at most {max_in_flight} in flight)"),
        Mode::Closed { concurrency } => format!("maximum rate, {concurrency} connections"),
    };
    let load_start = load_average();
    out(format!(
        "vodbridge-loadgen: {pacing} to {} for {:?} after {:?} warm-up; {} templates, run tag {run_tag}",
        args.target,
        args.duration,
        args.warmup,
        fixtures.templates.len()
    ));
    out(format!("mix: {mix_text}"));
    out(format!("load average at start: {}", fmt_load(load_start)));

    let templates = fixtures.templates;
    let plan = Plan {
        urls: [url(&args.tencent_source)?, url(&args.volcengine_source)?],
        templates: templates.clone(),
        deck: deck.clone(),
        run_tag,
        mode,
        warmup: args.warmup,
        duration: args.duration,
        report_every: args.report_every,
        timeout: args.timeout,
        rss,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()?;
    let result = runtime.block_on(run::run(plan))?;
    let load_end = load_average();
    print_summary(&result, &pacing, load_start, load_end);

    let mut passed = true;
    if args.fail_on_error && (result.errors_all > 0 || result.unsent > 0) {
        out(format!(
            "FAILED: {} requests ended in error, {} were not sent",
            result.errors_all, result.unsent
        ));
        passed = false;
    }
    let verify_report = match &args.verify_events {
        Some(path) => {
            let acked = acked_ids(&result, &templates, &deck, run_tag)?;
            let report = verify::verify(path, &acked)?;
            out(verify_line(&report, path));
            passed &= report.passed();
            Some(report)
        }
        None => None,
    };
    let deadletters = match &args.verify_deadletters {
        Some(path) => {
            let lines = if path.exists() {
                verify::count_lines(path)?
            } else {
                0
            };
            let ok = lines >= result.rejected_all;
            out(format!(
                "verify dead letters: {} bad bodies refused, {lines} lines in {} -> {}",
                result.rejected_all,
                path.display(),
                if ok {
                    "ok"
                } else {
                    "FAILED (dead letters missing)"
                }
            ));
            passed &= ok;
            Some(DeadLetters {
                expected_at_least: result.rejected_all,
                lines,
            })
        }
        None => None,
    };
    if let Some(path) = &args.json {
        let report = JsonReport {
            settings,
            load_average_start: load_start,
            load_average_end: load_end,
            intervals: &result.intervals,
            warmup: &result.warmup,
            summary: &result.total,
            sent: result.sent,
            unsent: result.unsent,
            rss_kib: &result.rss,
            verify_events: verify_report.as_ref(),
            deadletters,
            passed,
        };
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(passed)
}

/// The canonical ids of every acknowledged request, recomputed from their sequence numbers.
fn acked_ids(
    result: &RunResult,
    templates: &[payload::Template],
    deck: &mix::Deck,
    run_tag: u16,
) -> anyhow::Result<Vec<String>> {
    result
        .acked_seqs
        .iter()
        .map(|&seq| Ok(templates[deck.pick(seq)].event(run_tag, seq)?.id))
        .collect()
}

fn fmt_load(l: Option<[f64; 3]>) -> String {
    l.map_or_else(
        || "unknown".into(),
        |[a, b, c]| format!("{a:.2} {b:.2} {c:.2}"),
    )
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(|| "-".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
}

fn verify_line(r: &verify::Report, path: &std::path::Path) -> String {
    let verdict = if r.passed() {
        "all present".to_owned()
    } else {
        format!(
            "FAILED: {} missing (e.g. {})",
            r.missing,
            r.missing_examples.join(", ")
        )
    };
    format!(
        "verify events: {} acknowledged, {} lines in {} file(s) at {} -> {verdict}; \
         {} stored but not acknowledged to this run, {} stored more than once",
        r.acked,
        r.lines,
        r.files.len(),
        path.display(),
        r.unacknowledged,
        r.duplicated
    )
}

fn print_summary(
    r: &RunResult,
    pacing: &str,
    load_start: Option<[f64; 3]>,
    load_end: Option<[f64; 3]>,
) {
    let t = &r.total;
    let pct = |p: &stats::Percentiles| {
        format!(
            "p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}  mean {:.2}",
            p.p50, p.p90, p.p99, p.p999, p.max, p.mean
        )
    };
    out(format!(
        "summary: {pacing}; measured {:.1} s after {:.1} s warm-up",
        t.secs, r.warmup.secs
    ));
    out(format!(
        "  requests    {} sent, {} due but not sent (generator behind schedule)",
        r.sent, r.unsent
    ));
    out(format!(
        "  acked       {} ({:.1}/s), bad bodies refused with 400: {}",
        t.acked, t.acked_per_sec, t.rejected
    ));
    out(format!(
        "  errors      {} {}",
        t.errors.total,
        t.errors.detail()
    ));
    out(format!("  latency ms  {}", pct(&t.latency_ms)));
    out(format!("  service ms  {}", pct(&t.service_ms)));
    out(format!(
        "  bridge RSS  start {}, peak {} sampled / {} VmHWM, end {}",
        mib(r.rss.start_kib),
        mib(r.rss.peak_sampled_kib),
        mib(r.rss.hwm_kib),
        mib(r.rss.end_kib)
    ));
    out(format!(
        "  load avg    start {}, end {}",
        fmt_load(load_start),
        fmt_load(load_end)
    ));
    out(format!(
        "  warm-up     {} completed, {} acked, {} errors {}",
        r.warmup.completed,
        r.warmup.acked,
        r.warmup.errors.total,
        r.warmup.errors.detail()
    ));
}
