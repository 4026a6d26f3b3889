//! A node's agent, as swarmkit's (agent/): it keeps a session with a
//! manager over mutual TLS with the node's certificate, heartbeats at the
//! period the dispatcher gives it, keeps the list of managers from the
//! answers (and on disk, `remotes.json`, for a restart) and moves to
//! another manager when its manager stops answering. A worker's agent
//! also renews the node certificate (a manager's renews itself and
//! shares its key with the agent). Every node runs one, managers too: a
//! manager's agent talks to its own port first.

mod session;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use berth_api::Error;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::ca::{NodeCert, RootCa};
use crate::manager::{read, write_synced};
use crate::store::NodeDescription;
use crate::transport::dispatch::{RemoteManager, SessionAnswer};
use crate::transport::{tls, PeerClient, Request, Response};

/// Where the agent keeps the managers it last heard of.
const REMOTES_FILE: &str = "remotes.json";
/// How long a renewal RPC may take.
const RENEW_TIMEOUT: Duration = Duration::from_secs(5);

/// What the agent knows now.
#[derive(Debug, Clone, Default)]
pub struct AgentStatus {
    /// The manager the session is with (None while it looks for one).
    pub manager: Option<String>,
    /// The last answer from the dispatcher.
    pub answer: Option<SessionAnswer>,
    /// The node was removed from the swarm (`node rm`); the agent stopped.
    pub removed: bool,
    /// Why the last attempt failed, if it did.
    pub error: Option<String>,
}

fn lock<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn lock_mut<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

pub(crate) struct Shared {
    state_dir: PathBuf,
    ca: RootCa,
    description: NodeDescription,
    keys: RwLock<Arc<tls::NodeKeys>>,
    node: RwLock<NodeCert>,
    managers: RwLock<Vec<RemoteManager>>,
    /// This node's own cluster address while it is a manager.
    local: RwLock<Option<String>>,
    /// Whether the agent renews the certificate (a worker's does).
    renews: AtomicBool,
    status: watch::Sender<AgentStatus>,
    /// Drop the current session and connect again (after a role change).
    reconnect: Notify,
}

impl Shared {
    /// Managers to try, this node's own first.
    fn candidates(&self) -> Vec<String> {
        let mut list: Vec<String> = lock(&self.local).iter().cloned().collect();
        for m in lock(&self.managers).iter() {
            if !list.contains(&m.addr) {
                list.push(m.addr.clone());
            }
        }
        list
    }

    fn client(&self, addr: &str) -> Result<PeerClient, Error> {
        let keys = lock(&self.keys).clone();
        Ok(PeerClient::new(
            addr.to_string(),
            tls::client_config_with(&self.ca, keys)?,
        ))
    }

    fn save_managers(&self, managers: &[RemoteManager]) {
        let changed = *lock(&self.managers) != managers;
        if !changed || managers.is_empty() {
            return;
        }
        *lock_mut(&self.managers) = managers.to_vec();
        let path = self.state_dir.join(REMOTES_FILE);
        let body = serde_json::to_vec(managers).unwrap_or_default();
        if let Err(e) = write_synced(&path, &body) {
            tracing::warn!("swarm: saving the managers: {}", e.message);
        }
    }

    fn publish(&self, f: impl FnOnce(&mut AgentStatus)) {
        self.status.send_modify(f);
    }

    /// Ask the manager at `addr` to renew this node's certificate (same
    /// key); the role is what the store says now.
    async fn renew_at(&self, addr: &str) -> Result<NodeCert, Error> {
        let current = lock(&self.node).clone();
        let csr_pem = NodeCert::csr_for(&current.key_pem)?;
        let answer = self
            .client(addr)?
            .call(&Request::RenewCertificate { csr_pem }, RENEW_TIMEOUT)
            .await
            .map_err(|e| Error::internal(format!("could not reach the manager at {addr}: {e}")))?;
        let cert_pem = match answer {
            Response::Certificate(pem) => pem,
            Response::Error(e) => return Err(e.into()),
            other => {
                return Err(Error::internal(format!(
                    "unexpected answer from {addr}: {other:?}"
                )))
            }
        };
        let renewed = NodeCert::from_pem(cert_pem, current.key_pem.clone())?;
        if renewed.identity.node_id != current.identity.node_id
            || renewed.identity.cluster_id != current.identity.cluster_id
        {
            return Err(Error::internal(
                "the manager issued a certificate for another node",
            ));
        }
        let certs = self.state_dir.join("certificates");
        write_synced(&certs.join("swarm-node.crt"), renewed.cert_pem.as_bytes())?;
        if self.renews.load(Ordering::SeqCst) {
            lock(&self.keys).replace(&renewed)?;
        }
        *lock_mut(&self.node) = renewed.clone();
        Ok(renewed)
    }
}

/// What an agent starts from.
pub struct AgentConfig {
    pub state_dir: PathBuf,
    pub ca: RootCa,
    pub node: NodeCert,
    /// The node's TLS key as served; a manager's, shared, or the agent's own.
    pub keys: Arc<tls::NodeKeys>,
    pub description: NodeDescription,
    /// Managers to start with (the join address, or `remotes.json`).
    pub managers: Vec<RemoteManager>,
    /// This node's own address if it is a manager.
    pub local: Option<String>,
}

/// A running agent; dropping it stops it.
pub struct Agent {
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Agent {
    pub fn start(config: AgentConfig) -> Agent {
        let (status, _) = watch::channel(AgentStatus::default());
        let shared = Arc::new(Shared {
            state_dir: config.state_dir,
            ca: config.ca,
            description: config.description,
            keys: RwLock::new(config.keys),
            node: RwLock::new(config.node),
            managers: RwLock::new(config.managers),
            renews: AtomicBool::new(config.local.is_none()),
            local: RwLock::new(config.local),
            status,
            reconnect: Notify::new(),
        });
        let task = tokio::spawn(session::run(shared.clone()));
        Agent { shared, task }
    }

    /// Stop the session and heartbeats now (the node leaves or shuts down).
    pub fn stop(&self) {
        self.task.abort();
    }

    /// The managers a restarted node starts with: those saved, else none.
    pub fn saved_managers(state_dir: &Path) -> Vec<RemoteManager> {
        read(&state_dir.join(REMOTES_FILE))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }

    pub fn status(&self) -> AgentStatus {
        self.shared.status.borrow().clone()
    }

    /// Follow the agent's status (every dispatcher answer is an update).
    pub fn watch(&self) -> watch::Receiver<AgentStatus> {
        self.shared.status.subscribe()
    }

    pub fn managers(&self) -> Vec<RemoteManager> {
        lock(&self.shared.managers).clone()
    }

    pub fn node_cert(&self) -> NodeCert {
        lock(&self.shared.node).clone()
    }

    /// Renew the certificate now from a manager other than `except` (this
    /// node's own address, when it is leaving the managers); the first that
    /// answers signs it.
    pub async fn renew_certificate(&self, except: Option<&str>) -> Result<NodeCert, Error> {
        let mut last = Error::internal("no manager to renew the certificate with");
        for addr in self.shared.candidates() {
            if Some(addr.as_str()) == except {
                continue;
            }
            match self.shared.renew_at(&addr).await {
                Ok(c) => return Ok(c),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// This node became a manager: talk to its own port first, present
    /// the manager's (shared) key, and leave renewal to the manager.
    pub(crate) fn became_manager(&self, local: String, keys: Arc<tls::NodeKeys>) {
        self.shared.renews.store(false, Ordering::SeqCst);
        *lock_mut(&self.shared.keys) = keys;
        *lock_mut(&self.shared.local) = Some(local);
        self.shared.reconnect.notify_one();
    }

    /// This node stopped being a manager: its own key again, renewed here.
    pub(crate) fn became_worker(&self, keys: Arc<tls::NodeKeys>) {
        *lock_mut(&self.shared.local) = None;
        *lock_mut(&self.shared.keys) = keys;
        self.shared.renews.store(true, Ordering::SeqCst);
        self.shared.reconnect.notify_one();
    }
}
