//! A swarm manager: the cluster CA, this node's certificate, Raft over
//! the cluster transport and the replicated store, tied together.
//!
//! State directory (`<data-root>/swarm`, as dockerd's):
//! - `certificates/swarm-root-ca.crt`, `swarm-node.crt`, `swarm-node.key`
//! - `raft/raft-log.db`, `raft/raft-state.db` (see `crate::raft`)
//! - `state.json`: this node's Raft ID and cluster address.

mod autolock;
mod certs;
mod dispatcher;
mod follow;
mod handler;
mod join;
mod nodes;
mod propose;
mod restore;
mod rotate_ca;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use berth_api::Error;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::ca::{NodeCert, RootCa};
use crate::raft::log_store::LogStore;
use crate::raft::state_machine::{StateMachine, StoreReader};
use crate::raft::Raft;
use crate::store::{Cluster, Node};
use crate::transport::network::{NetworkFactory, Peers};
use crate::transport::{serve, tls, Request, Response};

pub(crate) use autolock::read_key_file;
pub use autolock::{is_swarm_locked, INVALID_UNLOCK_KEY, NOT_LOCKED, SWARM_LOCKED};
pub(crate) use join::{new_raft_id, refuse_if_in_swarm};
pub use join::{request_certificate, ALREADY_IN_SWARM};

pub use propose::LOST_QUORUM;
pub(crate) use rotate_ca::carries;

/// How a manager runs.
#[derive(Debug, Clone)]
pub struct ManagerConfig {
    /// `<data-root>/swarm`
    pub state_dir: PathBuf,
    /// Where the cluster port listens (`--listen-addr`; port 0 picks one).
    pub listen_addr: SocketAddr,
    /// What peers dial (`--advertise-addr`); the bound listen address when None.
    pub advertise_addr: Option<String>,
    pub hostname: String,
    /// Raft timing. Defaults give failover well under 2 s on a LAN.
    pub heartbeat_ms: u64,
    pub election_timeout_ms: (u64, u64),
    /// Entries since the last snapshot that trigger a new one.
    pub snapshot_every: u64,
    /// What this node reports at its session start (its hostname is
    /// `hostname` above).
    pub description: crate::store::NodeDescription,
}

impl ManagerConfig {
    pub fn new(state_dir: impl Into<PathBuf>, listen_addr: SocketAddr) -> ManagerConfig {
        ManagerConfig {
            state_dir: state_dir.into(),
            listen_addr,
            advertise_addr: None,
            hostname: "localhost".into(),
            // openraft's leader lease is election_timeout_max: a follower
            // refuses votes until then, so failover takes about the max
            // plus one more random timeout. 300..450 ms gives ~0.8 s and
            // still tolerates two lost heartbeats.
            heartbeat_ms: 100,
            election_timeout_ms: (300, 450),
            snapshot_every: 1000,
            description: crate::store::NodeDescription::local("localhost"),
        }
    }
}

/// What `state.json` keeps.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LocalState {
    /// 0 on a worker.
    pub(crate) raft_id: u64,
    pub(crate) addr: String,
}

/// A manager's standing in `node ls` (MANAGER STATUS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reachability {
    Reachable,
    Unreachable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagerStatus {
    pub node_id: String,
    pub raft_id: u64,
    pub addr: String,
    pub leader: bool,
    pub reachability: Reachability,
}

pub(crate) struct Inner {
    raft: Raft,
    reader: StoreReader,
    peers: Arc<Peers>,
    ca: RootCa,
    /// Fixed for the node's life; the certificate below is renewed.
    identity: crate::ca::NodeIdentity,
    node: std::sync::RwLock<NodeCert>,
    keys: Arc<tls::NodeKeys>,
    raft_id: u64,
    addr: String,
    config: ManagerConfig,
    membership_lock: tokio::sync::Mutex<()>,
    /// The Raft data keys and what the key file is sealed under.
    at_rest: autolock::AtRest,
    raft_files: autolock::RaftFiles,
    /// The roots peers are verified against (two during a root rotation).
    trust: Arc<crate::transport::trust::Trust>,
    dispatcher: dispatcher::Dispatcher,
}

/// A running manager. Dropping it stops serving; `shutdown` also stops Raft.
pub struct Manager {
    inner: Arc<Inner>,
    server: JoinHandle<()>,
    renewer: JoinHandle<()>,
    /// Follows the cluster object: the unlock key, the root CA.
    cluster_watch: JoinHandle<()>,
    dispatcher: JoinHandle<()>,
}

impl Drop for Manager {
    fn drop(&mut self) {
        self.server.abort();
        self.renewer.abort();
        self.cluster_watch.abort();
        self.dispatcher.abort();
    }
}

pub(crate) fn io(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::internal(format!("{what} {}: {e}", path.display()))
}

pub(crate) struct Paths {
    pub(crate) certs: PathBuf,
    pub(crate) raft: PathBuf,
    pub(crate) state: PathBuf,
}

impl Paths {
    pub(crate) fn new(dir: &Path) -> Paths {
        Paths {
            certs: dir.join("certificates"),
            raft: dir.join("raft"),
            state: dir.join("state.json"),
        }
    }

    /// The node's TLS key and the Raft data key (see `crate::lock::keyfile`).
    pub(crate) fn key_file(&self) -> PathBuf {
        self.certs.join("swarm-node.key")
    }

    /// Remove what a failed init or join wrote, so the node is not left
    /// "already part of a swarm"; returns `e` for the caller to pass on.
    pub(crate) fn undo(&self, e: Error) -> Error {
        let _ = std::fs::remove_file(&self.state);
        let _ = std::fs::remove_dir_all(&self.certs);
        let _ = std::fs::remove_dir_all(&self.raft);
        e
    }

    fn create(&self) -> Result<(), Error> {
        for d in [&self.certs, &self.raft] {
            std::fs::create_dir_all(d).map_err(|e| io("creating", d, e))?;
        }
        Ok(())
    }
}

/// Write a file and fsync it (certificates and state must survive a crash
/// right after init or join).
pub(crate) fn write_synced(path: &Path, body: &[u8]) -> Result<(), Error> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(|e| io("writing", &tmp, e))?;
    f.write_all(body)
        .and_then(|_| f.sync_all())
        .map_err(|e| io("writing", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io("renaming", path, e))
}

/// Write a new node's files, with a new data key for its Raft data
/// (sealed later if the cluster is autolocked).
pub(crate) fn save_identity(
    paths: &Paths,
    ca: &RootCa,
    node: &NodeCert,
    state: &LocalState,
) -> Result<autolock::AtRest, Error> {
    paths.create()?;
    write_synced(
        &paths.certs.join("swarm-root-ca.crt"),
        ca.cert_pem().as_bytes(),
    )?;
    write_synced(
        &paths.certs.join("swarm-node.crt"),
        node.cert_pem.as_bytes(),
    )?;
    let secrets = crate::lock::keyfile::NodeSecrets {
        node_key_pem: node.key_pem.clone(),
        dek: crate::lock::DataKey::generate(),
        previous_dek: None,
    };
    autolock::write_key_file(&paths.key_file(), &secrets, None)?;
    let json = serde_json::to_vec(state).map_err(|e| Error::internal(e.to_string()))?;
    write_synced(&paths.state, &json)?;
    Ok(autolock::AtRest::new(&secrets, None))
}

pub(crate) fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| io("reading", path, e))
}

impl Manager {
    /// Start Raft and the cluster listener for an identity already on disk.
    pub(crate) async fn start(
        config: ManagerConfig,
        listener: TcpListener,
        ca: RootCa,
        node: NodeCert,
        state: LocalState,
        at_rest: autolock::AtRest,
    ) -> Result<Manager, Error> {
        let paths = Paths::new(&config.state_dir);
        let log = LogStore::open(&paths.raft.join("raft-log.db"), at_rest.keys())
            .map_err(|e| Error::internal(e.to_string()))?;
        let sm = StateMachine::open(&paths.raft.join("raft-state.db"), at_rest.keys())
            .map_err(|e| Error::internal(e.to_string()))?;
        let raft_files = autolock::RaftFiles {
            log: log.clone(),
            state: sm.clone(),
        };
        let reader = sm.reader();
        let keys = tls::NodeKeys::new(&node)?;
        let trust = tls::trust(&ca)?;
        let peers = Peers::new(tls::client_config_trusting(trust.clone(), keys.clone())?);
        let raft_config = openraft::Config {
            cluster_name: "berth-swarm".into(),
            heartbeat_interval: config.heartbeat_ms,
            election_timeout_min: config.election_timeout_ms.0,
            election_timeout_max: config.election_timeout_ms.1,
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(config.snapshot_every),
            // Keep some entries after a snapshot so a briefly lagging
            // follower catches up from the log rather than a snapshot.
            max_in_snapshot_log_to_keep: config.snapshot_every.min(500),
            ..Default::default()
        }
        .validate()
        .map_err(|e| Error::invalid(format!("raft configuration: {e}")))?;
        let raft = Raft::new(
            state.raft_id,
            Arc::new(raft_config),
            NetworkFactory(peers.clone()),
            log,
            sm,
        )
        .await
        .map_err(|e| Error::internal(format!("starting raft: {e}")))?;
        let (cluster_cfg, join_cfg) = tls::server_configs_trusting(trust.clone(), keys.clone())?;
        let inner = Arc::new(Inner {
            raft,
            reader,
            peers,
            ca,
            identity: node.identity.clone(),
            node: std::sync::RwLock::new(node),
            keys,
            raft_id: state.raft_id,
            addr: state.addr,
            config,
            membership_lock: tokio::sync::Mutex::new(()),
            at_rest,
            raft_files,
            trust,
            dispatcher: Default::default(),
        });
        let server = tokio::spawn(serve(listener, cluster_cfg, join_cfg, inner.clone()));
        let renewer = tokio::spawn(certs::renew_loop(Arc::downgrade(&inner)));
        let cluster_watch = tokio::spawn(follow::follow_cluster(Arc::downgrade(&inner)));
        let dispatcher = tokio::spawn(dispatcher::run(Arc::downgrade(&inner)));
        Ok(Manager {
            inner,
            server,
            renewer,
            cluster_watch,
            dispatcher,
        })
    }

    pub(crate) async fn bind(config: &ManagerConfig) -> Result<(TcpListener, String), Error> {
        let listener = TcpListener::bind(config.listen_addr).await.map_err(|e| {
            Error::invalid(format!("failed to listen on {}: {e}", config.listen_addr))
        })?;
        let bound = listener
            .local_addr()
            .map_err(|e| Error::internal(e.to_string()))?;
        let addr = config
            .advertise_addr
            .clone()
            .unwrap_or_else(|| bound.to_string());
        Ok((listener, addr))
    }

    /// Restart a manager from its state directory (after a stop or a
    /// crash). A locked one (autolock) is refused with [`SWARM_LOCKED`]
    /// (see [`is_swarm_locked`]); start it with `Manager::unlock`.
    pub async fn open(config: ManagerConfig) -> Result<Manager, Error> {
        Self::open_with(config, None).await
    }

    /// What `open` and `unlock` read: the identity, and the key file opened with `kek`.
    fn load(
        paths: &Paths,
        kek: Option<&crate::lock::UnlockKey>,
    ) -> Result<(LocalState, RootCa, NodeCert, autolock::AtRest), Error> {
        let state: LocalState = serde_json::from_str(&read(&paths.state)?)
            .map_err(|e| Error::internal(format!("reading {}: {e}", paths.state.display())))?;
        let secrets = autolock::read_key_file(&paths.key_file(), kek)?;
        let ca = RootCa::from_pem(&read(&paths.certs.join("swarm-root-ca.crt"))?, None)?;
        let at_rest = autolock::AtRest::new(&secrets, kek.cloned());
        let node = NodeCert::from_pem(
            read(&paths.certs.join("swarm-node.crt"))?,
            secrets.node_key_pem,
        )?;
        Ok((state, ca, node, at_rest))
    }

    async fn open_with(
        config: ManagerConfig,
        kek: Option<crate::lock::UnlockKey>,
    ) -> Result<Manager, Error> {
        let paths = Paths::new(&config.state_dir);
        let (state, ca, node, at_rest) = Self::load(&paths, kek.as_ref())?;
        let mut config = config;
        // Peers know this manager by the address it advertised: with no
        // port given, listen on that port again (dockerd keeps its
        // listen address in the swarm state too).
        if config.listen_addr.port() == 0 {
            if let Some(port) = state
                .addr
                .rsplit_once(':')
                .and_then(|(_, p)| p.parse().ok())
            {
                config.listen_addr.set_port(port);
            }
        }
        let (listener, _) = Self::bind(&config).await?;
        Self::start(config, listener, ca, node, state, at_rest).await
    }

    pub fn node_id(&self) -> &str {
        &self.inner.identity.node_id
    }

    pub fn cluster_id(&self) -> &str {
        &self.inner.identity.cluster_id
    }

    pub fn raft_id(&self) -> u64 {
        self.inner.raft_id
    }

    /// The cluster address peers dial.
    pub fn addr(&self) -> &str {
        &self.inner.addr
    }

    /// The cluster's root CA certificate now (a rotation's end changes
    /// it; the key, on managers, is in the cluster object).
    pub fn root_ca(&self) -> RootCa {
        self.cluster()
            .and_then(|c| RootCa::from_pem(&c.root_ca_cert, None).ok())
            .unwrap_or_else(|| self.inner.ca.clone())
    }

    /// This node's current certificate and key.
    pub fn node_cert(&self) -> NodeCert {
        self.inner
            .node
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Read the local copy of the store (answers without quorum).
    pub fn store(&self) -> StoreReader {
        self.inner.reader.clone()
    }

    pub fn cluster(&self) -> Option<Cluster> {
        self.inner.reader.read(|d| d.cluster.clone())
    }

    pub fn nodes(&self) -> BTreeMap<String, Node> {
        self.inner.reader.read(|d| d.nodes.clone())
    }

    pub fn metrics(&self) -> crate::raft::RaftMetrics {
        self.inner.raft.metrics().borrow().clone()
    }

    pub fn is_leader(&self) -> bool {
        self.inner.raft.metrics().borrow().current_leader == Some(self.inner.raft_id)
    }

    /// The Raft ID of the leader this manager knows of.
    pub fn leader(&self) -> Option<u64> {
        self.inner.raft.metrics().borrow().current_leader
    }

    /// Wait until this manager knows a leader (or `timeout` passes).
    pub async fn wait_for_leader(&self, timeout: Duration) -> Option<u64> {
        let mut rx = self.inner.raft.metrics();
        let leader = tokio::time::timeout(timeout, async {
            rx.wait_for(|m| m.current_leader.is_some())
                .await
                .ok()
                .and_then(|m| m.current_leader)
        })
        .await;
        leader.ok().flatten()
    }

    /// Stop Raft and the listener (a clean stop; a crash is just dropping
    /// the runtime).
    pub async fn shutdown(self) {
        self.stop().await;
    }

    /// `shutdown` for a manager shared with others (a demoted node's).
    pub(crate) async fn stop(&self) {
        self.server.abort();
        self.renewer.abort();
        self.cluster_watch.abort();
        self.dispatcher.abort();
        let _ = self.inner.raft.shutdown().await;
    }

    /// The key and certificate TLS uses, shared with this node's agent so
    /// both present the renewed certificate.
    pub(crate) fn keys(&self) -> Arc<tls::NodeKeys> {
        self.inner.keys.clone()
    }

    /// Every manager in the Raft membership with its MANAGER STATUS as
    /// this node sees it: the leader judges reachability from its
    /// replication RPCs; a follower reports the leader reachable while it
    /// follows it and asks the leader about the others.
    pub async fn managers(&self) -> Vec<ManagerStatus> {
        self.inner.manager_statuses().await
    }
}

impl Inner {
    /// The managers as this node sees them; `only_self` when this node
    /// cannot vouch for anyone else (a follower cut off from its leader).
    fn local_statuses(&self, only_self: bool) -> Vec<ManagerStatus> {
        let m = self.raft.metrics().borrow().clone();
        let within = Duration::from_millis(self.config.election_timeout_ms.1 * 2);
        let membership = m.membership_config.membership();
        let voters: std::collections::BTreeSet<u64> = membership.voter_ids().collect();
        membership
            .nodes()
            .filter(|(id, _)| voters.contains(id))
            .map(|(id, peer)| {
                let reachable = *id == self.raft_id
                    || (!only_self
                        && m.current_leader == Some(self.raft_id)
                        && self.peers.answered_within(*id, within));
                ManagerStatus {
                    node_id: peer.node_id.clone(),
                    raft_id: *id,
                    addr: peer.addr.clone(),
                    // a leader cut off from its majority leads nothing
                    leader: m.current_leader == Some(*id) && !self.quorum_lost(&m),
                    reachability: if reachable {
                        Reachability::Reachable
                    } else {
                        Reachability::Unreachable
                    },
                }
            })
            .collect()
    }

    async fn manager_statuses(&self) -> Vec<ManagerStatus> {
        let m = self.raft.metrics().borrow().clone();
        match m.current_leader {
            Some(l) if l == self.raft_id => self.local_statuses(false),
            Some(l) => {
                let addr = m
                    .membership_config
                    .membership()
                    .get_node(&l)
                    .map(|p| p.addr.clone());
                if let Some(addr) = addr {
                    let call = self
                        .peers
                        .client(&addr)
                        .call(&Request::ManagerStatus, Duration::from_millis(500))
                        .await;
                    if let Ok(Response::ManagerStatus(list)) = call {
                        return list;
                    }
                }
                self.local_statuses(true)
            }
            None => self.local_statuses(true),
        }
    }
}
