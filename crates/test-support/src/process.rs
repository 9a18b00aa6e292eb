//! Supervision shared by the broker launchers ([`crate::kafka`], [`crate::nats`]): one child
//! process on a fixed loopback port, its output in one log file per start, killed (and waited
//! for) on stop and on drop, and a readiness wait that polls a protocol-level probe.

use std::ffi::OsStr;
use std::fmt::Debug;
use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a broker may take to answer its first probe.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Find `name` on PATH, then in `extra_dirs` (e.g. `/usr/sbin`, `~/.cargo/bin`).
pub(crate) fn find_binary(name: &str, extra_dirs: &[PathBuf]) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend_from_slice(extra_dirs);
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

fn free_port() -> u16 {
    // Bind port 0 to let the kernel pick a free port, then release it for the broker.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
    listener.local_addr().expect("local addr").port()
}

/// A supervised broker process on `127.0.0.1:<port>`, restartable on the same port.
pub(crate) struct Supervised {
    name: &'static str,
    install_hint: &'static str,
    binary: PathBuf,
    port: u16,
    child: Option<Child>,
    /// Holds one log file per start (and whatever the broker keeps there, e.g. a store).
    dir: tempfile::TempDir,
    starts: u32,
}

impl Supervised {
    /// Reserve a free port and a temporary directory for `binary`; nothing runs yet.
    pub(crate) fn new(name: &'static str, binary: PathBuf, install_hint: &'static str) -> Self {
        Self {
            name,
            install_hint,
            binary,
            port: free_port(),
            child: None,
            dir: tempfile::tempdir().expect("temp dir for broker data and logs"),
            starts: 0,
        }
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Start the binary with `args`, output to a fresh log file. Does nothing when running.
    pub(crate) fn spawn<I, S>(&mut self, args: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        if self.child.is_some() {
            return;
        }
        self.starts += 1;
        let log = File::create(self.log_path(self.starts)).expect("broker log file");
        let child = Command::new(&self.binary)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {}: {e}; {}",
                    self.binary.display(),
                    self.install_hint
                )
            });
        self.child = Some(child);
    }

    /// Every log written so far, all starts concatenated (for assertion messages).
    pub(crate) fn log(&self) -> String {
        (1..=self.starts)
            .map(|n| std::fs::read_to_string(self.log_path(n)).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n--- restart ---\n")
    }

    fn log_path(&self, start: u32) -> PathBuf {
        self.dir.path().join(format!("{}-{start}.log", self.name))
    }

    /// Kill the process (SIGKILL) and wait for it to exit; the port stays reserved.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Poll `probe` every `interval` until `ready` accepts its answer. Panics with the log when
    /// the process exits first or [`READY_TIMEOUT`] passes.
    pub(crate) async fn wait_ready<T: Debug + Send + 'static>(
        &mut self,
        probe: fn(SocketAddr) -> std::io::Result<T>,
        ready: fn(&T) -> bool,
        interval: Duration,
    ) {
        let started = Instant::now();
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        loop {
            let answer = tokio::task::spawn_blocking(move || probe(addr))
                .await
                .expect("probe task");
            match &answer {
                Ok(value) if ready(value) => return,
                _ if started.elapsed() > READY_TIMEOUT => {
                    let log = self.log();
                    self.kill();
                    panic!(
                        "{} not ready on {addr} within {READY_TIMEOUT:?}; last probe: {answer:?}; log:\n{log}",
                        self.name
                    );
                }
                _ => {}
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    panic!(
                        "{} exited during start-up ({status}); log:\n{}",
                        self.name,
                        self.log()
                    );
                }
            }
            tokio::time::sleep(interval).await;
        }
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        self.kill();
    }
}
