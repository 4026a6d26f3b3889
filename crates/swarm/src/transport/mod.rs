//! Node-to-node RPCs on the cluster port over mutual TLS (see `tls`).
//!
//! Framing: each message is a 4-byte big-endian length and a JSON body,
//! one request then one response on a persistent connection per peer.
//! Both ends are ours and every RPC is a request/response pair, so HTTP
//! would add headers and a parser for nothing; JSON because openraft's
//! messages are serde types already and the traffic is small (a few
//! entries per heartbeat; snapshots go in chunks of openraft's size).

pub mod dispatch;
pub mod network;
pub mod tls;
pub mod trust;

use std::sync::Arc;
use std::time::Duration;

use berth_api::{Error, ErrorKind};
use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use rustls::pki_types::{CertificateDer, ServerName};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio_rustls::client::TlsStream;
use tokio_rustls::{LazyConfigAcceptor, TlsConnector};

use crate::ca::NodeIdentity;
use crate::raft::{Peer, TypeConfig};
use crate::store::{Command, CommandResult};

/// Largest frame accepted (a snapshot chunk is far smaller).
const MAX_FRAME: usize = 64 << 20;
/// Largest frame from a client without a certificate (a CSR and a token).
const MAX_JOIN_FRAME: usize = 64 << 10;

/// A joining node's request for a certificate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinRequest {
    pub token: String,
    pub csr_pem: String,
    /// The joiner's cluster address (managers: where peers reach it).
    pub addr: String,
    pub hostname: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinResponse {
    pub node_id: String,
    pub cluster_id: String,
    pub cert_pem: String,
    pub ca_pem: String,
    /// The Raft ID given to a joining manager.
    pub raft_id: u64,
}

/// Raft membership changes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum MembershipOp {
    /// A joined manager adds itself: learner first, then voter once it has
    /// caught up.
    Add { raft_id: u64, peer: Peer },
    /// Demote or remove a manager: it stops being a voter and is dropped.
    Remove { raft_id: u64 },
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Request {
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    Vote(VoteRequest<u64>),
    InstallSnapshot(InstallSnapshotRequest<TypeConfig>),
    /// A write forwarded to the leader.
    Propose(Command),
    /// A Raft membership change, done by the leader.
    Membership(MembershipOp),
    /// The leader's view of the managers (`node ls` on a follower).
    ManagerStatus,
    /// Served on the join protocol too.
    GetRootCa,
    /// Served on the join protocol too.
    Join(JoinRequest),
    /// A node's session start or heartbeat (any node; the node is the
    /// caller's certificate).
    Dispatch(dispatch::DispatchRequest),
    /// A follower passing a node's dispatch message to the leader, which
    /// runs the dispatcher.
    DispatchFor {
        node_id: String,
        req: dispatch::DispatchRequest,
    },
    /// A node's certificate renewal (any node): signed for the caller's
    /// node ID with the role the store gives it, so a promoted or demoted
    /// node gets its new role this way.
    RenewCertificate {
        csr_pem: String,
    },
}

impl Request {
    /// What a node without a cluster certificate may call.
    pub fn allowed_without_cert(&self) -> bool {
        matches!(self, Request::GetRootCa | Request::Join(_))
    }

    /// What only a manager's certificate may call: everything but the
    /// join, a node's own session and heartbeats and its renewal.
    pub fn manager_only(&self) -> bool {
        !(self.allowed_without_cert()
            || matches!(
                self,
                Request::Dispatch(_) | Request::RenewCertificate { .. }
            ))
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub enum WireErrorKind {
    Invalid,
    NotFound,
    Conflict,
    Forbidden,
    Internal,
}

/// A `berth_api::Error` on the wire.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireError {
    pub kind: WireErrorKind,
    pub message: String,
}

impl From<Error> for WireError {
    fn from(e: Error) -> WireError {
        let kind = match e.kind {
            ErrorKind::InvalidArgument => WireErrorKind::Invalid,
            ErrorKind::NotFound => WireErrorKind::NotFound,
            ErrorKind::Conflict => WireErrorKind::Conflict,
            ErrorKind::Forbidden | ErrorKind::Unauthorized => WireErrorKind::Forbidden,
            _ => WireErrorKind::Internal,
        };
        WireError {
            kind,
            message: e.message,
        }
    }
}

impl From<WireError> for Error {
    fn from(e: WireError) -> Error {
        let kind = match e.kind {
            WireErrorKind::Invalid => ErrorKind::InvalidArgument,
            WireErrorKind::NotFound => ErrorKind::NotFound,
            WireErrorKind::Conflict => ErrorKind::Conflict,
            WireErrorKind::Forbidden => ErrorKind::Forbidden,
            WireErrorKind::Internal => ErrorKind::Internal,
        };
        Error::new(kind, e.message)
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Response {
    AppendEntries(Result<AppendEntriesResponse<u64>, RaftError<u64>>),
    Vote(Result<VoteResponse<u64>, RaftError<u64>>),
    InstallSnapshot(Result<InstallSnapshotResponse<u64>, RaftError<u64, InstallSnapshotError>>),
    Propose(CommandResult),
    Membership,
    ManagerStatus(Vec<crate::manager::ManagerStatus>),
    RootCa(String),
    Join(JoinResponse),
    Dispatch(dispatch::SessionAnswer),
    /// A renewed node certificate (PEM).
    Certificate(String),
    Error(WireError),
}

/// What serves the RPCs (the manager).
pub trait Handler: Send + Sync + 'static {
    /// `peer` is the caller's verified identity (None on the join protocol).
    fn handle(
        &self,
        peer: Option<NodeIdentity>,
        req: Request,
    ) -> impl std::future::Future<Output = Response> + Send;
}

async fn write_frame<W: AsyncWrite + Unpin, T: Serialize>(
    w: &mut W,
    msg: &T,
) -> std::io::Result<()> {
    let body = serde_json::to_vec(msg).map_err(std::io::Error::other)?;
    let len = u32::try_from(body.len()).map_err(|_| std::io::Error::other("frame too large"))?;
    w.write_all(&len.to_be_bytes()).await?;
    w.write_all(&body).await?;
    w.flush().await
}

async fn read_frame<R: AsyncRead + Unpin, T: serde::de::DeserializeOwned>(
    r: &mut R,
    max: usize,
) -> std::io::Result<T> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(std::io::Error::other(format!(
            "frame of {len} bytes is over the limit"
        )));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).await?;
    serde_json::from_slice(&body)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// Serve the cluster port until the task is dropped.
pub async fn serve<H: Handler>(
    listener: TcpListener,
    cluster: Arc<rustls::ServerConfig>,
    join: Arc<rustls::ServerConfig>,
    handler: Arc<H>,
) {
    loop {
        let tcp = match listener.accept().await {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                // Out of descriptors and the like: do not spin on it.
                tracing::warn!("swarm: accepting on the cluster port: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let (cluster, join, handler) = (cluster.clone(), join.clone(), handler.clone());
        tokio::spawn(async move {
            if let Err(e) = serve_conn(tcp, cluster, join, handler).await {
                tracing::debug!("swarm: cluster connection ended: {e}");
            }
        });
    }
}

async fn serve_conn<H: Handler>(
    tcp: TcpStream,
    cluster: Arc<rustls::ServerConfig>,
    join: Arc<rustls::ServerConfig>,
    handler: Arc<H>,
) -> std::io::Result<()> {
    let start = tokio::time::timeout(
        Duration::from_secs(10),
        LazyConfigAcceptor::new(rustls::server::Acceptor::default(), tcp),
    )
    .await
    .map_err(|_| std::io::Error::other("handshake timed out"))??;
    let wants_join = start
        .client_hello()
        .alpn()
        .is_some_and(|mut a| a.any(|p| p == tls::ALPN_JOIN));
    let config = if wants_join { join } else { cluster };
    // With the cluster config, a client without a certificate from the
    // cluster root fails here.
    let mut stream = start.into_stream(config).await?;
    let peer = if wants_join {
        None
    } else {
        let der = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.to_vec());
        match der.map(|d| NodeIdentity::from_cert_der(&d)) {
            Some(Ok(id)) => Some(id),
            _ => {
                return Err(std::io::Error::other(
                    "client certificate without a node identity",
                ))
            }
        }
    };
    loop {
        let max = if peer.is_some() {
            MAX_FRAME
        } else {
            MAX_JOIN_FRAME
        };
        let req: Request = match read_frame(&mut stream, max).await {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        };
        let resp = match &peer {
            None if !req.allowed_without_cert() => Response::Error(WireError {
                kind: WireErrorKind::Forbidden,
                message: "a node certificate is required".into(),
            }),
            Some(id) if req.manager_only() && id.role != crate::ca::Role::Manager => {
                Response::Error(WireError {
                    kind: WireErrorKind::Forbidden,
                    message: "This node is not a swarm manager.".into(),
                })
            }
            _ => handler.handle(peer.clone(), req).await,
        };
        write_frame(&mut stream, &resp).await?;
    }
}

/// A persistent client connection to one peer; calls are serialized on it.
pub struct PeerClient {
    addr: String,
    connector: TlsConnector,
    conn: Mutex<Option<TlsStream<TcpStream>>>,
}

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

impl PeerClient {
    pub fn new(addr: String, config: Arc<rustls::ClientConfig>) -> PeerClient {
        PeerClient {
            addr,
            connector: TlsConnector::from(config),
            conn: Mutex::new(None),
        }
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    async fn connect(&self) -> std::io::Result<TlsStream<TcpStream>> {
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&self.addr))
            .await
            .map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("connecting to {}", self.addr),
                )
            })??;
        tcp.set_nodelay(true)?;
        let name = ServerName::try_from(tls::MANAGER_SERVER_NAME).map_err(std::io::Error::other)?;
        tokio::time::timeout(CONNECT_TIMEOUT, self.connector.connect(name, tcp))
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake timed out")
            })?
    }

    /// Send `req` and wait up to `timeout` for the answer. A failed call
    /// drops the connection; the next call reconnects.
    pub async fn call(&self, req: &Request, timeout: Duration) -> std::io::Result<Response> {
        let mut guard = self.conn.lock().await;
        let result = tokio::time::timeout(timeout, async {
            if guard.is_none() {
                *guard = Some(self.connect().await?);
            }
            let stream = guard
                .as_mut()
                .ok_or_else(|| std::io::Error::other("not connected"))?;
            write_frame(stream, req).await?;
            read_frame::<_, Response>(stream, MAX_FRAME).await
        })
        .await
        .unwrap_or_else(|_| {
            Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer from {}", self.addr),
            ))
        });
        if result.is_err() {
            *guard = None;
        }
        result
    }

    /// The certificates the server presented on the current connection
    /// (connecting first if needed); for the join protocol's check.
    pub async fn peer_chain(&self) -> std::io::Result<Vec<CertificateDer<'static>>> {
        let mut guard = self.conn.lock().await;
        if guard.is_none() {
            *guard = Some(self.connect().await?);
        }
        let stream = guard
            .as_ref()
            .ok_or_else(|| std::io::Error::other("not connected"))?;
        Ok(stream
            .get_ref()
            .1
            .peer_certificates()
            .map(|c| c.to_vec())
            .unwrap_or_default())
    }
}
