//! `vodbridge spool status`: per-sink lag, oldest age and bytes of a spool, running or not.

use std::fmt::Write as _;

use anyhow::Context as _;

use crate::config::Config;

/// The status report of the spool `config` names, as printable text.
pub fn report(config: &Config) -> anyhow::Result<String> {
    let spool = config
        .spool
        .as_ref()
        .context("the configuration has no [spool] section")?;
    let status = vodbridge_spool::status(&spool.path)
        .with_context(|| format!("cannot read the spool in {}", spool.path.display()))?;
    let mut out = String::new();
    let fill = status.retained_bytes as f64 * 100.0 / spool.max_bytes.max(1) as f64;
    let _ = writeln!(
        out,
        "spool {}: {} events retained, {} bytes ({fill:.1}% of max_bytes {}), {} bytes on disk, last seq {}",
        spool.path.display(),
        status.retained_events,
        status.retained_bytes,
        spool.max_bytes,
        status.file_bytes,
        status.last_seq
    );
    let _ = writeln!(
        out,
        "{:<24} {:>12} {:>12} {:>14}",
        "sink", "cursor", "lag_events", "oldest_age_s"
    );
    for c in &status.consumers {
        let age = c
            .oldest_age
            .map_or_else(|| "-".to_owned(), |a| format!("{:.1}", a.as_secs_f64()));
        let _ = writeln!(
            out,
            "{:<24} {:>12} {:>12} {:>14}",
            c.name, c.cursor, c.lag_events, age
        );
    }
    Ok(out)
}
