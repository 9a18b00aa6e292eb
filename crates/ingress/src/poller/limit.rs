//! Client-side pacing: a per-action request spacer shared by all polls of one source, and
//! full-jitter exponential backoff.

use std::sync::Mutex;
use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

/// Spaces requests at least `1 / rate` apart (a token bucket with a burst of one).
///
/// A burst of one is deliberate: the API counts requests per second, and a bucket with a larger
/// burst can put `burst + rate` requests into one second; even spacing never exceeds `rate`.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

impl RateLimiter {
    /// At most `per_second` requests per second.
    pub(crate) fn new(per_second: u32) -> Self {
        Self {
            interval: Duration::from_secs(1) / per_second.max(1),
            next: Mutex::new(None),
        }
    }

    /// Wait for this caller's slot. Slots are handed out in call order.
    pub(crate) async fn acquire(&self) {
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let slot = next.map_or(now, |n| n.max(now));
            *next = Some(slot + self.interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// Exponential backoff with full jitter: the n-th consecutive failure waits a random time in
/// `[0, min(max, initial * 2^n)]`, which spreads concurrent pollers apart after a shared outage.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    /// A backoff starting at `initial`, capped at `max`.
    pub(crate) fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max,
            attempt: 0,
        }
    }

    /// The next wait; grows the ceiling for the following one.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let ceiling = self
            .initial
            .saturating_mul(1u32 << self.attempt.min(20))
            .min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::rng().random_range(0..=millis))
    }

    /// Back to the initial ceiling after a success.
    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn spaces_requests_evenly() {
        let limiter = RateLimiter::new(100);
        let start = Instant::now();
        for _ in 0..201 {
            limiter.acquire().await;
        }
        // 201 slots, 10 ms apart: the last one is at 2 s.
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[test]
    fn backoff_ceiling_doubles_and_caps() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(800));
        for expected_max in [100, 200, 400, 800, 800, 800] {
            let d = b.next_delay();
            assert!(
                d <= Duration::from_millis(expected_max),
                "{d:?} > {expected_max} ms"
            );
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }
}
