//! The `vodbridge` command line: `run`, `check-config`, `normalize` (see the library crate).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vodbridge::config::{Config, ProviderName};
use vodbridge::{normalize, run};

/// Event bridge for video-on-demand callbacks: Tencent Cloud VOD and Volcengine VOD in,
/// canonical CloudEvents out (file, Kafka, NATS).
#[derive(Debug, Parser)]
#[command(name = "vodbridge", version, about)]
struct Cli {
    /// What to do; without a subcommand, `run` with the embedded default configuration.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the bridge until SIGTERM or SIGINT.
    Run {
        /// Configuration file (TOML); the embedded default when absent.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Load and validate a configuration, then exit (0 when valid).
    CheckConfig {
        /// Configuration file (TOML); the embedded default when absent.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Print the canonical CloudEvents (structured JSON, one per line) of a saved payload.
    Normalize {
        /// Payload format.
        #[arg(long, value_enum)]
        provider: ProviderArg,
        /// Source name used for `source` and routing (default: the provider name).
        #[arg(long)]
        source: Option<String>,
        /// Payload file; `-` or nothing reads standard input.
        input: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ProviderArg {
    Tencent,
    Volcengine,
}

impl From<ProviderArg> for ProviderName {
    fn from(p: ProviderArg) -> Self {
        match p {
            ProviderArg::Tencent => ProviderName::Tencent,
            ProviderArg::Volcengine => ProviderName::Volcengine,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Run { config: None }) {
        Command::Run { config } => Config::load(config.as_deref()).and_then(run::run),
        Command::CheckConfig { config } => Config::load(config.as_deref()).map(|c| {
            eprintln!(
                "configuration is valid: {} source(s), {} sink(s), callbacks on {}, admin on {}",
                c.sources.len(),
                c.sinks.len(),
                c.server.listen,
                c.server.admin_listen
            );
        }),
        Command::Normalize {
            provider,
            source,
            input,
        } => normalize::run(provider.into(), source, input),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
