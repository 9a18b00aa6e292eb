//! The `vodbridge` command line: `run`, `check-config`, `normalize` (see the library crate),
//! `redrive`, `replay`, `asyncapi` (this binary's `asyncapi` module).

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use vodbridge::backfill::{self, InputSpec, Job};
use vodbridge::config::{Config, ProviderName};
use vodbridge::{normalize, run};

mod asyncapi;

// mimalloc instead of the glibc allocator: the request path makes many short-lived allocations
// from several runtime threads at once, where glibc's `malloc`/`free` cost about 12 % of the CPU
// under load (see docs/performance.md, "HTTP ingest").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Re-normalize dead letters and `vod.unmapped` events with the current mapping and publish
    /// the results through the configured sinks; what still fails is dead-lettered again.
    /// Exits 0 when everything read was published or skipped, 1 when anything failed, 130 on
    /// Ctrl-C (after the current batch).
    Redrive {
        #[command(flatten)]
        common: BackfillArgs,
        /// Only dead letters whose reason contains this text (unmapped events are then skipped).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Publish canonical events unchanged through the configured sinks (backfill a new sink,
    /// topic or consumer). Exit codes as for `redrive`.
    Replay {
        #[command(flatten)]
        common: BackfillArgs,
        /// Only events whose CloudEvents `time` is at or after this: RFC 3339, or a duration
        /// meaning that long ago (`7d`, `90m`).
        #[arg(long, value_parser = backfill::parse_time)]
        since: Option<DateTime<Utc>>,
        /// Only events whose `time` is before this (same forms as `--since`).
        #[arg(long, value_parser = backfill::parse_time)]
        until: Option<DateTime<Utc>>,
        /// At most this many events per second.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        rate: Option<u32>,
    },
    /// Print the AsyncAPI 3.0 document of what consumers receive (channels per canonical type on
    /// Kafka and NATS, bindings, payload schema): `docs/asyncapi.yaml` is this output.
    Asyncapi,
    /// Inspect the spool (`[spool]`) without disturbing a bridge running on it.
    Spool {
        /// What to do.
        #[command(subcommand)]
        command: SpoolCommand,
    },
    /// Probe a running bridge's admin endpoint and exit 0 when it answers 2xx (container
    /// `HEALTHCHECK`s, which have no curl in the image).
    Healthcheck {
        /// URL to GET.
        #[arg(long, default_value = "http://127.0.0.1:9464/healthz")]
        url: String,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 3)]
        timeout_secs: u64,
    },
}

/// What `redrive` and `replay` share.
#[derive(Debug, clap::Args)]
struct BackfillArgs {
    /// Configuration file (TOML): its sinks publish, its sources name what is redriven, and a
    /// `kafka://` or `nats://` input uses the connection of its sink of that type.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// What to read: a JSON Lines file as the file sink writes it (with its rotated
    /// `PATH.N` files), `kafka://TOPIC` (from the group's committed offsets, else the earliest)
    /// or `nats://SUBJECT` (the JetStream stream holding it, from the start). The run covers
    /// what the input held when it began.
    #[arg(long, value_parser = backfill::parse_input)]
    input: InputSpec,
    /// Only publish events of these canonical types (comma-separated; `*` and `?` match).
    #[arg(long, value_delimiter = ',')]
    types: Vec<String>,
    /// Print what each record would become (one CloudEvent or error per line) and publish
    /// nothing.
    #[arg(long)]
    dry_run: bool,
    /// Records read and published per batch (Ctrl-C stops after the current one).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    batch_size: u64,
    /// Kafka consumer group of a `kafka://` input, so a second run resumes where one ended
    /// (default `vodbridge-redrive` or `vodbridge-replay`).
    #[arg(long)]
    group: Option<String>,
}

/// Load the configuration and run one `redrive` or `replay`.
fn backfill(common: BackfillArgs, job: Job) -> ExitCode {
    let config = match Config::load(common.config.as_deref()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err:#}");
            return ExitCode::FAILURE;
        }
    };
    let run = backfill::Run {
        job,
        input: common.input,
        types: common.types,
        dry_run: common.dry_run,
        batch_size: usize::try_from(common.batch_size).unwrap_or(500),
        group: common.group,
    };
    match backfill::main(config, run) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Debug, Subcommand)]
enum SpoolCommand {
    /// Print retained events and bytes, and each sink's cursor, lag and oldest unforwarded age.
    Status {
        /// Configuration file (TOML) with a `[spool]` section.
        #[arg(long, short)]
        config: Option<PathBuf>,
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
        Command::Redrive { common, reason } => return backfill(common, Job::Redrive { reason }),
        Command::Replay {
            common,
            since,
            until,
            rate,
        } => return backfill(common, Job::Replay { since, until, rate }),
        Command::Run { config } => Config::load(config.as_deref()).and_then(run::run),
        Command::CheckConfig { config } => Config::load(config.as_deref()).map(|c| {
            eprintln!(
                "configuration is valid: {} source(s), {} sink(s), callbacks on {}, admin on {}{}; {}",
                c.sources.len(),
                c.sinks.len(),
                c.server.listen,
                c.server.admin_listen,
                c.spool.as_ref().map_or_else(String::new, |s| format!(
                    ", spool in {} (max {} bytes)",
                    s.path.display(),
                    s.max_bytes
                )),
                c.dead_letter_summary()
            );
            for warning in c.warnings() {
                eprintln!("warning: {warning}");
            }
        }),
        Command::Normalize {
            provider,
            source,
            input,
        } => normalize::run(provider.into(), source, input),
        Command::Healthcheck { url, timeout_secs } => healthcheck(&url, timeout_secs),
        Command::Asyncapi => asyncapi::run(),
        Command::Spool {
            command: SpoolCommand::Status { config },
        } => Config::load(config.as_deref())
            .and_then(|c| vodbridge::spool_status::report(&c))
            .map(|text| {
                use std::io::Write as _;
                let _ = std::io::stdout().write_all(text.as_bytes());
            }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// GET `url` and succeed on a 2xx answer.
fn healthcheck(url: &str, timeout_secs: u64) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(timeout_secs))
            .build()
            .context("cannot build the HTTP client")?;
        let response = client
            .get(url)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        let status = response.status();
        anyhow::ensure!(status.is_success(), "GET {url} answered {status}");
        Ok(())
    })
}
