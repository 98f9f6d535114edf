//! A fault-injecting TCP proxy for tests: forwards to a real service (PostgreSQL, Redis) and can
//! be switched down and up to simulate an outage without touching the service itself.

use anyhow::Context as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A TCP proxy on `127.0.0.1:<random port>` in front of `target`.
///
/// While up, every accepted connection is forwarded to `target`. [`TcpProxy::set_down`] closes
/// every open connection at once and makes new ones close right after accept (the client sees
/// EOF/reset, as when the service dies); [`TcpProxy::set_up`] forwards again. Dropping the proxy
/// stops the listener and closes every connection.
pub struct TcpProxy {
    addr: SocketAddr,
    target: SocketAddr,
    up: watch::Sender<bool>,
    active: Arc<AtomicUsize>,
    accept_task: JoinHandle<()>,
}

impl std::fmt::Debug for TcpProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpProxy")
            .field("addr", &self.addr)
            .field("target", &self.target)
            .field("up", &self.is_up())
            .field("active", &self.active_connections())
            .finish()
    }
}

impl TcpProxy {
    /// Starts forwarding to `target` (initially up).
    pub async fn start(target: SocketAddr) -> anyhow::Result<TcpProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("bind tcp proxy listener")?;
        let addr = listener.local_addr().context("tcp proxy local address")?;
        let (up, _) = watch::channel(true);
        let active = Arc::new(AtomicUsize::new(0));
        let accept_task = tokio::spawn(accept_loop(listener, target, up.clone(), active.clone()));
        Ok(TcpProxy {
            addr,
            target,
            up,
            active,
            accept_task,
        })
    }

    /// The address clients should connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port clients should connect to (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The service behind the proxy.
    pub fn target(&self) -> SocketAddr {
        self.target
    }

    /// Whether the proxy currently forwards.
    pub fn is_up(&self) -> bool {
        *self.up.borrow()
    }

    /// Connections currently being forwarded.
    pub fn active_connections(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }

    /// Simulates an outage: closes every open connection and every new one immediately.
    pub fn set_down(&self) {
        self.up.send_replace(false);
    }

    /// Ends the outage: new connections are forwarded again.
    pub fn set_up(&self) {
        self.up.send_replace(true);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accept_task.abort();
        // Connection tasks hold receivers; flipping to down closes them now, and they also stop
        // when the sender is dropped right after this.
        self.up.send_replace(false);
    }
}

async fn accept_loop(
    listener: TcpListener,
    target: SocketAddr,
    up: watch::Sender<bool>,
    active: Arc<AtomicUsize>,
) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            // Accept errors (e.g. too many open files) are transient; back off and keep serving.
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        };
        let mut state = up.subscribe();
        if !*state.borrow_and_update() {
            drop(client);
            continue;
        }
        let active = active.clone();
        tokio::spawn(async move {
            let guard = ActiveGuard::new(active);
            forward(client, target, &mut state).await;
            drop(guard);
        });
    }
}

/// Forwards one connection until either side closes or the proxy goes down.
async fn forward(mut client: TcpStream, target: SocketAddr, state: &mut watch::Receiver<bool>) {
    let mut server = tokio::select! {
        biased;
        _ = state.wait_for(|up| !*up) => return,
        connected = TcpStream::connect(target) => match connected {
            Ok(server) => server,
            Err(_) => return,
        },
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    tokio::select! {
        // Checked first on every wake-up, so no byte crosses once the proxy is down.
        biased;
        _ = state.wait_for(|up| !*up) => {}
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
    }
    // Dropping both streams closes them.
}

/// Counts a connection as active for as long as it lives.
struct ActiveGuard(Arc<AtomicUsize>);

impl ActiveGuard {
    fn new(active: Arc<AtomicUsize>) -> Self {
        active.fetch_add(1, Ordering::SeqCst);
        Self(active)
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use std::time::{Duration, Instant};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// An echo server on a random port; returns its address.
    async fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = sock.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        addr
    }

    async fn echo_once(stream: &mut TcpStream, msg: &[u8]) -> std::io::Result<Vec<u8>> {
        stream.write_all(msg).await?;
        let mut buf = vec![0; msg.len()];
        stream.read_exact(&mut buf).await?;
        Ok(buf)
    }

    /// Reads until EOF or error; true when the connection ended (within 5 s).
    async fn is_closed(stream: &mut TcpStream) -> bool {
        let mut buf = [0u8; 16];
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => true,
            Ok(Ok(_)) | Err(_) => false,
        }
    }

    async fn wait_until(mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !cond() {
            assert!(Instant::now() < deadline, "condition not reached in 5 s");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn forwards_goes_down_and_comes_back() {
        let proxy = TcpProxy::start(echo_server().await).await.unwrap();
        assert_eq!(proxy.addr().ip(), std::net::Ipv4Addr::LOCALHOST);
        assert_eq!(proxy.port(), proxy.addr().port());
        assert!(proxy.is_up());

        let mut a = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(echo_once(&mut a, b"hello").await.unwrap(), b"hello");
        wait_until(|| proxy.active_connections() == 1).await;

        // Down: the open connection is closed, and new ones are closed right after accept.
        proxy.set_down();
        assert!(!proxy.is_up());
        assert!(is_closed(&mut a).await, "open connection survived set_down");
        wait_until(|| proxy.active_connections() == 0).await;
        let mut b = TcpStream::connect(proxy.addr()).await.unwrap();
        assert!(echo_once(&mut b, b"x").await.is_err() || is_closed(&mut b).await);

        // Up again: new connections work.
        proxy.set_up();
        let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(echo_once(&mut c, b"again").await.unwrap(), b"again");
    }

    #[tokio::test]
    async fn drop_stops_listener_and_connections() {
        let proxy = TcpProxy::start(echo_server().await).await.unwrap();
        let addr = proxy.addr();
        let mut a = TcpStream::connect(addr).await.unwrap();
        assert_eq!(echo_once(&mut a, b"ping").await.unwrap(), b"ping");
        drop(proxy);
        assert!(is_closed(&mut a).await, "connection survived drop");
        // The listener is gone: connecting is refused (poll, since abort is asynchronous).
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match TcpStream::connect(addr).await {
                Err(_) => break,
                Ok(mut s) => {
                    assert!(Instant::now() < deadline, "listener still accepting");
                    drop(s.shutdown().await);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }
    }

    #[tokio::test]
    async fn unreachable_target_closes_the_client() {
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let proxy = TcpProxy::start(closed).await.unwrap();
        let mut a = TcpStream::connect(proxy.addr()).await.unwrap();
        assert!(is_closed(&mut a).await);
    }
}
