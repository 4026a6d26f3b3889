//! [`SwarmNode`]: one node of a swarm as the daemon sees it, whatever its
//! role is now. Every node runs an [`Agent`] (session and heartbeats with
//! the managers); a manager also runs a [`Manager`]. A supervisor task
//! follows the agent's answers and carries out role changes made
//! elsewhere: promoted, the node gets a manager certificate, starts Raft
//! and has the leader add it as a voter; demoted (and out of the voters),
//! it stops Raft, gets a worker certificate and goes on as a worker.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use berth_api::{Error, ErrorKind};
use tokio::task::JoinHandle;

use crate::agent::{Agent, AgentConfig};
use crate::ca::{NodeCert, NodeIdentity, Role, RootCa};
use crate::manager::{
    new_raft_id, read, refuse_if_in_swarm, request_certificate, save_identity, write_synced,
    LocalState, Manager, ManagerConfig, Paths,
};
use crate::store::{ClusterSpec, NodeDescription};
use crate::transport::dispatch::RemoteManager;
use crate::transport::tls::NodeKeys;

/// What `docker info` shows under `Swarm` for this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalNodeInfo {
    pub node_id: String,
    pub cluster_id: String,
    /// This node's cluster address (`NodeAddr` is its host part).
    pub addr: String,
    pub role: Role,
    /// `RemoteManagers`
    pub remote_managers: Vec<RemoteManager>,
    /// Why the node is not active (removed from the swarm, say).
    pub error: Option<String>,
}

/// How long `join` waits for the first heartbeat answer before it returns
/// anyway (the agent keeps trying).
const FIRST_SESSION_WAIT: Duration = Duration::from_secs(10);

struct Shared {
    config: ManagerConfig,
    node_id: String,
    cluster_id: String,
    addr: String,
    manager: RwLock<Option<Arc<Manager>>>,
    agent: Agent,
}

/// A node in a swarm: a manager or a worker, changing as it is promoted
/// or demoted. Dropping it stops it (as a crash would).
pub struct SwarmNode {
    shared: Arc<Shared>,
    supervisor: JoinHandle<()>,
}

impl Drop for SwarmNode {
    fn drop(&mut self) {
        self.supervisor.abort();
    }
}

fn description(config: &ManagerConfig) -> NodeDescription {
    NodeDescription {
        hostname: config.hostname.clone(),
        ..config.description.clone()
    }
}

impl SwarmNode {
    fn assemble(
        config: ManagerConfig,
        ca: RootCa,
        node: &NodeCert,
        addr: String,
        manager: Option<Manager>,
        managers: Vec<RemoteManager>,
    ) -> Result<SwarmNode, Error> {
        let (keys, local) = match &manager {
            Some(m) => (m.keys(), Some(m.addr().to_string())),
            None => (NodeKeys::new(node)?, None),
        };
        let agent = Agent::start(AgentConfig {
            state_dir: config.state_dir.clone(),
            ca: ca.clone(),
            node: node.clone(),
            keys,
            description: description(&config),
            managers,
            local,
        });
        let shared = Arc::new(Shared {
            config,
            node_id: node.identity.node_id.clone(),
            cluster_id: node.identity.cluster_id.clone(),
            addr,
            manager: RwLock::new(manager.map(Arc::new)),
            agent,
        });
        let supervisor = tokio::spawn(supervise(shared.clone()));
        Ok(SwarmNode { shared, supervisor })
    }

    fn from_manager(config: ManagerConfig, m: Manager) -> Result<SwarmNode, Error> {
        let node = m.node_cert();
        let managers = vec![RemoteManager {
            node_id: m.node_id().to_string(),
            addr: m.addr().to_string(),
        }];
        let (ca, addr) = (m.root_ca().clone(), m.addr().to_string());
        Self::assemble(config, ca, &node, addr, Some(m), managers)
    }

    /// `swarm init`: a new swarm with this node its first manager.
    pub async fn init(
        config: ManagerConfig,
        spec: ClusterSpec,
        external_ca: Option<RootCa>,
    ) -> Result<SwarmNode, Error> {
        let m = Manager::init(config.clone(), spec, external_ca).await?;
        Self::from_manager(config, m)
    }

    /// `swarm join`: as a manager or a worker, as the token says.
    pub async fn join(
        config: ManagerConfig,
        remote: &str,
        token: &str,
    ) -> Result<SwarmNode, Error> {
        refuse_if_in_swarm(&config)?;
        let (listener, addr) = Manager::bind(&config).await?;
        let (ca, node, resp) = request_certificate(remote, token, &addr, &config.hostname).await?;
        if node.identity.role == Role::Manager {
            let m = Manager::join_with_certificate(
                config.clone(),
                listener,
                addr,
                remote,
                (ca, node, resp),
            )
            .await?;
            return Self::from_manager(config, m);
        }
        // A worker does not serve the cluster port; the address is kept
        // for a promotion.
        drop(listener);
        let paths = Paths::new(&config.state_dir);
        let state = LocalState {
            raft_id: 0,
            addr: addr.clone(),
        };
        save_identity(&paths, &ca, &node, &state).map_err(|e| paths.undo(e))?;
        let managers = vec![RemoteManager {
            node_id: String::new(),
            addr: remote.to_string(),
        }];
        let n = Self::assemble(config, ca, &node, addr, None, managers)?;
        let mut rx = n.shared.agent.watch();
        let _ = tokio::time::timeout(
            FIRST_SESSION_WAIT,
            rx.wait_for(|s| s.answer.is_some() || s.removed),
        )
        .await;
        Ok(n)
    }

    /// Restart from the state directory; None when there is no swarm state.
    pub async fn open(config: ManagerConfig) -> Result<Option<SwarmNode>, Error> {
        let paths = Paths::new(&config.state_dir);
        if !paths.state.exists() {
            return Ok(None);
        }
        let state: LocalState = serde_json::from_str(&read(&paths.state)?)
            .map_err(|e| Error::internal(format!("reading {}: {e}", paths.state.display())))?;
        let cert_pem = read(&paths.certs.join("swarm-node.crt"))?;
        let identity = NodeIdentity::from_cert_der(&crate::ca::first_cert_der(&cert_pem)?)?;
        if identity.role == Role::Manager && state.raft_id != 0 {
            // a manager's key file may be sealed (autolock): Manager reads it
            let m = Manager::open(config.clone()).await?;
            return Self::from_manager(config, m).map(Some);
        }
        // a worker's key file holds its key (and a Raft data key it never
        // uses), never sealed: autolock locks managers
        let secrets = crate::manager::read_key_file(&paths.key_file(), None)?;
        let node = NodeCert::from_pem(cert_pem, secrets.node_key_pem)?;
        let managers = Agent::saved_managers(&config.state_dir);
        let ca = RootCa::from_pem(&read(&paths.certs.join("swarm-root-ca.crt"))?, None)?;
        Self::assemble(config, ca, &node, state.addr, None, managers).map(Some)
    }

    /// `swarm unlock`: start a locked manager from its state with the
    /// unlock key.
    pub async fn unlock(config: ManagerConfig, key: &str) -> Result<SwarmNode, Error> {
        let m = Manager::unlock(config.clone(), key).await?;
        Self::from_manager(config, m)
    }

    /// `swarm init --force-new-cluster`: this node's state (its own, or a
    /// restored backup) as a one-manager swarm.
    pub async fn force_new_cluster(
        config: ManagerConfig,
        unlock_key: Option<&str>,
    ) -> Result<SwarmNode, Error> {
        let m = Manager::force_new_cluster(config.clone(), unlock_key).await?;
        Self::from_manager(config, m)
    }

    /// The manager, while this node is one.
    pub fn manager(&self) -> Option<Arc<Manager>> {
        self.shared
            .manager
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn info(&self) -> LocalNodeInfo {
        let status = self.shared.agent.status();
        let role = if self.manager().is_some() {
            Role::Manager
        } else {
            Role::Worker
        };
        LocalNodeInfo {
            node_id: self.shared.node_id.clone(),
            cluster_id: self.shared.cluster_id.clone(),
            addr: self.shared.addr.clone(),
            role,
            remote_managers: self.shared.agent.managers(),
            error: status.removed.then(|| status.error.unwrap_or_default()),
        }
    }

    /// The agent's view (the manager it talks to, the last answer).
    pub fn agent_status(&self) -> crate::agent::AgentStatus {
        self.shared.agent.status()
    }

    /// `swarm leave [--force]` with dockerd's checks and words; the state
    /// directory is emptied. A refused leave gives the node back, running.
    pub async fn leave(self, force: bool) -> Result<(), LeaveError> {
        if let Some(m) = self.manager() {
            if !force {
                let refusal = Error::new(ErrorKind::Unavailable, leave_refusal(&m).await);
                return Err(LeaveError {
                    error: refusal,
                    node: Some(self),
                });
            }
        }
        let dir = self.shared.config.state_dir.clone();
        self.shutdown().await;
        empty_dir(&dir).map_err(|error| LeaveError { error, node: None })
    }

    /// Stop the agent and, on a manager, Raft and the listener.
    pub async fn shutdown(self) {
        self.supervisor.abort();
        self.shared.agent.stop();
        let manager = self
            .shared
            .manager
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(m) = manager {
            m.stop().await;
        }
    }
}

/// A `leave` that failed: refused (the node is given back, still in the
/// swarm), or failed while removing the state (the node is stopped).
pub struct LeaveError {
    pub error: Error,
    pub node: Option<SwarmNode>,
}

impl std::fmt::Debug for LeaveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaveError")
            .field("error", &self.error)
            .field("node_given_back", &self.node.is_some())
            .finish()
    }
}

fn empty_dir(dir: &std::path::Path) -> Result<(), Error> {
    let entries = std::fs::read_dir(dir).map_err(|e| crate::manager::io("reading", dir, e))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let removed = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.map_err(|e| crate::manager::io("removing", &path, e))?;
    }
    Ok(())
}

/// dockerd's answer to `swarm leave` without `--force` on a manager
/// (daemon/cluster/swarm.go).
async fn leave_refusal(m: &Manager) -> String {
    let mut msg = String::from(
        "You are attempting to leave the swarm on a node that is participating as a manager. ",
    );
    if m.leader().is_some() {
        let statuses = m.managers().await;
        let reachable = statuses
            .iter()
            .filter(|s| s.reachability == crate::Reachability::Reachable)
            .count();
        let unreachable = statuses.len() - reachable;
        let active = statuses
            .iter()
            .any(|s| s.node_id == m.node_id() && s.reachability == crate::Reachability::Reachable);
        if active && reachable <= unreachable + 2 {
            if reachable == 1 && unreachable == 0 {
                msg += "Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message. ";
                return msg;
            }
            msg += &format!("Removing this node leaves {} managers out of {}. Without a Raft quorum your swarm will be inaccessible. ", reachable - 1, reachable + unreachable);
        }
    } else {
        msg += "Doing so may lose the consensus of your cluster. ";
    }
    msg + "The only way to restore a swarm that has lost consensus is to reinitialize it with `--force-new-cluster`. Use `--force` to suppress this message."
}

/// Carry out the role the dispatcher's answers give this node.
async fn supervise(shared: Arc<Shared>) {
    let mut rx = shared.agent.watch();
    while rx.changed().await.is_ok() {
        let status = rx.borrow_and_update().clone();
        if status.removed {
            tracing::warn!("swarm: this node was removed from the swarm");
            return;
        }
        let Some(answer) = status.answer else {
            continue;
        };
        let voter = answer.managers.iter().any(|m| m.node_id == shared.node_id);
        let running = shared
            .manager
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let result = match (answer.role, running) {
            (Role::Manager, None) => promote_self(&shared, &answer.managers).await,
            (Role::Manager, Some(m)) if !voter => {
                add_self(&m, &answer.managers, &shared.node_id).await
            }
            (Role::Worker, Some(m)) if !voter => demote_self(&shared, m).await,
            // A worker still holding a manager certificate (its renewal
            // after a demotion failed, or it crashed before it): renew.
            (Role::Worker, None) if shared.agent.node_cert().identity.role == Role::Manager => {
                shared.agent.renew_certificate(None).await.map(|_| ())
            }
            _ => Ok(()),
        };
        if let Err(e) = result {
            // Tried again at the next answer.
            tracing::warn!("swarm: changing this node's role: {}", e.message);
        }
    }
}

fn other_manager<'a>(managers: &'a [RemoteManager], me: &str) -> Option<&'a str> {
    managers
        .iter()
        .find(|m| m.node_id != me)
        .map(|m| m.addr.as_str())
}

async fn add_self(m: &Manager, managers: &[RemoteManager], me: &str) -> Result<(), Error> {
    let remote = other_manager(managers, me)
        .ok_or_else(|| Error::internal("no other manager to join through"))?;
    m.add_to_raft(remote).await
}

/// Promoted: a Raft ID, a manager certificate, Raft and the listener,
/// then a place among the voters.
async fn promote_self(shared: &Arc<Shared>, managers: &[RemoteManager]) -> Result<(), Error> {
    let paths = Paths::new(&shared.config.state_dir);
    let mut state: LocalState =
        serde_json::from_str(&read(&paths.state)?).map_err(|e| Error::internal(e.to_string()))?;
    if state.raft_id == 0 {
        // Saved before the certificate, so a manager certificate on disk
        // always comes with a Raft ID.
        state.raft_id = new_raft_id();
        write_synced(
            &paths.state,
            &serde_json::to_vec(&state).map_err(|e| Error::internal(e.to_string()))?,
        )?;
    }
    let cert = shared.agent.renew_certificate(None).await?;
    if cert.identity.role != Role::Manager {
        return Err(Error::internal(
            "the manager has not seen the promotion yet",
        ));
    }
    std::fs::create_dir_all(&paths.raft)
        .map_err(|e| crate::manager::io("creating", &paths.raft, e))?;
    let m = Arc::new(Manager::open(shared.config.clone()).await?);
    *shared.manager.write().unwrap_or_else(|p| p.into_inner()) = Some(m.clone());
    shared.agent.became_manager(m.addr().to_string(), m.keys());
    add_self(&m, managers, &shared.node_id).await?;
    tracing::info!("swarm: this node is now a manager");
    Ok(())
}

/// Demoted and out of the voters: stop Raft, a worker certificate, on as
/// a worker.
async fn demote_self(shared: &Arc<Shared>, m: Arc<Manager>) -> Result<(), Error> {
    shared
        .manager
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    m.stop().await;
    shared.agent.became_worker(NodeKeys::new(&m.node_cert())?);
    // The worker's state first: a crash from here on restarts a worker,
    // whose agent renews the certificate it has later.
    let paths = Paths::new(&shared.config.state_dir);
    let _ = std::fs::remove_dir_all(&paths.raft);
    let state = LocalState {
        raft_id: 0,
        addr: shared.addr.clone(),
    };
    write_synced(
        &paths.state,
        &serde_json::to_vec(&state).map_err(|e| Error::internal(e.to_string()))?,
    )?;
    let own = m.addr().to_string();
    let mut renewed = Err(Error::internal("not renewed"));
    for _ in 0..20 {
        renewed = shared.agent.renew_certificate(Some(&own)).await;
        match &renewed {
            Ok(c) if c.identity.role == Role::Worker => break,
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    if let Err(e) = renewed {
        // The manager certificate still works for a worker's calls; the
        // supervisor renews it at a later answer.
        tracing::warn!("swarm: renewing as a worker: {}", e.message);
    }
    tracing::info!("swarm: this node is now a worker");
    Ok(())
}
