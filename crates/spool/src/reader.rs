//! One consumer's view of the spool: records after its cursor, in order.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use crate::error::SpoolError;
use crate::spool::Shared;
use crate::store::{self, Entry};

/// Reads the spool for one consumer. Its position starts at the consumer's durable cursor; `ack`
/// moves the cursor, which the writer makes durable with its next commit.
pub struct Reader {
    shared: Arc<Shared>,
    index: usize,
    conn: Arc<Mutex<Option<Connection>>>,
    committed: tokio::sync::watch::Receiver<u64>,
    /// The last `seq` handed out by [`Reader::next`].
    position: u64,
}

impl Reader {
    pub(crate) fn open(shared: Arc<Shared>, index: usize) -> rusqlite::Result<Self> {
        let conn = store::open_rw(&shared.db)?;
        let position = shared.consumers[index].acked.load(Ordering::Acquire);
        let committed = shared.committed.subscribe();
        Ok(Self {
            shared,
            index,
            conn: Arc::new(Mutex::new(Some(conn))),
            committed,
            position,
        })
    }

    /// The consumer's name.
    pub fn name(&self) -> &str {
        &self.shared.consumers[self.index].name
    }

    /// True when every committed record has been handed out.
    pub fn caught_up(&self) -> bool {
        self.position >= *self.committed.borrow()
    }

    /// The next records after the position, at most `limit`; waits until there is at least one.
    /// Records still in the spool's memory come from there (with their attachments), older ones
    /// from the database. Cancel-safe: dropping the future loses nothing (the position moves only
    /// on success).
    pub async fn next(&mut self, limit: usize) -> Result<Vec<Arc<Entry>>, SpoolError> {
        loop {
            let position = self.position;
            let last = *self
                .committed
                .wait_for(|&last| last > position)
                .await
                .map_err(|_| SpoolError::Closed)?;
            let held = self
                .shared
                .tail
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .after(position, limit);
            if let Some(entries) = held {
                self.handed_out(&entries);
                return Ok(entries);
            }
            let conn = Arc::clone(&self.conn);
            let db = self.shared.db.clone();
            let read = tokio::task::spawn_blocking(move || {
                let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
                if guard.is_none() {
                    *guard = Some(store::open_rw(&db)?);
                }
                let result = match guard.as_ref() {
                    Some(c) => store::read_after(c, position, limit, last),
                    None => Err(rusqlite::Error::InvalidQuery),
                };
                if result.is_err() {
                    // A fresh connection next time (the file may have been replaced or repaired).
                    *guard = None;
                }
                result
            })
            .await
            .map_err(|_| SpoolError::Closed)?;
            let entries = read.map_err(|source| SpoolError::Io {
                path: self.shared.db.clone(),
                source,
            })?;
            match entries.last() {
                Some(_) => {
                    let entries: Vec<Arc<Entry>> = entries.into_iter().map(Arc::new).collect();
                    self.handed_out(&entries);
                    return Ok(entries);
                }
                // Nothing up to `last` is left for this consumer (a gap left by a salvage): its
                // cursor moves past it, or the gap would count as lag for ever.
                None => {
                    self.position = last;
                    self.shared.consumers[self.index]
                        .acked
                        .fetch_max(last, Ordering::AcqRel);
                }
            }
        }
    }

    /// `entries` (not empty) go to the consumer: the position moves past them and the lag age
    /// starts counting from the oldest, unless an older one is still pending.
    fn handed_out(&mut self, entries: &[Arc<Entry>]) {
        if let Some(tail) = entries.last() {
            self.position = tail.seq;
        }
        let consumer = &self.shared.consumers[self.index];
        if consumer.oldest_pending_ms.load(Ordering::Acquire) == 0 {
            let first = entries.iter().map(|e| e.received_ms).find(|t| *t > 0);
            consumer
                .oldest_pending_ms
                .store(first.unwrap_or_else(store::now_ms), Ordering::Release);
        }
    }

    /// The consumer has acknowledged every record up to and including `seq`. `next_oldest_ms`
    /// is the receive time of the oldest record it still holds (0 when none), for the lag age.
    pub fn ack(&self, seq: u64, next_oldest_ms: i64) {
        let consumer = &self.shared.consumers[self.index];
        consumer.acked.fetch_max(seq, Ordering::AcqRel);
        consumer
            .oldest_pending_ms
            .store(next_oldest_ms, Ordering::Release);
    }
}
