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

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use crate::process::{find_binary, Supervised};

/// The command that installs the broker, named in the failure message when it is missing.
pub const INSTALL_HINT: &str =
    "tansu (Kafka-protocol broker) is not on PATH: run scripts/test.sh, or `cargo install tansu --locked --features dynostore` and put ~/.cargo/bin on PATH";

/// A running `tansu` broker on `127.0.0.1:<port>`.
pub struct KafkaBroker {
    process: Supervised,
}

impl KafkaBroker {
    /// Start a broker on a free loopback port and wait until it answers metadata.
    ///
    /// Panics with the install command when `tansu` is not installed, and with the broker's log
    /// when it does not become ready.
    pub async fn start() -> Self {
        // `cargo install` puts it in ~/.cargo/bin, which is not on every PATH.
        let cargo_bin: Vec<PathBuf> = std::env::var_os("HOME")
            .map(|home| PathBuf::from(home).join(".cargo/bin"))
            .into_iter()
            .collect();
        let binary = find_binary("tansu", &cargo_bin).unwrap_or_else(|| panic!("{INSTALL_HINT}"));
        let mut broker = Self {
            process: Supervised::new("tansu", binary, INSTALL_HINT),
        };
        broker.start_again().await;
        broker
    }

    /// `host:port` for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port())
    }

    /// The broker's port.
    pub fn port(&self) -> u16 {
        self.process.port()
    }

    /// True while the broker process is running.
    pub fn is_running(&self) -> bool {
        self.process.is_running()
    }

    /// Start the (stopped) broker again on the same port, with empty storage, and wait until it
    /// answers metadata. Does nothing when it is running.
    pub async fn start_again(&mut self) {
        if self.process.is_running() {
            return;
        }
        let url = format!("tcp://127.0.0.1:{}", self.port());
        self.process.spawn([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
            "--storage-engine",
            "memory://tansu/",
        ]);
        self.process
            .wait_ready(
                metadata_brokers,
                |brokers| *brokers > 0,
                Duration::from_millis(50),
            )
            .await;
    }

    /// Kill the broker and wait for the process to exit. The port stays reserved for
    /// [`KafkaBroker::start_again`].
    pub async fn stop(&mut self) {
        self.process.kill();
    }

    /// Stop, then start again on the same port (storage starts empty).
    pub async fn restart(&mut self) {
        self.stop().await;
        self.start_again().await;
    }

    /// The broker's log, every start concatenated (for assertion messages).
    pub fn log(&self) -> String {
        self.process.log()
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
