//! What can go wrong with the spool.

use std::path::PathBuf;

/// A spool operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// Retained data reached `max_bytes`: nothing is accepted until forwarders catch up.
    #[error("spool full: {retained} bytes retained, limit {limit}")]
    Full {
        /// Bytes retained now.
        retained: u64,
        /// `spool.max_bytes`.
        limit: u64,
    },
    /// Writing or syncing the spool failed (disk full, I/O error); the write was rolled back.
    #[error("spool write failed at {path}")]
    Io {
        /// The spool database file.
        path: PathBuf,
        /// SQLite's error (`SQLITE_FULL`, `SQLITE_IOERR_FSYNC`, …).
        #[source]
        source: rusqlite::Error,
    },
    /// The spool directory cannot be created, locked or opened (start-up).
    #[error("spool directory {path}: {what}")]
    Open {
        /// The directory or file concerned.
        path: PathBuf,
        /// What was being done.
        what: String,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Another process holds the spool directory's lock.
    #[error("spool directory {path} is in use by another vodbridge process (lock file {lock}); two bridges cannot share one spool")]
    Locked {
        /// The spool directory.
        path: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
    /// The spool has been closed (shutdown).
    #[error("spool closed")]
    Closed,
}

impl SpoolError {
    /// The reason label for metrics and the HTTP error code: `spool_full`, `spool_io` or
    /// `spool_closed`.
    pub fn reason(&self) -> &'static str {
        match self {
            SpoolError::Full { .. } => "spool_full",
            SpoolError::Closed => "spool_closed",
            _ => "spool_io",
        }
    }

    pub(crate) fn open(
        path: impl Into<PathBuf>,
        what: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        SpoolError::Open {
            path: path.into(),
            what: what.into(),
            source: Box::new(source),
        }
    }
}
