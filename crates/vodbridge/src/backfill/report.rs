//! What a run tells its operator: a progress bar on a terminal (periodic log lines otherwise),
//! a warning per bad record with its position, `--dry-run` output on stdout, and the summary.

use std::collections::BTreeMap;
use std::io::{self, IsTerminal as _, Write};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use tracing::{info, warn};
use vodbridge_core::CanonicalEvent;

use super::input::{Extent, Position};

/// Counts of one run, by outcome and reason.
#[derive(Debug, Default)]
pub(crate) struct Summary {
    /// Records read.
    pub(crate) read: u64,
    /// Events published (acknowledged by every sink they route to), or, in a dry run, that
    /// would be.
    pub(crate) published: u64,
    /// Dead letters that still fail, published to the dead-letter route again.
    pub(crate) dead_lettered: u64,
    /// Records passed over by the filters or because there is nothing to do, by reason.
    skipped: BTreeMap<&'static str, u64>,
    /// Records that are not what the command reads, by reason.
    bad: BTreeMap<&'static str, u64>,
    /// Originals that still do not normalize, by the normalizer's reason.
    still_failing: BTreeMap<&'static str, u64>,
    /// Events not published because a sink failed for good, by sink and reason.
    failed: BTreeMap<String, u64>,
    /// Ctrl-C stopped the run.
    pub(crate) interrupted: bool,
}

impl Summary {
    /// A record skipped for `reason` (`types`, `time`, `other_type`, …).
    pub(crate) fn skip(&mut self, reason: &'static str, _at: &Position) {
        *self.skipped.entry(reason).or_default() += 1;
    }

    /// A record that cannot be used, reported with where it was read.
    pub(crate) fn bad(&mut self, reason: &'static str, at: &Position, detail: &str) {
        warn!(%at, reason, detail, "record not usable");
        *self.bad.entry(reason).or_default() += 1;
    }

    /// A dead letter whose original still fails to normalize.
    pub(crate) fn still_failing(&mut self, reason: &'static str, at: &Position, error: &str) {
        warn!(%at, reason, error, "still does not normalize; dead-lettered again");
        *self.still_failing.entry(reason).or_default() += 1;
    }

    /// `count` events not published for `reason`.
    pub(crate) fn failed(&mut self, reason: String, count: u64) {
        *self.failed.entry(reason).or_default() += count;
    }

    /// Nothing was bad, still failing or unpublished.
    pub(crate) fn clean(&self) -> bool {
        self.bad.is_empty() && self.still_failing.is_empty() && self.failed.is_empty()
    }

    /// The end-of-run report: counts, then each reason, then where the run stopped.
    pub(crate) fn print(
        &self,
        command: &str,
        last: Option<&Position>,
        error: Option<&str>,
        elapsed: Duration,
        out: &mut impl Write,
    ) {
        let count = |m: &BTreeMap<_, u64>| m.values().sum::<u64>();
        let mut text = format!(
            "{command}: read {}, published {}, dead-lettered again {}, skipped {}, bad {}, failed {}\n",
            self.read,
            self.published,
            self.dead_lettered,
            count(&self.skipped),
            count(&self.bad),
            self.failed.values().sum::<u64>(),
        );
        let mut section = |title: &str, entries: Vec<(String, u64)>| {
            if !entries.is_empty() {
                let list: Vec<String> = entries.iter().map(|(r, n)| format!("{r} {n}")).collect();
                text.push_str(&format!("  {title}: {}\n", list.join(", ")));
            }
        };
        let owned = |m: &BTreeMap<&'static str, u64>| {
            m.iter()
                .map(|(r, n)| ((*r).to_owned(), *n))
                .collect::<Vec<_>>()
        };
        section("skipped", owned(&self.skipped));
        section("bad", owned(&self.bad));
        section("still failing", owned(&self.still_failing));
        section(
            "failed",
            self.failed.iter().map(|(r, n)| (r.clone(), *n)).collect(),
        );
        if let Some(error) = error {
            text.push_str(&format!("  stopped by an error: {error}\n"));
        }
        let place = last.map_or_else(
            || "before the first batch".to_owned(),
            |p| format!("after {p}"),
        );
        if self.interrupted {
            text.push_str(&format!("  interrupted {place}; the rest was not read\n"));
        } else if error.is_some() {
            text.push_str(&format!("  the last batch handled ended at {place}\n"));
        } else if let Some(p) = last {
            text.push_str(&format!("  read to the end: {p}\n"));
        }
        let seconds = elapsed.as_secs_f64();
        text.push_str(&format!(
            "  took {seconds:.1} s: {:.0} published per second\n",
            self.published as f64 / seconds.max(0.001)
        ));
        // The summary is for whoever runs the command; a closed stderr has no one to tell.
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
}

/// How far a run has come: a bar on a terminal, else a log line every [`LOG_EVERY`].
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    extent: Extent,
    logged: Instant,
}

/// The interval of the progress log lines when stderr is not a terminal.
const LOG_EVERY: Duration = Duration::from_secs(10);

impl Progress {
    /// Progress over `extent`; the bar is drawn on stderr when it is a terminal.
    pub(crate) fn new(extent: Extent) -> Self {
        let bar = io::stderr().is_terminal().then(|| {
            let (len, template) = match extent {
                Extent::Bytes(n) => (
                    n,
                    "{elapsed_precise} [{bar:40}] {binary_bytes}/{binary_total_bytes} ({eta}) {msg}",
                ),
                Extent::Records(n) => (
                    n,
                    "{elapsed_precise} [{bar:40}] {human_pos}/{human_len} ({per_sec}, {eta}) {msg}",
                ),
            };
            let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        Self {
            bar,
            extent,
            logged: Instant::now(),
        }
    }

    /// Run `f` (which writes to the terminal) with the bar out of the way.
    pub(crate) fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.bar {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    /// `done` of the extent handled, with the counts so far.
    pub(crate) fn update(&mut self, done: u64, summary: &Summary) {
        match &self.bar {
            Some(bar) => {
                bar.set_position(done);
                bar.set_message(format!(
                    "published {}, skipped/bad {}",
                    summary.published,
                    summary.read - summary.published.min(summary.read)
                ));
            }
            None if self.logged.elapsed() >= LOG_EVERY => {
                self.logged = Instant::now();
                let (unit, total) = match self.extent {
                    Extent::Bytes(n) => ("bytes", n),
                    Extent::Records(n) => ("records", n),
                };
                info!(
                    done,
                    total,
                    unit,
                    read = summary.read,
                    published = summary.published,
                    "progress"
                );
            }
            None => {}
        }
    }

    /// Take the bar off the terminal before the summary.
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `--dry-run`: what a record would become, one structured CloudEvent per line.
pub(crate) fn print_event(out: &mut impl Write, event: &CanonicalEvent) -> io::Result<()> {
    // One line per event even when `data.original` keeps a pretty-printed vendor body.
    out.write_all(&vodbridge_sink_file::json_line(event))
}

/// `--dry-run`: a record that would not become an event, as one JSON line with its position.
pub(crate) fn print_error(
    out: &mut impl Write,
    at: &Position,
    reason: &str,
    detail: &str,
) -> io::Result<()> {
    let line = json!({ "error": reason, "at": at.to_string(), "detail": detail });
    writeln!(out, "{line}")
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn at(line: u64) -> Position {
        Position::Line {
            path: PathBuf::from("dl.jsonl"),
            line,
        }
    }

    #[test]
    fn the_summary_counts_by_reason_and_says_where_it_stopped() {
        let mut summary = Summary {
            read: 5,
            published: 2,
            dead_lettered: 1,
            ..Summary::default()
        };
        summary.skip("types", &at(1));
        summary.bad("not_json", &at(2), "expected value at line 1 column 1");
        summary.still_failing("unsupported_content_type", &at(3), "text/plain");
        assert!(!summary.clean());
        summary.interrupted = true;
        let mut out = Vec::new();
        summary.print(
            "redrive",
            Some(&at(5)),
            None,
            Duration::from_millis(500),
            &mut out,
        );
        let text = String::from_utf8(out).expect("utf-8");
        assert!(
            text.starts_with(
                "redrive: read 5, published 2, dead-lettered again 1, skipped 1, bad 1, failed 0\n"
            ),
            "{text}"
        );
        assert!(text.contains("  skipped: types 1\n"), "{text}");
        assert!(text.contains("  bad: not_json 1\n"), "{text}");
        assert!(
            text.contains("  still failing: unsupported_content_type 1\n"),
            "{text}"
        );
        assert!(text.contains("interrupted after dl.jsonl:5"), "{text}");
        assert!(
            text.ends_with("  took 0.5 s: 4 published per second\n"),
            "{text}"
        );
    }

    #[test]
    fn a_run_that_only_skipped_is_clean() {
        let mut summary = Summary::default();
        summary.skip("time", &at(1));
        assert!(summary.clean());
        summary.failed("sink nats: rejected".into(), 3);
        assert!(!summary.clean());
    }

    #[test]
    fn dry_run_errors_are_json_lines_with_their_position() {
        let mut out = Vec::new();
        print_error(&mut out, &at(7), "not_json", "eof").expect("write");
        let line: serde_json::Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(line["at"], "dl.jsonl:7");
        assert_eq!(line["error"], "not_json");
    }
}
