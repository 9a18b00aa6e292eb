//! Outcomes, windows of counts and latency histograms, and the figures printed from them.
//!
//! Latency is kept in microseconds in HDR histograms (1 µs .. 60 s, 3 significant digits). Only
//! requests that got an HTTP answer enter the histograms: a connect error or a client timeout has
//! no server latency, and the timeout value would only repeat the configuration.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Highest latency a histogram tracks (larger values are clamped), in microseconds.
const MAX_MICROS: u64 = 60_000_000;

/// How one request ended, as far as the load generator is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A good body answered 200: the event is acknowledged by every sink.
    Acked,
    /// A bad body answered 400, as expected (the bridge stored it as a dead letter).
    Rejected,
    /// Any other HTTP status (including 200 for a bad body and 400 for a good one).
    Status(u16),
    /// The TCP connection could not be made.
    Connect,
    /// No answer within the request timeout.
    Timeout,
    /// Any other transport failure (reset, malformed response, …).
    Other,
}

/// Transport failure classes, from the HTTP client's error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// See [`Outcome::Connect`].
    Connect,
    /// See [`Outcome::Timeout`].
    Timeout,
    /// See [`Outcome::Other`].
    Other,
}

/// The outcome of a request whose body `accepted` says should be acknowledged (200) or refused
/// (400), given the HTTP status or the transport failure.
pub(crate) fn classify(accepted: bool, result: Result<u16, Failure>) -> Outcome {
    match (accepted, result) {
        (true, Ok(200)) => Outcome::Acked,
        (false, Ok(400)) => Outcome::Rejected,
        (_, Ok(status)) => Outcome::Status(status),
        (_, Err(Failure::Connect)) => Outcome::Connect,
        (_, Err(Failure::Timeout)) => Outcome::Timeout,
        (_, Err(Failure::Other)) => Outcome::Other,
    }
}

fn histogram() -> Histogram<u64> {
    // Bounds are constants that hdrhistogram accepts (low ≥ 1, high ≥ 2 × low, sigfig ≤ 5).
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("valid histogram bounds")
}

/// Counts and histograms of the requests that completed in one period.
#[derive(Debug, Clone)]
pub(crate) struct Window {
    /// Good bodies acknowledged with 200.
    pub(crate) acked: u64,
    /// Bad bodies refused with 400 as expected.
    pub(crate) rejected: u64,
    /// Unexpected HTTP statuses, by code.
    pub(crate) status: BTreeMap<u16, u64>,
    /// Connection failures.
    pub(crate) connect: u64,
    /// Client-side timeouts.
    pub(crate) timeout: u64,
    /// Other transport failures.
    pub(crate) other: u64,
    /// Latency, µs: from the due time in fixed-rate mode, from the send in closed-loop mode.
    pub(crate) latency: Histogram<u64>,
    /// Service time, µs: from the moment the request was handed to the client.
    pub(crate) service: Histogram<u64>,
}

impl Default for Window {
    fn default() -> Self {
        Self {
            acked: 0,
            rejected: 0,
            status: BTreeMap::new(),
            connect: 0,
            timeout: 0,
            other: 0,
            latency: histogram(),
            service: histogram(),
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

impl Window {
    /// Count one completed request.
    pub(crate) fn record(&mut self, outcome: Outcome, latency: Duration, service: Duration) {
        match outcome {
            Outcome::Acked => self.acked += 1,
            Outcome::Rejected => self.rejected += 1,
            Outcome::Status(code) => *self.status.entry(code).or_insert(0) += 1,
            Outcome::Connect => self.connect += 1,
            Outcome::Timeout => self.timeout += 1,
            Outcome::Other => self.other += 1,
        }
        if matches!(
            outcome,
            Outcome::Acked | Outcome::Rejected | Outcome::Status(_)
        ) {
            self.latency.saturating_record(micros(latency));
            self.service.saturating_record(micros(service));
        }
    }

    /// Every request counted that did not end as expected.
    pub(crate) fn errors(&self) -> u64 {
        self.status.values().sum::<u64>() + self.connect + self.timeout + self.other
    }

    /// Every request counted.
    pub(crate) fn completed(&self) -> u64 {
        self.acked + self.rejected + self.errors()
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub(crate) struct Percentiles {
    /// Samples in the histogram.
    pub(crate) count: u64,
    /// Mean.
    pub(crate) mean: f64,
    /// Median.
    pub(crate) p50: f64,
    /// 90th percentile.
    pub(crate) p90: f64,
    /// 99th percentile.
    pub(crate) p99: f64,
    /// 99.9th percentile.
    pub(crate) p999: f64,
    /// Largest sample.
    pub(crate) max: f64,
}

impl Percentiles {
    /// The percentiles of a µs histogram, in ms.
    pub(crate) fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Self {
            count: h.len(),
            mean: h.mean() / 1000.0,
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
        }
    }
}

/// Error counts by class.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub(crate) struct Errors {
    /// Sum of every class below.
    pub(crate) total: u64,
    /// Unexpected HTTP statuses, by code.
    pub(crate) status: BTreeMap<u16, u64>,
    /// Connection failures.
    pub(crate) connect: u64,
    /// Client-side timeouts.
    pub(crate) timeout: u64,
    /// Other transport failures.
    pub(crate) other: u64,
}

/// The figures of one period: an interval line, the warm-up or the whole measured run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Snapshot {
    /// End of the period, seconds since the measured phase started.
    pub(crate) t: f64,
    /// Length of the period, seconds.
    pub(crate) secs: f64,
    /// Requests completed.
    pub(crate) completed: u64,
    /// Events acknowledged (200).
    pub(crate) acked: u64,
    /// Acknowledged events per second.
    pub(crate) acked_per_sec: f64,
    /// Bad bodies refused with 400, as expected.
    pub(crate) rejected: u64,
    /// Requests that did not end as expected.
    pub(crate) errors: Errors,
    /// Latency (see [`Window::latency`]), ms.
    pub(crate) latency_ms: Percentiles,
    /// Service time (see [`Window::service`]), ms.
    pub(crate) service_ms: Percentiles,
    /// Resident set size of the bridge at the end of the period, KiB, when sampled.
    pub(crate) rss_kib: Option<u64>,
}

impl Snapshot {
    /// The figures of `w`, a period of `secs` seconds ending `t` seconds into the measured phase.
    pub(crate) fn of(w: &Window, t: f64, secs: f64, rss_kib: Option<u64>) -> Self {
        let per_sec = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
        Self {
            t,
            secs,
            completed: w.completed(),
            acked: w.acked,
            acked_per_sec: per_sec(w.acked),
            rejected: w.rejected,
            errors: Errors {
                total: w.errors(),
                status: w.status.clone(),
                connect: w.connect,
                timeout: w.timeout,
                other: w.other,
            },
            latency_ms: Percentiles::of(&w.latency),
            service_ms: Percentiles::of(&w.service),
            rss_kib,
        }
    }

    /// Column titles matching [`Snapshot::line`].
    pub(crate) fn header() -> String {
        format!(
            "{:>8} {:>9} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9} {:>7} {:>10}  errors by class",
            "time",
            "acked/s",
            "bad/400",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "p99.9 ms",
            "max ms",
            "errors",
            "rss MiB"
        )
    }

    /// One aligned line of figures.
    pub(crate) fn line(&self) -> String {
        let l = &self.latency_ms;
        let rss = self
            .rss_kib
            .map_or_else(|| "-".to_owned(), |k| format!("{:.1}", k as f64 / 1024.0));
        format!(
            "{:>7.1}s {:>9.1} {:>8} {:>8.2} {:>8.2} {:>8.2} {:>9.2} {:>9.2} {:>7} {:>10}  {}",
            self.t,
            self.acked_per_sec,
            self.rejected,
            l.p50,
            l.p90,
            l.p99,
            l.p999,
            l.max,
            self.errors.total,
            rss,
            self.errors.detail()
        )
    }
}

impl Errors {
    /// `503:3 connect:1 timeout:2`, or empty when there is no error.
    pub(crate) fn detail(&self) -> String {
        let mut parts: Vec<String> = self
            .status
            .iter()
            .map(|(code, n)| format!("{code}:{n}"))
            .collect();
        for (name, n) in [
            ("connect", self.connect),
            ("timeout", self.timeout),
            ("other", self.other),
        ] {
            if n > 0 {
                parts.push(format!("{name}:{n}"));
            }
        }
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_depend_on_what_the_body_should_get() {
        assert_eq!(classify(true, Ok(200)), Outcome::Acked);
        assert_eq!(classify(false, Ok(400)), Outcome::Rejected);
        assert_eq!(classify(true, Ok(400)), Outcome::Status(400));
        assert_eq!(classify(false, Ok(200)), Outcome::Status(200));
        assert_eq!(classify(true, Ok(503)), Outcome::Status(503));
        assert_eq!(classify(true, Err(Failure::Timeout)), Outcome::Timeout);
        assert_eq!(classify(false, Err(Failure::Connect)), Outcome::Connect);
    }

    #[test]
    fn windows_count_by_class_and_only_answers_enter_the_histograms() {
        let mut w = Window::default();
        let ms = Duration::from_millis;
        w.record(Outcome::Acked, ms(2), ms(1));
        w.record(Outcome::Acked, ms(4), ms(3));
        w.record(Outcome::Rejected, ms(6), ms(5));
        w.record(Outcome::Status(503), ms(8), ms(7));
        w.record(Outcome::Status(503), ms(8), ms(7));
        w.record(Outcome::Timeout, ms(10_000), ms(10_000));
        w.record(Outcome::Connect, ms(1), ms(1));
        assert_eq!(
            (w.acked, w.rejected, w.errors(), w.completed()),
            (2, 1, 4, 7)
        );
        assert_eq!(w.status.get(&503), Some(&2));
        assert_eq!(w.latency.len(), 5);
        assert_eq!(w.service.len(), 5);
        assert_eq!(w.latency.max(), w.latency.highest_equivalent(8_000));
    }

    #[test]
    fn snapshot_figures() {
        let mut w = Window::default();
        // 1 000 answers of 1 .. 1 000 ms, 10 s long: 100 acked/s and known percentiles.
        for i in 1..=1000u64 {
            w.record(
                Outcome::Acked,
                Duration::from_millis(i),
                Duration::from_millis(i),
            );
        }
        w.record(
            Outcome::Status(503),
            Duration::from_millis(1),
            Duration::from_millis(1),
        );
        w.record(Outcome::Other, Duration::ZERO, Duration::ZERO);
        let s = Snapshot::of(&w, 20.0, 10.0, Some(2048));
        assert_eq!(s.acked, 1000);
        assert!((s.acked_per_sec - 100.0).abs() < 1e-9);
        assert_eq!(s.errors.total, 2);
        assert_eq!(s.errors.detail(), "503:1 other:1");
        assert_eq!(s.completed, 1002);
        // Within the histogram's 3 significant digits.
        let close = |got: f64, want: f64| (got - want).abs() <= want * 0.001 + 0.001;
        assert!(close(s.latency_ms.p50, 500.0), "p50 {}", s.latency_ms.p50);
        assert!(close(s.latency_ms.p90, 900.0), "p90 {}", s.latency_ms.p90);
        assert!(close(s.latency_ms.p99, 990.0), "p99 {}", s.latency_ms.p99);
        assert!(
            close(s.latency_ms.p999, 999.0),
            "p99.9 {}",
            s.latency_ms.p999
        );
        assert!(close(s.latency_ms.max, 1000.0), "max {}", s.latency_ms.max);
        assert!(s.line().contains("2.0"), "rss in MiB: {}", s.line());
        // An empty period has zero rates, not NaN.
        let empty = Snapshot::of(&Window::default(), 0.0, 0.0, None);
        assert_eq!(empty.acked_per_sec, 0.0);
        assert_eq!(empty.latency_ms, Percentiles::default());
    }
}
