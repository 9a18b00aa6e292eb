//! A TCP proxy for fault tests: put it between a client and a broker, then make the network
//! misbehave on demand.
//!
//! [`TcpProxy::start`] listens on a free loopback port and forwards every accepted connection to
//! the upstream address, both directions. While it is [stalled](TcpProxy::stall) it accepts new
//! connections but moves no byte in either direction (a broker that hangs without closing: the
//! kernel buffers fill and the client's writes block, exactly like a slow or wedged broker);
//! [`TcpProxy::resume`] lets everything that waited through. [`TcpProxy::cut`] resets every
//! open connection (RST, as a crashed peer or a dropped NAT entry would) while new connections
//! are still accepted. Dropping the proxy stops the listener and closes every connection.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// What the proxy has done so far, for assertions and test output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Client connections accepted.
    pub accepted: u64,
    /// Bytes forwarded client → upstream.
    pub bytes_up: u64,
    /// Bytes forwarded upstream → client.
    pub bytes_down: u64,
    /// Connections reset by [`TcpProxy::cut`].
    pub cut: u64,
}

#[derive(Default)]
struct Counters {
    accepted: AtomicU64,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
    cut: AtomicU64,
}

/// A running proxy on `127.0.0.1:<port>`; stopped on drop.
pub struct TcpProxy {
    addr: SocketAddr,
    stalled: watch::Sender<bool>,
    /// Incremented by [`TcpProxy::cut`]; every connection task watches it.
    generation: watch::Sender<u64>,
    counters: Arc<Counters>,
    task: tokio::task::JoinHandle<()>,
}

impl TcpProxy {
    /// Listen on a free loopback port and forward to `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stalled, _) = watch::channel(false);
        let (generation, _) = watch::channel(0u64);
        let counters = Arc::new(Counters::default());
        let task = tokio::spawn(accept_loop(
            listener,
            upstream,
            stalled.subscribe(),
            generation.subscribe(),
            Arc::clone(&counters),
        ));
        Ok(Self {
            addr,
            stalled,
            generation,
            counters,
            task,
        })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Stop moving bytes (both directions, every connection, new ones too) until
    /// [`TcpProxy::resume`]. Connections stay open.
    pub fn stall(&self) {
        self.stalled.send_replace(true);
    }

    /// Forward again; whatever waited during the stall goes through.
    pub fn resume(&self) {
        self.stalled.send_replace(false);
    }

    /// True while stalled.
    pub fn is_stalled(&self) -> bool {
        *self.stalled.borrow()
    }

    /// Reset every open connection (RST to the client, close upstream). The listener keeps
    /// accepting, so clients can reconnect at once.
    pub fn cut(&self) {
        self.generation.send_modify(|g| *g += 1);
    }

    /// Counters so far.
    pub fn stats(&self) -> ProxyStats {
        let c = &self.counters;
        ProxyStats {
            accepted: c.accepted.load(Ordering::Relaxed),
            bytes_up: c.bytes_up.load(Ordering::Relaxed),
            bytes_down: c.bytes_down.load(Ordering::Relaxed),
            cut: c.cut.load(Ordering::Relaxed),
        }
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every connection task.
        self.task.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    stalled: watch::Receiver<bool>,
    generation: watch::Receiver<u64>,
    counters: Arc<Counters>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((client, _)) = accepted else {
                    // Out of descriptors or similar: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                counters.accepted.fetch_add(1, Ordering::Relaxed);
                connections.spawn(serve(
                    client,
                    upstream,
                    stalled.clone(),
                    generation.clone(),
                    Arc::clone(&counters),
                ));
            }
            // Reap finished connection tasks so the set does not grow without bound.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// One client connection: connect upstream (after any stall, like a broker that does not answer
/// the handshake), then pump both directions until either side closes or a cut.
async fn serve(
    client: TcpStream,
    upstream: SocketAddr,
    mut stalled: watch::Receiver<bool>,
    mut generation: watch::Receiver<u64>,
    counters: Arc<Counters>,
) {
    let born = *generation.borrow_and_update();
    let connect = async {
        wait_unstalled(&mut stalled).await;
        TcpStream::connect(upstream).await
    };
    let server = tokio::select! {
        server = connect => server,
        () = cut_after(&mut generation, born) => Err(std::io::ErrorKind::ConnectionReset.into()),
    };
    let Ok(server) = server else {
        reset(client);
        return;
    };
    let (mut client, mut server) = (client, server);
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let was_cut = {
        // Borrowed halves: the streams stay here, so a cut can still set linger on them.
        let (client_read, client_write) = client.split();
        let (server_read, server_write) = server.split();
        let up = pump(
            client_read,
            server_write,
            stalled.clone(),
            &counters.bytes_up,
        );
        let down = pump(server_read, client_write, stalled, &counters.bytes_down);
        tokio::select! {
            // A half-close is forwarded by `pump`; the connection ends when both directions did.
            _ = async { tokio::join!(up, down) } => false,
            () = cut_after(&mut generation, born) => true,
        }
    };
    if was_cut {
        counters.cut.fetch_add(1, Ordering::Relaxed);
        reset(client);
        reset(server);
    }
}

/// Resolves when the generation moves past `born` (a [`TcpProxy::cut`]) or the proxy is gone.
async fn cut_after(generation: &mut watch::Receiver<u64>, born: u64) {
    let _ = generation.wait_for(|g| *g != born).await;
}

async fn wait_unstalled(stalled: &mut watch::Receiver<bool>) {
    // An error means the proxy is gone; the task is about to be aborted anyway.
    let _ = stalled.wait_for(|s| !*s).await;
}

/// Close `stream` with a reset instead of a FIN.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}

/// Copy `from` → `to` until EOF or an error, never reading nor writing while stalled; then
/// forward the half-close.
async fn pump(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    mut stalled: watch::Receiver<bool>,
    bytes: &AtomicU64,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        wait_unstalled(&mut stalled).await;
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        // Bytes read just before a stall began are held back too.
        wait_unstalled(&mut stalled).await;
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
        bytes.fetch_add(n as u64, Ordering::Relaxed);
    }
    let _ = to.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An upstream that echoes every byte back.
    async fn echo() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = stream.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        addr
    }

    async fn roundtrip(stream: &mut TcpStream, byte: u8, wait: Duration) -> Option<u8> {
        stream.write_all(&[byte]).await.ok()?;
        let mut buf = [0u8; 1];
        match tokio::time::timeout(wait, stream.read_exact(&mut buf)).await {
            Ok(Ok(_)) => Some(buf[0]),
            _ => None,
        }
    }

    #[tokio::test]
    async fn forwards_stalls_resumes_and_cuts() {
        let proxy = TcpProxy::start(echo().await).await.expect("proxy");
        let mut client = TcpStream::connect(proxy.addr()).await.expect("connect");
        let long = Duration::from_secs(5);
        assert_eq!(roundtrip(&mut client, 1, long).await, Some(1));

        proxy.stall();
        assert_eq!(
            roundtrip(&mut client, 2, Duration::from_millis(300)).await,
            None,
            "nothing comes back while stalled"
        );
        proxy.resume();
        let mut buf = [0u8; 1];
        tokio::time::timeout(long, client.read_exact(&mut buf))
            .await
            .expect("held byte arrives after resume")
            .expect("read");
        assert_eq!(buf[0], 2);

        proxy.cut();
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(long, client.read_to_end(&mut rest))
            .await
            .expect("cut closes the connection");
        assert!(
            closed.is_err() || rest.is_empty(),
            "a cut connection ends: {closed:?}"
        );
        // New connections still work after a cut.
        let mut again = TcpStream::connect(proxy.addr()).await.expect("reconnect");
        assert_eq!(roundtrip(&mut again, 3, long).await, Some(3));
        let stats = proxy.stats();
        assert_eq!((stats.accepted, stats.cut), (2, 1), "{stats:?}");
    }
}
