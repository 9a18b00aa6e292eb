//! Logging set-up (`tracing`, text or JSON to stderr) and process-wide metrics.

use prometheus::{IntGaugeVec, Opts, Registry};
use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// Install the global subscriber. `RUST_LOG` wins over `log.level` when set.
pub fn init_logging(config: &LogConfig) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a terminal: escape codes in log files and collectors are noise.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    // A second init (tests) is harmless: keep the first subscriber.
    let _ = match config.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    };
}

/// Register `vodbridge_build_info{version}` = 1 and the process metrics
/// (`vodbridge_process_resident_memory_bytes`, `_cpu_seconds_total`, `_open_fds`, `_threads`, …,
/// read from `/proc` at each scrape; Linux only).
pub fn register_build_info(registry: &Registry) -> prometheus::Result<()> {
    let info = IntGaugeVec::new(
        Opts::new("vodbridge_build_info", "Build information; always 1."),
        &["version"],
    )?;
    info.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
    registry.register(Box::new(info))?;
    // Memory, CPU and descriptors are what an operator checks first (the RSS budget, fd leaks);
    // namespaced so every exported series keeps the `vodbridge_` prefix.
    #[cfg(target_os = "linux")]
    registry.register(Box::new(
        prometheus::process_collector::ProcessCollector::new(
            std::process::id() as i32,
            "vodbridge",
        ),
    ))?;
    Ok(())
}
