//! The server (shared by every container) and its attachments (one per
//! container: a UDP and a TCP socket at 127.0.0.11:53 in its namespace).
//!
//! The serve loops are written here on tokio rather than taken from
//! hickory-server: each pair of sockets must answer from one container's
//! point of view (every container asks from 127.0.0.1 in its own namespace,
//! so the source address cannot tell them apart), forwarding must make its
//! sockets in that namespace, and unknown names are relayed verbatim. Those
//! are the whole of the loops; hickory-proto does the wire format.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, Weak};
use std::time::Duration;

use socket2::{Domain, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Notify, Semaphore};
use tokio::task::{JoinHandle, JoinSet};

use crate::names::{Indexed, Network, Table};
use crate::netns::{Maker, Netns};
use crate::query::{answer, Transport};
use crate::{Config, ContainerDns, DnsError};

/// Queries of one container being answered at once over UDP; more are
/// dropped (the client retries).
const MAX_UDP_IN_FLIGHT: usize = 2048;
/// TCP connections of one container open at once; more are closed.
const MAX_TCP_CONNS: usize = 128;
/// How long a bind waits for the address to be released.
const BIND_PATIENCE: Duration = Duration::from_secs(2);
/// A TCP connection idle this long is closed.
const TCP_IDLE: Duration = Duration::from_secs(10);

pub(crate) struct Inner {
    pub(crate) config: Config,
    table: RwLock<Table>,
    pub(crate) maker: Maker,
    pub(crate) round_robin: AtomicUsize,
    attachments: Mutex<HashMap<String, Weak<Attachment>>>,
}

impl Inner {
    pub(crate) fn table(&self) -> RwLockReadGuard<'_, Table> {
        self.table.read().unwrap_or_else(|e| e.into_inner())
    }
}

/// The embedded DNS server: one per daemon, shared by every container.
/// Cheap to clone.
#[derive(Clone)]
pub struct Server {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("config", &self.inner.config)
            .finish()
    }
}

impl Server {
    /// A server with no networks and no containers. Starts the thread that
    /// makes sockets inside containers' namespaces.
    pub fn new(config: Config) -> Result<Server, DnsError> {
        Ok(Server {
            inner: Arc::new(Inner {
                config,
                table: RwLock::new(Table::default()),
                maker: Maker::start()?,
                round_robin: AtomicUsize::new(0),
                attachments: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Set (or replace) the name table of network `network_id`. Takes effect
    /// for the next query of every container.
    pub fn set_network(&self, network_id: &str, network: Network) {
        let indexed = Arc::new(Indexed::new(network));
        self.inner
            .table
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .networks
            .insert(network_id.to_string(), indexed);
    }

    /// Forget network `network_id` (removed). Unknown IDs are ignored.
    pub fn remove_network(&self, network_id: &str) {
        self.inner
            .table
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .networks
            .remove(network_id);
    }

    /// Serve the container `key` (its ID, as in [`crate::Endpoint::container_id`])
    /// at `config.listen` (127.0.0.11:53) inside the network namespace at
    /// `netns` (`/run/netns/NAME`, `/proc/PID/ns/net`). It sees the names of
    /// the networks it has an endpoint on.
    ///
    /// Attaching a key that is attached already replaces the old attachment
    /// (its sockets are closed first), so after a daemon restart the engine
    /// just attaches again. Needs a tokio runtime (the serve loops are tasks).
    pub async fn attach(
        &self,
        key: &str,
        netns: &Path,
        dns: ContainerDns,
    ) -> Result<Handle, DnsError> {
        // Check everything that can be checked before touching an existing
        // attachment: a bad path leaves the old one serving.
        let netns = Netns::open(netns)?;
        let listen = self.inner.config.listen;
        self.probe(&netns, listen).await?;
        let old = self
            .inner
            .attachments
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .and_then(Weak::upgrade);
        if let Some(old) = old {
            old.stop();
            old.closed().await;
        }
        let (udp, tcp) = self.bind(&netns, listen).await?;
        let udp = tokio::net::UdpSocket::from_std(udp.into()).map_err(DnsError::Socket)?;
        let tcp = tokio::net::TcpListener::from_std(tcp.into()).map_err(DnsError::Socket)?;

        let att = Arc::new(Attachment {
            key: key.to_string(),
            server: self.inner.clone(),
            netns,
            dns: RwLock::new(dns),
            forwards: Semaphore::new(self.inner.config.max_concurrent_forwards.max(1)),
            stop: Notify::new(),
            stopped: std::sync::atomic::AtomicBool::new(false),
            tasks: Mutex::new(Vec::new()),
        });
        let tasks = vec![
            tokio::spawn(serve_udp(att.clone(), udp)),
            tokio::spawn(serve_tcp(att.clone(), tcp)),
        ];
        *att.tasks.lock().unwrap_or_else(|e| e.into_inner()) = tasks;
        self.inner
            .attachments
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.to_string(), Arc::downgrade(&att));
        tracing::debug!(key, addr = %listen, "berth-dns: attached");
        Ok(Handle { att })
    }

    /// The namespace is a network namespace and `listen` is routable in it.
    async fn probe(&self, netns: &Netns, listen: SocketAddr) -> Result<(), DnsError> {
        let domain = Domain::for_address(listen);
        // The address must be routable in the namespace (`lo` up) before we
        // bind: bound while `lo` is down, a socket later answers from
        // 127.0.0.1 (seen on 6.x), and clients drop such answers. A UDP
        // connect is a route lookup and sends nothing.
        let probe = self
            .inner
            .maker
            .socket(netns, domain, Type::DGRAM)
            .await
            .map_err(DnsError::Socket)?;
        probe
            .connect(&listen.into())
            .map_err(|source| DnsError::Unreachable {
                addr: listen,
                source,
            })
    }

    async fn bind(&self, netns: &Netns, listen: SocketAddr) -> Result<(Socket, Socket), DnsError> {
        let bind_err = |proto: &'static str| {
            move |source| DnsError::Bind {
                proto,
                addr: listen,
                source,
            }
        };
        let domain = Domain::for_address(listen);
        let maker = &self.inner.maker;
        let udp = maker
            .socket(netns, domain, Type::DGRAM)
            .await
            .map_err(DnsError::Socket)?;
        let tcp = maker
            .socket(netns, domain, Type::STREAM)
            .await
            .map_err(DnsError::Socket)?;
        tcp.set_reuse_address(true).map_err(bind_err("tcp"))?;
        bind_patiently(&udp, listen)
            .await
            .map_err(bind_err("udp"))?;
        bind_patiently(&tcp, listen)
            .await
            .map_err(bind_err("tcp"))?;
        tcp.listen(128).map_err(bind_err("tcp"))?;
        Ok((udp, tcp))
    }
}

/// Bind, waiting out a short `EADDRINUSE`: a socket of a replaced or
/// detached attachment is closed, but a child the daemon is forking at that
/// moment may still hold a copy until it execs (close-on-exec). A socket
/// that is really in use (another daemon serving this namespace) still fails.
async fn bind_patiently(socket: &Socket, listen: SocketAddr) -> std::io::Result<()> {
    let give_up = tokio::time::Instant::now() + BIND_PATIENCE;
    loop {
        match socket.bind(&listen.into()) {
            Err(e)
                if e.kind() == std::io::ErrorKind::AddrInUse
                    && tokio::time::Instant::now() < give_up =>
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => return other,
        }
    }
}

/// One container's attachment. Kept alive by its [`Handle`] and its tasks.
pub(crate) struct Attachment {
    pub(crate) key: String,
    pub(crate) server: Arc<Inner>,
    pub(crate) netns: Netns,
    dns: RwLock<ContainerDns>,
    pub(crate) forwards: Semaphore,
    stop: Notify,
    stopped: std::sync::atomic::AtomicBool,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Attachment {
    pub(crate) fn dns(&self) -> ContainerDns {
        self.dns.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.stop.notify_waiters();
    }

    async fn stopping(&self) {
        loop {
            let notified = self.stop.notified();
            if self.stopped.load(Ordering::SeqCst) {
                return;
            }
            notified.await;
        }
    }

    async fn closed(&self) {
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        for t in tasks {
            let _ = t.await;
        }
    }
}

/// A container's attachment to the server. Dropping it detaches.
pub struct Handle {
    att: Arc<Attachment>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("key", &self.att.key)
            .finish()
    }
}

impl Handle {
    /// The container key this handle serves.
    pub fn key(&self) -> &str {
        &self.att.key
    }

    /// Replace the container's upstreams, options and `internal` flag.
    pub fn update(&self, dns: ContainerDns) {
        *self.att.dns.write().unwrap_or_else(|e| e.into_inner()) = dns;
    }

    /// Stop serving: the sockets close. Idempotent.
    pub fn detach(&self) {
        if self.att.stopped.load(Ordering::SeqCst) {
            return;
        }
        self.att.stop();
        let mut map = self
            .att
            .server
            .attachments
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let ours = map
            .get(&self.att.key)
            .is_some_and(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(&self.att)));
        if ours {
            map.remove(&self.att.key);
        }
        tracing::debug!(key = %self.att.key, "berth-dns: detached");
    }

    /// Detach and wait until the sockets are closed.
    pub async fn close(self) {
        self.detach();
        self.att.closed().await;
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.detach();
    }
}

async fn serve_udp(att: Arc<Attachment>, socket: tokio::net::UdpSocket) {
    let mut buf = vec![0u8; usize::from(u16::MAX)];
    let mut tasks: JoinSet<(Option<Vec<u8>>, SocketAddr)> = JoinSet::new();
    loop {
        tokio::select! {
            // Answers first: finished work leaves before new work comes in.
            biased;
            _ = att.stopping() => break,
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                if let Ok((Some(reply), peer)) = done {
                    if let Err(e) = socket.send_to(&reply, peer).await {
                        tracing::debug!(error = %e, key = %att.key, "berth-dns: udp send failed");
                    }
                }
            }
            got = socket.recv_from(&mut buf) => match got {
                Ok((n, peer)) => {
                    if tasks.len() >= MAX_UDP_IN_FLIGHT {
                        continue;
                    }
                    let packet = buf[..n].to_vec();
                    let att = att.clone();
                    tasks.spawn(async move { (answer(&att, &packet, Transport::Udp).await, peer) });
                }
                Err(e) => {
                    tracing::debug!(error = %e, key = %att.key, "berth-dns: udp receive failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
        }
    }
    tasks.shutdown().await;
}

async fn serve_tcp(att: Arc<Attachment>, listener: tokio::net::TcpListener) {
    let mut conns: JoinSet<()> = JoinSet::new();
    loop {
        tokio::select! {
            _ = att.stopping() => break,
            got = listener.accept() => match got {
                Ok((stream, _)) => {
                    if conns.len() < MAX_TCP_CONNS {
                        conns.spawn(serve_conn(att.clone(), stream));
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, key = %att.key, "berth-dns: tcp accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    conns.shutdown().await;
}

/// DNS over TCP: 2-byte big-endian length, then the message (RFC 1035 4.2.2).
async fn serve_conn(att: Arc<Attachment>, mut stream: tokio::net::TcpStream) {
    loop {
        let len = match tokio::time::timeout(TCP_IDLE, stream.read_u16()).await {
            Ok(Ok(n)) => usize::from(n),
            _ => return,
        };
        let mut msg = vec![0u8; len];
        match tokio::time::timeout(TCP_IDLE, stream.read_exact(&mut msg)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        let Some(reply) = answer(&att, &msg, Transport::Tcp).await else {
            continue;
        };
        let Ok(n) = u16::try_from(reply.len()) else {
            return;
        };
        let mut out = Vec::with_capacity(reply.len() + 2);
        out.extend_from_slice(&n.to_be_bytes());
        out.extend_from_slice(&reply);
        if stream.write_all(&out).await.is_err() {
            return;
        }
    }
}
