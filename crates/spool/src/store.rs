//! Everything that touches SQLite: the schema, opening with recovery, tolerant reads, salvage.
//!
//! One row per event in `records` (its `seq` assigned by the writer, never reused), one row per
//! consumer in `cursors` (the last `seq` it acknowledged), and `meta.last_seq`, the highest `seq`
//! ever committed, which survives the removal of every record and lets recovery tell a cursor
//! that is ahead of the data.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension};
use tracing::{error, warn};

use crate::tail::Attachment;

/// Name of the database file inside the spool directory.
pub(crate) const DB_FILE: &str = "spool.db";

/// `records.kind` of a canonical event (or a dead letter, when `route` is set).
pub(crate) const KIND_EVENT: i64 = 0;
/// `records.kind` of a placeholder for data recovery could not read: `body` says what was lost.
pub(crate) const KIND_LOST: i64 = 1;

/// Bytes a row costs beyond its strings, counted in `retained_bytes` (rowid, integers, header).
pub(crate) const ROW_OVERHEAD: u64 = 32;

/// The bytes of a `records` row as counted in `retained_bytes`, without [`ROW_OVERHEAD`]: the
/// SQL twin of [`row_bytes`] (byte lengths, not character counts).
pub(crate) const ROW_BYTES_SQL: &str = "coalesce(sum(length(CAST(body AS BLOB)) + length(CAST(coalesce(route, '') AS BLOB)) + length(CAST(source_name AS BLOB))), 0)";

/// Insert one record; the writer and the salvage both write rows with it ([`insert_event`]).
pub(crate) const INSERT_RECORD: &str = "INSERT INTO records (seq, kind, received_ms, route, source_name, body, crc) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY,
    kind INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    route TEXT,
    source_name TEXT NOT NULL,
    body BLOB NOT NULL,
    crc INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS cursors (consumer TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
";

/// One record read back.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Position in the spool (increasing, never reused).
    pub seq: u64,
    /// When the record was appended (Unix milliseconds).
    pub received_ms: i64,
    /// What the record holds.
    pub body: EntryBody,
    /// What the producer attached to the record, when it is read from the spool's memory.
    pub attachment: Option<Attachment>,
}

/// The content of an [`Entry`].
#[derive(Debug, Clone)]
pub enum EntryBody {
    /// A record as appended, its checksum verified.
    Record {
        /// `Some(destination)` for a dead letter, `None` for an event routed by the sinks.
        route: Option<String>,
        /// The configured source name (routing templates need it).
        source_name: String,
        /// The bytes given to [`crate::Spool::append`].
        payload: Vec<u8>,
    },
    /// A record that failed its checksum or could not be read: quarantine it.
    Corrupt {
        /// The bytes as found, when they could be read at all.
        raw: Option<Vec<u8>>,
        /// What is wrong.
        detail: String,
    },
}

/// The checksum of one record's content.
pub(crate) fn checksum(route: Option<&str>, source_name: &str, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(route.unwrap_or("").as_bytes());
    h.update(&[0]);
    h.update(source_name.as_bytes());
    h.update(&[0]);
    h.update(payload);
    h.finalize()
}

/// The bytes a record counts for in `retained_bytes`.
pub(crate) fn row_bytes(route: Option<&str>, source_name: &str, payload_len: usize) -> u64 {
    (route.map_or(0, str::len) + source_name.len() + payload_len) as u64 + ROW_OVERHEAD
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Open a read-write connection with the durability settings: WAL, `synchronous = FULL` (every
/// commit is fsync'd before it returns).
pub(crate) fn open_rw(db: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    configure(&conn)?;
    Ok(conn)
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    // Readers and the writer on other connections wait for each other's brief locks.
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        warn!(mode, "the spool database did not switch to WAL mode");
    }
    conn.execute_batch(
        "PRAGMA synchronous = FULL;
         PRAGMA journal_size_limit = 67108864;
         PRAGMA cache_size = -2048;",
    )?;
    // Checkpoints are the checkpointer thread's job; a connection that commits checkpoints
    // itself only when the WAL grows this large.
    conn.pragma_update(
        None,
        "wal_autocheckpoint",
        crate::checkpoint::WRITER_CHECKPOINT_PAGES,
    )?;
    Ok(())
}

/// What the database held when it was opened.
#[derive(Debug, Default, Clone)]
pub(crate) struct Loaded {
    pub(crate) last_seq: u64,
    pub(crate) retained_events: u64,
    pub(crate) retained_bytes: u64,
    pub(crate) cursors: Vec<(String, u64)>,
    /// Where a consumer without a cursor row starts: the end of the data, unless a salvage lost
    /// the cursors.
    pub(crate) new_consumer_start: u64,
}

/// What recovery found and did, reported once at start-up and in metrics.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// Events found in the spool, not yet forwarded to every sink.
    pub recovered: u64,
    /// Records recovery could not read (their place is kept as a dead letter).
    pub truncated: u64,
    /// Cursors found ahead of the data and set back to its end.
    pub clamped_cursors: u64,
    /// The damaged database was set aside here (salvage), if it was.
    pub quarantined_file: Option<PathBuf>,
}

/// Open the spool database in `dir`, salvaging it when SQLite reports it damaged.
pub(crate) fn open_and_recover(
    dir: &Path,
) -> Result<(Connection, Loaded, Recovery), rusqlite::Error> {
    let db = dir.join(DB_FILE);
    let mut recovery = Recovery {
        // A salvage that completed but was not put in place before a crash.
        quarantined_file: finish_salvage(dir)?,
        ..Recovery::default()
    };
    let (conn, mut loaded) = match open_checked(&db) {
        Ok(opened) => opened,
        Err(e) if is_corruption(&e) => {
            error!(path = %db.display(), error = %e, "spool database is damaged; salvaging what can be read");
            let conn = salvage(dir, &mut recovery)?;
            let loaded = load(&conn)?;
            (conn, loaded)
        }
        Err(e) => return Err(e),
    };
    // A cursor ahead of the data can only come from damage (or a restored backup): it would
    // make its consumer skip events. Clamp it to the end of the data.
    for (name, seq) in &mut loaded.cursors {
        if *seq > loaded.last_seq {
            warn!(consumer = %name, cursor = *seq, last_seq = loaded.last_seq, "spool cursor ahead of the data; clamped to its end");
            *seq = loaded.last_seq;
            conn.execute(
                "UPDATE cursors SET seq = ?1 WHERE consumer = ?2",
                params![loaded.last_seq as i64, name.as_str()],
            )?;
            recovery.clamped_cursors += 1;
        }
    }
    recovery.recovered = loaded.retained_events;
    Ok((conn, loaded, recovery))
}

/// Open `db`, check it and read what it holds.
fn open_checked(db: &Path) -> rusqlite::Result<(Connection, Loaded)> {
    let conn = open_rw(db)?;
    conn.execute_batch(SCHEMA)?;
    let verdict: String = conn.query_row("PRAGMA quick_check(1)", [], |r| r.get(0))?;
    if verdict != "ok" {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
            Some(format!("quick_check: {verdict}")),
        ));
    }
    // The counts read every page of `records`: damage quick_check missed surfaces here.
    let loaded = load(&conn)?;
    Ok((conn, loaded))
}

pub(crate) fn is_corruption(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
    )
}

pub(crate) fn load(conn: &Connection) -> rusqlite::Result<Loaded> {
    let (count, bytes, max_seq): (i64, i64, Option<i64>) = conn.query_row(
        &format!("SELECT count(*), {ROW_BYTES_SQL}, max(seq) FROM records"),
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let meta_last: Option<i64> = conn
        .query_row("SELECT value FROM meta WHERE key = 'last_seq'", [], |r| {
            r.get(0)
        })
        .optional()?;
    let mut stmt = conn.prepare("SELECT consumer, seq FROM cursors")?;
    let cursors = stmt
        .query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let new_start: Option<i64> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'new_consumer_start'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    let last_seq = max_seq.unwrap_or(0).max(meta_last.unwrap_or(0)).max(0) as u64;
    Ok(Loaded {
        new_consumer_start: new_start.map_or(last_seq, |s| s.max(0) as u64),
        last_seq,
        retained_events: count as u64,
        retained_bytes: bytes as u64 + count as u64 * ROW_OVERHEAD,
        cursors,
    })
}

/// Read up to `limit` records after `after`, in order. When SQLite reports damage, fall back to
/// reading `seq` by `seq` up to `last_seq`, turning each unreadable one into a
/// [`EntryBody::Corrupt`] entry, so a damaged page costs its records and never stops the reader.
pub(crate) fn read_after(
    conn: &Connection,
    after: u64,
    limit: usize,
    last_seq: u64,
) -> rusqlite::Result<Vec<Entry>> {
    match read_range(conn, after, limit) {
        Ok(entries) => Ok(entries),
        Err(e) if is_corruption(&e) => {
            warn!(after, error = %e, "spool page damaged; reading record by record");
            let mut out = Vec::new();
            let mut seq = after + 1;
            while seq <= last_seq && out.len() < limit {
                let entry = match read_one(conn, seq) {
                    Ok(Some(entry)) => entry,
                    Ok(None) => Entry {
                        seq,
                        received_ms: 0,
                        body: EntryBody::Corrupt {
                            raw: None,
                            detail: format!("spool record {seq} missing (damaged page)"),
                        },
                        attachment: None,
                    },
                    Err(e) => Entry {
                        seq,
                        received_ms: 0,
                        body: EntryBody::Corrupt {
                            raw: None,
                            detail: format!("spool record {seq} unreadable: {e}"),
                        },
                        attachment: None,
                    },
                };
                out.push(entry);
                seq += 1;
            }
            Ok(out)
        }
        Err(e) => Err(e),
    }
}

const SELECT: &str =
    "SELECT seq, kind, received_ms, route, source_name, CAST(body AS BLOB), crc FROM records";

fn read_range(conn: &Connection, after: u64, limit: usize) -> rusqlite::Result<Vec<Entry>> {
    match read_range_partial(conn, after, limit) {
        (entries, None) => Ok(entries),
        (_, Some(e)) => Err(e),
    }
}

/// Up to `limit` records after `after`, in order, and the error that ended the read early, if
/// one did (the rows read before it are kept: a salvage copies them).
fn read_range_partial(
    conn: &Connection,
    after: u64,
    limit: usize,
) -> (Vec<Entry>, Option<rusqlite::Error>) {
    let mut out = Vec::new();
    let sql = format!("{SELECT} WHERE seq > ?1 ORDER BY seq LIMIT ?2");
    let mut stmt = match conn.prepare_cached(&sql) {
        Ok(stmt) => stmt,
        Err(e) => return (out, Some(e)),
    };
    let mut rows = match stmt.query(params![after as i64, limit as i64]) {
        Ok(rows) => rows,
        Err(e) => return (out, Some(e)),
    };
    loop {
        match rows.next() {
            Ok(Some(row)) => match row_to_entry(row) {
                Ok(entry) => out.push(entry),
                Err(e) => return (out, Some(e)),
            },
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
    }
}

fn read_one(conn: &Connection, seq: u64) -> rusqlite::Result<Option<Entry>> {
    let mut stmt = conn.prepare_cached(&format!("{SELECT} WHERE seq = ?1"))?;
    stmt.query_row(params![seq as i64], row_to_entry).optional()
}

fn row_to_entry(row: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    let seq = row.get::<_, i64>(0)? as u64;
    // Damage can change any column's type: read loosely, and let the kind and the checksum
    // judge (a strict read would fail the same record on every retry).
    let kind: i64 = row.get(1).unwrap_or(-1);
    let received_ms: i64 = row.get(2).unwrap_or(0);
    let route: Option<String> = row.get(3).unwrap_or(None);
    let source_name: String = row.get(4).unwrap_or_default();
    let payload: Vec<u8> = row.get(5).unwrap_or_default();
    let crc: i64 = row.get(6).unwrap_or(-1);
    let body = if kind == KIND_LOST {
        EntryBody::Corrupt {
            raw: None,
            detail: String::from_utf8_lossy(&payload).into_owned(),
        }
    } else if kind == KIND_EVENT
        && crc == i64::from(checksum(route.as_deref(), &source_name, &payload))
    {
        EntryBody::Record {
            route,
            source_name,
            payload,
        }
    } else {
        EntryBody::Corrupt {
            raw: Some(payload),
            detail: format!("spool record {seq} failed its checksum"),
        }
    };
    Ok(Entry {
        seq,
        received_ms,
        body,
        attachment: None,
    })
}

/// Where a salvage is built.
const SALVAGE_TMP: &str = "spool.db.salvage-tmp";
/// The name a salvage takes once it is complete and durable, until it replaces `spool.db`.
const SALVAGED: &str = "spool.db.salvaged";

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    PathBuf::from(format!("{}{suffix}", path.display()))
}

/// fsync a file, or a directory (its entries: a rename in it).
fn sync_path(path: &Path) -> std::io::Result<()> {
    std::fs::File::open(path).and_then(|f| f.sync_all())
}

fn salvage_io(what: &str, e: &std::io::Error) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
        Some(format!("{what}: {e}")),
    )
}

/// Copy every record that can still be read, and the cursors, from the damaged database into a
/// new one, then move the damaged one aside (into `quarantine/`) and put the new one in its
/// place. Records that cannot be read keep their place as [`KIND_LOST`] rows, which consumers
/// turn into dead letters.
///
/// The copy streams (memory does not grow with the spool) into a file of its own that takes
/// its final name only once it is complete and fsync'd, and the damaged database stays where it
/// is until then: a crash during a salvage leaves either the damaged database, salvaged again
/// at the next start, or the complete copy, which [`finish_salvage`] puts in place.
fn salvage(dir: &Path, recovery: &mut Recovery) -> rusqlite::Result<Connection> {
    let db = dir.join(DB_FILE);
    let tmp = dir.join(SALVAGE_TMP);
    for suffix in ["", "-wal", "-shm", "-journal"] {
        match std::fs::remove_file(with_suffix(&tmp, suffix)) {
            Ok(()) => warn!(path = %tmp.display(), "an interrupted spool salvage starts over"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(salvage_io("cannot remove an interrupted salvage", &e)),
        }
    }
    if let Err(e) = repair_page_count(&db) {
        warn!(path = %db.display(), error = %e, "cannot repair the damaged spool's header");
    }
    let fresh = open_rw(&tmp)?;
    fresh.execute_batch(SCHEMA)?;
    let copied = match Connection::open_with_flags(&db, OpenFlags::SQLITE_OPEN_READ_WRITE) {
        Ok(old) => copy_readable(&old, &fresh, recovery)?,
        Err(e) => {
            error!(path = %db.display(), error = %e, "damaged spool cannot be opened at all; starting empty");
            0
        }
    };
    // Closing the only connection checkpoints the copy into its file and removes its WAL.
    fresh.close().map_err(|(_, e)| e)?;
    sync_path(&tmp).map_err(|e| salvage_io("cannot sync the salvaged spool", &e))?;
    std::fs::rename(&tmp, dir.join(SALVAGED))
        .and_then(|()| sync_path(dir))
        .map_err(|e| salvage_io("cannot name the salvaged spool", &e))?;
    recovery.quarantined_file = finish_salvage(dir)?;
    error!(
        quarantined = ?recovery.quarantined_file,
        copied,
        unreadable = recovery.truncated,
        "spool salvaged into a new database; the damaged one is kept for inspection"
    );
    open_rw(&db)
}

/// When a complete salvage is waiting (a crash came before it was put in place), move what is
/// left of the damaged database into `quarantine/` and put the salvage in its place. Returns
/// where the damaged database went.
fn finish_salvage(dir: &Path) -> rusqlite::Result<Option<PathBuf>> {
    let salvaged = dir.join(SALVAGED);
    if !salvaged.exists() {
        return Ok(None);
    }
    let db = dir.join(DB_FILE);
    let qdir = dir.join("quarantine");
    let moved = qdir.join(format!("spool-{}.db", now_ms()));
    std::fs::create_dir_all(&qdir)
        .map_err(|e| salvage_io("cannot create the quarantine directory", &e))?;
    // Its WAL and shared memory go too: beside the new database they would be read as its own.
    for suffix in ["-wal", "-shm", ""] {
        let from = with_suffix(&db, suffix);
        match std::fs::rename(&from, with_suffix(&moved, suffix)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(salvage_io("cannot move the damaged spool aside", &e)),
        }
    }
    std::fs::rename(&salvaged, &db)
        .and_then(|()| sync_path(dir))
        .map_err(|e| salvage_io("cannot put the salvaged spool in place", &e))?;
    Ok(Some(moved))
}

/// Copy what `old` still holds into `fresh`, in one transaction, a batch at a time; returns how
/// many records were copied.
fn copy_readable(
    old: &Connection,
    fresh: &Connection,
    recovery: &mut Recovery,
) -> rusqlite::Result<u64> {
    let cursors: Vec<(String, u64)> = old
        .prepare("SELECT consumer, seq FROM cursors")
        .and_then(|mut s| {
            s.query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })?
            .collect()
        })
        .unwrap_or_default();
    let meta_last: u64 = old
        .query_row("SELECT value FROM meta WHERE key = 'last_seq'", [], |r| {
            r.get::<_, i64>(0)
        })
        .map(|v| v.max(0) as u64)
        .unwrap_or(0);
    // Copy forward from the oldest cursor; a damaged range is skipped in jumps so an unreadable
    // tail ends the copy instead of looping.
    let start = cursors.iter().map(|c| c.1).min().unwrap_or(0);
    let tx = fresh.unchecked_transaction()?;
    let mut copy = Copy {
        insert: tx.prepare(INSERT_RECORD)?,
        expect: start + 1,
        copied: 0,
        truncated: 0,
    };
    let mut after = start;
    let mut misses = 0u32;
    loop {
        let (batch, failed) = read_range_partial(old, after, 1024);
        if let Some(tail) = batch.last().map(|e| e.seq) {
            misses = 0;
            after = tail;
            for entry in &batch {
                copy.put(entry)?;
            }
            if failed.is_none() {
                continue;
            }
        }
        match failed {
            None => break,
            Some(_) => {
                // Skip forward: 1, 2, 4, … records past the last good one, at most 40 tries.
                misses += 1;
                if misses > 40 {
                    break;
                }
                let probe = after + (1u64 << (misses - 1).min(40));
                if let Ok(Some(entry)) = read_one(old, probe) {
                    // Records the jump stepped over may still be readable one by one.
                    if probe - after <= 65_536 {
                        for seq in after + 1..probe {
                            if let Ok(Some(skipped)) = read_one(old, seq) {
                                copy.put(&skipped)?;
                            }
                        }
                    }
                    after = entry.seq;
                    copy.put(&entry)?;
                    misses = 0;
                }
            }
        }
    }
    // Every cursor is at or below the last record ever written: the highest is a floor for it
    // when the meta row itself was lost.
    let max_cursor = cursors.iter().map(|c| c.1).max().unwrap_or(0);
    let last_seq = meta_last.max(max_cursor).max(copy.expect - 1);
    if last_seq >= copy.expect {
        insert_lost(&mut copy.insert, copy.expect, last_seq)?;
        copy.truncated += last_seq - copy.expect + 1;
    }
    let (copied, truncated) = (copy.copied, copy.truncated);
    drop(copy);
    recovery.truncated += truncated;
    for (name, seq) in &cursors {
        tx.execute(
            "INSERT OR REPLACE INTO cursors (consumer, seq) VALUES (?1, ?2)",
            params![name, *seq as i64],
        )?;
    }
    if cursors.is_empty() {
        // The cursors are lost with the damage: every sink starts from the oldest record
        // salvaged (duplicates, not losses), instead of at the end as a new sink would.
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('new_consumer_start', ?1)",
            params![start as i64],
        )?;
    }
    tx.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('last_seq', ?1)",
        params![last_seq as i64],
    )?;
    tx.commit()?;
    Ok(copied)
}

/// Rows going into a salvage, in `seq` order; a gap before a row becomes one [`KIND_LOST`] row.
struct Copy<'conn> {
    insert: rusqlite::Statement<'conn>,
    /// The `seq` the next row should have.
    expect: u64,
    copied: u64,
    truncated: u64,
}

impl Copy<'_> {
    fn put(&mut self, entry: &Entry) -> rusqlite::Result<()> {
        if entry.seq > self.expect {
            insert_lost(&mut self.insert, self.expect, entry.seq - 1)?;
            self.truncated += entry.seq - self.expect;
        }
        self.expect = entry.seq + 1;
        self.copied += 1;
        match &entry.body {
            EntryBody::Record {
                route,
                source_name,
                payload,
            } => insert_event(
                &mut self.insert,
                entry.seq,
                entry.received_ms,
                route.as_deref(),
                source_name,
                payload,
            )?,
            // Kept with a checksum that fails, so the reader quarantines it once.
            EntryBody::Corrupt { raw, detail } => self.insert.execute(params![
                entry.seq as i64,
                KIND_EVENT,
                entry.received_ms,
                Option::<String>::None,
                "",
                raw.clone().unwrap_or_else(|| detail.clone().into_bytes()),
                -1i64,
            ])?,
        };
        Ok(())
    }
}

/// A database file cut short still claims its old size in its header, and SQLite then refuses
/// every read. Lower the claim to the whole pages the file still has (on the quarantined copy),
/// so the pages that survived can be read.
fn repair_page_count(db: &Path) -> std::io::Result<()> {
    use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(db)?;
    let mut header = [0u8; 100];
    if file.read_exact(&mut header).is_err() {
        return Ok(());
    }
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536u64,
        n if n >= 512 && n.is_power_of_two() => u64::from(n),
        _ => return Ok(()),
    };
    let claimed = u64::from(u32::from_be_bytes([
        header[28], header[29], header[30], header[31],
    ]));
    let whole = file.metadata()?.len() / page_size;
    if whole == 0 || whole >= claimed {
        return Ok(());
    }
    file.set_len(whole * page_size)?;
    file.seek(SeekFrom::Start(28))?;
    file.write_all(&(whole as u32).to_be_bytes())?;
    warn!(path = %db.display(), claimed, pages = whole, "damaged spool was cut short; reading the pages it still has");
    Ok(())
}

/// Insert one event (or dead letter) row with its checksum through a prepared [`INSERT_RECORD`].
pub(crate) fn insert_event(
    insert: &mut rusqlite::Statement<'_>,
    seq: u64,
    received_ms: i64,
    route: Option<&str>,
    source_name: &str,
    payload: &[u8],
) -> rusqlite::Result<usize> {
    insert.execute(params![
        seq as i64,
        KIND_EVENT,
        received_ms,
        route,
        source_name,
        payload,
        i64::from(checksum(route, source_name, payload)),
    ])
}

fn insert_lost(insert: &mut rusqlite::Statement<'_>, from: u64, to: u64) -> rusqlite::Result<()> {
    let detail = if from == to {
        format!("spool record {from} unreadable after damage")
    } else {
        format!("spool records {from}..={to} unreadable after damage")
    };
    insert.execute(params![
        from as i64,
        KIND_LOST,
        now_ms(),
        Option::<String>::None,
        "",
        detail.into_bytes(),
        0i64,
    ])?;
    Ok(())
}
