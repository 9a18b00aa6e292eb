//! Open-loop send schedule: request `n` is due `n / rate` seconds after the start, whatever
//! happened to earlier requests.
//!
//! Latency in fixed-rate mode is measured from this due time, not from the moment the request
//! actually left, so a stall of the server (or of the generator) shows up as the queueing delay
//! every request scheduled during it really suffered, instead of being hidden by sending fewer
//! requests ("coordinated omission"). The generator waits for due times on the runtime's timer,
//! whose resolution is 1 ms, so a request may leave up to about 1 ms after it was due; that delay
//! is part of the latency figure (the service time, measured from the actual send, is not). At
//! low latencies compare the two. The arithmetic is integer (rate in thousandths of a request
//! per second) so `count_before` and `offset` agree exactly at every boundary.

use std::time::Duration;

const NANOS_PER_SEC: u128 = 1_000_000_000;
/// Rates are kept in thousandths of a request per second.
const RATE_SCALE: u128 = 1_000;

/// Due times of an open-loop request stream at a fixed rate.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schedule {
    /// Requests per 1 000 s.
    milli_rate: u128,
}

impl Schedule {
    /// A schedule of `rate` requests per second (resolution 0.001; at least 0.001).
    pub(crate) fn new(rate: f64) -> Self {
        let milli_rate = (rate * RATE_SCALE as f64).round().max(1.0) as u128;
        Self { milli_rate }
    }

    /// When request `seq` is due, from the start of the schedule (rounded down to the nanosecond).
    pub(crate) fn offset(&self, seq: u64) -> Duration {
        let nanos = seq as u128 * NANOS_PER_SEC * RATE_SCALE / self.milli_rate;
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// How many requests are due strictly before `t` (so `count_before(offset(n)) == n`).
    pub(crate) fn count_before(&self, t: Duration) -> u64 {
        // #{ n : n * 1e12 / milli_rate < t_ns } = ceil(t_ns * milli_rate / 1e12), exactly.
        let num = t.as_nanos() * self.milli_rate;
        let den = NANOS_PER_SEC * RATE_SCALE;
        u64::try_from(num.div_ceil(den)).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_evenly_spaced() {
        let s = Schedule::new(3.0);
        assert_eq!(s.offset(0), Duration::ZERO);
        assert_eq!(s.offset(1), Duration::from_nanos(333_333_333));
        assert_eq!(s.offset(2), Duration::from_nanos(666_666_666));
        assert_eq!(s.offset(3), Duration::from_secs(1));
        let s = Schedule::new(2000.0);
        assert_eq!(s.offset(1), Duration::from_micros(500));
        assert_eq!(s.offset(2000), Duration::from_secs(1));
    }

    #[test]
    fn counts_match_rate_times_duration() {
        let s = Schedule::new(2000.0);
        assert_eq!(s.count_before(Duration::from_secs(180)), 360_000);
        assert_eq!(s.count_before(Duration::ZERO), 0);
        // Request 0 is due at 0, so it counts as soon as any time has passed.
        assert_eq!(s.count_before(Duration::from_nanos(1)), 1);
        let s = Schedule::new(0.5);
        assert_eq!(s.count_before(Duration::from_secs(10)), 5);
        let s = Schedule::new(123.456);
        assert_eq!(s.count_before(Duration::from_secs(1000)), 123_456);
    }

    #[test]
    fn offsets_and_counts_agree_at_every_boundary() {
        for rate in [1.0, 3.0, 7.5, 999.0, 2000.0, 12_345.678] {
            let s = Schedule::new(rate);
            for n in (0..5_000u64).chain([1_000_000, 123_456_789]) {
                let due = s.offset(n);
                assert_eq!(s.count_before(due), n, "rate {rate} n {n}");
                assert_eq!(
                    s.count_before(due + Duration::from_nanos(1)),
                    n + 1,
                    "rate {rate} n {n}"
                );
                assert!(s.offset(n + 1) >= due);
            }
        }
    }
}
