//! openraft's network over `PeerClient`s, and the record of when each peer
//! last answered (the leader's view of which managers are reachable).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};

use super::{PeerClient, Request, Response};
use crate::raft::{Peer, TypeConfig};

/// The clients to every peer, shared by Raft and the manager (forwarded writes).
pub struct Peers {
    config: RwLock<Arc<rustls::ClientConfig>>,
    clients: Mutex<HashMap<String, Arc<PeerClient>>>,
    contact: Mutex<HashMap<u64, Instant>>,
}

impl Peers {
    pub fn new(config: Arc<rustls::ClientConfig>) -> Arc<Peers> {
        Arc::new(Peers {
            config: RwLock::new(config),
            clients: Mutex::default(),
            contact: Mutex::default(),
        })
    }

    /// The client for `addr` (one connection per address).
    pub fn client(&self, addr: &str) -> Arc<PeerClient> {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        clients
            .entry(addr.to_string())
            .or_insert_with(|| {
                let config = self
                    .config
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone();
                Arc::new(PeerClient::new(addr.to_string(), config))
            })
            .clone()
    }

    /// A client with a connection of its own.
    pub fn new_client(&self, addr: &str) -> PeerClient {
        let config = self
            .config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        PeerClient::new(addr.to_string(), config)
    }

    fn record(&self, raft_id: u64) {
        self.contact
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(raft_id, Instant::now());
    }

    /// Whether `raft_id` answered an RPC within `within`.
    pub fn answered_within(&self, raft_id: u64, within: Duration) -> bool {
        let contact = self.contact.lock().unwrap_or_else(|p| p.into_inner());
        contact.get(&raft_id).is_some_and(|t| t.elapsed() <= within)
    }
}

#[derive(Clone)]
pub struct NetworkFactory(pub Arc<Peers>);

pub struct Network {
    target: u64,
    client: Arc<PeerClient>,
    peers: Arc<Peers>,
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = Network;

    async fn new_client(&mut self, target: u64, node: &Peer) -> Network {
        Network {
            target,
            // Its own connection per Raft stream: a snapshot being sent
            // to a peer never holds up heartbeats, votes or forwarded
            // writes to it, which use other connections.
            client: Arc::new(self.0.new_client(&node.addr)),
            peers: self.0.clone(),
        }
    }
}

type RpcErr<E = openraft::error::Infallible> = RPCError<u64, Peer, RaftError<u64, E>>;

impl Network {
    async fn call<E: std::error::Error>(
        &self,
        req: Request,
        option: &RPCOption,
    ) -> Result<Response, RpcErr<E>> {
        match self.client.call(&req, option.hard_ttl()).await {
            Ok(Response::Error(e)) => Err(RPCError::Network(NetworkError::new(
                &std::io::Error::other(e.message),
            ))),
            Ok(resp) => {
                self.peers.record(self.target);
                Ok(resp)
            }
            Err(e) => Err(RPCError::Unreachable(Unreachable::new(&e))),
        }
    }

    fn unexpected<E: std::error::Error>() -> RpcErr<E> {
        RPCError::Network(NetworkError::new(&std::io::Error::other(
            "unexpected response",
        )))
    }
}

impl RaftNetwork<TypeConfig> for Network {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RpcErr> {
        match self.call(Request::AppendEntries(rpc), &option).await? {
            Response::AppendEntries(r) => {
                r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            _ => Err(Self::unexpected()),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<InstallSnapshotResponse<u64>, RpcErr<InstallSnapshotError>> {
        match self.call(Request::InstallSnapshot(rpc), &option).await? {
            Response::InstallSnapshot(r) => {
                r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            _ => Err(Self::unexpected()),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> Result<VoteResponse<u64>, RpcErr> {
        match self.call(Request::Vote(rpc), &option).await? {
            Response::Vote(r) => {
                r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            _ => Err(Self::unexpected()),
        }
    }

    fn backoff(&self) -> openraft::network::Backoff {
        // A down peer is retried often enough that its return is seen
        // within a heartbeat or two, not openraft's default 500 ms.
        openraft::network::Backoff::new(std::iter::repeat(Duration::from_millis(200)))
    }
}
