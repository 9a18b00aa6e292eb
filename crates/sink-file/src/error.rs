//! Errors of building a file sink (start-up). Publish failures are [`vodbridge_core::SinkError`]s.

use std::path::PathBuf;

/// A file sink could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum FileSinkError {
    /// The directory of the file could not be created.
    #[error("cannot create directory {path}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file could not be opened for appending.
    #[error("cannot open {path} for appending")]
    Open {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The sink's metrics could not be registered (for example two sinks with the same name).
    #[error("cannot register file sink metrics")]
    Metrics(#[source] prometheus::Error),
    /// The writer thread could not be started.
    #[error("cannot start the writer thread for {path}")]
    Spawn {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Result alias of this crate.
pub type Result<T, E = FileSinkError> = std::result::Result<T, E>;
