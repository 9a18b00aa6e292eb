//! A real Kafka-protocol broker (`tansu`) for tests.
//!
//! [`KafkaBroker::start`] runs `tansu broker` on a free loopback port with in-memory storage
//! (`memory://`), and returns once the broker answers a Kafka `Metadata` request listing itself.
//! Dropping the handle kills the process and waits for it. [`KafkaBroker::stop`],
//! [`KafkaBroker::start_again`] and [`KafkaBroker::restart`] keep the same port, so clients
//! configured with [`KafkaBroker::bootstrap`] reconnect by themselves (outage tests).
//!
//! In-memory storage is lost when the broker stops: tests that restart the broker must only
//! check what was written after the restart (or re-produce what was not acknowledged).
//!
//! The readiness probe speaks the Kafka wire protocol directly (a `Metadata` v4 request over
//! TCP) so this crate does not need librdkafka.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a broker may take to answer its first metadata request.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The command that installs the broker, named in the failure message when it is missing.
pub const INSTALL_HINT: &str =
    "tansu (Kafka-protocol broker) is not on PATH: run scripts/test.sh, or `cargo install tansu --locked --features dynostore` and put ~/.cargo/bin on PATH";

/// A running `tansu` broker on `127.0.0.1:<port>`.
pub struct KafkaBroker {
    port: u16,
    binary: PathBuf,
    child: Option<Child>,
    dir: tempfile::TempDir,
    starts: u32,
}

/// Find `tansu` on PATH, then in `~/.cargo/bin` (where `cargo install` puts it).
fn find_tansu() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    dirs.into_iter()
        .map(|d| d.join("tansu"))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    // Bind port 0 to let the kernel pick a free port, then release it for tansu.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
    listener.local_addr().expect("local addr").port()
}

impl KafkaBroker {
    /// Start a broker on a free loopback port and wait until it answers metadata.
    ///
    /// Panics with the install command when `tansu` is not installed, and with the broker's log
    /// when it does not become ready.
    pub async fn start() -> Self {
        let binary = find_tansu().unwrap_or_else(|| panic!("{INSTALL_HINT}"));
        let dir = tempfile::tempdir().expect("temp dir for broker logs");
        let mut broker = Self {
            port: free_port(),
            binary,
            child: None,
            dir,
            starts: 0,
        };
        broker.start_again().await;
        broker
    }

    /// `host:port` for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The broker's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// True while the broker process is running.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Start the (stopped) broker again on the same port, with empty storage, and wait until it
    /// answers metadata. Does nothing when it is running.
    pub async fn start_again(&mut self) {
        if self.child.is_some() {
            return;
        }
        self.starts += 1;
        let log_path = self.log_path();
        let log = File::create(&log_path).expect("broker log file");
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let child = Command::new(&self.binary)
            .arg("broker")
            .arg("--listener-url")
            .arg(&url)
            .arg("--advertised-listener-url")
            .arg(&url)
            .arg("--storage-engine")
            .arg("memory://tansu/")
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

    /// Kill the broker and wait for the process to exit. The port stays reserved for
    /// [`KafkaBroker::start_again`].
    pub async fn stop(&mut self) {
        self.kill();
    }

    /// Stop, then start again on the same port (storage starts empty).
    pub async fn restart(&mut self) {
        self.stop().await;
        self.start_again().await;
    }

    /// The current broker log (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join(format!("tansu-{}.log", self.starts))
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
            let probe = tokio::task::spawn_blocking(move || metadata_brokers(addr))
                .await
                .expect("probe task");
            match probe {
                Ok(brokers) if brokers > 0 => return,
                _ if started.elapsed() > READY_TIMEOUT => {
                    let log = self.log();
                    self.kill();
                    panic!("tansu did not answer metadata on {addr} within {READY_TIMEOUT:?}; last probe: {probe:?}; log:\n{log}");
                }
                _ => {}
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    panic!(
                        "tansu exited during start-up ({status}); log:\n{}",
                        self.log()
                    );
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for KafkaBroker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Send a Kafka `Metadata` v4 request for no topics and return how many brokers the answer lists.
fn metadata_brokers(addr: SocketAddr) -> std::io::Result<i32> {
    const CORRELATION_ID: i32 = 0x5eed;
    let timeout = Duration::from_secs(2);
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let client_id = b"vodbridge-test";
    let mut request = Vec::new();
    request.extend_from_slice(&3i16.to_be_bytes()); // api key: Metadata
    request.extend_from_slice(&4i16.to_be_bytes()); // api version 4 (non-flexible)
    request.extend_from_slice(&CORRELATION_ID.to_be_bytes());
    request.extend_from_slice(&(client_id.len() as i16).to_be_bytes());
    request.extend_from_slice(client_id);
    request.extend_from_slice(&0i32.to_be_bytes()); // topics: empty array (brokers only)
    request.push(0); // allow_auto_topic_creation: false
    stream.write_all(&(request.len() as i32).to_be_bytes())?;
    stream.write_all(&request)?;
    let mut size = [0u8; 4];
    stream.read_exact(&mut size)?;
    let size = i32::from_be_bytes(size);
    if !(12..1 << 20).contains(&size) {
        return Err(std::io::Error::other(format!(
            "bad metadata response size {size}"
        )));
    }
    let mut response = vec![0u8; size as usize];
    stream.read_exact(&mut response)?;
    let field = |at: usize| {
        i32::from_be_bytes([
            response[at],
            response[at + 1],
            response[at + 2],
            response[at + 3],
        ])
    };
    // Response v4: correlation id, throttle_time_ms, then the brokers array length.
    if field(0) != CORRELATION_ID {
        return Err(std::io::Error::other(
            "metadata response with a foreign correlation id",
        ));
    }
    Ok(field(8))
}
