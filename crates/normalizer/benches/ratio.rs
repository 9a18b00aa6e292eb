//! The normalizer's cost as a ratio, measured in pairs: normalizing a payload (`normalize` +
//! `to_structured_json` of every event, what ingress does per input) against
//! `serde_json::from_slice::<Value>` of the same bytes. Target: at most 1.0.
//!
//! Why beside the criterion benchmark (`normalize.rs`): criterion measures one function and then
//! the other, seconds apart, and on a shared two-core machine the speed of the whole machine
//! drifts by tens of percent over seconds, so the quotient of two criterion estimates swings
//! with it (0.7 to 1.4 for the same build was seen). Here the two alternate in short blocks of
//! about 2 ms, the order swapped every round, and a ratio is taken per round: drift slower than a
//! round cancels within the pair. The median over the rounds and its interquartile range are
//! printed for each payload, with the median time of each side.
//!
//! Run: `cargo bench -p vodbridge-normalizer --bench ratio` (append `-- NAME` to run only the
//! payloads whose name contains NAME; `VODBRIDGE_BENCH_ROUNDS` sets the rounds, default 300).
//! Results in docs/performance.md, "Normalizer".

// The report is the benchmark's output.
#![allow(clippy::print_stdout)]

mod payloads;

// The allocator of the `vodbridge` binary, so that what is measured is what runs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;
use std::time::{Duration, Instant};

use serde_json::Value;
use vodbridge_core::Provider;
use vodbridge_normalizer::{normalize, SourceContext};

/// Rounds discarded first (caches, allocator and branch predictors settle).
const WARM_UP_ROUNDS: usize = 30;

/// Wall time aimed at for one block of one side.
const BLOCK: Duration = Duration::from_millis(2);

fn main() {
    let filter = name_filter(std::env::args().skip(1));
    let rounds = std::env::var("VODBRIDGE_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .filter(|r| *r > 0)
        .unwrap_or(300);
    let ctx = payloads::context();
    println!(
        "{:<30} {:>12} {:>12} {:>8} {:>15}",
        "payload", "normalize", "Value parse", "ratio", "ratio IQR"
    );
    for (name, provider, body) in payloads::payloads() {
        if !name.contains(&filter) {
            continue;
        }
        let r = measure(provider, &body, &ctx, rounds);
        println!(
            "{name:<30} {:>9.2} µs {:>9.2} µs {:>8.3} {:>7.3}–{:<7.3}",
            r.normalize_us, r.parse_us, r.median, r.q1, r.q3
        );
    }
}

/// The first argument that is neither a flag nor a flag's value (`cargo bench` passes `--bench`,
/// and a run of every benchmark passes criterion's flags, such as `--warm-up-time 1`, here too).
fn name_filter(args: impl Iterator<Item = String>) -> String {
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        if arg == "--bench" {
            continue;
        }
        if arg.starts_with("--") {
            if !arg.contains('=') && args.peek().is_some_and(|v| !v.starts_with("--")) {
                args.next();
            }
            continue;
        }
        return arg;
    }
    String::new()
}

struct Result {
    normalize_us: f64,
    parse_us: f64,
    median: f64,
    q1: f64,
    q3: f64,
}

fn normalize_once(provider: Provider, body: &[u8], ctx: &SourceContext<'_>) -> usize {
    let events = normalize(provider, black_box(body), ctx).expect("normalizes");
    events
        .iter()
        .map(|e| e.to_structured_json().len())
        .sum::<usize>()
}

fn parse_once(body: &[u8]) -> Value {
    serde_json::from_slice::<Value>(black_box(body)).expect("json")
}

/// Seconds per call of `f`, timed over `n` calls.
fn block(n: usize, mut f: impl FnMut()) -> f64 {
    let started = Instant::now();
    for _ in 0..n {
        f();
    }
    started.elapsed().as_secs_f64() / n as f64
}

/// Calls of `f` that take about [`BLOCK`].
fn calibrate(mut f: impl FnMut()) -> usize {
    let mut n = 1;
    loop {
        let started = Instant::now();
        for _ in 0..n {
            f();
        }
        let elapsed = started.elapsed();
        if elapsed >= BLOCK / 4 || n >= 1 << 20 {
            let per_call = elapsed.as_secs_f64() / n as f64;
            return ((BLOCK.as_secs_f64() / per_call) as usize).max(1);
        }
        n *= 2;
    }
}

fn measure(provider: Provider, body: &[u8], ctx: &SourceContext<'_>, rounds: usize) -> Result {
    let mut norm = || {
        black_box(normalize_once(provider, body, ctx));
    };
    let mut parse = || {
        black_box(parse_once(body));
    };
    let n_norm = calibrate(&mut norm);
    let n_parse = calibrate(&mut parse);
    let mut ratios = Vec::with_capacity(rounds);
    let mut norm_times = Vec::with_capacity(rounds);
    let mut parse_times = Vec::with_capacity(rounds);
    for round in 0..WARM_UP_ROUNDS + rounds {
        // Which side goes first alternates, so neither always follows the other.
        let (t_norm, t_parse) = if round % 2 == 0 {
            let a = block(n_norm, &mut norm);
            (a, block(n_parse, &mut parse))
        } else {
            let b = block(n_parse, &mut parse);
            (block(n_norm, &mut norm), b)
        };
        if round >= WARM_UP_ROUNDS {
            ratios.push(t_norm / t_parse);
            norm_times.push(t_norm);
            parse_times.push(t_parse);
        }
    }
    Result {
        normalize_us: quantile(&mut norm_times, 0.5) * 1e6,
        parse_us: quantile(&mut parse_times, 0.5) * 1e6,
        median: quantile(&mut ratios, 0.5),
        q1: quantile(&mut ratios, 0.25),
        q3: quantile(&mut ratios, 0.75),
    }
}

fn quantile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let at = ((values.len() - 1) as f64 * q).round() as usize;
    values[at]
}
