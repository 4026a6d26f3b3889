//! `GET /info` and `GET /system/df`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::volume::Volume;
use crate::model::{BuildCache, PluginsInfo, RegistryServiceConfig};
use crate::types::{ContainerSummary, ImageSummary};

/// `GET /info`: the fields berth reports, in the order of moby's
/// `system.Info` (which is what dockerd prints). Not the generated
/// `SystemInfo`: its order is the spec's (`DockerRootDir` after
/// `DriverStatus`, `NCPU` before `IndexServerAddress`, ...), and it carries
/// fields berth has nothing true to say about (`KernelMemoryTCP`,
/// `BridgeNfIptables`, `Containerd`, `CDISpecDirs`, `ProductLicense`,
/// `DefaultAddressPools`), which berth has never printed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SystemInfo {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Containers")]
    pub containers: i64,
    #[serde(rename = "ContainersRunning")]
    pub containers_running: i64,
    #[serde(rename = "ContainersPaused")]
    pub containers_paused: i64,
    #[serde(rename = "ContainersStopped")]
    pub containers_stopped: i64,
    #[serde(rename = "Images")]
    pub images: i64,
    #[serde(rename = "Driver")]
    pub driver: String,
    #[serde(rename = "DriverStatus")]
    pub driver_status: Vec<[String; 2]>,
    #[serde(rename = "Plugins")]
    pub plugins: PluginsInfo,
    #[serde(rename = "MemoryLimit")]
    pub memory_limit: bool,
    #[serde(rename = "SwapLimit")]
    pub swap_limit: bool,
    #[serde(rename = "CpuCfsPeriod")]
    pub cpu_cfs_period: bool,
    #[serde(rename = "CpuCfsQuota")]
    pub cpu_cfs_quota: bool,
    #[serde(rename = "CPUShares")]
    pub cpu_shares: bool,
    #[serde(rename = "CPUSet")]
    pub cpu_set: bool,
    #[serde(rename = "PidsLimit")]
    pub pids_limit: bool,
    #[serde(rename = "IPv4Forwarding")]
    pub ipv4_forwarding: bool,
    #[serde(rename = "Debug")]
    pub debug: bool,
    #[serde(rename = "NFd")]
    pub n_fd: i64,
    #[serde(rename = "OomKillDisable")]
    pub oom_kill_disable: bool,
    #[serde(rename = "NGoroutines")]
    pub n_goroutines: i64,
    #[serde(rename = "SystemTime")]
    pub system_time: String,
    #[serde(rename = "LoggingDriver")]
    pub logging_driver: String,
    #[serde(rename = "CgroupDriver")]
    pub cgroup_driver: String,
    #[serde(rename = "CgroupVersion")]
    pub cgroup_version: String,
    #[serde(rename = "NEventsListener")]
    pub n_events_listener: i64,
    #[serde(rename = "KernelVersion")]
    pub kernel_version: String,
    #[serde(rename = "OperatingSystem")]
    pub operating_system: String,
    #[serde(rename = "OSVersion")]
    pub os_version: String,
    #[serde(rename = "OSType")]
    pub os_type: String,
    #[serde(rename = "Architecture")]
    pub architecture: String,
    #[serde(rename = "IndexServerAddress")]
    pub index_server_address: String,
    #[serde(rename = "RegistryConfig")]
    pub registry_config: RegistryServiceConfig,
    #[serde(rename = "NCPU")]
    pub ncpu: i64,
    #[serde(rename = "MemTotal")]
    pub mem_total: i64,
    /// Swarm's generic resources: never any outside a swarm.
    #[serde(rename = "GenericResources")]
    pub generic_resources: Option<crate::model::GenericResources>,
    #[serde(rename = "DockerRootDir")]
    pub docker_root_dir: String,
    #[serde(rename = "HttpProxy")]
    pub http_proxy: String,
    #[serde(rename = "HttpsProxy")]
    pub https_proxy: String,
    #[serde(rename = "NoProxy")]
    pub no_proxy: String,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Labels")]
    pub labels: Vec<String>,
    #[serde(rename = "ExperimentalBuild")]
    pub experimental_build: bool,
    #[serde(rename = "ServerVersion")]
    pub server_version: String,
    /// Go prints map keys sorted.
    #[serde(rename = "Runtimes")]
    pub runtimes: BTreeMap<String, InfoRuntime>,
    #[serde(rename = "DefaultRuntime")]
    pub default_runtime: String,
    #[serde(rename = "Swarm")]
    pub swarm: SwarmInfo,
    #[serde(rename = "LiveRestoreEnabled")]
    pub live_restore_enabled: bool,
    #[serde(rename = "Isolation")]
    pub isolation: String,
    #[serde(rename = "InitBinary")]
    pub init_binary: String,
    #[serde(rename = "ContainerdCommit")]
    pub containerd_commit: Commit,
    #[serde(rename = "RuncCommit")]
    pub runc_commit: Commit,
    #[serde(rename = "InitCommit")]
    pub init_commit: Commit,
    #[serde(rename = "SecurityOptions")]
    pub security_options: Vec<String>,
    #[serde(rename = "Warnings")]
    pub warnings: Vec<String>,
}

/// One runtime in `/info`'s `Runtimes` (moby's `system.RuntimeWithStatus`).
/// Not the generated `Runtime`: Go leaves `runtimeArgs` and `status` out
/// when empty, the spec says nothing of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InfoRuntime {
    pub path: String,
    #[serde(rename = "runtimeArgs", skip_serializing_if = "Vec::is_empty")]
    pub runtime_args: Vec<String>,
}

/// `ContainerdCommit`/`RuncCommit`/`InitCommit`. Not the generated `Commit`:
/// its `Expected` is `omitempty` in Go (and deprecated), absent here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Commit {
    #[serde(rename = "ID")]
    pub id: String,
}

/// `/info`'s `Swarm`. Not the generated `SwarmInfo`: Go's
/// `Nodes`, `Managers` and `Cluster` are `omitempty`, so a node that is no
/// manager does not print them; the spec would.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SwarmInfo {
    #[serde(rename = "NodeID")]
    pub node_id: String,
    #[serde(rename = "NodeAddr")]
    pub node_addr: String,
    #[serde(rename = "LocalNodeState")]
    pub local_node_state: String,
    #[serde(rename = "ControlAvailable")]
    pub control_available: bool,
    #[serde(rename = "Error")]
    pub error: String,
    #[serde(rename = "RemoteManagers")]
    pub remote_managers: Option<Vec<crate::model::PeerNode>>,
    /// Managers only (Go's `omitempty`).
    #[serde(rename = "Nodes", skip_serializing_if = "Option::is_none")]
    pub nodes: Option<u64>,
    #[serde(rename = "Managers", skip_serializing_if = "Option::is_none")]
    pub managers: Option<u64>,
    #[serde(rename = "Cluster", skip_serializing_if = "Option::is_none")]
    pub cluster: Option<super::swarm::ClusterInfo>,
}

/// `GET /system/df`. Not the generated `SystemDataUsageResponse` (same
/// fields, same order) because its members are the generated image,
/// container and volume types, which do not print as dockerd does (see
/// [`ImageSummary`], [`ContainerSummary`], [`Volume`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DiskUsage {
    #[serde(rename = "LayersSize")]
    pub layers_size: i64,
    #[serde(rename = "Images")]
    pub images: Vec<ImageSummary>,
    #[serde(rename = "Containers")]
    pub containers: Vec<ContainerSummary>,
    #[serde(rename = "Volumes")]
    pub volumes: Vec<Volume>,
    /// Always empty: the classic builder keeps no build cache records.
    #[serde(rename = "BuildCache")]
    pub build_cache: Vec<BuildCache>,
}
