//! Command-line arguments and their checks.

use std::net::{IpAddr, ToSocketAddrs as _};
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::mix::ClassWeights;

/// Longest warm-up plus measured load accepted: every run stops by itself.
pub(crate) const MAX_RUN: Duration = Duration::from_secs(24 * 3600);

/// Load generator and soak driver for vodbridge: replays the Tencent and Volcengine fixtures
/// with a fresh media id per request, at a fixed rate (open loop) or as fast as a fixed number
/// of connections allow (closed loop), and reports throughput, latency percentiles, errors by
/// class and the bridge's RSS.
#[derive(Debug, Parser)]
#[command(name = "vodbridge-loadgen", version, about)]
pub(crate) struct Args {
    /// The bridge's callback listener, HOST:PORT.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) target: String,
    /// Allow a target that is not a loopback address (default: loopback only, so a typo cannot
    /// aim load at another machine).
    #[arg(long)]
    pub(crate) allow_non_loopback: bool,
    /// Fixture directory with `tencent/` and `volcengine/` subdirectories.
    #[arg(long, default_value = "tests/fixtures")]
    pub(crate) fixtures: PathBuf,
    /// Source name of the Tencent route: POST /v1/callbacks/<NAME>.
    #[arg(long, default_value = "tencent")]
    pub(crate) tencent_source: String,
    /// Source name of the Volcengine route: POST /v1/callbacks/<NAME>.
    #[arg(long, default_value = "volcengine")]
    pub(crate) volcengine_source: String,

    /// Fixed rate in requests per second (open loop, latency from the due time). Without it the
    /// run is closed loop with --concurrency.
    #[arg(long, conflicts_with = "concurrency")]
    pub(crate) rate: Option<f64>,
    /// Closed loop: this many senders back to back (the maximum rate at this concurrency).
    #[arg(long)]
    pub(crate) concurrency: Option<usize>,
    /// Fixed rate: most requests (and connections) outstanding at once; past it, requests wait
    /// for a free slot and the wait counts in their latency.
    #[arg(long, default_value_t = 512)]
    pub(crate) max_in_flight: usize,
    /// Measured load, e.g. 60s, 5m, 1h.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub(crate) duration: Duration,
    /// Load before measuring (sent and verified, not in the figures).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub(crate) warmup: Duration,
    /// Interval between report lines.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub(crate) report_every: Duration,
    /// Whole-request timeout (answers later than this count as timeouts).
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    pub(crate) timeout: Duration,
    /// Runtime worker threads of the generator.
    #[arg(long, default_value_t = 1)]
    pub(crate) threads: usize,

    /// Class weights within each vendor: upload, transcode, delete, other.
    #[arg(long, default_value = "upload=40,transcode=30,delete=10,other=20")]
    pub(crate) mix: ClassWeights,
    /// Percent of requests for Tencent; the rest go to Volcengine.
    #[arg(long, default_value_t = 50.0)]
    pub(crate) tencent_share: f64,
    /// Percent of requests with a body the normalizer rejects (expected answer: 400).
    #[arg(long, default_value_t = 0.0)]
    pub(crate) bad_share: f64,
    /// Seed of the mix order.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Run tag (0-9999) in every fresh media id; default from the clock, so two runs into the
    /// same sink or stream do not repeat ids.
    #[arg(long, value_parser = clap::value_parser!(u16).range(0..10_000))]
    pub(crate) run_tag: Option<u16>,

    /// Pid of the bridge: its RSS is read from /proc/<PID>/status every interval.
    #[arg(long)]
    pub(crate) pid: Option<u32>,
    /// Without --pid: a /metrics URL to read process_resident_memory_bytes from.
    #[arg(long)]
    pub(crate) metrics_url: Option<String>,
    /// Write the run (settings, interval series, summary, verification) as JSON here.
    #[arg(long)]
    pub(crate) json: Option<PathBuf>,
    /// After the run, check that every acknowledged event's id is in this JSON Lines sink file
    /// (rotated siblings PATH.1, PATH.2, … are read too). Fails the run when one is missing.
    #[arg(long)]
    pub(crate) verify_events: Option<PathBuf>,
    /// After the run, check that this dead-letter file has at least one line per bad body
    /// refused with 400.
    #[arg(long)]
    pub(crate) verify_deadletters: Option<PathBuf>,
    /// Exit non-zero when any request ended in error or fixed-rate requests were left unsent.
    #[arg(long)]
    pub(crate) fail_on_error: bool,
    /// Print the templates and the mix, then exit without sending anything.
    #[arg(long)]
    pub(crate) list: bool,
}

/// `500ms`, `10s`, `5m`, `1h`, or plain seconds (`90`, `0.5`).
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{s}`: expected a number and a unit (ms, s, m, h)"))?;
    let secs = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => return Err(format!("`{s}`: unknown unit `{other}` (ms, s, m, h)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("`{s}`: {e}"))
}

/// Whether `target` (HOST:PORT) resolves to loopback addresses only.
pub(crate) fn is_loopback_target(target: &str) -> Result<bool, String> {
    let addrs: Vec<IpAddr> = target
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve target `{target}`: {e}"))?
        .map(|a| a.ip())
        .collect();
    Ok(!addrs.is_empty() && addrs.iter().all(IpAddr::is_loopback))
}

impl Args {
    /// Checks clap cannot express.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.warmup + self.duration > MAX_RUN {
            return Err("warm-up plus duration may not exceed 24 h".into());
        }
        if self.duration.is_zero() || self.report_every.is_zero() || self.timeout.is_zero() {
            return Err("--duration, --report-every and --timeout must be positive".into());
        }
        if let Some(rate) = self.rate {
            if !(rate > 0.0 && rate <= 1_000_000.0) {
                return Err("--rate must be between 0 and 1 000 000 requests per second".into());
            }
        }
        if self.concurrency == Some(0) || self.max_in_flight == 0 || self.threads == 0 {
            return Err("--concurrency, --max-in-flight and --threads must be at least 1".into());
        }
        if !self.allow_non_loopback && !is_loopback_target(&self.target)? {
            return Err(format!(
                "target `{}` is not a loopback address; pass --allow-non-loopback to load it",
                self.target
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn only_loopback_targets_by_default() {
        assert_eq!(is_loopback_target("127.0.0.1:8080"), Ok(true));
        assert_eq!(is_loopback_target("[::1]:8080"), Ok(true));
        assert_eq!(is_loopback_target("192.0.2.1:8080"), Ok(false));
        assert!(is_loopback_target("no-port").is_err());
        let args = Args::parse_from(["loadgen", "--target", "192.0.2.1:80", "--rate", "10"]);
        assert!(args.validate().is_err());
        let args = Args::parse_from(["loadgen", "--rate", "10", "--duration", "25h"]);
        assert!(args.validate().is_err());
        let args = Args::parse_from(["loadgen", "--rate", "10"]);
        assert_eq!(args.validate(), Ok(()));
        assert!(Args::try_parse_from(["loadgen", "--rate", "1", "--concurrency", "2"]).is_err());
    }
}
