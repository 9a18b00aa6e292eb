//! The writer thread: group commit of appends and cursors, retention, fault recovery.
//!
//! Everything that changes the database happens here, on one connection, so commits never
//! contend. Appends that queue while a commit runs go into the next one together (one fsync for
//! all of them). A failed commit is rolled back and its connection dropped: the next commit uses
//! a new file descriptor, never retrying an fsync on the one that failed.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use prometheus::{Gauge, IntGauge};
use rusqlite::{params, Connection};
use tokio::sync::oneshot;
use tracing::{error, info, warn};

use crate::checkpoint::Checkpointer;
use crate::error::SpoolError;
use crate::spool::{NewRecord, Shared};
use crate::store::{self, Entry, EntryBody, Loaded};

/// A request to the writer.
pub(crate) enum Msg {
    /// Make these records durable, then answer.
    Append(Pending),
    /// Commit the cursors and stop.
    Close(oneshot::Sender<()>),
}

/// Records waiting for a commit.
pub(crate) struct Pending {
    pub(crate) records: Vec<NewRecord>,
    /// Their bytes, reserved in `retained_bytes` by the caller.
    pub(crate) bytes: u64,
    pub(crate) reply: oneshot::Sender<Result<(), SpoolError>>,
}

/// Most records removed by one transaction, so removal never holds a commit (and the appends
/// waiting for it) long.
const DELETE_CHUNK: u64 = 2_048;

/// Most chunks of [`DELETE_CHUNK`] records one tick removes.
const TICK_DELETE_CHUNKS: usize = 4;

/// Pause between attempts to reopen the database after a failure.
const REOPEN_BACKOFF: Duration = Duration::from_millis(200);

pub(crate) fn start(
    conn: Connection,
    loaded: Loaded,
    forgotten: Vec<String>,
    rx: Receiver<Msg>,
    shared: Arc<Shared>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("spool-writer".into())
        .spawn(move || {
            let checkpointer = match Checkpointer::start(Arc::clone(&shared)) {
                Ok(c) => Some(c),
                Err(e) => {
                    // The writer's connection checkpoints by itself then, at a larger WAL.
                    warn!(error = %e, "cannot start the spool checkpoint thread; commits checkpoint");
                    None
                }
            };
            let mut writer = Writer::new(conn, loaded, shared, checkpointer);
            writer.forget(&forgotten);
            writer.run(rx);
        })
}

struct Writer {
    conn: Option<Connection>,
    shared: Arc<Shared>,
    next_seq: u64,
    /// The cursors as last committed (same order as `shared.consumers`).
    durable: Vec<u64>,
    /// Every record at or below this `seq` has been removed.
    removed_upto: u64,
    last_tick: Instant,
    /// Each consumer's lag gauges (events, seconds), same order as `shared.consumers`, resolved
    /// once so the gauges set after every commit skip the label look-up.
    lag_gauges: Vec<(IntGauge, Gauge)>,
    checkpointer: Option<Checkpointer>,
}

impl Writer {
    fn new(
        conn: Connection,
        loaded: Loaded,
        shared: Arc<Shared>,
        checkpointer: Option<Checkpointer>,
    ) -> Self {
        let removed_upto = conn
            .query_row("SELECT min(seq) FROM records", [], |r| {
                r.get::<_, Option<i64>>(0)
            })
            .ok()
            .flatten()
            .map_or(loaded.last_seq, |min| (min.max(1) - 1) as u64);
        let lag_gauges = shared
            .consumers
            .iter()
            .map(|c| shared.metrics.lag_handles(&c.name))
            .collect();
        let writer = Self {
            conn: Some(conn),
            next_seq: loaded.last_seq + 1,
            // Forces the first commit to write every consumer's cursor row.
            durable: vec![u64::MAX; shared.consumers.len()],
            shared,
            removed_upto,
            last_tick: Instant::now(),
            lag_gauges,
            checkpointer,
        };
        writer.publish_gauges();
        writer
    }

    fn forget(&mut self, names: &[String]) {
        let Some(conn) = &self.conn else { return };
        for name in names {
            if let Err(e) = conn.execute("DELETE FROM cursors WHERE consumer = ?1", params![name]) {
                warn!(consumer = %name, error = %e, "cannot remove the cursor of a sink no longer configured");
            }
        }
    }

    fn run(&mut self, rx: Receiver<Msg>) {
        let interval = self.shared.config.commit_interval;
        let max_events = self.shared.config.max_commit_events;
        loop {
            let first = match rx.recv_timeout(interval) {
                Ok(msg) => Some(msg),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    self.commit(Vec::new(), true);
                    self.stop_checkpointer();
                    return;
                }
            };
            let mut batch = Vec::new();
            let mut close = None;
            let mut events = 0;
            let mut next = first;
            while let Some(msg) = next.take() {
                match msg {
                    Msg::Append(p) => {
                        events += p.records.len();
                        batch.push(p);
                    }
                    Msg::Close(reply) => {
                        close = Some(reply);
                        break;
                    }
                }
                if events < max_events {
                    next = rx.try_recv().ok();
                }
            }
            let tick = self.last_tick.elapsed() >= interval;
            if !batch.is_empty() || tick || close.is_some() {
                self.commit(batch, tick || close.is_some());
            }
            if tick {
                self.last_tick = Instant::now();
                self.remove_forwarded();
            }
            self.publish_gauges();
            if let Some(reply) = close {
                self.stop_checkpointer();
                let _ = reply.send(());
                info!(path = %self.shared.dir.display(), "spool closed");
                return;
            }
        }
    }

    /// One transaction: `batch`'s records and, when they moved (or `force_cursors`), the
    /// cursors. Answers every waiter.
    fn commit(&mut self, batch: Vec<Pending>, force_cursors: bool) {
        let acked: Vec<u64> = self
            .shared
            .consumers
            .iter()
            .map(|c| c.acked.load(Ordering::Acquire))
            .collect();
        let cursors_moved = acked != self.durable;
        let faulted = self.conn.is_none()
            || self
                .shared
                .fault
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_some();
        if batch.is_empty() && !(cursors_moved && force_cursors) && !(faulted && force_cursors) {
            return;
        }
        // While batches arrive the cursors ride along; when idle they wait for the tick.
        let write_cursors = cursors_moved && (force_cursors || !batch.is_empty());
        let events: usize = batch.iter().map(|p| p.records.len()).sum();
        let started = Instant::now();
        let now = store::now_ms();
        let result = self.transaction(&batch, now, write_cursors.then_some(&acked[..]));
        match result {
            Ok((last, removed)) => {
                if let Some(removed) = removed {
                    self.removed(removed);
                }
                self.shared
                    .metrics
                    .commit_seconds
                    .observe(started.elapsed().as_secs_f64());
                let mut replies = Vec::with_capacity(batch.len());
                let mut records = Vec::with_capacity(events);
                for p in batch {
                    records.extend(p.records);
                    replies.push(p.reply);
                }
                if events > 0 {
                    self.shared.metrics.commit_events.observe(events as f64);
                    self.shared
                        .retained_events
                        .fetch_add(events as u64, Ordering::AcqRel);
                    let first = self.next_seq;
                    let entries = (first..).zip(records).map(|(seq, r)| Entry {
                        seq,
                        received_ms: now,
                        body: EntryBody::Record {
                            route: r.route,
                            source_name: r.source_name,
                            payload: r.payload,
                        },
                        attachment: r.attachment,
                    });
                    // Into the tail before `committed` moves, so a woken reader finds them.
                    self.shared
                        .tail
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(entries);
                    self.next_seq = last + 1;
                    self.shared.committed.send_replace(last);
                }
                self.wal_grew();
                if write_cursors {
                    self.durable = acked;
                }
                if faulted {
                    info!(path = %self.shared.db.display(), "spool writes succeed again");
                    self.shared.set_fault(None);
                }
                for reply in replies {
                    let _ = reply.send(Ok(()));
                }
            }
            Err(e) => {
                self.shared.metrics.faults.inc();
                error!(path = %self.shared.db.display(), error = %e, events, "spool commit failed; answering 503 and reopening the database");
                self.shared.set_fault(Some(format!(
                    "writing {} failed: {e}",
                    self.shared.db.display()
                )));
                // Never fsync again through the descriptor that failed.
                self.conn = None;
                for p in batch {
                    self.shared
                        .retained_bytes
                        .fetch_sub(p.bytes, Ordering::AcqRel);
                    let _ = p.reply.send(Err(SpoolError::Io {
                        path: self.shared.db.clone(),
                        source: clone_error(&e),
                    }));
                }
            }
        }
    }

    fn transaction(
        &mut self,
        batch: &[Pending],
        now: i64,
        cursors: Option<&[u64]>,
    ) -> rusqlite::Result<(u64, Option<Removed>)> {
        let mut seq = self.next_seq;
        let removed_upto = self.removed_upto;
        let shared = Arc::clone(&self.shared);
        let conn = self.connection()?;
        let tx = conn.unchecked_transaction()?;
        {
            let mut insert = tx.prepare_cached(store::INSERT_RECORD)?;
            for record in batch.iter().flat_map(|p| &p.records) {
                store::insert_event(
                    &mut insert,
                    seq,
                    now,
                    record.route.as_deref(),
                    &record.source_name,
                    &record.payload,
                )?;
                seq += 1;
            }
        }
        let last = seq - 1;
        if !batch.is_empty() {
            tx.prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES ('last_seq', ?1)")?
                .execute(params![last as i64])?;
        }
        if let Some(cursors) = cursors {
            let mut upsert = tx
                .prepare_cached("INSERT OR REPLACE INTO cursors (consumer, seq) VALUES (?1, ?2)")?;
            for (consumer, seq) in shared.consumers.iter().zip(cursors) {
                upsert.execute(params![consumer.name, *seq as i64])?;
            }
            // Every consumer has a cursor row now: a salvage's start point has done its job.
            tx.prepare_cached("DELETE FROM meta WHERE key = 'new_consumer_start'")?
                .execute([])?;
        }
        // Retention rides along with the cursors it follows from: what every cursor written
        // here has passed goes, a chunk at a time.
        let floor = cursors.and_then(|c| c.iter().copied().min()).unwrap_or(0);
        let removed = if floor > removed_upto {
            Some(delete_upto(&tx, floor.min(removed_upto + DELETE_CHUNK))?)
        } else {
            None
        };
        if batch.is_empty() && cursors.is_none() {
            // A probe after a failure: prove the disk takes writes again.
            tx.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('probe', ?1)",
                params![store::now_ms()],
            )?;
        }
        tx.commit()?;
        Ok((last, removed))
    }

    fn removed(&mut self, removed: Removed) {
        self.removed_upto = removed.upto;
        sub_saturating(&self.shared.retained_events, removed.events);
        sub_saturating(&self.shared.retained_bytes, removed.bytes);
    }

    fn connection(&mut self) -> rusqlite::Result<&Connection> {
        if self.conn.is_none() {
            match store::open_rw(&self.shared.db) {
                Ok(conn) => self.conn = Some(conn),
                Err(e) => {
                    std::thread::sleep(REOPEN_BACKOFF);
                    return Err(e);
                }
            }
        }
        match &self.conn {
            Some(conn) => Ok(conn),
            None => Err(rusqlite::Error::InvalidQuery),
        }
    }

    /// Remove records every consumer has acknowledged durably, at most [`TICK_DELETE_CHUNKS`]
    /// chunks per tick, so appends queued meanwhile wait for no more than that (under load most
    /// of retention rides along with the commits).
    fn remove_forwarded(&mut self) {
        let Some(floor) = self
            .durable
            .iter()
            .copied()
            .filter(|s| *s != u64::MAX)
            .min()
        else {
            return;
        };
        for _ in 0..TICK_DELETE_CHUNKS {
            if self.removed_upto >= floor {
                return;
            }
            let upto = floor.min(self.removed_upto + DELETE_CHUNK);
            let removed = (|| -> rusqlite::Result<Removed> {
                let conn = self.connection()?;
                let tx = conn.unchecked_transaction()?;
                let removed = delete_upto(&tx, upto)?;
                tx.commit()?;
                Ok(removed)
            })();
            match removed {
                Ok(removed) => {
                    self.removed(removed);
                    self.wal_grew();
                }
                Err(e) => {
                    warn!(path = %self.shared.db.display(), error = %e, "removing forwarded spool records failed; retrying later");
                    self.conn = None;
                    return;
                }
            }
        }
    }

    /// A commit wrote to the WAL: the checkpointer copies it into the database a little later.
    fn wal_grew(&self) {
        if let Some(c) = &self.checkpointer {
            c.committed();
        }
    }

    fn stop_checkpointer(&mut self) {
        if let Some(mut c) = self.checkpointer.take() {
            c.stop();
        }
    }

    fn publish_gauges(&self) {
        let m = &self.shared.metrics;
        let (events, bytes) = (
            self.shared.retained_events.load(Ordering::Acquire),
            self.shared.retained_bytes.load(Ordering::Acquire),
        );
        m.retained_events.set(events as i64);
        m.retained_bytes.set(bytes as i64);
        let last = *self.shared.committed.borrow();
        let now = store::now_ms();
        for (c, (lag, age)) in self.shared.consumers.iter().zip(&self.lag_gauges) {
            lag.set(last.saturating_sub(c.acked.load(Ordering::Acquire)) as i64);
            let oldest = c.oldest_pending_ms.load(Ordering::Acquire);
            age.set(if oldest > 0 {
                (now - oldest).max(0) as f64 / 1000.0
            } else {
                0.0
            });
        }
    }
}

/// Records removed by retention.
struct Removed {
    /// Every record at or below this `seq` is gone.
    upto: u64,
    events: u64,
    bytes: u64,
}

/// Delete every record at or below `upto`, counting what goes.
fn delete_upto(tx: &rusqlite::Transaction<'_>, upto: u64) -> rusqlite::Result<Removed> {
    let (count, bytes): (i64, i64) = tx
        .prepare_cached(&format!(
            "SELECT count(*), {} FROM records WHERE seq <= ?1",
            store::ROW_BYTES_SQL
        ))?
        .query_row(params![upto as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
    tx.prepare_cached("DELETE FROM records WHERE seq <= ?1")?
        .execute(params![upto as i64])?;
    Ok(Removed {
        upto,
        events: count as u64,
        bytes: bytes as u64 + count as u64 * store::ROW_OVERHEAD,
    })
}

fn sub_saturating(counter: &std::sync::atomic::AtomicU64, n: u64) {
    let _ = counter.fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
        Some(v.saturating_sub(n))
    });
}

/// `rusqlite::Error` is not `Clone`; every waiter of a failed commit gets its own copy.
fn clone_error(e: &rusqlite::Error) -> rusqlite::Error {
    match e {
        rusqlite::Error::SqliteFailure(code, msg) => {
            rusqlite::Error::SqliteFailure(*code, msg.clone())
        }
        other => rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_IOERR),
            Some(other.to_string()),
        ),
    }
}
