//! Swarm mode's answers (`GET /swarm`, `/nodes`, `/info`'s `Cluster`),
//! field for field as dockerd prints them. Hand types because Go's
//! `omitempty` drops fields the spec always shows (a worker has no
//! `ManagerStatus`, a follower no `Leader`, an empty `Message` is absent)
//! and because dockerd prints `Labels` as `{}` where the generated types
//! would print `null`. They deserialize too, leniently, so the client and
//! the CLI read them back.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

pub use crate::model::{JoinTokens, ObjectVersion, PeerNode, TLSInfo};

fn is_zero(v: &i64) -> bool {
    *v == 0
}

fn is_false(v: &bool) -> bool {
    !*v
}

/// `Spec.Orchestration`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OrchestrationConfig {
    /// `--task-history-limit`; Go's `*int64`, printed when set.
    #[serde(
        rename = "TaskHistoryRetentionLimit",
        skip_serializing_if = "Option::is_none"
    )]
    pub task_history_retention_limit: Option<i64>,
}

/// `Spec.Raft`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RaftConfig {
    #[serde(rename = "SnapshotInterval")]
    pub snapshot_interval: u64,
    #[serde(rename = "KeepOldSnapshots")]
    pub keep_old_snapshots: u64,
    #[serde(rename = "LogEntriesForSlowFollowers")]
    pub log_entries_for_slow_followers: u64,
    #[serde(rename = "ElectionTick")]
    pub election_tick: i64,
    #[serde(rename = "HeartbeatTick")]
    pub heartbeat_tick: i64,
}

/// `Spec.Dispatcher`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DispatcherConfig {
    /// Nanoseconds (`--dispatcher-heartbeat`).
    #[serde(rename = "HeartbeatPeriod", skip_serializing_if = "is_zero")]
    pub heartbeat_period: i64,
}

/// One `--external-ca`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExternalCa {
    #[serde(rename = "Protocol")]
    pub protocol: String,
    #[serde(rename = "URL")]
    pub url: String,
    #[serde(rename = "Options", skip_serializing_if = "Option::is_none")]
    pub options: Option<IndexMap<String, String>>,
    #[serde(rename = "CACert")]
    pub ca_cert: String,
}

/// `Spec.CAConfig`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CaConfig {
    /// Nanoseconds (`--cert-expiry`).
    #[serde(rename = "NodeCertExpiry", skip_serializing_if = "is_zero")]
    pub node_cert_expiry: i64,
    #[serde(rename = "ExternalCAs", skip_serializing_if = "Option::is_none")]
    pub external_cas: Option<Vec<ExternalCa>>,
    #[serde(rename = "SigningCACert", skip_serializing_if = "String::is_empty")]
    pub signing_ca_cert: String,
    #[serde(rename = "SigningCAKey", skip_serializing_if = "String::is_empty")]
    pub signing_ca_key: String,
    /// Bumped by `swarm ca --rotate` to force a new root.
    #[serde(rename = "ForceRotate", skip_serializing_if = "is_zero_u64")]
    pub force_rotate: u64,
}

fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

/// `Spec.TaskDefaults.LogDriver`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogDriverDefault {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Options", skip_serializing_if = "Option::is_none")]
    pub options: Option<IndexMap<String, String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskDefaults {
    #[serde(rename = "LogDriver", skip_serializing_if = "Option::is_none")]
    pub log_driver: Option<LogDriverDefault>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EncryptionConfig {
    #[serde(rename = "AutoLockManagers")]
    pub auto_lock_managers: bool,
}

/// The swarm's spec: what `swarm init` and `swarm update` set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SwarmSpec {
    #[serde(rename = "Name", skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(rename = "Labels")]
    pub labels: IndexMap<String, String>,
    #[serde(rename = "Orchestration")]
    pub orchestration: OrchestrationConfig,
    #[serde(rename = "Raft")]
    pub raft: RaftConfig,
    #[serde(rename = "Dispatcher")]
    pub dispatcher: DispatcherConfig,
    #[serde(rename = "CAConfig")]
    pub ca_config: CaConfig,
    #[serde(rename = "TaskDefaults")]
    pub task_defaults: TaskDefaults,
    #[serde(rename = "EncryptionConfig")]
    pub encryption_config: EncryptionConfig,
}

/// `/info`'s `Swarm.Cluster`, and the head of `GET /swarm`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterInfo {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Version")]
    pub version: ObjectVersion,
    #[serde(rename = "CreatedAt")]
    pub created_at: String,
    #[serde(rename = "UpdatedAt")]
    pub updated_at: String,
    #[serde(rename = "Spec")]
    pub spec: SwarmSpec,
    #[serde(rename = "TLSInfo")]
    pub tls_info: TLSInfo,
    #[serde(rename = "RootRotationInProgress")]
    pub root_rotation_in_progress: bool,
    /// Go's nil slice: `null` until `--default-addr-pool` is given.
    #[serde(rename = "DefaultAddrPool")]
    pub default_addr_pool: Option<Vec<String>>,
    #[serde(rename = "SubnetSize")]
    pub subnet_size: u32,
    #[serde(rename = "DataPathPort")]
    pub data_path_port: u32,
}

/// `GET /swarm`: the cluster with its join tokens (managers only).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Swarm {
    #[serde(flatten)]
    pub cluster: ClusterInfo,
    #[serde(rename = "JoinTokens")]
    pub join_tokens: JoinTokens,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeSpec {
    #[serde(rename = "Name", skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(rename = "Labels")]
    pub labels: IndexMap<String, String>,
    /// `worker` or `manager`.
    #[serde(rename = "Role")]
    pub role: String,
    /// `active`, `pause` or `drain`.
    #[serde(rename = "Availability")]
    pub availability: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Platform {
    #[serde(rename = "Architecture")]
    pub architecture: String,
    #[serde(rename = "OS")]
    pub os: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Resources {
    #[serde(rename = "NanoCPUs")]
    pub nano_cpus: i64,
    #[serde(rename = "MemoryBytes")]
    pub memory_bytes: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EnginePlugin {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "Name")]
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EngineDescription {
    #[serde(rename = "EngineVersion")]
    pub engine_version: String,
    #[serde(rename = "Labels", skip_serializing_if = "Option::is_none")]
    pub labels: Option<IndexMap<String, String>>,
    #[serde(rename = "Plugins")]
    pub plugins: Vec<EnginePlugin>,
}

/// What a node's engine reports about itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeDescription {
    #[serde(rename = "Hostname")]
    pub hostname: String,
    #[serde(rename = "Platform")]
    pub platform: Platform,
    #[serde(rename = "Resources")]
    pub resources: Resources,
    #[serde(rename = "Engine")]
    pub engine: EngineDescription,
    #[serde(rename = "TLSInfo")]
    pub tls_info: TLSInfo,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeStatus {
    /// `unknown`, `down`, `ready` or `disconnected`.
    #[serde(rename = "State")]
    pub state: String,
    #[serde(rename = "Message", skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(rename = "Addr")]
    pub addr: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ManagerStatus {
    #[serde(rename = "Leader", skip_serializing_if = "is_false")]
    pub leader: bool,
    /// `reachable`, `unreachable` or `unknown`.
    #[serde(rename = "Reachability")]
    pub reachability: String,
    #[serde(rename = "Addr")]
    pub addr: String,
}

/// One node of `GET /nodes`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Node {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Version")]
    pub version: ObjectVersion,
    #[serde(rename = "CreatedAt")]
    pub created_at: String,
    #[serde(rename = "UpdatedAt")]
    pub updated_at: String,
    #[serde(rename = "Spec")]
    pub spec: NodeSpec,
    #[serde(rename = "Description")]
    pub description: NodeDescription,
    #[serde(rename = "Status")]
    pub status: NodeStatus,
    /// Workers have none.
    #[serde(rename = "ManagerStatus", skip_serializing_if = "Option::is_none")]
    pub manager_status: Option<ManagerStatus>,
}

/// `POST /swarm/init`'s body. Not the generated `SwarmInitRequest`: its
/// spec types drop the difference between a field the client left out
/// and one it set to zero (the CLI sends only the flags the user gave).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct InitRequest {
    #[serde(rename = "ListenAddr")]
    pub listen_addr: String,
    #[serde(rename = "AdvertiseAddr")]
    pub advertise_addr: String,
    #[serde(rename = "DataPathAddr")]
    pub data_path_addr: String,
    #[serde(rename = "DataPathPort")]
    pub data_path_port: u32,
    #[serde(rename = "DefaultAddrPool")]
    pub default_addr_pool: Option<Vec<String>>,
    #[serde(rename = "ForceNewCluster")]
    pub force_new_cluster: bool,
    #[serde(rename = "SubnetSize")]
    pub subnet_size: u32,
    #[serde(rename = "Spec")]
    pub spec: SwarmSpec,
    #[serde(rename = "AutoLockManagers")]
    pub auto_lock_managers: bool,
    #[serde(rename = "Availability")]
    pub availability: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_prints_no_manager_status_and_a_follower_no_leader() {
        let worker = serde_json::to_value(Node::default()).unwrap();
        assert!(worker.get("ManagerStatus").is_none());
        let follower = Node {
            manager_status: Some(ManagerStatus {
                reachability: "reachable".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let v = serde_json::to_value(follower).unwrap();
        assert!(v["ManagerStatus"].get("Leader").is_none());
        assert_eq!(v["Spec"]["Labels"], serde_json::json!({}));
    }

    #[test]
    fn swarm_prints_the_cluster_fields_and_the_tokens_side_by_side() {
        let s = Swarm::default();
        let v = serde_json::to_value(s).unwrap();
        assert!(v.get("ID").is_some() && v.get("JoinTokens").is_some());
        assert_eq!(v["DefaultAddrPool"], serde_json::Value::Null);
    }
}
