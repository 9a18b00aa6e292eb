//! [`FileSink`]: the [`Sink`] implementation.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};
use vodbridge_core::{CanonicalEvent, Sink, SinkError, SinkHealth, TypeFilter};

use crate::config::FileSinkConfig;
use crate::error::{FileSinkError, Result};
use crate::metrics::FileSinkMetrics;
use crate::writer::{self, Request, WriterSettings};

/// Build a file sink for the binary: register its metrics on `registry`, then [`FileSink::open`],
/// behind the [`Sink`] trait. Every sink crate exports a `build` of this shape (name, its
/// configuration, the metrics registry).
pub async fn build(
    name: String,
    config: FileSinkConfig,
    registry: &prometheus::Registry,
) -> Result<Arc<dyn Sink>> {
    let metrics = FileSinkMetrics::register(&name, registry).map_err(FileSinkError::Metrics)?;
    Ok(Arc::new(FileSink::open(name, config, metrics)?))
}

/// Appends canonical events as JSON Lines to a file, acknowledging only after `fdatasync`.
///
/// `publish_to(destination)` writes to another file (dead letters); each file has its own writer
/// thread, created on first use.
pub struct FileSink {
    name: String,
    config: FileSinkConfig,
    filter: TypeFilter,
    metrics: FileSinkMetrics,
    pub(crate) main: mpsc::Sender<Request>,
    /// [`file_key`] of the main file (it exists once the sink is open).
    main_key: PathBuf,
    /// Writers of `publish_to` destinations, by the destination as given and by
    /// [`file_key`]. Destinations come from configuration (the dead-letter route), so this map
    /// stays small.
    pub(crate) others: Mutex<HashMap<PathBuf, mpsc::Sender<Request>>>,
}

impl FileSink {
    /// Open (create) the file and start its writer thread.
    pub fn open(
        name: impl Into<String>,
        config: FileSinkConfig,
        metrics: FileSinkMetrics,
    ) -> Result<Self> {
        let name = name.into();
        let main = writer::spawn(settings(&name, &config, &config.path, &metrics))?;
        let filter = TypeFilter::new(&config.types);
        Ok(Self {
            name,
            main_key: file_key(&config.path),
            config,
            filter,
            metrics,
            main,
            others: Mutex::new(HashMap::new()),
        })
    }

    /// Path of the active file.
    pub fn path(&self) -> &Path {
        &self.config.path
    }

    fn writer_for(&self, destination: &str) -> Result<mpsc::Sender<Request>, SinkError> {
        let path = PathBuf::from(destination);
        if path == self.config.path {
            return Ok(self.main.clone());
        }
        let mut others = self.others.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = others.get(&path).filter(|tx| !tx.is_closed()) {
            return Ok(tx.clone());
        }
        // Another spelling of a file that already has a writer shares it: two writers on one
        // file could cut each other's lines (each cuts an unfinished last line when it opens).
        let key = file_key(&path);
        if key == self.main_key {
            others.insert(path, self.main.clone());
            return Ok(self.main.clone());
        }
        if let Some(tx) = others.get(&key).filter(|tx| !tx.is_closed()).cloned() {
            others.insert(path, tx.clone());
            return Ok(tx);
        }
        let tx = writer::spawn(settings(&self.name, &self.config, &path, &self.metrics)).map_err(
            |e| {
                let message = format!("{e}: {}", source_text(&e));
                SinkError::retriable(&self.name, "open", message).with_source(e)
            },
        )?;
        others.insert(key, tx.clone());
        others.insert(path, tx.clone());
        Ok(tx)
    }

    async fn append(
        &self,
        tx: &mpsc::Sender<Request>,
        events: &[&CanonicalEvent],
    ) -> Result<(), SinkError> {
        if events.is_empty() {
            return Ok(());
        }
        let size: usize = events.iter().map(|e| e.structured_len_hint()).sum();
        let mut lines = Vec::with_capacity(size);
        for event in events {
            write_json_line(&mut lines, event);
        }
        let (done, ack) = oneshot::channel();
        tx.send(Request::Append {
            lines,
            events: events.len(),
            done,
        })
        .await
        .map_err(|_| {
            SinkError::retriable(&self.name, "writer_stopped", "file writer thread stopped")
        })?;
        match ack.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                Err(
                    SinkError::retriable(&self.name, "io", format!("append failed: {e}"))
                        .with_source(e),
                )
            }
            Err(_) => Err(SinkError::retriable(
                &self.name,
                "writer_stopped",
                "file writer thread stopped",
            )),
        }
    }
}

fn settings(
    name: &str,
    config: &FileSinkConfig,
    path: &Path,
    metrics: &FileSinkMetrics,
) -> WriterSettings {
    WriterSettings {
        sink: name.to_owned(),
        path: path.to_owned(),
        rotate_bytes: config.rotate_bytes,
        max_files: config.max_files,
        max_batch_events: config.max_batch_events.max(1),
        metrics: metrics.clone(),
    }
}

fn source_text(e: &(dyn std::error::Error + 'static)) -> String {
    e.source().map(ToString::to_string).unwrap_or_default()
}

#[async_trait]
impl Sink for FileSink {
    fn name(&self) -> &str {
        &self.name
    }

    async fn publish(&self, events: &[CanonicalEvent]) -> Result<(), SinkError> {
        let selected: Vec<&CanonicalEvent> = events
            .iter()
            .filter(|e| self.filter.accepts(&e.ty))
            .collect();
        self.append(&self.main, &selected).await
    }

    async fn publish_to(
        &self,
        destination: &str,
        events: &[CanonicalEvent],
    ) -> Result<(), SinkError> {
        let tx = self.writer_for(destination)?;
        let all: Vec<&CanonicalEvent> = events.iter().collect();
        self.append(&tx, &all).await
    }

    async fn health(&self) -> SinkHealth {
        if self.main.is_closed() {
            return SinkHealth::Unhealthy("writer thread stopped".into());
        }
        let dir = match self.config.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        // Creating and removing a probe file is the only reliable writability test (permissions,
        // read-only mounts, full quota on some file systems).
        let probe = dir.join(format!(".vodbridge-health-{}", std::process::id()));
        let result = tokio::task::spawn_blocking(move || {
            OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .open(&probe)?;
            std::fs::remove_file(&probe)
        })
        .await;
        match result {
            Ok(Ok(())) => SinkHealth::Healthy,
            Ok(Err(e)) => {
                SinkHealth::Unhealthy(format!("directory {} not writable: {e}", dir.display()))
            }
            Err(e) => SinkHealth::Unhealthy(format!("health probe failed: {e}")),
        }
    }

    async fn flush(&self, deadline: Duration) -> Result<(), SinkError> {
        let mut senders = vec![self.main.clone()];
        senders.extend(
            self.others
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .values()
                .cloned(),
        );
        let all = async {
            for tx in senders {
                let (done, ack) = oneshot::channel();
                if tx.send(Request::Flush { done }).await.is_ok() {
                    let _ = ack.await;
                }
            }
        };
        tokio::time::timeout(deadline, all).await.map_err(|_| {
            SinkError::retriable(
                &self.name,
                "timeout",
                format!("flush did not finish within {deadline:?}"),
            )
        })
    }
}

/// One event as exactly one line of JSON (with its `\n`).
///
/// `data` is kept as the raw JSON the normalizer produced, which may be pretty-printed (the
/// vendor's original body is embedded verbatim). In valid JSON a raw CR or LF can only be
/// insignificant whitespace (inside strings they are escaped), so turning them into spaces keeps
/// the event identical while making it one line.
pub fn json_line(event: &CanonicalEvent) -> Vec<u8> {
    let mut line = Vec::with_capacity(event.structured_len_hint());
    write_json_line(&mut line, event);
    line
}

/// [`json_line`] appended to `out`, without an intermediate buffer.
fn write_json_line(out: &mut Vec<u8>, event: &CanonicalEvent) {
    let start = out.len();
    // Writing plain strings, enums and a RawValue into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, event);
    // Branch-free so the compiler vectorizes the scan.
    for byte in &mut out[start..] {
        let newline = (*byte == b'\n') | (*byte == b'\r');
        *byte = if newline { b' ' } else { *byte };
    }
    out.push(b'\n');
}

/// The one name a file goes by, whichever way a destination spells it (relative or absolute,
/// through symbolic links): the canonical path of the file, or of its directory when the file
/// does not exist yet; the path as given when neither resolves.
fn file_key(path: &Path) -> PathBuf {
    if let Ok(full) = std::fs::canonicalize(path) {
        return full;
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    match (std::fs::canonicalize(dir), path.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => path.to_owned(),
    }
}
