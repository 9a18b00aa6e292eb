//! In-flight accounting: a semaphore bounds the events handed to the connection and not yet
//! acknowledged (`max_in_flight`), a guard keeps the `vodbridge_nats_in_flight` gauge right even
//! when a batch future is dropped half-way, and `flush` waits for quiet by taking every permit.

use tokio::sync::{Semaphore, SemaphorePermit, TryAcquireError};
use vodbridge_core::{SinkError, SinkErrorKind};

use super::NatsSink;
use crate::error::NatsSinkError;
use crate::metrics::Metrics;

/// The bound on events awaiting acknowledgement.
pub(super) struct InFlightLimit {
    permits: Semaphore,
    max: u32,
}

impl InFlightLimit {
    /// A limit of `max` events; refused unless `1 <= max <= 2^32-1`.
    pub(super) fn new(max: usize) -> Result<Self, NatsSinkError> {
        if max == 0 || max > Semaphore::MAX_PERMITS.min(u32::MAX as usize) {
            return Err(NatsSinkError::Config(
                "max_in_flight must be between 1 and 2^32-1".into(),
            ));
        }
        Ok(Self {
            permits: Semaphore::new(max),
            max: max as u32,
        })
    }

    /// The most events in flight at once (also the largest chunk a batch is cut into).
    pub(super) fn max(&self) -> u32 {
        self.max
    }

    /// Wait until no batch is between send and acknowledgement (holding every permit).
    pub(super) async fn quiet(&self) {
        let _all = self.permits.acquire_many(self.max).await;
    }
}

/// What an admitted chunk holds until it is settled: its permits and its share of the gauge.
/// Fields drop in order: the gauge goes down before the permits are released, so a `flush`
/// woken by the permits never sees events still counted in flight.
pub(super) struct Admitted<'a> {
    _gauge: InFlight<'a>,
    _permits: SemaphorePermit<'a>,
}

impl NatsSink {
    /// Room for `n` events (`n <= max_in_flight`), waiting at most `ack_timeout` when the sink
    /// is saturated.
    pub(super) async fn admit(&self, n: usize) -> Result<Admitted<'_>, SinkError> {
        let closed = || {
            self.error(
                SinkErrorKind::Retriable,
                "disconnected",
                "sink is closed".into(),
            )
        };
        let limit = &self.in_flight;
        // `n <= max_in_flight <= u32::MAX` (checked at connect).
        let permits = match limit.permits.try_acquire_many(n as u32) {
            Ok(permits) => permits,
            Err(TryAcquireError::Closed) => return Err(closed()),
            // Full: wait for room, bounded like the hand-off itself. The timer is armed only
            // here, when the sink is saturated, not for every event.
            Err(TryAcquireError::NoPermits) => {
                match tokio::time::timeout(self.ack_timeout, limit.permits.acquire_many(n as u32))
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
                                self.ack_timeout, limit.max
                            ),
                        ));
                    }
                }
            }
        };
        Ok(Admitted {
            _permits: permits,
            _gauge: InFlight::add(&self.metrics, n),
        })
    }
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
