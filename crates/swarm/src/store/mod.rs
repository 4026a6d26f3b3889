//! The cluster store: the typed objects the managers replicate (the Raft
//! state machine's contents) and the writes that change them. Every
//! object kind is a map keyed by ID with a `Meta` whose `version` is the
//! Raft log index of its last write, as swarmkit's `Meta.Version.Index`,
//! so an update carrying a stale version is refused ("update out of
//! sequence") instead of overwriting someone else's change. Services,
//! tasks, networks, secrets and configs are added next as further maps and
//! `Command` variants; the persistence (`raft::state_machine`) stores rows
//! by kind and ID and needs no change for them.

mod description;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ca::{JoinTokens, Role};

pub use description::{EngineDescription, NodeDescription, Platform, Resources};

/// Version and times every object carries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// Raft index of the write that made this version (0 before the first).
    pub version: u64,
    /// RFC 3339, set by the proposer.
    pub created_at: String,
    pub updated_at: String,
}

/// `docker swarm init/update` settings that the store keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterSpec {
    pub name: String,
    /// Node certificate lifetime (`--cert-expiry`), seconds.
    pub cert_expiry_secs: u64,
    /// `--task-history-limit`
    pub task_history_limit: i64,
    /// `--dispatcher-heartbeat` (`Dispatcher.HeartbeatPeriod`), in
    /// nanoseconds as the API has it; tests set it to a fraction of a second.
    pub heartbeat_period_ns: u64,
    /// `--autolock`
    pub autolock: bool,
    /// `Spec.Labels`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `Spec.Raft` as the user set it. Kept and shown; berth's Raft timing
    /// is openraft's (heartbeat and election timeouts in milliseconds,
    /// `ManagerConfig`), not swarmkit's ticks.
    #[serde(default)]
    pub raft: RaftSettings,
    /// `Spec.TaskDefaults.LogDriver`: name and options.
    #[serde(default)]
    pub task_log_driver: Option<(String, BTreeMap<String, String>)>,
    /// The overlay address pools (`--default-addr-pool`, `--default-addr-pool-mask-length`)
    /// and VXLAN port (`--data-path-port`), fixed at init.
    #[serde(default)]
    pub default_addr_pool: Vec<String>,
    #[serde(default = "default_subnet_size")]
    pub subnet_size: u32,
    #[serde(default = "default_data_path_port")]
    pub data_path_port: u32,
    /// `CAConfig.ForceRotate`: `swarm ca --rotate` bumps it.
    #[serde(default)]
    pub force_rotate: u64,
}

fn default_subnet_size() -> u32 {
    24
}

fn default_data_path_port() -> u32 {
    4789
}

/// swarmkit's Raft settings as `Spec.Raft` shows them (its defaults).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaftSettings {
    pub snapshot_interval: u64,
    pub keep_old_snapshots: u64,
    pub log_entries_for_slow_followers: u64,
    pub election_tick: i64,
    pub heartbeat_tick: i64,
}

impl Default for RaftSettings {
    fn default() -> Self {
        RaftSettings {
            snapshot_interval: 10000,
            keep_old_snapshots: 0,
            log_entries_for_slow_followers: 500,
            election_tick: 10,
            heartbeat_tick: 1,
        }
    }
}

impl Default for ClusterSpec {
    fn default() -> Self {
        ClusterSpec {
            name: "default".into(),
            cert_expiry_secs: crate::ca::DEFAULT_CERT_EXPIRY.as_secs(),
            task_history_limit: 5,
            heartbeat_period_ns: 5_000_000_000,
            autolock: false,
            labels: BTreeMap::new(),
            raft: RaftSettings::default(),
            task_log_driver: None,
            default_addr_pool: Vec::new(),
            subnet_size: default_subnet_size(),
            data_path_port: default_data_path_port(),
            force_rotate: 0,
        }
    }
}

/// The one cluster object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cluster {
    pub id: String,
    pub meta: Meta,
    pub spec: ClusterSpec,
    /// The root CA certificate (PEM) every node trusts.
    pub root_ca_cert: String,
    /// The root CA key (PEM) so any manager can issue certificates; None
    /// with an external CA that signs elsewhere.
    pub root_ca_key: Option<String>,
    pub join_tokens: JoinTokens,
    /// With autolock on, the key every manager seals its key file under
    /// (swarmkit's `Cluster.UnlockKeys`); None with autolock off. Secret:
    /// never shown in an inspect.
    #[serde(default)]
    pub unlock_key: Option<crate::lock::UnlockKey>,
    /// A root CA rotation in progress (`swarm ca --rotate`).
    #[serde(default)]
    pub root_rotation: Option<RootRotation>,
}

/// swarmkit's `RootRotation`: the next root, and its certificate signed by
/// the current root so nodes that trust only the current one accept
/// certificates from the next during the rotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootRotation {
    pub ca_cert: String,
    pub ca_key: String,
    pub cross_signed_ca_cert: String,
}

/// swarmkit's `NodeTLSInfo`: who issued a node's certificate (DER of the
/// issuer's subject and public key), which tells a rotation's progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsInfo {
    /// The root (PEM) the node trusts.
    pub trust_root: String,
    pub cert_issuer_subject: Vec<u8>,
    pub cert_issuer_public_key: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Availability {
    #[default]
    Active,
    Pause,
    Drain,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum NodeState {
    #[default]
    Unknown,
    Down,
    Ready,
    Disconnected,
}

/// What the user sets with `node update`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeSpec {
    pub role: Role,
    pub availability: Availability,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    pub state: NodeState,
    pub message: String,
    /// The address the node is seen at.
    pub addr: String,
}

/// A manager's place in Raft.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagerInfo {
    pub raft_id: u64,
    /// The cluster address (host:port) peers reach it at.
    pub addr: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub id: String,
    pub meta: Meta,
    pub spec: NodeSpec,
    pub hostname: String,
    pub status: NodeStatus,
    /// Set for managers.
    pub manager: Option<ManagerInfo>,
    /// Set once the node's certificate was issued by a known CA.
    #[serde(default)]
    pub tls_info: Option<TlsInfo>,
    /// What the node reported at its last session start (None before it).
    #[serde(default)]
    pub description: Option<NodeDescription>,
}

/// The replicated state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreData {
    pub cluster: Option<Cluster>,
    pub nodes: BTreeMap<String, Node>,
}

/// A write, proposed through Raft and applied in log order on every manager.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    CreateCluster(Box<Cluster>),
    /// Refused unless `meta.version` is the stored one.
    UpdateCluster(Box<Cluster>),
    CreateNode(Box<Node>),
    /// Refused unless `meta.version` is the stored one.
    UpdateNode(Box<Node>),
    RemoveNode {
        id: String,
    },
}

/// The outcome of applying a `Command`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandResult {
    /// Applied; the object's new version.
    Applied {
        version: u64,
    },
    /// Refused: a conflict (exists, or an out-of-sequence update).
    Conflict(String),
    NotFound(String),
}

/// A changed row, for the persistence to write in the same transaction as
/// the applied index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowChange {
    Put {
        kind: &'static str,
        id: String,
        body: String,
    },
    Delete {
        kind: &'static str,
        id: String,
    },
}

pub const KIND_CLUSTER: &str = "cluster";
pub const KIND_NODE: &str = "node";

fn put<T: Serialize>(kind: &'static str, id: &str, obj: &T) -> RowChange {
    // Serializing our own plain structs cannot fail.
    let body = serde_json::to_string(obj).unwrap_or_default();
    RowChange::Put {
        kind,
        id: id.to_string(),
        body,
    }
}

const OUT_OF_SEQUENCE: &str = "update out of sequence";

impl StoreData {
    /// Apply `cmd` as the write at log `index`; returns the result and the
    /// rows to persist (none when refused).
    pub fn apply(&mut self, index: u64, cmd: Command) -> (CommandResult, Vec<RowChange>) {
        match cmd {
            Command::CreateCluster(mut c) => {
                if self.cluster.is_some() {
                    return (
                        CommandResult::Conflict("cluster already exists".into()),
                        vec![],
                    );
                }
                c.meta.version = index;
                let row = put(KIND_CLUSTER, &c.id, &c);
                self.cluster = Some(*c);
                (CommandResult::Applied { version: index }, vec![row])
            }
            Command::UpdateCluster(mut c) => {
                let Some(cur) = &self.cluster else {
                    return (CommandResult::NotFound("cluster not found".into()), vec![]);
                };
                if cur.id != c.id || cur.meta.version != c.meta.version {
                    return (CommandResult::Conflict(OUT_OF_SEQUENCE.into()), vec![]);
                }
                c.meta.version = index;
                let row = put(KIND_CLUSTER, &c.id, &c);
                self.cluster = Some(*c);
                (CommandResult::Applied { version: index }, vec![row])
            }
            Command::CreateNode(mut n) => {
                if self.nodes.contains_key(&n.id) {
                    return (
                        CommandResult::Conflict(format!("node {} already exists", n.id)),
                        vec![],
                    );
                }
                n.meta.version = index;
                let row = put(KIND_NODE, &n.id, &n);
                self.nodes.insert(n.id.clone(), *n);
                (CommandResult::Applied { version: index }, vec![row])
            }
            Command::UpdateNode(mut n) => {
                let Some(cur) = self.nodes.get(&n.id) else {
                    return (
                        CommandResult::NotFound(format!("node {} not found", n.id)),
                        vec![],
                    );
                };
                if cur.meta.version != n.meta.version {
                    return (CommandResult::Conflict(OUT_OF_SEQUENCE.into()), vec![]);
                }
                n.meta.version = index;
                let row = put(KIND_NODE, &n.id, &n);
                self.nodes.insert(n.id.clone(), *n);
                (CommandResult::Applied { version: index }, vec![row])
            }
            Command::RemoveNode { id } => {
                if self.nodes.remove(&id).is_none() {
                    return (
                        CommandResult::NotFound(format!("node {id} not found")),
                        vec![],
                    );
                }
                (
                    CommandResult::Applied { version: index },
                    vec![RowChange::Delete {
                        kind: KIND_NODE,
                        id,
                    }],
                )
            }
        }
    }

    /// Every object as rows (for a snapshot install).
    pub fn rows(&self) -> Vec<RowChange> {
        let mut rows: Vec<RowChange> = self
            .cluster
            .iter()
            .map(|c| put(KIND_CLUSTER, &c.id, c))
            .collect();
        rows.extend(self.nodes.values().map(|n| put(KIND_NODE, &n.id, n)));
        rows
    }

    /// Load one persisted row; unknown kinds (from a newer berth) are an error.
    pub fn load_row(&mut self, kind: &str, body: &str) -> Result<(), serde_json::Error> {
        match kind {
            KIND_CLUSTER => self.cluster = Some(serde_json::from_str(body)?),
            KIND_NODE => {
                let n: Node = serde_json::from_str(body)?;
                self.nodes.insert(n.id.clone(), n);
            }
            other => {
                return Err(serde::de::Error::custom(format!(
                    "unknown object kind {other}"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ca::JoinToken;

    fn node(id: &str) -> Node {
        Node {
            id: id.into(),
            meta: Meta::default(),
            spec: NodeSpec {
                role: Role::Worker,
                availability: Availability::Active,
                labels: BTreeMap::new(),
            },
            hostname: "h".into(),
            status: NodeStatus::default(),
            manager: None,
            tls_info: None,
            description: None,
        }
    }

    fn cluster() -> Cluster {
        let t = JoinToken::generate([1; 32]);
        Cluster {
            id: "c".into(),
            meta: Meta::default(),
            spec: ClusterSpec::default(),
            root_ca_cert: String::new(),
            root_ca_key: None,
            join_tokens: JoinTokens {
                worker: t.clone(),
                manager: t,
            },
            unlock_key: None,
            root_rotation: None,
        }
    }

    #[test]
    fn versions_guard_updates_and_refusals_change_nothing() {
        let mut s = StoreData::default();
        assert_eq!(
            s.apply(1, Command::CreateNode(Box::new(node("n")))).0,
            CommandResult::Applied { version: 1 }
        );
        let (r, rows) = s.apply(2, Command::CreateNode(Box::new(node("n"))));
        assert!(matches!(r, CommandResult::Conflict(_)) && rows.is_empty());

        let mut stale = node("n");
        stale.spec.availability = Availability::Drain;
        let (r, rows) = s.apply(3, Command::UpdateNode(Box::new(stale.clone())));
        assert_eq!(r, CommandResult::Conflict("update out of sequence".into()));
        assert!(rows.is_empty());
        assert_eq!(s.nodes["n"].spec.availability, Availability::Active);

        stale.meta.version = 1;
        assert_eq!(
            s.apply(4, Command::UpdateNode(Box::new(stale))).0,
            CommandResult::Applied { version: 4 }
        );
        assert_eq!(s.nodes["n"].spec.availability, Availability::Drain);
        assert_eq!(s.nodes["n"].meta.version, 4);

        assert!(matches!(
            s.apply(5, Command::RemoveNode { id: "x".into() }).0,
            CommandResult::NotFound(_)
        ));
        assert_eq!(
            s.apply(6, Command::RemoveNode { id: "n".into() }).0,
            CommandResult::Applied { version: 6 }
        );
        assert!(s.nodes.is_empty());
    }

    #[test]
    fn rows_reload_to_the_same_store() {
        let mut s = StoreData::default();
        s.apply(1, Command::CreateCluster(Box::new(cluster())));
        s.apply(2, Command::CreateNode(Box::new(node("a"))));
        s.apply(3, Command::CreateNode(Box::new(node("b"))));
        let mut back = StoreData::default();
        for row in s.rows() {
            let RowChange::Put { kind, body, .. } = row else {
                panic!("only puts")
            };
            back.load_row(kind, &body).unwrap();
        }
        assert_eq!(back, s);
        assert!(
            back.load_row("service", "{}").is_err(),
            "an unknown kind is an error, not dropped"
        );
        assert!(matches!(
            s.apply(4, Command::CreateCluster(Box::new(cluster()))).0,
            CommandResult::Conflict(_)
        ));
    }
}
