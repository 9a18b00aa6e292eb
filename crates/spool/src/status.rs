//! `vodbridge spool status`: read a spool without disturbing the bridge that may be running on it.

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags};

use crate::store::{self, DB_FILE};

/// One consumer (sink) of a spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerStatus {
    /// The sink's name.
    pub name: String,
    /// The last `seq` it acknowledged durably.
    pub cursor: u64,
    /// Events after its cursor.
    pub lag_events: u64,
    /// Age of the oldest of them.
    pub oldest_age: Option<Duration>,
}

/// What a spool holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolStatus {
    /// The highest `seq` committed.
    pub last_seq: u64,
    /// Records retained.
    pub retained_events: u64,
    /// Their bytes (as counted against `max_bytes`).
    pub retained_bytes: u64,
    /// Size of the database and its WAL on disk.
    pub file_bytes: u64,
    /// Every consumer's progress.
    pub consumers: Vec<ConsumerStatus>,
}

/// Read the spool in `dir` through a read-only connection. Works while a bridge runs on it
/// (WAL readers never block the writer) and takes no lock.
pub fn status(dir: &Path) -> rusqlite::Result<SpoolStatus> {
    let db = dir.join(DB_FILE);
    let conn = Connection::open_with_flags(
        &db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let tx = conn.unchecked_transaction()?;
    let loaded = store::load(&tx)?;
    let now = store::now_ms();
    let mut consumers = Vec::new();
    for (name, cursor) in &loaded.cursors {
        let (lag, oldest): (i64, Option<i64>) = tx.query_row(
            "SELECT count(*), min(received_ms) FROM records WHERE seq > ?1",
            params![*cursor as i64],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        consumers.push(ConsumerStatus {
            name: name.clone(),
            cursor: *cursor,
            lag_events: lag as u64,
            oldest_age: oldest.map(|t| Duration::from_millis((now - t).max(0) as u64)),
        });
    }
    let file_bytes = ["", "-wal"]
        .iter()
        .filter_map(|s| std::fs::metadata(format!("{}{s}", db.display())).ok())
        .map(|m| m.len())
        .sum();
    Ok(SpoolStatus {
        last_seq: loaded.last_seq,
        retained_events: loaded.retained_events,
        retained_bytes: loaded.retained_bytes,
        file_bytes,
        consumers,
    })
}
