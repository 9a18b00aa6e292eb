//! Shared helpers for the end-to-end tests in `e2e/` and the fault tests in `fault/` (fixtures
//! live in `fixtures/`): the binary, free ports, the fixture list, a [`Bridge`] process handle,
//! and for the fault tests a [`ledger::Ledger`] of what was sent, acknowledged and delivered,
//! a retrying callback [`sender::Sender`], a JetStream read-back ([`nats::read_stream`]) and a
//! Kafka one ([`kafka_read::read_topic`]).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub mod kafka_read;
#[path = "fault/support/ledger.rs"]
pub mod ledger;
#[path = "fault/support/nats.rs"]
pub mod nats;
#[path = "fault/support/sender.rs"]
pub mod sender;

/// The `vodbridge` binary beside this test's executable (`target/<profile>/vodbridge`), built
/// first when the test runs on its own (`cargo test -p vodbridge-tests`): a dependency's binary
/// is not built for a dependent package's tests.
pub fn vodbridge_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("current exe");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target/<profile>");
        let bin = profile_dir.join(format!("vodbridge{}", std::env::consts::EXE_SUFFIX));
        if let (Ok(cargo), Some(target)) = (std::env::var("CARGO"), profile_dir.parent()) {
            let mut build = Command::new(cargo);
            build
                .args([
                    "build",
                    "-q",
                    "-p",
                    "vodbridge",
                    "--bin",
                    "vodbridge",
                    "--target-dir",
                ])
                .arg(target);
            if profile_dir.file_name().is_some_and(|n| n == "release") {
                build.arg("--release");
            }
            let status = build.status().expect("run cargo build");
            assert!(status.success(), "cargo build -p vodbridge failed");
        }
        assert!(
            bin.is_file(),
            "{} missing: build it with `cargo build -p vodbridge`",
            bin.display()
        );
        bin
    })
    .clone()
}

/// A bridge configuration for the end-to-end tests: the callback listener on `listen`, the admin
/// endpoints on `admin`, one unauthenticated callback source per vendor (`tencent`,
/// `volcengine`), then `tables` (the sinks, dead letters and anything else the test needs).
pub fn callback_config(listen: u16, admin: u16, tables: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:{listen}"
admin_listen = "127.0.0.1:{admin}"

[[sources]]
name = "tencent"
provider = "tencent"

[[sources]]
name = "volcengine"
provider = "volcengine"
{tables}"#
    )
}

/// The `[[sinks]]` and `[dead_letter]` tables of a bridge configuration with one structured
/// JetStream sink `nats` on `nats_url`: events on their canonical type as subject, the `VOD`
/// stream on `vod.>` and `deadletter.>`, dead letters on `deadletter.vod`.
pub fn nats_sink_toml(nats_url: &str) -> String {
    format!(
        r#"
[[sinks]]
name = "nats"
type = "nats"
url = "{nats_url}"
subject = "{{type}}"
jetstream = true
mode = "structured"
connect_timeout = "2s"

[sinks.stream]
name = "VOD"
subjects = ["vod.>", "deadletter.>"]
max_age = "1h"

[dead_letter]
sink = "nats"
destination = "deadletter.vod"
"#
    )
}

/// A free TCP port on the loopback interface.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free loopback port")
}

/// `(provider, payload path)` of every fixture input (not the `*.expected.json` outputs), sorted.
pub fn fixtures() -> Vec<(&'static str, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut out = Vec::new();
    for provider in ["tencent", "volcengine"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(provider))
            .expect("fixture dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                name.ends_with(".json") && !name.ends_with(".expected.json")
            })
            .collect();
        files.sort();
        out.extend(files.into_iter().map(|p| (provider, p)));
    }
    out
}

/// A running `vodbridge run --config …` process, its output in a log file; killed on drop.
pub struct Bridge {
    /// The process.
    pub child: std::process::Child,
    /// Where its stdout and stderr go (every start appends to it).
    pub log: PathBuf,
    config: PathBuf,
    admin: u16,
}

impl Bridge {
    /// Write `config` to `dir/vodbridge.toml`, start the binary on it and wait (up to 30 s) until
    /// `GET http://127.0.0.1:{admin}/readyz` answers 2xx. Panics with the log if it exits first.
    pub async fn start(dir: &Path, config: &str, admin: u16) -> Bridge {
        let mut bridge = Bridge::spawn(dir, config, admin);
        bridge.wait_ready(Duration::from_secs(30)).await;
        bridge
    }

    /// Write `config` to `dir/vodbridge.toml` and start the binary on it without waiting for
    /// readiness (a bridge that is expected to start degraded).
    pub fn spawn(dir: &Path, config: &str, admin: u16) -> Bridge {
        let path = dir.join("vodbridge.toml");
        std::fs::write(&path, config).expect("write config");
        let log = dir.join("vodbridge.log");
        std::fs::File::create(&log).expect("log file");
        let child = spawn_bridge(&path, &log);
        Bridge {
            child,
            log,
            config: path,
            admin,
        }
    }

    /// Wait until `/readyz` answers 2xx. Panics with the log when the process exits first or
    /// `timeout` passes.
    pub async fn wait_ready(&mut self, timeout: Duration) {
        let started = Instant::now();
        loop {
            if matches!(self.readyz().await, Some((status, _)) if (200..300).contains(&status)) {
                return;
            }
            self.assert_running();
            assert!(
                started.elapsed() < timeout,
                "vodbridge not ready within {timeout:?}; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Panic with the log when the process has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("vodbridge exited ({status}); log:\n{}", self.log());
        }
    }

    /// `GET /readyz`: status and body, `None` while the admin listener does not answer.
    pub async fn readyz(&self) -> Option<(u16, String)> {
        self.admin_get("/readyz").await
    }

    /// `GET /metrics` (empty when the admin listener does not answer).
    pub async fn metrics(&self) -> String {
        self.admin_get("/metrics")
            .await
            .map(|(_, body)| body)
            .unwrap_or_default()
    }

    async fn admin_get(&self, path: &str) -> Option<(u16, String)> {
        static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
        let client = CLIENT.get_or_init(|| {
            reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .expect("http client")
        });
        let response = client
            .get(format!("http://127.0.0.1:{}{path}", self.admin))
            .send()
            .await
            .ok()?;
        let status = response.status().as_u16();
        Some((status, response.text().await.ok()?))
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory of the process in KiB (`VmRSS` in `/proc/<pid>/status`; Linux only).
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// SIGKILL the process (a crash: nothing flushed, no graceful shutdown) and reap it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Start the binary again on the same configuration (same ports), appending to the same log,
    /// and wait until ready.
    pub async fn restart(&mut self, timeout: Duration) {
        self.kill();
        self.child = spawn_bridge(&self.config, &self.log);
        self.wait_ready(timeout).await;
    }

    /// Everything the process has written so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Start `vodbridge run --config <config>`, stdout and stderr appended to `log`.
fn spawn_bridge(config: &Path, log: &Path) -> std::process::Child {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    Command::new(vodbridge_binary())
        .arg("run")
        .arg("--config")
        .arg(config)
        .stdin(std::process::Stdio::null())
        .stdout(out.try_clone().expect("clone log handle"))
        .stderr(out)
        .spawn()
        .expect("start vodbridge")
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Every line of a JSON Lines file (a file sink's output), parsed; empty when the file is absent.
pub fn read_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// What a one-shot `vodbridge` command (`redrive`, `replay`, `normalize`, …) did.
pub struct CommandOutput {
    /// Its exit code (`None` when a signal ended it).
    pub code: Option<i32>,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error (the summary and the log lines).
    pub stderr: String,
}

/// Run `vodbridge ARGS…` to its end.
pub fn run_vodbridge<I, S>(args: I) -> CommandOutput
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = Command::new(vodbridge_binary())
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run vodbridge");
    CommandOutput {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
