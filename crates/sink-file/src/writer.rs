//! The writer thread of one file: group commit and rotation.
//!
//! Every publish sends its already-serialized lines through a channel. One dedicated OS thread per
//! file takes whatever has queued up, appends it with one `write` and covers it with one
//! `fdatasync`, then answers every waiter. While it syncs, new batches queue and ride on the next
//! sync, so concurrent callers share the cost of the disk flush (group commit). A blocking thread
//! rather than a tokio task because `fsync` blocks for milliseconds and must not stall the runtime.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use crate::error::{FileSinkError, Result};
use crate::metrics::FileSinkMetrics;

/// Work for the writer thread.
pub(crate) enum Request {
    /// Append these lines and sync before answering.
    Append {
        lines: Vec<u8>,
        events: usize,
        done: oneshot::Sender<io::Result<()>>,
    },
    /// Answer once everything queued before this is on disk.
    Flush { done: oneshot::Sender<()> },
}

/// Settings of one writer.
pub(crate) struct WriterSettings {
    pub(crate) sink: String,
    pub(crate) path: PathBuf,
    pub(crate) rotate_bytes: u64,
    pub(crate) max_files: usize,
    pub(crate) max_batch_events: usize,
    pub(crate) metrics: FileSinkMetrics,
}

/// Start the writer thread for `settings.path`; the thread ends when every sender is dropped.
pub(crate) fn spawn(settings: WriterSettings) -> Result<mpsc::Sender<Request>> {
    if let Some(dir) = settings.path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|source| FileSinkError::CreateDir {
            path: dir.to_owned(),
            source,
        })?;
    }
    let file = open_append(&settings.path)?;
    let open_error = |source| FileSinkError::Open {
        path: settings.path.clone(),
        source,
    };
    // One size for the scan and the cut, so nothing appended in between is cut with it; a read
    // that fails stops the open (a guess would cut acknowledged lines).
    let found = file.metadata().map_err(open_error)?.len();
    let len = complete_len(&file, found).map_err(open_error)?;
    if len < found {
        // Half a line from a crash mid-write (never acknowledged: the sync came after it); the
        // next line would be glued to it.
        warn!(sink = %settings.sink, path = %settings.path.display(), cut_bytes = found - len, "file ends in an unfinished line; cut back to the last complete one");
        file.set_len(len).map_err(open_error)?;
    }
    // Bounded: when the disk is slower than the callers, they wait here (back-pressure reaches the
    // HTTP layer, which sheds load) instead of queueing without limit.
    let (tx, rx) = mpsc::channel(1024);
    let path = settings.path.clone();
    let mut writer = Writer {
        settings,
        file: Some(file),
        len,
    };
    std::thread::Builder::new()
        .name("file-sink".into())
        .spawn(move || writer.run(rx))
        .map_err(|source| FileSinkError::Spawn { path, source })?;
    Ok(tx)
}

/// The length of the first `len` bytes of `file` up to and including their last newline (0 when
/// they have none).
fn complete_len(file: &File, len: u64) -> io::Result<u64> {
    use std::os::unix::fs::FileExt;
    let mut end = len;
    let mut chunk = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(chunk.len() as u64);
        let buf = &mut chunk[..(end - start) as usize];
        file.read_exact_at(buf, start)?;
        if let Some(i) = buf.iter().rposition(|b| *b == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

fn open_append(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)
        .map_err(|source| FileSinkError::Open {
            path: path.to_owned(),
            source,
        })
}

struct Writer {
    settings: WriterSettings,
    /// `None` after an I/O error: reopened before the next write.
    file: Option<File>,
    /// Bytes in the active file that are known to be complete and synced.
    len: u64,
}

impl Writer {
    fn run(&mut self, mut rx: mpsc::Receiver<Request>) {
        let mut buf = Vec::with_capacity(64 * 1024);
        let mut waiters = Vec::new();
        let mut flushes = Vec::new();
        while let Some(first) = rx.blocking_recv() {
            let mut events = 0;
            let mut next = Some(first);
            while let Some(request) = next.take() {
                match request {
                    Request::Append {
                        lines,
                        events: n,
                        done,
                    } => {
                        buf.extend_from_slice(&lines);
                        events += n;
                        waiters.push(done);
                    }
                    Request::Flush { done } => flushes.push(done),
                }
                if events < self.settings.max_batch_events {
                    next = rx.try_recv().ok();
                }
            }
            if !buf.is_empty() {
                let result = self.commit(&buf, events);
                for done in waiters.drain(..) {
                    // A caller that gave up (timeout) dropped its receiver; nothing to tell it.
                    let _ = done.send(
                        result
                            .as_ref()
                            .map(|_| ())
                            .map_err(|e| io::Error::new(e.kind(), e.to_string())),
                    );
                }
                buf.clear();
                if result.is_ok() {
                    self.maybe_rotate();
                }
            }
            for done in flushes.drain(..) {
                let _ = done.send(());
            }
        }
        debug!(sink = %self.settings.sink, path = %self.settings.path.display(), "file writer stopped");
    }

    /// Append `buf` and `fdatasync`; on failure cut the file back to the last synced length so a
    /// torn write never leaves half a line that later lines would be glued to.
    fn commit(&mut self, buf: &[u8], events: usize) -> io::Result<()> {
        let file = match self.file.take() {
            Some(file) => file,
            None => {
                let file = open_append(&self.settings.path).map_err(io::Error::other)?;
                file.set_len(self.len)?;
                file
            }
        };
        let started = std::time::Instant::now();
        let result = (&file).write_all(buf).and_then(|()| file.sync_data());
        match result {
            Ok(()) => {
                self.len += buf.len() as u64;
                self.file = Some(file);
                let m = &self.settings.metrics;
                m.bytes.inc_by(buf.len() as u64);
                m.fsyncs.inc();
                m.batch_events.observe(events as f64);
                m.commit_seconds.observe(started.elapsed().as_secs_f64());
                Ok(())
            }
            Err(error) => {
                warn!(sink = %self.settings.sink, path = %self.settings.path.display(), %error, "append failed");
                // Dropping `file` closes it; the next batch reopens and truncates to `len`.
                let _ = file.set_len(self.len);
                Err(error)
            }
        }
    }

    fn maybe_rotate(&mut self) {
        let limit = self.settings.rotate_bytes;
        if limit == 0 || self.len < limit {
            return;
        }
        self.file = None;
        match rotate(&self.settings.path, self.settings.max_files) {
            Ok(()) => {
                self.settings.metrics.rotations.inc();
                debug!(sink = %self.settings.sink, path = %self.settings.path.display(), "rotated");
            }
            Err(error) => {
                warn!(sink = %self.settings.sink, %error, "rotation failed, appending to the current file")
            }
        }
        // Create the new active file at once so readers (`tail -F`) see it; on failure the next
        // commit retries the open.
        self.file = open_append(&self.settings.path).ok();
        self.len = fs::metadata(&self.settings.path)
            .map(|m| m.len())
            .unwrap_or(0);
    }
}

/// Shift `path.N-1` → `path.N` … `path` → `path.1`, dropping the oldest, then sync the directory
/// so the renames survive a crash.
fn rotate(path: &Path, max_files: usize) -> io::Result<()> {
    let numbered = |n: usize| {
        let mut p = path.as_os_str().to_owned();
        p.push(format!(".{n}"));
        PathBuf::from(p)
    };
    if max_files == 0 {
        fs::remove_file(path)?;
    } else {
        match fs::remove_file(numbered(max_files)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        for n in (1..max_files).rev() {
            match fs::rename(numbered(n), numbered(n + 1)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        fs::rename(path, numbered(1))?;
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}
