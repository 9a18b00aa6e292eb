//! The books of a fault test: every callback sent, every answer, every event read back from the
//! broker, and the verdict table.
//!
//! A callback is identified by its media id (the fixture's FileId, made fresh per callback so
//! every callback is a distinct event with a distinct CloudEvents id). *Lost* is the one number
//! that must be zero: a callback answered 200 whose event is not in the broker. *Duplicated*
//! counts media ids delivered more than once; that is allowed (at-least-once), but every copy must
//! carry the same CloudEvents id so consumers can deduplicate — a different id is counted as an
//! id mismatch and fails the test too.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

/// How one HTTP attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 200: the bridge promised the event is in every sink.
    Accepted,
    /// Any other status; `reason` is the `error` field of the JSON body when there is one.
    Rejected {
        /// HTTP status.
        status: u16,
        /// The bridge's machine-readable reason (`ack_timeout`, `overloaded`, `sink_failed`, …).
        reason: Option<String>,
        /// Whether the answer carried `Retry-After`.
        retry_after: bool,
    },
    /// No HTTP answer: connection refused or reset, or the request timed out.
    Transport,
}

#[derive(Default)]
struct State {
    sent: BTreeSet<String>,
    attempts: u64,
    acked: BTreeSet<String>,
    answered_503: u64,
    answered_other: BTreeMap<u16, u64>,
    reasons: BTreeMap<String, u64>,
    missing_retry_after: u64,
    transport: u64,
    gave_up: BTreeSet<String>,
    delivered: BTreeMap<String, Vec<String>>,
    /// When each callback was first answered 200.
    acked_at: BTreeMap<String, Instant>,
    /// Windows around a kill of a broker without durable storage (see [`Ledger::broker_lost`]).
    broker_loss: Vec<(Instant, Instant)>,
}

/// The books of one test; shared by the sender tasks and the broker reader.
pub struct Ledger {
    name: String,
    state: Mutex<State>,
}

impl Ledger {
    /// Empty books titled `name` (the test's name, printed above the table).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Callback `key` is about to be sent (first attempt).
    pub fn sent(&self, key: &str) {
        self.lock().sent.insert(key.to_owned());
    }

    /// One attempt to send `key` ended with `outcome`.
    pub fn answered(&self, key: &str, outcome: &Outcome) {
        let mut state = self.lock();
        state.attempts += 1;
        match outcome {
            Outcome::Accepted => {
                state.acked.insert(key.to_owned());
                state
                    .acked_at
                    .entry(key.to_owned())
                    .or_insert_with(Instant::now);
            }
            Outcome::Rejected {
                status,
                reason,
                retry_after,
            } => {
                if *status == 503 {
                    state.answered_503 += 1;
                    if !retry_after {
                        state.missing_retry_after += 1;
                    }
                    let reason = reason.clone().unwrap_or_else(|| "(none)".to_owned());
                    *state.reasons.entry(reason).or_default() += 1;
                } else {
                    *state.answered_other.entry(*status).or_default() += 1;
                }
            }
            Outcome::Transport => state.transport += 1,
        }
    }

    /// The sender stopped retrying `key` without a 200 (its retry budget ran out).
    pub fn gave_up(&self, key: &str) {
        self.lock().gave_up.insert(key.to_owned());
    }

    /// The broker holds an event for `key` with CloudEvents id `id` (call once per copy read).
    pub fn delivered(&self, key: &str, id: &str) {
        self.lock()
            .delivered
            .entry(key.to_owned())
            .or_default()
            .push(id.to_owned());
    }

    /// The broker, whose storage does not survive a crash (tansu's `memory://`), was killed at
    /// a moment within `from..to`: a callback answered 200 in that window and never read back may
    /// have been stored and then lost with the broker's memory before the reader got to it. Such
    /// callbacks are counted apart ("lost with the broker") instead of as lost; everything
    /// acknowledged outside the window must still be read back.
    pub fn broker_lost(&self, from: Instant, to: Instant) {
        self.lock().broker_loss.push((from, to));
    }

    /// Forget every delivery read so far (before reading the whole broker again).
    pub fn clear_deliveries(&self) {
        self.lock().delivered.clear();
    }

    /// Whether an event for `key` has been read back.
    pub fn is_delivered(&self, key: &str) -> bool {
        self.lock().delivered.contains_key(key)
    }

    /// The keys (media ids) of the callbacks answered 200 so far.
    pub fn acknowledged_keys(&self) -> Vec<String> {
        self.lock().acked.iter().cloned().collect()
    }

    /// Callbacks answered 200 so far.
    pub fn acknowledged(&self) -> usize {
        self.lock().acked.len()
    }

    /// Whether every callback answered 200 so far has been read back.
    pub fn all_acknowledged_delivered(&self) -> bool {
        let state = self.lock();
        state.acked.iter().all(|k| state.delivered.contains_key(k))
    }

    /// The counts so far.
    pub fn report(&self) -> Report {
        let state = self.lock();
        let excused = |key: &str| {
            state.acked_at.get(key).is_some_and(|at| {
                state
                    .broker_loss
                    .iter()
                    .any(|(from, to)| from <= at && at <= to)
            })
        };
        let (lost_with_broker, lost): (Vec<String>, Vec<String>) = state
            .acked
            .iter()
            .filter(|k| !state.delivered.contains_key(*k))
            .cloned()
            .partition(|k| excused(k));
        let id_mismatch = state
            .delivered
            .values()
            .filter(|ids| ids.iter().any(|id| *id != ids[0]))
            .count();
        Report {
            name: self.name.clone(),
            sent: state.sent.len(),
            attempts: state.attempts,
            acknowledged: state.acked.len(),
            answered_503: state.answered_503,
            answered_other: state.answered_other.values().sum(),
            other_statuses: state.answered_other.clone(),
            reasons: state.reasons.clone(),
            missing_retry_after: state.missing_retry_after,
            transport_errors: state.transport,
            gave_up: state.gave_up.len(),
            delivered: state.delivered.len(),
            duplicated: state.delivered.values().filter(|ids| ids.len() > 1).count(),
            id_mismatch,
            delivered_unacknowledged: state
                .delivered
                .keys()
                .filter(|k| !state.acked.contains(*k))
                .count(),
            lost: lost.len(),
            lost_with_broker: lost_with_broker.len(),
            broker_loss_windows: state.broker_loss.len(),
            lost_sample: lost.into_iter().take(10).collect(),
        }
    }
}

/// The counts of one test run; its `Display` is the table the tests print.
#[derive(Debug, Clone)]
pub struct Report {
    /// The test.
    pub name: String,
    /// Distinct callbacks sent.
    pub sent: usize,
    /// HTTP attempts, retries included.
    pub attempts: u64,
    /// Distinct callbacks answered 200.
    pub acknowledged: usize,
    /// Attempts answered 503.
    pub answered_503: u64,
    /// Attempts answered with a status other than 200 and 503.
    pub answered_other: u64,
    /// Those other statuses and their counts.
    pub other_statuses: BTreeMap<u16, u64>,
    /// The `error` reasons of the 503 answers and their counts.
    pub reasons: BTreeMap<String, u64>,
    /// 503 answers without `Retry-After`.
    pub missing_retry_after: u64,
    /// Attempts without an HTTP answer (refused, reset, timed out).
    pub transport_errors: u64,
    /// Callbacks the sender stopped retrying without a 200.
    pub gave_up: usize,
    /// Distinct callbacks whose event was read back from the broker.
    pub delivered: usize,
    /// Distinct callbacks read back more than once.
    pub duplicated: usize,
    /// Distinct callbacks whose copies carry different CloudEvents ids.
    pub id_mismatch: usize,
    /// Read back but never answered 200 (stored, then the answer was lost or late: harmless).
    pub delivered_unacknowledged: usize,
    /// Answered 200 but not read back.
    pub lost: usize,
    /// Answered 200 within a [`Ledger::broker_lost`] window and not read back.
    pub lost_with_broker: usize,
    /// How many such windows were declared.
    pub broker_loss_windows: usize,
    /// Up to ten lost media ids.
    pub lost_sample: Vec<String>,
}

impl Report {
    /// Print the table and assert that nothing acknowledged is missing, that duplicates carry
    /// the same id and that the sender never had to give up; `context` (a log, say) goes into
    /// the failure message after the table.
    #[allow(
        clippy::print_stdout,
        reason = "the table is the test's output, shown by --nocapture and by nextest on failure"
    )]
    pub fn assert_nothing_lost(&self, context: &str) {
        println!("{self}");
        assert!(
            self.acknowledged > 0,
            "nothing was acknowledged: the test proves nothing\n{self}\n{context}"
        );
        assert_eq!(
            self.lost, 0,
            "acknowledged but not delivered: {:?}\n{self}\n{context}",
            self.lost_sample
        );
        assert_eq!(
            self.id_mismatch, 0,
            "copies of one event with different ids\n{self}\n{context}"
        );
        assert_eq!(
            self.gave_up, 0,
            "callbacks never accepted within the retry budget\n{self}\n{context}"
        );
    }

    /// Every 503 answer carried `Retry-After` (the vendor needs it to pace its retries).
    pub fn assert_retry_after(&self) {
        assert_eq!(
            self.missing_retry_after, 0,
            "every 503 carries Retry-After\n{self}"
        );
    }

    /// A broker outage really happened and was ridden out: callbacks were accepted before the
    /// broker was killed (`before_kill`) and after it came back (`after_restart`), the outage was
    /// answered 503, and every 503 carried `Retry-After`.
    pub fn assert_outage_answered(&self, before_kill: usize, after_restart: usize) {
        assert!(
            before_kill > 0 && after_restart > 0,
            "callbacks must be accepted before the kill and after the restart\n{self}"
        );
        assert!(
            self.answered_503 > 0,
            "the outage must have been noticed (503 answers)\n{self}"
        );
        self.assert_retry_after();
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reasons = |map: &BTreeMap<String, u64>| {
            map.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let others = self
            .other_statuses
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ");
        writeln!(f, "\n{}", self.name)?;
        writeln!(
            f,
            "| sent | acknowledged (200) | answered 503 | answered other | no answer | delivered | duplicated | lost |"
        )?;
        writeln!(
            f,
            "|-----:|-------------------:|-------------:|---------------:|----------:|----------:|-----------:|-----:|"
        )?;
        writeln!(
            f,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            self.sent,
            self.acknowledged,
            self.answered_503,
            self.answered_other,
            self.transport_errors,
            self.delivered,
            self.duplicated,
            self.lost
        )?;
        write!(
            f,
            "attempts {} | 503 reasons: {} | 503 without Retry-After: {} | other statuses: {} | \
             gave up: {} | delivered without a 200: {} | duplicates with a different id: {}",
            self.attempts,
            if self.reasons.is_empty() {
                "-".to_owned()
            } else {
                reasons(&self.reasons)
            },
            self.missing_retry_after,
            if others.is_empty() {
                "-".into()
            } else {
                others
            },
            self.gave_up,
            self.delivered_unacknowledged,
            self.id_mismatch
        )?;
        if self.broker_loss_windows > 0 {
            write!(
                f,
                "\nacknowledged just before the broker's kill, then lost with its in-memory storage \
                 before the reader got them: {}",
                self.lost_with_broker
            )?;
        }
        Ok(())
    }
}
