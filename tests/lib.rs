//! Shared helpers for the end-to-end tests in `e2e/` (fixtures live in `fixtures/`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

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
    /// Where its stdout and stderr go.
    pub log: PathBuf,
}

impl Bridge {
    /// Write `config` to `dir/vodbridge.toml`, start the binary on it and wait (up to 30 s) until
    /// `GET http://127.0.0.1:{admin}/readyz` answers 2xx. Panics with the log if it exits first.
    pub async fn start(dir: &Path, config: &str, admin: u16) -> Bridge {
        let path = dir.join("vodbridge.toml");
        std::fs::write(&path, config).expect("write config");
        let log = dir.join("vodbridge.log");
        let out = std::fs::File::create(&log).expect("log file");
        let child = Command::new(vodbridge_binary())
            .arg("run")
            .arg("--config")
            .arg(&path)
            .stdin(std::process::Stdio::null())
            .stdout(out.try_clone().expect("clone log handle"))
            .stderr(out)
            .spawn()
            .expect("start vodbridge");
        let mut bridge = Bridge { child, log };
        let client = reqwest::Client::new();
        let started = std::time::Instant::now();
        loop {
            let ready = client
                .get(format!("http://127.0.0.1:{admin}/readyz"))
                .send()
                .await;
            if matches!(&ready, Ok(r) if r.status().is_success()) {
                return bridge;
            }
            if let Ok(Some(status)) = bridge.child.try_wait() {
                panic!("vodbridge exited ({status}); log:\n{}", bridge.log());
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(30),
                "vodbridge not ready; log:\n{}",
                bridge.log()
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Everything the process has written so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
