//! The spool handle: open, append, readers, health, close.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;

use prometheus::Registry;
use tokio::sync::{oneshot, watch};
use tracing::{info, warn};

use crate::config::SpoolConfig;
use crate::error::SpoolError;
use crate::metrics::SpoolMetrics;
use crate::reader::Reader;
use crate::store::{self, Recovery};
use crate::tail::{Attachment, Tail};
use crate::writer::{self, Msg, Pending};

/// One record to append.
#[derive(Debug, Clone)]
pub struct NewRecord {
    /// `Some(destination)` for a dead letter (published there by the dead-letter sink's
    /// consumer only); `None` for an event every consumer publishes through its sink's routing.
    pub route: Option<String>,
    /// The configured source name the record came from.
    pub source_name: String,
    /// The record itself (the event's structured JSON).
    pub payload: Vec<u8>,
    /// Handed back with the record to a consumer that reads it from memory (see
    /// [`Attachment`]); never stored.
    pub attachment: Option<Attachment>,
}

/// Whether the spool can take writes, for `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpoolHealth {
    /// The last commit succeeded.
    Healthy,
    /// The last commit failed (disk full, I/O error); the text says why and where.
    Unhealthy(String),
}

/// One consumer's progress, shared by its reader and the writer.
pub(crate) struct Consumer {
    pub(crate) name: String,
    /// The last `seq` the consumer acknowledged (durable with the next commit).
    pub(crate) acked: AtomicU64,
    /// Receive time (Unix ms) of the oldest record handed to the consumer and not yet
    /// acknowledged; 0 when it is caught up.
    pub(crate) oldest_pending_ms: AtomicI64,
}

/// State shared by the handle, the writer thread and the readers.
pub(crate) struct Shared {
    pub(crate) dir: PathBuf,
    pub(crate) db: PathBuf,
    pub(crate) config: SpoolConfig,
    pub(crate) retained_bytes: AtomicU64,
    pub(crate) retained_events: AtomicU64,
    /// The highest committed `seq`; readers wait on it.
    pub(crate) committed: watch::Sender<u64>,
    /// The newest committed records (pushed before `committed` moves past them).
    pub(crate) tail: Mutex<Tail>,
    pub(crate) consumers: Vec<Consumer>,
    pub(crate) fault: Mutex<Option<String>>,
    pub(crate) metrics: SpoolMetrics,
}

impl Shared {
    pub(crate) fn set_fault(&self, fault: Option<String>) {
        self.metrics.healthy.set(i64::from(fault.is_none()));
        *self.fault.lock().unwrap_or_else(|p| p.into_inner()) = fault;
    }
}

/// The spool: cheap to clone, shared by every request and forwarder.
#[derive(Clone)]
pub struct Spool {
    shared: Arc<Shared>,
    tx: mpsc::Sender<Msg>,
    writer: Arc<Mutex<Option<JoinHandle<()>>>>,
    /// Held for the life of the process: the directory's exclusive lock.
    _lock: Arc<File>,
}

impl Spool {
    /// Open (or create) the spool in `config.path` for the named consumers, recover what it
    /// holds and start its writer thread. Fails with a message naming the path when the directory
    /// cannot be created or written, or when another process holds its lock.
    ///
    /// Consumers not named before start at the end of the data (they receive new events only);
    /// cursors of consumers no longer named are removed, so they stop holding data back.
    pub fn open(
        config: SpoolConfig,
        consumers: &[String],
        registry: &Registry,
    ) -> Result<(Self, Recovery), SpoolError> {
        let dir = config.path.clone();
        std::fs::create_dir_all(&dir)
            .map_err(|e| SpoolError::open(&dir, "cannot create the directory", e))?;
        let lock = lock(&dir)?;
        let (conn, loaded, recovery) = store::open_and_recover(&dir)
            .map_err(|e| SpoolError::open(&dir, "cannot open the spool database", e))?;
        let metrics = SpoolMetrics::register(registry, consumers)
            .map_err(|e| SpoolError::open(&dir, "cannot register metrics", e))?;
        metrics.recovered.inc_by(recovery.recovered);
        metrics.truncated.inc_by(recovery.truncated);
        metrics.clamped.inc_by(recovery.clamped_cursors);
        metrics.max_bytes.set(config.max_bytes as i64);
        let mut forgotten = Vec::new();
        for (name, _) in &loaded.cursors {
            if !consumers.contains(name) {
                forgotten.push(name.clone());
            }
        }
        let consumers: Vec<Consumer> = consumers
            .iter()
            .map(|name| Consumer {
                name: name.clone(),
                acked: AtomicU64::new(
                    loaded
                        .cursors
                        .iter()
                        .find(|(n, _)| n == name)
                        .map_or(loaded.new_consumer_start, |(_, seq)| *seq),
                ),
                oldest_pending_ms: AtomicI64::new(0),
            })
            .collect();
        let (committed, _) = watch::channel(loaded.last_seq);
        let shared = Arc::new(Shared {
            db: dir.join(store::DB_FILE),
            dir,
            config,
            retained_bytes: AtomicU64::new(loaded.retained_bytes),
            retained_events: AtomicU64::new(loaded.retained_events),
            committed,
            tail: Mutex::new(Tail::default()),
            consumers,
            fault: Mutex::new(None),
            metrics,
        });
        info!(
            path = %shared.dir.display(),
            events = loaded.retained_events,
            bytes = loaded.retained_bytes,
            last_seq = loaded.last_seq,
            truncated = recovery.truncated,
            clamped_cursors = recovery.clamped_cursors,
            "spool opened"
        );
        if !forgotten.is_empty() {
            warn!(consumers = ?forgotten, "spool cursors of sinks no longer configured are removed");
        }
        let (tx, rx) = mpsc::channel();
        let handle = writer::start(conn, loaded, forgotten, rx, Arc::clone(&shared))
            .map_err(|e| SpoolError::open(&shared.dir, "cannot start the writer thread", e))?;
        Ok((
            Self {
                shared,
                tx,
                writer: Arc::new(Mutex::new(Some(handle))),
                _lock: Arc::new(lock),
            },
            recovery,
        ))
    }

    /// Append `records` and wait until they are durable (committed and fsync'd, together with
    /// whatever else queued meanwhile). Refused at once with [`SpoolError::Full`] when retained
    /// data would pass `max_bytes`.
    pub async fn append(&self, records: Vec<NewRecord>) -> Result<(), SpoolError> {
        self.append_checked(records, true).await
    }

    /// [`Spool::append`] without the `max_bytes` check, for a record that replaces one already
    /// retained (the dead letter of an event a sink rejected for good, written before that
    /// event's cursor moves). Refusing it could wedge a full spool: the consumer holding the
    /// data back could never move past the rejected event.
    pub async fn append_replacing(&self, records: Vec<NewRecord>) -> Result<(), SpoolError> {
        self.append_checked(records, false).await
    }

    async fn append_checked(
        &self,
        records: Vec<NewRecord>,
        bounded: bool,
    ) -> Result<(), SpoolError> {
        if records.is_empty() {
            return Ok(());
        }
        let bytes: u64 = records
            .iter()
            .map(|r| store::row_bytes(r.route.as_deref(), &r.source_name, r.payload.len()))
            .sum();
        let result = self.append_inner(records, bytes, bounded).await;
        if let Err(e) = &result {
            self.shared
                .metrics
                .rejected
                .with_label_values(&[e.reason()])
                .inc();
        }
        result
    }

    async fn append_inner(
        &self,
        records: Vec<NewRecord>,
        bytes: u64,
        bounded: bool,
    ) -> Result<(), SpoolError> {
        let limit = self.shared.config.max_bytes;
        // Reserve the bytes before writing, so concurrent appends cannot overshoot together.
        let before = self
            .shared
            .retained_bytes
            .fetch_add(bytes, Ordering::AcqRel);
        if bounded && before + bytes > limit {
            self.shared
                .retained_bytes
                .fetch_sub(bytes, Ordering::AcqRel);
            return Err(SpoolError::Full {
                retained: before,
                limit,
            });
        }
        let (reply, done) = oneshot::channel();
        let pending = Pending {
            records,
            bytes,
            reply,
        };
        if self.tx.send(Msg::Append(pending)).is_err() {
            self.shared
                .retained_bytes
                .fetch_sub(bytes, Ordering::AcqRel);
            return Err(SpoolError::Closed);
        }
        // The writer gives the reservation back itself when the commit fails.
        done.await.unwrap_or(Err(SpoolError::Closed))
    }

    /// The reader of the consumer `name` (one of those given to [`Spool::open`]); `None` for
    /// another name, an error when its database connection cannot be opened.
    pub fn reader(&self, name: &str) -> Option<Result<Reader, SpoolError>> {
        let index = self.shared.consumers.iter().position(|c| c.name == name)?;
        Some(
            Reader::open(Arc::clone(&self.shared), index).map_err(|source| SpoolError::Io {
                path: self.shared.db.clone(),
                source,
            }),
        )
    }

    /// Whether the last commit succeeded.
    pub fn health(&self) -> SpoolHealth {
        match &*self.shared.fault.lock().unwrap_or_else(|p| p.into_inner()) {
            None => SpoolHealth::Healthy,
            Some(why) => SpoolHealth::Unhealthy(why.clone()),
        }
    }

    /// The highest committed `seq`.
    pub fn last_seq(&self) -> u64 {
        *self.shared.committed.borrow()
    }

    /// Records retained (not yet acknowledged by every consumer) and their bytes.
    pub fn retained(&self) -> (u64, u64) {
        (
            self.shared.retained_events.load(Ordering::Acquire),
            self.shared.retained_bytes.load(Ordering::Acquire),
        )
    }

    /// The spool directory.
    pub fn path(&self) -> &Path {
        &self.shared.dir
    }

    /// Count a record a consumer sent to the dead letters because it was damaged.
    pub fn note_quarantined(&self) {
        self.shared.metrics.quarantined.inc();
    }

    /// Commit the consumers' last cursors and stop the writer. Appends after this fail with
    /// [`SpoolError::Closed`]. Blocks the calling thread for at most one commit.
    pub async fn close(&self) {
        let (reply, done) = oneshot::channel();
        if self.tx.send(Msg::Close(reply)).is_ok() {
            let _ = done.await;
        }
        let handle = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(handle) = handle {
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
    }
}

/// Take the directory's exclusive lock (released by the OS when the process dies, SIGKILL too).
fn lock(dir: &Path) -> Result<File, SpoolError> {
    let path = dir.join("LOCK");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| {
            SpoolError::open(
                &path,
                "cannot create the lock file (is the directory writable?)",
                e,
            )
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(SpoolError::Locked {
            path: dir.to_owned(),
            lock: path,
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(SpoolError::open(
            &path,
            "cannot lock the spool directory",
            e,
        )),
    }
}
