//! `[[sinks]] type = "file"` configuration.

use std::path::PathBuf;

use serde::Deserialize;

/// Default size at which the active file is rotated: 100 MiB.
pub const DEFAULT_ROTATE_BYTES: u64 = 100 * 1024 * 1024;

/// Default number of rotated files kept beside the active one.
pub const DEFAULT_MAX_FILES: usize = 10;

/// Configuration of one file sink.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSinkConfig {
    /// Path of the active file; rotated files get a numeric suffix beside it (`events.jsonl.1` is
    /// the newest rotated file). The directory is created when missing.
    pub path: PathBuf,
    /// Canonical types this sink carries (`*` wildcards); empty = all.
    #[serde(default)]
    pub types: Vec<String>,
    /// Rotate the active file once it has reached this many bytes. Default 104857600 (100 MiB);
    /// `0` never rotates.
    #[serde(default = "default_rotate_bytes")]
    pub rotate_bytes: u64,
    /// Rotated files kept (`path.1` … `path.N`); older ones are deleted. Default 10.
    #[serde(default = "default_max_files")]
    pub max_files: usize,
    /// Most events written by one group commit (one `write` + one `fsync`). Default 4096.
    #[serde(default = "default_max_batch")]
    pub max_batch_events: usize,
}

impl FileSinkConfig {
    /// A configuration with every default and the given path.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            types: Vec::new(),
            rotate_bytes: DEFAULT_ROTATE_BYTES,
            max_files: DEFAULT_MAX_FILES,
            max_batch_events: default_max_batch(),
        }
    }
}

fn default_rotate_bytes() -> u64 {
    DEFAULT_ROTATE_BYTES
}

fn default_max_files() -> usize {
    DEFAULT_MAX_FILES
}

fn default_max_batch() -> usize {
    4096
}
