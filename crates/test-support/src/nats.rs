//! A real `nats-server -js` for tests.
//!
//! [`NatsServer::start`] runs `nats-server` with JetStream on a free loopback port and a
//! temporary store directory, and returns once the server greets a TCP client with an `INFO`
//! line announcing JetStream. Dropping the handle kills the process and waits for it.
//! [`NatsServer::stop`], [`NatsServer::start_again`] and [`NatsServer::restart`] keep the same port
//! *and* the same store, so clients reconnect by themselves and streams survive (outage tests).
//!
//! Never point tests at a shared server on 4222: every test starts its own.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use crate::process::{find_binary, Supervised};

/// The command that installs the server, named in the failure message when it is missing.
pub const INSTALL_HINT: &str =
    "nats-server is not on PATH: run scripts/test.sh, or `apt-get install -y nats-server` (Debian puts it in /usr/sbin)";

/// A running `nats-server -js` on `127.0.0.1:<port>`.
pub struct NatsServer {
    /// The process; its directory also holds the JetStream store (`store/`).
    process: Supervised,
    extra_args: Vec<String>,
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
        // Debian installs it in /usr/sbin, which is not on every user's PATH.
        let extra = [PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/bin")];
        let binary = find_binary("nats-server", &extra).unwrap_or_else(|| panic!("{INSTALL_HINT}"));
        let mut server = Self {
            process: Supervised::new("nats", binary, INSTALL_HINT),
            extra_args: args.iter().map(|a| (*a).to_owned()).collect(),
        };
        server.start_again().await;
        server
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port())
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.process.port()
    }

    /// The JetStream store directory (kept across restarts).
    pub fn store_dir(&self) -> PathBuf {
        self.process.dir().join("store")
    }

    /// True while the server process is running.
    pub fn is_running(&self) -> bool {
        self.process.is_running()
    }

    /// Start the (stopped) server again on the same port and store, and wait until it greets
    /// clients. Does nothing when it is running.
    pub async fn start_again(&mut self) {
        if self.process.is_running() {
            return;
        }
        let port = self.port().to_string();
        let mut args: Vec<OsString> = ["-js", "-a", "127.0.0.1", "-p", &port, "-sd"]
            .map(OsString::from)
            .into();
        args.push(self.store_dir().into());
        args.push("-n".into());
        args.push(format!("vodbridge-test-{port}").into());
        args.extend(self.extra_args.iter().map(OsString::from));
        self.process.spawn(args);
        self.process
            .wait_ready(
                greeting,
                |info| info.contains("\"jetstream\":true"),
                Duration::from_millis(25),
            )
            .await;
    }

    /// Kill the server (SIGKILL: an abrupt crash, nothing flushed on the way out) and wait for
    /// the process to exit. The port and store stay reserved for [`NatsServer::start_again`].
    pub async fn stop(&mut self) {
        self.process.kill();
    }

    /// Stop, then start again on the same port with the same store.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.start_again().await;
    }

    /// Every log written so far, all starts concatenated (for assertion messages).
    pub fn log(&self) -> String {
        self.process.log()
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
