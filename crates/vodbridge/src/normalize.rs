//! `vodbridge normalize`: print the canonical CloudEvents of a saved payload, one per line.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;

use anyhow::Context as _;
use vodbridge_normalizer::{normalize, SourceContext};

use crate::config::ProviderName;

/// Normalize `input` (a file, or stdin for `-`/none) and write one structured CloudEvent per line.
pub fn run(
    provider: ProviderName,
    source: Option<String>,
    input: Option<PathBuf>,
) -> anyhow::Result<()> {
    let body = match input.as_deref() {
        None => read_stdin()?,
        Some(p) if p.as_os_str() == "-" => read_stdin()?,
        Some(p) => std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?,
    };
    let provider: vodbridge_core::Provider = provider.into();
    let source_name = source.unwrap_or_else(|| provider.as_str().to_owned());
    let source_uri = format!("/vodbridge/{source_name}");
    let ctx = SourceContext {
        source_name: &source_name,
        source_uri: &source_uri,
        received_at: chrono::Utc::now(),
    };
    let events = normalize(provider, &body, &ctx)
        .map_err(|e| anyhow::anyhow!("cannot normalize input: {e}"))?;
    let mut out = std::io::stdout().lock();
    for event in &events {
        out.write_all(&vodbridge_sink_file::json_line(event))?;
    }
    out.flush()?;
    Ok(())
}

fn read_stdin() -> anyhow::Result<Vec<u8>> {
    let mut body = Vec::new();
    std::io::stdin()
        .read_to_end(&mut body)
        .context("cannot read standard input")?;
    Ok(body)
}
