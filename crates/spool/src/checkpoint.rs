//! The checkpointer thread: copies committed WAL frames into the database file, off the path of
//! the commits that answer callbacks.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses its threshold, so under load
//! one group commit in a few also wrote megabytes into the database file and fsync'd it while
//! every callback waiting on that commit waited too. Here the writer's connection checkpoints
//! only as a safety valve (a WAL of [`WRITER_CHECKPOINT_PAGES`]), and this thread runs a
//! `PASSIVE` checkpoint — which never blocks the writer — a short while after commits arrive.
//! Its connection follows the writer's rule: after an error it is dropped, and the next
//! checkpoint opens a new one instead of syncing through the descriptor that failed.

use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tracing::warn;

use crate::spool::Shared;
use crate::store;

/// How long commits gather before one checkpoint (one fsync of the database file) covers them
/// all.
const GATHER: Duration = Duration::from_millis(250);

/// The WAL size, in pages, at which the writer's own connection checkpoints after a commit: only
/// reached when this thread falls behind or fails, so the WAL stays bounded either way.
pub(crate) const WRITER_CHECKPOINT_PAGES: u32 = 16_384;

/// The writer's handle on the checkpointer: `committed` after every commit that wrote records,
/// `stop` when the writer stops.
pub(crate) struct Checkpointer {
    tx: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    pub(crate) fn start(shared: Arc<Shared>) -> std::io::Result<Self> {
        // One pending notice is enough: the checkpoint that follows covers every commit before it.
        let (tx, rx) = sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("spool-checkpoint".into())
            .spawn(move || run(&shared, &rx))?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// A commit wrote frames to the WAL.
    pub(crate) fn committed(&self) {
        if let Some(tx) = &self.tx {
            let _ = tx.try_send(());
        }
    }

    /// Stop the thread and wait for it (at most the checkpoint it is running).
    pub(crate) fn stop(&mut self) {
        self.tx = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(shared: &Shared, rx: &Receiver<()>) {
    let mut conn: Option<Connection> = None;
    while rx.recv().is_ok() {
        let until = Instant::now() + GATHER;
        loop {
            match rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
                Ok(()) => {}
                Err(RecvTimeoutError::Timeout) => break,
                // The writer stopped: its connection's close checkpoints what is left.
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        let started = Instant::now();
        match checkpoint(shared, &mut conn) {
            Ok(()) => shared
                .metrics
                .checkpoint_seconds
                .observe(started.elapsed().as_secs_f64()),
            Err(e) => {
                warn!(path = %shared.db.display(), error = %e, "spool checkpoint failed; the next one opens the database again");
                conn = None;
            }
        }
    }
}

fn checkpoint(shared: &Shared, conn: &mut Option<Connection>) -> rusqlite::Result<()> {
    let conn = match conn {
        Some(conn) => conn,
        None => {
            let opened = store::open_rw(&shared.db)?;
            // A checkpoint copies frames through its own buffer, not the page cache.
            opened.pragma_update(None, "cache_size", -64)?;
            conn.insert(opened)
        }
    };
    // PASSIVE copies what no reader still needs and leaves the rest for the next round; its
    // row (busy, frames in the WAL, frames copied) says nothing the next round needs.
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
}
