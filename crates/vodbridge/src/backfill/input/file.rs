//! A JSON Lines file as the file sink writes it, with its rotated siblings.
//!
//! The file sink rotates `PATH` to `PATH.1` (and `PATH.1` to `PATH.2`, …), so the oldest lines
//! are in the highest suffix: they are read first, `PATH` last. Every file is opened, and its
//! length taken, before the first line is read: a sink appending to `PATH` or rotating it during
//! the run (an open file survives a rename) changes nothing of what the run covers. A rotation
//! while the files are being opened is noticed (the names no longer lead to the opened files)
//! and the set is opened again.

use std::fs::File;
use std::io::{BufRead as _, BufReader, Read as _, Take};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use tracing::warn;
use vodbridge_core::CanonicalEvent;

use super::{BadRecord, Position, Record};

/// Lines longer than this are reported, not read into memory.
const MAX_LINE_BYTES: u64 = 64 * 1024 * 1024;

struct OpenFile {
    path: PathBuf,
    /// Which file `path` named when it was opened.
    id: FileId,
    reader: BufReader<Take<File>>,
    line: u64,
}

/// The files of one `--input PATH`, read in order.
pub(crate) struct FileInput {
    files: Vec<OpenFile>,
    current: usize,
    total: u64,
    read: u64,
    buf: Vec<u8>,
}

impl FileInput {
    /// Open `path` and its rotated siblings; an error when none exists.
    pub(crate) fn open(path: &Path) -> anyhow::Result<Self> {
        // A rotation between listing the files and opening them renames them under the run's
        // feet (a file read twice, or one skipped): the set is opened again until a listing
        // taken after the opens names the very files that were opened.
        for attempt in 0..OPEN_ATTEMPTS {
            if attempt > 0 {
                // A rotation is a few renames and a directory sync: let it finish.
                std::thread::sleep(Duration::from_millis(20));
            }
            let Some((files, total)) = open_all(path, attempt == 0)? else {
                continue;
            };
            if unchanged(path, &files)? {
                return Ok(Self {
                    files,
                    current: 0,
                    total,
                    read: 0,
                    buf: Vec::new(),
                });
            }
        }
        anyhow::bail!(
            "--input {}: rotated during each of {OPEN_ATTEMPTS} attempts to open it",
            path.display()
        )
    }

    /// Up to `max` records; empty at the end of the last file.
    pub(crate) fn next_batch(&mut self, max: usize) -> anyhow::Result<Vec<Record>> {
        let mut batch = Vec::new();
        while batch.len() < max {
            let Some(file) = self.files.get_mut(self.current) else {
                break;
            };
            self.buf.clear();
            let n = (&mut file.reader)
                .take(MAX_LINE_BYTES)
                .read_until(b'\n', &mut self.buf)
                .with_context(|| format!("cannot read {}", file.path.display()))?;
            if n == 0 {
                self.current += 1;
                continue;
            }
            self.read += n as u64;
            file.line += 1;
            let at = Position::Line {
                path: file.path.clone(),
                line: file.line,
            };
            if self.buf.last() != Some(&b'\n') && n as u64 == MAX_LINE_BYTES {
                // Skip the rest of the over-long line so the next record starts on a line.
                let mut rest = Vec::new();
                loop {
                    rest.clear();
                    let m = (&mut file.reader)
                        .take(MAX_LINE_BYTES)
                        .read_until(b'\n', &mut rest)?;
                    self.read += m as u64;
                    if m == 0 || rest.last() == Some(&b'\n') {
                        break;
                    }
                }
                batch.push(Record {
                    at,
                    event: Err(BadRecord {
                        reason: "not_json",
                        detail: format!("line longer than {MAX_LINE_BYTES} bytes"),
                    }),
                });
                continue;
            }
            let line = self.buf.trim_ascii();
            if line.is_empty() {
                continue;
            }
            let parsed = CanonicalEvent::from_structured_json(line);
            if parsed.is_err() && self.buf.last() != Some(&b'\n') {
                // The end of what the file held when the run began, cut off mid-line: a sink
                // was writing it. Its complete line is there for the next run, so it is neither
                // read nor counted as bad.
                warn!(at = %at, "incomplete last line left for the next run");
                file.line -= 1;
                self.current += 1;
                continue;
            }
            let event = parsed.map_err(|e| {
                let reason = if serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok() {
                    "not_cloudevent"
                } else {
                    "not_json"
                };
                BadRecord::new(reason, &e)
            });
            batch.push(Record { at, event });
        }
        Ok(batch)
    }

    pub(crate) fn total_bytes(&self) -> u64 {
        self.total
    }

    pub(crate) fn bytes_read(&self) -> u64 {
        self.read
    }

    pub(crate) fn describe(&self) -> String {
        let names: Vec<String> = self
            .files
            .iter()
            .map(|f| f.path.display().to_string())
            .collect();
        format!("{} ({} bytes)", names.join(", "), self.total)
    }
}

/// Attempts at opening a consistent set of files.
const OPEN_ATTEMPTS: u32 = 5;

/// The identity of a file whatever its name: device and inode.
type FileId = (u64, u64);

fn file_id(metadata: &std::fs::Metadata) -> FileId {
    use std::os::unix::fs::MetadataExt as _;
    (metadata.dev(), metadata.ino())
}

/// The files of `path` in reading order (highest suffix first, `path` last) and their total
/// length; `None` when a listed file vanished before it was opened, or (not on the
/// `first` attempt) none is listed: a rotation is under way.
fn open_all(path: &Path, first: bool) -> anyhow::Result<Option<(Vec<OpenFile>, u64)>> {
    let paths = listing(path)?;
    if paths.is_empty() && !first {
        return Ok(None);
    }
    anyhow::ensure!(
        !paths.is_empty(),
        "--input {}: no such file (nor rotated copies {0}.1, {0}.2, …)",
        path.display()
    );
    let mut files = Vec::with_capacity(paths.len());
    let mut total = 0;
    for path in paths {
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot open {}", path.display())),
        };
        let metadata = file
            .metadata()
            .with_context(|| format!("cannot stat {}", path.display()))?;
        let len = metadata.len();
        total += len;
        files.push(OpenFile {
            path,
            id: file_id(&metadata),
            reader: BufReader::with_capacity(256 * 1024, file.take(len)),
            line: 0,
        });
    }
    Ok(Some((files, total)))
}

/// Whether the names of `path`'s files, listed now, are still those of the `opened` files.
fn unchanged(path: &Path, opened: &[OpenFile]) -> anyhow::Result<bool> {
    let now = listing(path)?;
    if now.len() != opened.len() {
        return Ok(false);
    }
    for (name, file) in now.iter().zip(opened) {
        if *name != file.path {
            return Ok(false);
        }
        match std::fs::metadata(name) {
            Ok(metadata) if file_id(&metadata) == file.id => {}
            Ok(_) => return Ok(false),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e).with_context(|| format!("cannot stat {}", name.display())),
        }
    }
    Ok(true)
}

/// `path`'s files in reading order: its rotated siblings, highest suffix (oldest) first, then
/// `path` itself when it exists.
fn listing(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut rotated = rotated(path)?;
    rotated.sort_by_key(|p| std::cmp::Reverse(p.0));
    let mut paths: Vec<PathBuf> = rotated.into_iter().map(|(_, p)| p).collect();
    if path.exists() {
        paths.push(path.to_path_buf());
    }
    Ok(paths)
}

/// `PATH.N` siblings of `path` with their `N`.
fn rotated(path: &Path) -> anyhow::Result<Vec<(u64, PathBuf)>> {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return Ok(Vec::new());
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot list {}", dir.display())),
    };
    let prefix = format!("{name}.");
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let file_name = entry.file_name();
        let Some(suffix) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        if let Ok(n) = suffix.parse::<u64>() {
            if n > 0 {
                found.push((n, path.with_file_name(&file_name)));
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    const EVENT: &str = r#"{"specversion":"1.0","id":"a","source":"/vodbridge/tc","type":"vod.media.uploaded","time":"2024-01-01T00:00:00Z","datacontenttype":"application/json","provider":"tencent","providertype":"NewFileUpload","outcome":"succeeded","partitionkey":"m","timesource":"provider","data":{}}"#;

    fn ids(input: &mut FileInput) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let batch = input.next_batch(2).expect("read");
            if batch.is_empty() {
                return out;
            }
            for r in batch {
                out.push(match r.event {
                    Ok(e) => e.id,
                    Err(bad) => format!("{}@{}", bad.reason, r.at),
                });
            }
        }
    }

    #[test]
    fn reads_rotated_files_oldest_first_and_stops_at_the_length_at_open() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("events.jsonl");
        let line = |id: &str| {
            format!(
                "{}\n",
                EVENT.replace("\"id\":\"a\"", &format!("\"id\":\"{id}\""))
            )
        };
        std::fs::write(path.with_file_name("events.jsonl.2"), line("oldest")).expect("write");
        std::fs::write(path.with_file_name("events.jsonl.1"), line("older")).expect("write");
        std::fs::write(path.with_file_name("events.jsonl.bak"), line("ignored")).expect("write");
        std::fs::write(&path, format!("{}\nnot json\n[1]\n", line("newest"))).expect("write");
        let mut input = FileInput::open(&path).expect("open");
        // Appended after opening: not part of this run.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("append");
        f.write_all(line("late").as_bytes()).expect("append");
        let p = path.display();
        assert_eq!(
            ids(&mut input),
            [
                "oldest".to_owned(),
                "older".to_owned(),
                "newest".to_owned(),
                format!("not_json@{p}:3"),
                format!("not_cloudevent@{p}:4"),
            ]
        );
        assert_eq!(input.bytes_read(), input.total_bytes());
    }

    #[test]
    fn a_line_cut_off_at_the_length_at_open_is_left_for_the_next_run() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("events.jsonl");
        // A sink was half-way through its second line when the run opened the file.
        std::fs::write(&path, format!("{EVENT}\n{}", &EVENT[..40])).expect("write");
        let mut input = FileInput::open(&path).expect("open");
        assert_eq!(ids(&mut input), ["a".to_owned()]);
    }

    #[test]
    fn a_rotation_after_the_files_were_opened_is_noticed() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("events.jsonl");
        std::fs::write(path.with_file_name("events.jsonl.1"), format!("{EVENT}\n")).expect("write");
        std::fs::write(&path, format!("{EVENT}\n")).expect("write");
        let (opened, _) = open_all(&path, true).expect("open").expect("files");
        assert!(unchanged(&path, &opened).expect("list"));
        // The sink rotates: `.1` becomes `.2`, the active file `.1`, a new active file.
        std::fs::rename(
            path.with_file_name("events.jsonl.1"),
            path.with_file_name("events.jsonl.2"),
        )
        .expect("rotate");
        std::fs::rename(&path, path.with_file_name("events.jsonl.1")).expect("rotate");
        std::fs::write(&path, "").expect("new active file");
        assert!(!unchanged(&path, &opened).expect("list"));
        // Opened again, the set is consistent: the three files, oldest first.
        let input = FileInput::open(&path).expect("open");
        assert_eq!(input.files.len(), 3);
        assert_eq!(input.files[0].path, path.with_file_name("events.jsonl.2"));
    }

    #[test]
    fn a_missing_file_is_an_error() {
        let dir = tempfile::tempdir().expect("dir");
        assert!(FileInput::open(&dir.path().join("nope.jsonl")).is_err());
    }
}
