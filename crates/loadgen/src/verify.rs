//! After the run: did every acknowledged event reach the file sink?
//!
//! The load generator keeps the sequence number of every request answered 200. Since a request's
//! body is a pure function of its sequence number (see `mix` and `payload`), the canonical id the
//! bridge gave it is recomputed here with the same normalizer, and looked up among the `id`s of
//! the JSON Lines file the bridge wrote (the active file and its rotated siblings `PATH.1`, …).
//! Events present but not acknowledged (a client timeout after the bridge stored the event, or
//! an earlier run into the same file) are counted, not failed: delivery is at least once.

use std::collections::HashSet;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

/// What verification found.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub(crate) struct Report {
    /// Files read.
    pub(crate) files: Vec<PathBuf>,
    /// Lines in those files.
    pub(crate) lines: u64,
    /// Events the bridge acknowledged to this run.
    pub(crate) acked: u64,
    /// Acknowledged events whose id is not in the files (must be 0).
    pub(crate) missing: u64,
    /// Up to 10 of the missing ids.
    pub(crate) missing_examples: Vec<String>,
    /// Ids in the files that no acknowledged request of this run produced.
    pub(crate) unacknowledged: u64,
    /// Acknowledged ids that appear more than once in the files.
    pub(crate) duplicated: u64,
}

impl Report {
    /// Whether every acknowledged event is stored.
    pub(crate) fn passed(&self) -> bool {
        self.missing == 0
    }
}

/// A 32-hex-digit event id as a number (half the memory of a `String` per id).
fn id_key(id: &str) -> Option<u128> {
    (id.len() == 32)
        .then(|| u128::from_str_radix(id, 16).ok())
        .flatten()
}

/// The active file and its rotated siblings `path.1`, `path.2`, … that exist.
pub(crate) fn sink_files(path: &Path) -> Vec<PathBuf> {
    let mut files = vec![path.to_path_buf()];
    for n in 1.. {
        let mut rotated = path.as_os_str().to_owned();
        rotated.push(format!(".{n}"));
        let rotated = PathBuf::from(rotated);
        if !rotated.exists() {
            break;
        }
        files.push(rotated);
    }
    files
}

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    id: &'a str,
}

/// Count the ids of the events in `reader` into `found` (id → occurrences); returns the lines.
pub(crate) fn read_ids(
    reader: impl BufRead,
    found: &mut std::collections::HashMap<u128, u32>,
) -> anyhow::Result<u64> {
    let mut lines = 0;
    for (n, line) in reader.lines().enumerate() {
        let line = line.context("cannot read sink file")?;
        if line.trim().is_empty() {
            continue;
        }
        lines += 1;
        let parsed: Line<'_> = serde_json::from_str(&line)
            .with_context(|| format!("line {} is not an event with an id", n + 1))?;
        if let Some(key) = id_key(parsed.id) {
            *found.entry(key).or_insert(0) += 1;
        }
    }
    Ok(lines)
}

/// Compare the acknowledged ids with the ids found in the sink files.
pub(crate) fn compare(
    acked: &[String],
    found: &std::collections::HashMap<u128, u32>,
    files: Vec<PathBuf>,
    lines: u64,
) -> Report {
    let mut report = Report {
        files,
        lines,
        acked: acked.len() as u64,
        ..Report::default()
    };
    let mut expected = HashSet::with_capacity(acked.len());
    for id in acked {
        let key = id_key(id);
        match key.and_then(|k| found.get(&k).map(|n| (k, *n))) {
            Some((k, n)) => {
                expected.insert(k);
                if n > 1 {
                    report.duplicated += 1;
                }
            }
            None => {
                report.missing += 1;
                if report.missing_examples.len() < 10 {
                    report.missing_examples.push(id.clone());
                }
            }
        }
    }
    report.unacknowledged = found.keys().filter(|k| !expected.contains(k)).count() as u64;
    report
}

/// Read the sink files at `path` and compare them with `acked`.
pub(crate) fn verify(path: &Path, acked: &[String]) -> anyhow::Result<Report> {
    let files = sink_files(path);
    let mut found = std::collections::HashMap::new();
    let mut lines = 0;
    for file in &files {
        let f = std::fs::File::open(file)
            .with_context(|| format!("cannot open sink file {}", file.display()))?;
        lines += read_ids(std::io::BufReader::with_capacity(1 << 20, f), &mut found)
            .with_context(|| file.display().to_string())?;
    }
    Ok(compare(acked, &found, files, lines))
}

/// Non-empty lines of a file (the dead-letter file).
pub(crate) fn count_lines(path: &Path) -> anyhow::Result<u64> {
    let f = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut n = 0;
    for line in std::io::BufReader::new(f).lines() {
        if !line?.trim().is_empty() {
            n += 1;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const A: &str = "0123456789abcdef0123456789abcdef";
    const B: &str = "fedcba9876543210fedcba9876543210";
    const C: &str = "00000000000000000000000000000001";

    fn lines(ids: &[&str]) -> String {
        ids.iter()
            .map(|id| {
                format!("{{\"specversion\":\"1.0\",\"id\":\"{id}\",\"data\":{{\"x\":[1]}}}}\n")
            })
            .collect()
    }

    #[test]
    fn every_acked_id_found_passes_and_extras_are_counted() {
        let mut found = HashMap::new();
        let n = read_ids(lines(&[A, B, C, A]).as_bytes(), &mut found).expect("read");
        assert_eq!(n, 4);
        let r = compare(&[A.into(), B.into()], &found, vec![], n);
        assert!(r.passed());
        assert_eq!(
            (r.acked, r.missing, r.unacknowledged, r.duplicated),
            (2, 0, 1, 1)
        );
    }

    #[test]
    fn a_missing_id_fails() {
        let mut found = HashMap::new();
        read_ids(lines(&[A]).as_bytes(), &mut found).expect("read");
        let r = compare(&[A.into(), B.into()], &found, vec![], 1);
        assert!(!r.passed());
        assert_eq!(r.missing, 1);
        assert_eq!(r.missing_examples, vec![B.to_owned()]);
    }

    #[test]
    fn a_line_without_an_id_is_an_error() {
        let mut found = HashMap::new();
        assert!(read_ids("{\"type\":\"x\"}\n".as_bytes(), &mut found).is_err());
        assert!(read_ids("not json\n".as_bytes(), &mut found).is_err());
    }

    #[test]
    fn rotated_siblings_are_read_in_order() {
        let dir = std::env::temp_dir().join(format!("loadgen-verify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let active = dir.join("events.jsonl");
        std::fs::write(&active, lines(&[A])).expect("write");
        std::fs::write(dir.join("events.jsonl.1"), lines(&[B])).expect("write");
        std::fs::write(dir.join("events.jsonl.3"), lines(&[C])).expect("write");
        let r = verify(&active, &[A.into(), B.into(), C.into()]).expect("verify");
        // .3 without .2 is not a sibling of this rotation chain.
        assert_eq!(r.files.len(), 2);
        assert_eq!((r.lines, r.missing), (2, 1));
        assert_eq!(count_lines(&active).expect("count"), 1);
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
