//! A real `nats-server -js` for tests.
//!
//! [`NatsServer::start`] runs `nats-server` with JetStream on a free loopback port and a
//! temporary store directory, and returns once the server greets a TCP client with an `INFO`
//! line announcing JetStream. Dropping the handle kills the process and waits for it.
//! [`NatsServer::stop`], [`NatsServer::start_again`] and [`NatsServer::restart`] keep the same port
//! *and* the same store, so clients reconnect by themselves and streams survive (outage tests).
//!
//! Never point tests at a shared server on 4222: every test starts its own.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to greet its first client.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The command that installs the server, named in the failure message when it is missing.
pub const INSTALL_HINT: &str =
    "nats-server is not on PATH: run scripts/test.sh, or `apt-get install -y nats-server` (Debian puts it in /usr/sbin)";

/// A running `nats-server -js` on `127.0.0.1:<port>`.
pub struct NatsServer {
    port: u16,
    binary: PathBuf,
    extra_args: Vec<String>,
    child: Option<Child>,
    /// Holds the JetStream store (`store/`) and one log file per start.
    dir: tempfile::TempDir,
    starts: u32,
}

/// Find `nats-server` on PATH, then in `/usr/sbin` (not on every user's PATH).
fn find_nats_server() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.push(PathBuf::from("/usr/sbin"));
    dirs.push(PathBuf::from("/usr/local/bin"));
    dirs.into_iter()
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    // Bind port 0 to let the kernel pick a free port, then release it for the server.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
    listener.local_addr().expect("local addr").port()
}

impl NatsServer {
    /// Start a JetStream-enabled server on a free loopback port with an empty store.
    ///
    /// Panics with the install command when `nats-server` is not installed, and with the
    /// server's log when it does not become ready.
    pub async fn start() -> Self {
        Self::start_with_args(&[]).await
    }

    /// Like [`NatsServer::start`], with extra command-line arguments (for example
    /// `["--auth", "s3cret"]` to require a token, or `["--user", "u", "--pass", "p"]`).
    pub async fn start_with_args(args: &[&str]) -> Self {
        let binary = find_nats_server().unwrap_or_else(|| panic!("{INSTALL_HINT}"));
        let dir = tempfile::tempdir().expect("temp dir for the nats store and logs");
        let mut server = Self {
            port: free_port(),
            binary,
            extra_args: args.iter().map(|a| (*a).to_owned()).collect(),
            child: None,
            dir,
            starts: 0,
        };
        server.start_again().await;
        server
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The JetStream store directory (kept across restarts).
    pub fn store_dir(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// True while the server process is running.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Start the (stopped) server again on the same port and store, and wait until it greets
    /// clients. Does nothing when it is running.
    pub async fn start_again(&mut self) {
        if self.child.is_some() {
            return;
        }
        self.starts += 1;
        let log_path = self.log_path();
        let log = File::create(&log_path).expect("nats log file");
        let child = Command::new(&self.binary)
            .args(["-js", "-a", "127.0.0.1", "-p"])
            .arg(self.port.to_string())
            .arg("-sd")
            .arg(self.store_dir())
            .arg("-n")
            .arg(format!("vodbridge-test-{}", self.port))
            .args(&self.extra_args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run {}: {e}; {INSTALL_HINT}", self.binary.display())
            });
        self.child = Some(child);
        self.wait_ready().await;
    }

    /// Kill the server (SIGKILL: an abrupt crash, nothing flushed on the way out) and wait for
    /// the process to exit. The port and store stay reserved for [`NatsServer::start_again`].
    pub async fn stop(&mut self) {
        self.kill();
    }

    /// Stop, then start again on the same port with the same store.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.start_again().await;
    }

    /// Every log written so far, all starts concatenated (for assertion messages).
    pub fn log(&self) -> String {
        (1..=self.starts)
            .map(|n| {
                std::fs::read_to_string(self.dir.path().join(format!("nats-{n}.log")))
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("\n--- restart ---\n")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join(format!("nats-{}.log", self.starts))
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    async fn wait_ready(&mut self) {
        let started = Instant::now();
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        loop {
            let probe = tokio::task::spawn_blocking(move || greeting(addr))
                .await
                .expect("probe task");
            match &probe {
                Ok(info) if info.contains("\"jetstream\":true") => return,
                _ if started.elapsed() > READY_TIMEOUT => {
                    let log = self.log();
                    self.kill();
                    panic!("nats-server did not greet on {addr} within {READY_TIMEOUT:?}; last probe: {probe:?}; log:\n{log}");
                }
                _ => {}
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    panic!(
                        "nats-server exited during start-up ({status}); log:\n{}",
                        self.log()
                    );
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Connect and read the server's first line (`INFO {...}`).
fn greeting(addr: SocketAddr) -> std::io::Result<String> {
    let timeout = Duration::from_secs(2);
    let stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    if line.starts_with("INFO ") {
        Ok(line)
    } else {
        Err(std::io::Error::other(format!(
            "unexpected greeting {line:?}"
        )))
    }
}
