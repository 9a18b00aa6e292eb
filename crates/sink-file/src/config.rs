//! `[[sinks]] type = "file"` configuration.

use std::path::PathBuf;

use serde::Deserialize;

/// Configuration of one file sink.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSinkConfig {
    /// Path of the active file; rotated files get a numeric suffix beside it.
    pub path: PathBuf,
    /// Canonical types this sink carries (`*` wildcards); empty = all.
    #[serde(default)]
    pub types: Vec<String>,
}
