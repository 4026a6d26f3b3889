//! The daemon's side of swarm mode, as moby's daemon/cluster: one
//! [`Cluster`] per berthd, holding this node's swarm membership (none, or
//! a running [`Manager`]), turning API requests into manager calls and
//! the cluster's objects into the API's views, with dockerd's statuses and
//! messages. berthd's routes only parse HTTP and call it.

pub mod addr;
mod nodes;
pub mod spec;

use std::path::PathBuf;
use std::time::Duration;

use berth_api::model::{SwarmJoinRequest, UnlockKeyResponse};
use berth_api::views::swarm::{ClusterInfo, InitRequest, NodeDescription, Swarm, SwarmSpec};
use berth_api::views::SwarmInfo;
use berth_api::Error;
use tokio::sync::{Mutex, RwLock, RwLockReadGuard};

use crate::ca::{JoinToken, Role};
use crate::manager::{Manager, ManagerConfig, Reachability};
use crate::store::{ClusterSpec, Command};

pub use nodes::NodeFilters;

/// dockerd's errNoSwarm.
pub const NOT_IN_A_SWARM: &str = "This node is not part of a swarm";
/// dockerd's errNoManager on a node in no swarm.
pub const NOT_A_MANAGER: &str = "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.";
/// dockerd's errNoManager on a worker.
pub const WORKER_NOT_A_MANAGER: &str = "This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager.";
/// dockerd's errSwarmExists.
pub const ALREADY_IN_SWARM: &str = "This node is already part of a swarm. Use \"docker swarm leave\" to leave this swarm and join another one.";

/// What the daemon tells the cluster about itself.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// `<data-root>/swarm`
    pub state_dir: PathBuf,
    /// What this engine reports as its node description.
    pub description: NodeDescription,
}

/// Which token rotations `swarm update` asked for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rotations {
    pub worker_token: bool,
    pub manager_token: bool,
    pub unlock_key: bool,
}

/// This daemon's swarm membership.
pub struct Cluster {
    config: ClusterConfig,
    node: RwLock<Option<Manager>>,
    /// Serializes init, join and leave (dockerd's controlMutex).
    control: Mutex<()>,
    /// Why the swarm state on disk could not be opened at start.
    start_error: std::sync::Mutex<Option<String>>,
}

impl Cluster {
    /// The cluster of a daemon starting: rejoins the swarm whose state is
    /// on disk, if any. A state that cannot be opened leaves the node in
    /// the `error` state with the reason, as dockerd.
    pub async fn start(config: ClusterConfig) -> Cluster {
        let cluster = Cluster {
            config,
            node: RwLock::new(None),
            control: Mutex::new(()),
            start_error: std::sync::Mutex::new(None),
        };
        if cluster.config.state_dir.join("state.json").exists() {
            let cfg = cluster.manager_config(addr::listen_addr("").unwrap_or_else(|_| {
                std::net::SocketAddr::from(([0, 0, 0, 0], addr::DEFAULT_PORT))
            }));
            let mut cfg = cfg;
            // the port the node advertised before, found in its state
            cfg.listen_addr.set_port(0);
            match Manager::open(cfg).await {
                Ok(m) => *cluster.node.write().await = Some(m),
                Err(e) => {
                    tracing::error!(error = %e.message, "could not rejoin the swarm");
                    *cluster.lock_start_error() = Some(e.message);
                }
            }
        }
        cluster
    }

    fn lock_start_error(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.start_error.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn manager_config(&self, listen: std::net::SocketAddr) -> ManagerConfig {
        let mut cfg = ManagerConfig::new(&self.config.state_dir, listen);
        cfg.hostname = self.config.description.hostname.clone();
        cfg
    }

    /// The running manager, or dockerd's answer for a node that has none.
    async fn manager(&self) -> Result<RwLockReadGuard<'_, Manager>, Error> {
        let guard = self.node.read().await;
        RwLockReadGuard::try_map(guard, |n| n.as_ref())
            .map_err(|_| Error::unavailable(NOT_A_MANAGER))
    }

    async fn refuse_if_member(&self) -> Result<(), Error> {
        if self.node.read().await.is_some() || self.config.state_dir.join("state.json").exists() {
            return Err(Error::unavailable(ALREADY_IN_SWARM));
        }
        Ok(())
    }

    /// `POST /swarm/init`: a new swarm with this node its first manager.
    /// Answers the node ID.
    pub async fn init(&self, req: InitRequest) -> Result<String, Error> {
        let _control = self.control.lock().await;
        self.refuse_if_member().await?;
        let listen = addr::listen_addr(&req.listen_addr)?;
        let advertise = addr::advertise_addr(&req.advertise_addr, listen)?;
        let mut spec = spec::apply_spec(&ClusterSpec::default(), &req.spec)?;
        // the API's own flag, beside the spec's
        spec.autolock |= req.auto_lock_managers;
        if let Some(pool) = req.default_addr_pool.filter(|p| !p.is_empty()) {
            spec.default_addr_pool = pool;
        }
        if req.subnet_size > 0 {
            spec.subnet_size = req.subnet_size;
        }
        if req.data_path_port > 0 {
            if !(1024..=49151).contains(&req.data_path_port) {
                return Err(Error::invalid(format!(
                    "data path port {} is out of range (1024-49151)",
                    req.data_path_port
                )));
            }
            spec.data_path_port = req.data_path_port;
        }
        refuse_autolock(&spec)?;
        let mut cfg = self.manager_config(listen);
        cfg.advertise_addr = Some(advertise.to_string());
        let m = Manager::init(cfg, spec, None).await?;
        let id = m.node_id().to_string();
        *self.node.write().await = Some(m);
        *self.lock_start_error() = None;
        Ok(id)
    }

    /// `POST /swarm/join`.
    pub async fn join(&self, req: SwarmJoinRequest) -> Result<(), Error> {
        let _control = self.control.lock().await;
        self.refuse_if_member().await?;
        let remote = req
            .remote_addrs
            .as_deref()
            .and_then(|r| r.first())
            .ok_or_else(|| Error::invalid("at least 1 RemoteAddr is required to join"))?;
        JoinToken::parse(&req.join_token).map_err(|_| Error::invalid("invalid join token"))?;
        let listen = addr::listen_addr(&req.listen_addr)?;
        let advertise = addr::advertise_addr(&req.advertise_addr, listen)?;
        let mut cfg = self.manager_config(listen);
        cfg.advertise_addr = Some(advertise.to_string());
        let remote = if remote.contains(':') {
            remote.clone()
        } else {
            format!("{remote}:{}", addr::DEFAULT_PORT)
        };
        let m = Manager::join(cfg, &remote, &req.join_token).await?;
        *self.node.write().await = Some(m);
        *self.lock_start_error() = None;
        Ok(())
    }

    /// `POST /swarm/leave[?force=1]`: dockerd's refusals for a manager,
    /// then stop and forget the swarm state.
    pub async fn leave(&self, force: bool) -> Result<(), Error> {
        let _control = self.control.lock().await;
        let mut node = self.node.write().await;
        let Some(m) = node.as_ref() else {
            if self.config.state_dir.join("state.json").exists() && force {
                return self.wipe_state();
            }
            return Err(Error::unavailable(NOT_IN_A_SWARM));
        };
        if !force {
            return Err(Error::unavailable(leave_refusal(m).await));
        }
        if let Some(m) = node.take() {
            m.shutdown().await;
        }
        self.wipe_state()
    }

    fn wipe_state(&self) -> Result<(), Error> {
        match std::fs::remove_dir_all(&self.config.state_dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::internal(format!(
                "removing {}: {e}",
                self.config.state_dir.display()
            ))),
        }
    }

    /// `GET /swarm`.
    pub async fn inspect(&self) -> Result<Swarm, Error> {
        let m = self.manager().await?;
        let c = m
            .cluster()
            .ok_or_else(|| Error::internal("the swarm has no cluster object"))?;
        Ok(Swarm {
            cluster: spec::cluster_view(&c),
            join_tokens: berth_api::views::swarm::JoinTokens {
                worker: c.join_tokens.worker.to_string(),
                manager: c.join_tokens.manager.to_string(),
            },
        })
    }

    /// `POST /swarm/update?version=N`.
    pub async fn update(
        &self,
        version: u64,
        rotations: Rotations,
        spec: SwarmSpec,
    ) -> Result<(), Error> {
        let m = self.manager().await?;
        let mut c = m
            .cluster()
            .ok_or_else(|| Error::internal("the swarm has no cluster object"))?;
        if c.meta.version != version {
            return Err(Error::invalid(
                "rpc error: code = Unknown desc = update out of sequence",
            ));
        }
        c.spec = spec::apply_spec(&c.spec, &spec)?;
        refuse_autolock(&c.spec)?;
        if rotations.worker_token {
            c.join_tokens.rotate(Role::Worker);
        }
        if rotations.manager_token {
            c.join_tokens.rotate(Role::Manager);
        }
        c.meta.updated_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        m.propose(Command::UpdateCluster(Box::new(c))).await?;
        Ok(())
    }

    /// Refuses, with dockerd's answer, unless this node is a manager.
    pub async fn require_manager(&self) -> Result<(), Error> {
        self.manager().await.map(|_| ())
    }

    /// `GET /swarm/unlockkey`: empty while autolock is off.
    pub async fn unlock_key(&self) -> Result<UnlockKeyResponse, Error> {
        let m = self.manager().await?;
        let autolock = m.cluster().is_some_and(|c| c.spec.autolock);
        if !autolock {
            return Ok(UnlockKeyResponse::default());
        }
        Err(Error::unavailable(
            "berthd cannot encrypt a swarm at rest yet",
        ))
    }

    /// `POST /swarm/unlock`.
    pub async fn unlock(&self, _key: &str) -> Result<(), Error> {
        if self.node.read().await.is_some() {
            return Err(Error::conflict("swarm is not locked"));
        }
        Err(Error::unavailable(NOT_A_MANAGER))
    }

    /// `/info`'s `Swarm`.
    pub async fn info(&self) -> SwarmInfo {
        let node = self.node.read().await;
        let Some(m) = node.as_ref() else {
            let error = self.lock_start_error().clone();
            return SwarmInfo {
                local_node_state: if error.is_some() { "error" } else { "inactive" }.into(),
                error: error.unwrap_or_default(),
                ..SwarmInfo::default()
            };
        };
        let managers = m.managers().await;
        let nodes = m.nodes();
        let host = m
            .addr()
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or(m.addr())
            .to_string();
        SwarmInfo {
            node_id: m.node_id().to_string(),
            node_addr: host,
            local_node_state: "active".into(),
            control_available: true,
            error: String::new(),
            remote_managers: Some(
                managers
                    .iter()
                    .map(|s| berth_api::model::PeerNode {
                        node_id: s.node_id.clone(),
                        addr: s.addr.clone(),
                    })
                    .collect(),
            ),
            nodes: Some(nodes.len() as u64),
            managers: Some(managers.len() as u64),
            cluster: m.cluster().map(|c| spec::cluster_view(&c)),
        }
    }

    /// The `Swarm` header of `/_ping`: `inactive`, `active/manager`, ...
    pub fn ping_state(&self) -> &'static str {
        match self.node.try_read() {
            Ok(n) if n.is_some() => "active/manager",
            Ok(_) if self.lock_start_error().is_some() => "error",
            Ok(_) => "inactive",
            // an init, join or leave is under way
            Err(_) => "pending",
        }
    }

    /// The cluster view of `/info` alone (for callers that need no node).
    pub async fn cluster_info(&self) -> Result<ClusterInfo, Error> {
        Ok(self.inspect().await?.cluster)
    }

    /// Stop serving (daemon shutdown): the state stays for the next start.
    pub async fn shutdown(&self) {
        if let Some(m) = self.node.write().await.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), m.shutdown()).await;
        }
    }
}

/// Until the Raft data can be encrypted at rest, a swarm is never said to
/// be locked when it is not.
fn refuse_autolock(spec: &ClusterSpec) -> Result<(), Error> {
    if spec.autolock {
        return Err(Error::unavailable(
            "berthd cannot encrypt a swarm at rest yet: --autolock is not available",
        ));
    }
    Ok(())
}

/// dockerd's words for a manager leaving without `--force`.
async fn leave_refusal(m: &Manager) -> String {
    let mut msg = String::from(
        "You are attempting to leave the swarm on a node that is participating as a manager. ",
    );
    let statuses = m.managers().await;
    let reachable = statuses
        .iter()
        .filter(|s| s.reachability == Reachability::Reachable)
        .count();
    let unreachable = statuses.len() - reachable;
    // swarmkit: removing a manager loses quorum when reachable-2 <= unreachable
    if reachable <= unreachable + 2 {
        if reachable == 1 && unreachable == 0 {
            msg.push_str("Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message. ");
            return msg;
        }
        msg.push_str(&format!(
            "Removing this node leaves {} managers out of {}. Without a Raft quorum your swarm will be inaccessible. ",
            reachable.saturating_sub(1),
            reachable + unreachable
        ));
    }
    msg.push_str("The only way to restore a swarm that has lost consensus is to reinitialize it with `--force-new-cluster`. Use `--force` to suppress this message.");
    msg
}
