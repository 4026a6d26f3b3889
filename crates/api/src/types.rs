//! Engine API objects other than the container configuration: the small
//! shared pieces (`Mount`, ports) and the answers of the container, image
//! and system endpoints. Field names and `null`-versus-absent follow what
//! dockerd prints, since clients parse them.
//!
//! Hand-kept beside the generated [`crate::model`] where the generated type
//! would print differently from dockerd or the engine relies on the shape:
//! the spec has no `omitempty`, so `HealthConfig` (zero durations left out),
//! `Port`, `ContainerState`'s `Health`, `ImageDeleteItem` and
//! `EventMessage` (absent, not `null`) would change what clients see; the
//! engine fills `ContainerSummary`/`ContainerInspect`/`VersionResponse` with
//! `Value` parts and `Mount` keeps its option blocks as `Value`. Their
//! `Mounts` are [`crate::views::MountPoint`]s and `State.Health` the
//! generated [`crate::model::Health`] (its encoding is dockerd's). Where a
//! generated type has the exact shape it is used instead (`RestartPolicy`,
//! `PortBinding`).

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::container_config::{nullable, ContainerConfig, HostConfig};
/// The generated types where they have the hand-kept ones' exact shape.
pub use crate::model::{PortBinding, RestartPolicy};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HealthConfig {
    #[serde(rename = "Test", default, skip_serializing_if = "Option::is_none")]
    pub test: Option<Vec<String>>,
    #[serde(rename = "Interval", default, skip_serializing_if = "is_zero")]
    pub interval: i64,
    #[serde(rename = "Timeout", default, skip_serializing_if = "is_zero")]
    pub timeout: i64,
    #[serde(rename = "Retries", default, skip_serializing_if = "is_zero")]
    pub retries: i64,
    #[serde(rename = "StartPeriod", default, skip_serializing_if = "is_zero")]
    pub start_period: i64,
    #[serde(rename = "StartInterval", default, skip_serializing_if = "is_zero")]
    pub start_interval: i64,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogConfig {
    #[serde(rename = "Type", default, deserialize_with = "nullable")]
    pub r#type: String,
    #[serde(rename = "Config", default, deserialize_with = "nullable")]
    pub config: IndexMap<String, String>,
}

/// `HostConfig.Mounts[]`; kept loose (`Value` for the option blocks) until
/// the storage work types them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Mount {
    #[serde(rename = "Target", default, skip_serializing_if = "String::is_empty")]
    pub target: String,
    #[serde(rename = "Source", default, skip_serializing_if = "String::is_empty")]
    pub source: String,
    #[serde(rename = "Type", default, skip_serializing_if = "String::is_empty")]
    pub r#type: String,
    #[serde(
        rename = "ReadOnly",
        default,
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub read_only: bool,
    #[serde(
        rename = "Consistency",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub consistency: String,
    #[serde(
        rename = "BindOptions",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub bind_options: Option<Value>,
    #[serde(
        rename = "VolumeOptions",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub volume_options: Option<Value>,
    #[serde(
        rename = "ImageOptions",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub image_options: Option<Value>,
    #[serde(
        rename = "TmpfsOptions",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub tmpfs_options: Option<Value>,
}

/// `"80/tcp" -> [bindings]`; a `null` list means exposed but not published.
pub type PortMap = IndexMap<String, Option<Vec<PortBinding>>>;

/// `NetworkingConfig` of the create body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NetworkingConfig {
    #[serde(rename = "EndpointsConfig", default, deserialize_with = "nullable")]
    pub endpoints_config: Option<IndexMap<String, crate::model::EndpointSettings>>,
}

/// The body of `POST /containers/create`: the `Config` fields at top level
/// beside `HostConfig` and `NetworkingConfig` (Go's `ContainerConfigWrapper`
/// embeds `*Config`). The spec is wrong here: it describes the body as
/// `ContainerConfig` with the two others as members, so it is hand-written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CreateBody {
    pub config: ContainerConfig,
    pub host_config: HostConfig,
    pub networking_config: NetworkingConfig,
}

/// The members of the create body beside the embedded `Config` (named as
/// moby names it, since Go-worded errors print the name).
#[derive(Deserialize, Default)]
#[serde(default)]
struct ContainerConfigWrapper {
    #[serde(rename = "HostConfig")]
    host_config: Option<HostConfig>,
    #[serde(rename = "NetworkingConfig")]
    networking_config: Option<NetworkingConfig>,
}

impl CreateBody {
    /// Parses the request body as dockerd's Go decoder does
    /// ([`crate::json`]): unknown fields are ignored, `null` is a zero
    /// value, names match case-insensitively; a wrong type is an error that
    /// names the field. An empty body is the zero value.
    pub fn parse(body: &[u8]) -> Result<CreateBody, crate::Error> {
        let value: Value = if body.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            serde_json::from_slice(body)
                .map_err(|e| crate::Error::invalid(format!("invalid JSON: {e}")))?
        };
        let wrapper: ContainerConfigWrapper = crate::json::from_value(&value)?;
        let config = crate::json::from_value(&value)?;
        let networking_config = wrapper.networking_config.unwrap_or_default();
        Ok(CreateBody {
            config,
            host_config: wrapper.host_config.unwrap_or_default(),
            networking_config,
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateResponse {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Warnings", default, deserialize_with = "nullable")]
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WaitResponse {
    #[serde(rename = "StatusCode")]
    pub status_code: i64,
    #[serde(rename = "Error", default, skip_serializing_if = "Option::is_none")]
    pub error: Option<WaitError>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WaitError {
    #[serde(rename = "Message", default)]
    pub message: String,
}

/// Every error body: `{"message": "..."}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Port {
    #[serde(rename = "IP", default, skip_serializing_if = "String::is_empty")]
    pub ip: String,
    #[serde(rename = "PrivatePort")]
    pub private_port: u16,
    #[serde(
        rename = "PublicPort",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub public_port: Option<u16>,
    #[serde(rename = "Type")]
    pub r#type: String,
}

/// One row of `GET /containers/json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerSummary {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Names", default, deserialize_with = "nullable")]
    pub names: Vec<String>,
    #[serde(rename = "Image", default)]
    pub image: String,
    #[serde(rename = "ImageID", default)]
    pub image_id: String,
    #[serde(rename = "Command", default)]
    pub command: String,
    #[serde(rename = "Created", default)]
    pub created: i64,
    #[serde(rename = "Ports", default, deserialize_with = "nullable")]
    pub ports: Vec<Port>,
    #[serde(rename = "SizeRw", default, skip_serializing_if = "Option::is_none")]
    pub size_rw: Option<i64>,
    #[serde(
        rename = "SizeRootFs",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub size_root_fs: Option<i64>,
    #[serde(rename = "Labels", default, deserialize_with = "nullable")]
    pub labels: IndexMap<String, String>,
    #[serde(rename = "State", default)]
    pub state: String,
    #[serde(rename = "Status", default)]
    pub status: String,
    #[serde(rename = "HostConfig", default)]
    pub host_config: Value,
    #[serde(rename = "NetworkSettings", default)]
    pub network_settings: crate::network::SummaryNetworkSettings,
    #[serde(rename = "Mounts", default, deserialize_with = "nullable")]
    pub mounts: Vec<crate::views::MountPoint>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerState {
    #[serde(rename = "Status")]
    pub status: String,
    #[serde(rename = "Running")]
    pub running: bool,
    #[serde(rename = "Paused")]
    pub paused: bool,
    #[serde(rename = "Restarting")]
    pub restarting: bool,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    #[serde(rename = "Dead")]
    pub dead: bool,
    #[serde(rename = "Pid")]
    pub pid: i64,
    #[serde(rename = "ExitCode")]
    pub exit_code: i64,
    #[serde(rename = "Error")]
    pub error: String,
    #[serde(rename = "StartedAt")]
    pub started_at: String,
    #[serde(rename = "FinishedAt")]
    pub finished_at: String,
    #[serde(rename = "Health", default, skip_serializing_if = "Option::is_none")]
    pub health: Option<crate::model::Health>,
}

/// `GET /containers/{id}/json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerInspect {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Created")]
    pub created: String,
    #[serde(rename = "Path")]
    pub path: String,
    #[serde(rename = "Args")]
    pub args: Vec<String>,
    #[serde(rename = "State")]
    pub state: ContainerState,
    #[serde(rename = "Image")]
    pub image: String,
    #[serde(rename = "ResolvConfPath")]
    pub resolv_conf_path: String,
    #[serde(rename = "HostnamePath")]
    pub hostname_path: String,
    #[serde(rename = "HostsPath")]
    pub hosts_path: String,
    #[serde(rename = "LogPath")]
    pub log_path: String,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "RestartCount")]
    pub restart_count: i64,
    #[serde(rename = "Driver")]
    pub driver: String,
    #[serde(rename = "Platform")]
    pub platform: String,
    #[serde(rename = "MountLabel")]
    pub mount_label: String,
    #[serde(rename = "ProcessLabel")]
    pub process_label: String,
    #[serde(rename = "AppArmorProfile")]
    pub app_armor_profile: String,
    #[serde(rename = "ExecIDs")]
    pub exec_ids: Option<Vec<String>>,
    #[serde(rename = "HostConfig")]
    pub host_config: HostConfig,
    #[serde(rename = "GraphDriver")]
    pub graph_driver: GraphDriver,
    #[serde(rename = "SizeRw", default, skip_serializing_if = "Option::is_none")]
    pub size_rw: Option<i64>,
    #[serde(
        rename = "SizeRootFs",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub size_root_fs: Option<i64>,
    #[serde(rename = "Mounts")]
    pub mounts: Vec<crate::views::MountPoint>,
    #[serde(rename = "Config")]
    pub config: ContainerConfig,
    #[serde(rename = "NetworkSettings")]
    pub network_settings: crate::network::NetworkSettings,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GraphDriver {
    #[serde(rename = "Data")]
    pub data: IndexMap<String, String>,
    #[serde(rename = "Name")]
    pub name: String,
}

/// One row of `GET /images/json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageSummary {
    #[serde(rename = "Containers")]
    pub containers: i64,
    #[serde(rename = "Created")]
    pub created: i64,
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Labels", default, deserialize_with = "nullable")]
    pub labels: Option<IndexMap<String, String>>,
    #[serde(rename = "ParentId", default)]
    pub parent_id: String,
    #[serde(rename = "RepoDigests", default, deserialize_with = "nullable")]
    pub repo_digests: Vec<String>,
    #[serde(rename = "RepoTags", default, deserialize_with = "nullable")]
    pub repo_tags: Vec<String>,
    #[serde(rename = "SharedSize")]
    pub shared_size: i64,
    #[serde(rename = "Size")]
    pub size: i64,
}

/// One row of `GET /images/{name}/history`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HistoryItem {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Created")]
    pub created: i64,
    #[serde(rename = "CreatedBy")]
    pub created_by: String,
    #[serde(rename = "Tags", default, deserialize_with = "nullable")]
    pub tags: Option<Vec<String>>,
    #[serde(rename = "Size")]
    pub size: i64,
    #[serde(rename = "Comment")]
    pub comment: String,
}

/// `DELETE /images/{name}` answers a list of these.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageDeleteItem {
    #[serde(rename = "Untagged", default, skip_serializing_if = "Option::is_none")]
    pub untagged: Option<String>,
    #[serde(rename = "Deleted", default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<String>,
}

/// `/events` stream entries (the current shape plus the legacy
/// `status`/`id`/`from` fields older clients read).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventMessage {
    #[serde(rename = "status", default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(rename = "id", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "from", default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(rename = "Type")]
    pub r#type: String,
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: EventActor,
    #[serde(rename = "scope")]
    pub scope: String,
    #[serde(rename = "time")]
    pub time: i64,
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventActor {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Attributes", default)]
    pub attributes: IndexMap<String, String>,
}

/// `GET /version`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VersionResponse {
    #[serde(rename = "Platform")]
    pub platform: Value,
    #[serde(rename = "Components")]
    pub components: Vec<Value>,
    #[serde(rename = "Version")]
    pub version: String,
    #[serde(rename = "ApiVersion")]
    pub api_version: String,
    #[serde(rename = "MinAPIVersion")]
    pub min_api_version: String,
    #[serde(rename = "GitCommit")]
    pub git_commit: String,
    #[serde(rename = "GoVersion")]
    pub go_version: String,
    #[serde(rename = "Os")]
    pub os: String,
    #[serde(rename = "Arch")]
    pub arch: String,
    #[serde(rename = "KernelVersion")]
    pub kernel_version: String,
    #[serde(rename = "BuildTime")]
    pub build_time: String,
}
