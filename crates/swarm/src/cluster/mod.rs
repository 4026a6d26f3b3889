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
use berth_api::views::swarm::{InitRequest, NodeDescription, Swarm, SwarmSpec};
use berth_api::views::SwarmInfo;
use berth_api::Error;
use tokio::sync::{Mutex, RwLock};

use std::sync::Arc;

use crate::ca::{JoinToken, Role};
use crate::manager::{is_swarm_locked, Manager, ManagerConfig, SWARM_LOCKED};
use crate::node::SwarmNode;
use crate::store::ClusterSpec;

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

/// The node's standing when it is in no running swarm.
#[derive(Debug, Clone, PartialEq)]
enum Idle {
    /// In no swarm.
    Inactive,
    /// A manager's state is on disk, encrypted: `swarm unlock` opens it.
    Locked,
    /// The state on disk could not be opened.
    Error(String),
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
    node: RwLock<Option<SwarmNode>>,
    /// Serializes init, join, unlock and leave (dockerd's controlMutex).
    control: Mutex<()>,
    /// Why there is no running node (meaningful while `node` is None).
    idle: std::sync::Mutex<Idle>,
}

impl Cluster {
    /// The cluster of a daemon starting: rejoins the swarm whose state is
    /// on disk, if any. A locked manager waits for `swarm unlock`; a state
    /// that cannot be opened leaves the node in the `error` state with
    /// the reason, as dockerd.
    pub async fn start(config: ClusterConfig) -> Cluster {
        let cluster = Cluster {
            config,
            node: RwLock::new(None),
            control: Mutex::new(()),
            idle: std::sync::Mutex::new(Idle::Inactive),
        };
        match SwarmNode::open(cluster.restart_config()).await {
            Ok(node) => *cluster.node.write().await = node,
            Err(e) if is_swarm_locked(&e) => cluster.set_idle(Idle::Locked),
            Err(e) => {
                tracing::error!(error = %e.message, "could not rejoin the swarm");
                cluster.set_idle(Idle::Error(e.message));
            }
        }
        cluster
    }

    fn idle(&self) -> Idle {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set_idle(&self, idle: Idle) {
        *self.idle.lock().unwrap_or_else(|p| p.into_inner()) = idle;
    }

    fn manager_config(&self, listen: std::net::SocketAddr) -> ManagerConfig {
        let mut cfg = ManagerConfig::new(&self.config.state_dir, listen);
        let d = &self.config.description;
        cfg.hostname = d.hostname.clone();
        cfg.description = crate::store::NodeDescription {
            hostname: d.hostname.clone(),
            platform: crate::store::Platform {
                os: d.platform.os.clone(),
                architecture: d.platform.architecture.clone(),
            },
            resources: crate::store::Resources {
                nano_cpus: d.resources.nano_cpus,
                memory_bytes: d.resources.memory_bytes,
            },
            engine: crate::store::EngineDescription {
                engine_version: d.engine.engine_version.clone(),
                labels: d
                    .engine
                    .labels
                    .iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                plugins: d
                    .engine
                    .plugins
                    .iter()
                    .map(|p| (p.kind.clone(), p.name.clone()))
                    .collect(),
            },
        };
        cfg
    }

    /// The configuration of a node coming back from its state: the port
    /// it advertised before (0 here: `open` finds it in the state).
    fn restart_config(&self) -> ManagerConfig {
        self.manager_config(std::net::SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// The running manager, or dockerd's answer for a node that has none.
    async fn manager(&self) -> Result<Arc<Manager>, Error> {
        let node = self.node.read().await;
        match node.as_ref() {
            Some(n) => n
                .manager()
                .ok_or_else(|| Error::unavailable(WORKER_NOT_A_MANAGER)),
            None if self.idle() == Idle::Locked => Err(Error::unavailable(SWARM_LOCKED)),
            None => Err(Error::unavailable(NOT_A_MANAGER)),
        }
    }

    async fn refuse_if_member(&self) -> Result<(), Error> {
        if self.node.read().await.is_some() || self.config.state_dir.join("state.json").exists() {
            return Err(Error::unavailable(ALREADY_IN_SWARM));
        }
        Ok(())
    }

    /// `POST /swarm/init`: a new swarm with this node its first manager,
    /// or with `ForceNewCluster` this node's swarm state (its own, or a
    /// restored backup) as a one-manager swarm. Answers the node ID.
    pub async fn init(&self, req: InitRequest) -> Result<String, Error> {
        let _control = self.control.lock().await;
        let listen = addr::listen_addr(&req.listen_addr)?;
        let advertise = addr::advertise_addr(&req.advertise_addr, listen)?;
        let mut cfg = self.manager_config(listen);
        cfg.advertise_addr = Some(advertise.to_string());
        let has_state = self.config.state_dir.join("state.json").exists();
        if req.force_new_cluster && has_state {
            return self.force_new_cluster(cfg).await;
        }
        self.refuse_if_member().await?;
        let spec = init_spec(&req)?;
        let availability = nodes::parse_availability(&req.availability)?;
        let node = SwarmNode::init(cfg, spec, None).await?;
        let id = node.info().node_id;
        if availability != crate::store::Availability::Active {
            if let Some(m) = node.manager() {
                m.update_node_unversioned(&id, |n| n.spec.availability = availability)
                    .await?;
            }
        }
        *self.node.write().await = Some(node);
        self.set_idle(Idle::Inactive);
        Ok(id)
    }

    async fn force_new_cluster(&self, cfg: ManagerConfig) -> Result<String, Error> {
        if self.idle() == Idle::Locked {
            return Err(Error::unavailable(SWARM_LOCKED));
        }
        let mut node = self.node.write().await;
        // the running node's unlock key opens its sealed state again
        let key = node
            .as_ref()
            .and_then(|n| n.manager())
            .and_then(|m| m.unlock_key())
            .map(|k| k.to_string());
        if let Some(running) = node.take() {
            running.shutdown().await;
        }
        match SwarmNode::force_new_cluster(cfg, key.as_deref()).await {
            Ok(restored) => {
                let id = restored.info().node_id;
                *node = Some(restored);
                self.set_idle(Idle::Inactive);
                Ok(id)
            }
            Err(e) => {
                // nothing is lost: the node comes back as it was
                *node = SwarmNode::open(self.restart_config()).await.ok().flatten();
                Err(e)
            }
        }
    }

    /// `POST /swarm/join`: as a manager or a worker, as the token says.
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
        let node = SwarmNode::join(cfg, &remote, &req.join_token).await?;
        *self.node.write().await = Some(node);
        self.set_idle(Idle::Inactive);
        Ok(())
    }

    /// `POST /swarm/leave[?force=1]`: dockerd's refusals for a manager,
    /// then stop and forget the swarm state.
    pub async fn leave(&self, force: bool) -> Result<(), Error> {
        let _control = self.control.lock().await;
        let mut node = self.node.write().await;
        let Some(running) = node.take() else {
            return match self.idle() {
                Idle::Locked if !force => Err(Error::unavailable(
                    "Swarm is encrypted and locked. Please unlock it first or use `--force` to ignore this message.",
                )),
                Idle::Locked | Idle::Error(_) => {
                    self.set_idle(Idle::Inactive);
                    self.wipe_state()
                }
                Idle::Inactive => Err(Error::unavailable(NOT_IN_A_SWARM)),
            };
        };
        match running.leave(force).await {
            Ok(()) => Ok(()),
            Err(refused) => {
                *node = refused.node;
                Err(refused.error)
            }
        }
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

    /// `POST /swarm/update?version=N`: the spec (autolock on or off
    /// included), then the rotations asked for: join tokens, the unlock
    /// key, the root CA (`swarm ca --rotate` bumps `ForceRotate` or gives
    /// a signing certificate and key).
    pub async fn update(
        &self,
        version: u64,
        rotations: Rotations,
        spec: SwarmSpec,
    ) -> Result<(), Error> {
        let m = self.manager().await?;
        let c = m
            .cluster()
            .ok_or_else(|| Error::internal("the swarm has no cluster object"))?;
        let next = spec::apply_spec(&c.spec, &spec)?;
        let ca = &spec.ca_config;
        let rotate_ca = next.force_rotate != c.spec.force_rotate
            || !ca.signing_ca_cert.is_empty()
            || !ca.signing_ca_key.is_empty();
        let next_root = match (ca.signing_ca_cert.as_str(), ca.signing_ca_key.as_str()) {
            ("", "") => None,
            (cert, "") => Some(crate::ca::RootCa::from_pem(cert, None)?),
            (cert, key) => Some(crate::ca::RootCa::from_pem(cert, Some(key))?),
        };
        m.update_cluster_spec(version, next).await?;
        if rotations.worker_token {
            m.rotate_join_token(Role::Worker).await?;
        }
        if rotations.manager_token {
            m.rotate_join_token(Role::Manager).await?;
        }
        if rotations.unlock_key {
            m.rotate_unlock_key().await?;
        }
        if rotate_ca {
            m.rotate_root_ca(next_root).await?;
        }
        Ok(())
    }

    /// Refuses, with dockerd's answer, unless this node is a manager.
    pub async fn require_manager(&self) -> Result<(), Error> {
        self.manager().await.map(|_| ())
    }

    /// `GET /swarm/unlockkey`: empty while autolock is off.
    pub async fn unlock_key(&self) -> Result<UnlockKeyResponse, Error> {
        let m = self.manager().await?;
        Ok(UnlockKeyResponse {
            unlock_key: m.unlock_key().map(|k| k.to_string()).unwrap_or_default(),
        })
    }

    /// `POST /swarm/unlock`: open the locked manager's state with `key`.
    pub async fn unlock(&self, key: &str) -> Result<(), Error> {
        let _control = self.control.lock().await;
        let mut node = self.node.write().await;
        if node.is_some() {
            return Err(Error::conflict(crate::manager::NOT_LOCKED));
        }
        if self.idle() != Idle::Locked {
            return Err(Error::unavailable(NOT_A_MANAGER));
        }
        *node = Some(SwarmNode::unlock(self.restart_config(), key).await?);
        self.set_idle(Idle::Inactive);
        Ok(())
    }

    /// `/info`'s `Swarm`.
    pub async fn info(&self) -> SwarmInfo {
        let node = self.node.read().await;
        let Some(n) = node.as_ref() else {
            let (state, error) = match self.idle() {
                Idle::Inactive => ("inactive", String::new()),
                Idle::Locked => ("locked", String::new()),
                Idle::Error(e) => ("error", e),
            };
            return SwarmInfo {
                local_node_state: state.into(),
                error,
                ..SwarmInfo::default()
            };
        };
        let local = n.info();
        let host = local
            .addr
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or(&local.addr)
            .to_string();
        let mut info = SwarmInfo {
            node_id: local.node_id.clone(),
            node_addr: host,
            local_node_state: if local.error.is_some() {
                "error"
            } else {
                "active"
            }
            .into(),
            control_available: false,
            error: local.error.clone().unwrap_or_default(),
            remote_managers: Some(
                local
                    .remote_managers
                    .iter()
                    .map(|r| berth_api::model::PeerNode {
                        node_id: r.node_id.clone(),
                        addr: r.addr.clone(),
                    })
                    .collect(),
            ),
            ..SwarmInfo::default()
        };
        if let Some(m) = n.manager() {
            let managers = m.managers().await;
            info.control_available = true;
            info.remote_managers = Some(
                managers
                    .iter()
                    .map(|s| berth_api::model::PeerNode {
                        node_id: s.node_id.clone(),
                        addr: s.addr.clone(),
                    })
                    .collect(),
            );
            info.nodes = Some(m.nodes().len() as u64);
            info.managers = Some(managers.len() as u64);
            info.cluster = m.cluster().map(|c| spec::cluster_view(&c));
        }
        info
    }

    /// The `Swarm` header of `/_ping`: `inactive`, `active/manager`, ...
    pub fn ping_state(&self) -> &'static str {
        match self.node.try_read() {
            Ok(n) => match n.as_ref() {
                Some(n) if n.manager().is_some() => "active/manager",
                Some(_) => "active/worker",
                None => match self.idle() {
                    Idle::Inactive => "inactive",
                    Idle::Locked => "locked",
                    Idle::Error(_) => "error",
                },
            },
            // an init, join or leave is under way
            Err(_) => "pending",
        }
    }

    /// Stop serving (daemon shutdown): the state stays for the next start.
    pub async fn shutdown(&self) {
        if let Some(n) = self.node.write().await.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), n.shutdown()).await;
        }
    }
}

/// The stored spec of a new swarm from `swarm init`'s request.
fn init_spec(req: &InitRequest) -> Result<ClusterSpec, Error> {
    if req
        .spec
        .ca_config
        .external_cas
        .as_ref()
        .is_some_and(|cas| !cas.is_empty())
    {
        // signing goes to a remote CFSSL server berth has no client for;
        // a root of one's own (with its key) works through `swarm ca`
        return Err(Error::invalid(
            "berthd cannot have node certificates signed by an external CA (--external-ca); give the root and its key to `docker swarm ca --rotate --ca-cert FILE --ca-key FILE` instead",
        ));
    }
    let mut spec = spec::apply_spec(&ClusterSpec::default(), &req.spec)?;
    // the API's own flag, beside the spec's
    spec.autolock |= req.auto_lock_managers;
    if let Some(pool) = req.default_addr_pool.clone().filter(|p| !p.is_empty()) {
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
    Ok(spec)
}
