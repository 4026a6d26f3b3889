//! Container configuration as the Engine API carries it: the `Config` and
//! `HostConfig` objects of `POST /containers/create` and of inspect.
//!
//! Hand-kept beside the generated `model::ContainerConfig` and
//! `model::HostConfig` because the engine, the builder and the store use
//! this exact shape (free-form `Value` for device, ulimit and blkio entries
//! and for `ExposedPorts`/`Volumes` values, which the engine parses itself;
//! the pre-1.42 `KernelMemory`/`Capabilities` fields old clients send) and
//! containers are persisted in it. Moving them to the generated types is
//! the engine services' work (issue 15).
//!
//! Field types follow Go's encoding: value fields print their zero value
//! (`0`, `""`, `false`), slices and maps print `null` when unset, pointer
//! fields (`PidsLimit`, `Init`, ...) print `null`. Request bodies are
//! decoded by [`crate::json`] (Go's rules: unknown fields ignored, any key
//! case, `null` as zero); `nullable` keeps plain serde (stored records)
//! accepting `null` too.

use indexmap::IndexMap;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::types::{HealthConfig, LogConfig, Mount, PortMap, RestartPolicy};

/// Accepts `null` (or a missing field, with `default`) as the type's zero value.
pub fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The container's `Config`: what runs, as the image and the client set it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerConfig {
    #[serde(rename = "Hostname", default, deserialize_with = "nullable")]
    pub hostname: String,
    #[serde(rename = "Domainname", default, deserialize_with = "nullable")]
    pub domainname: String,
    #[serde(rename = "User", default, deserialize_with = "nullable")]
    pub user: String,
    #[serde(rename = "AttachStdin", default, deserialize_with = "nullable")]
    pub attach_stdin: bool,
    #[serde(rename = "AttachStdout", default, deserialize_with = "nullable")]
    pub attach_stdout: bool,
    #[serde(rename = "AttachStderr", default, deserialize_with = "nullable")]
    pub attach_stderr: bool,
    #[serde(rename = "ExposedPorts", default, deserialize_with = "nullable")]
    pub exposed_ports: Option<IndexMap<String, Value>>,
    #[serde(rename = "Tty", default, deserialize_with = "nullable")]
    pub tty: bool,
    #[serde(rename = "OpenStdin", default, deserialize_with = "nullable")]
    pub open_stdin: bool,
    #[serde(rename = "StdinOnce", default, deserialize_with = "nullable")]
    pub stdin_once: bool,
    #[serde(rename = "Env", default, deserialize_with = "nullable")]
    pub env: Option<Vec<String>>,
    #[serde(rename = "Cmd", default, deserialize_with = "nullable")]
    pub cmd: Option<Vec<String>>,
    #[serde(rename = "Healthcheck", default, deserialize_with = "nullable")]
    pub healthcheck: Option<HealthConfig>,
    #[serde(rename = "ArgsEscaped", default, deserialize_with = "nullable")]
    pub args_escaped: bool,
    #[serde(rename = "Image", default, deserialize_with = "nullable")]
    pub image: String,
    #[serde(rename = "Volumes", default, deserialize_with = "nullable")]
    pub volumes: Option<IndexMap<String, Value>>,
    #[serde(rename = "WorkingDir", default, deserialize_with = "nullable")]
    pub working_dir: String,
    #[serde(rename = "Entrypoint", default, deserialize_with = "nullable")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(rename = "NetworkDisabled", default, deserialize_with = "nullable")]
    pub network_disabled: bool,
    #[serde(rename = "MacAddress", default, deserialize_with = "nullable")]
    pub mac_address: String,
    #[serde(rename = "OnBuild", default, deserialize_with = "nullable")]
    pub on_build: Option<Vec<String>>,
    #[serde(rename = "Labels", default, deserialize_with = "nullable")]
    pub labels: Option<IndexMap<String, String>>,
    #[serde(rename = "StopSignal", default, deserialize_with = "nullable")]
    pub stop_signal: String,
    #[serde(rename = "StopTimeout", default, deserialize_with = "nullable")]
    pub stop_timeout: Option<i64>,
    #[serde(rename = "Shell", default, deserialize_with = "nullable")]
    pub shell: Option<Vec<String>>,
}

/// The container's `HostConfig`: how the host runs it (resources included).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostConfig {
    #[serde(rename = "CpuShares", default, deserialize_with = "nullable")]
    pub cpu_shares: i64,
    #[serde(rename = "Memory", default, deserialize_with = "nullable")]
    pub memory: i64,
    #[serde(rename = "CgroupParent", default, deserialize_with = "nullable")]
    pub cgroup_parent: String,
    #[serde(rename = "BlkioWeight", default, deserialize_with = "nullable")]
    pub blkio_weight: i64,
    #[serde(rename = "BlkioWeightDevice", default, deserialize_with = "nullable")]
    pub blkio_weight_device: Option<Vec<Value>>,
    #[serde(rename = "BlkioDeviceReadBps", default, deserialize_with = "nullable")]
    pub blkio_device_read_bps: Option<Vec<Value>>,
    #[serde(rename = "BlkioDeviceWriteBps", default, deserialize_with = "nullable")]
    pub blkio_device_write_bps: Option<Vec<Value>>,
    #[serde(rename = "BlkioDeviceReadIOps", default, deserialize_with = "nullable")]
    pub blkio_device_read_i_ops: Option<Vec<Value>>,
    #[serde(
        rename = "BlkioDeviceWriteIOps",
        default,
        deserialize_with = "nullable"
    )]
    pub blkio_device_write_i_ops: Option<Vec<Value>>,
    #[serde(rename = "CpuPeriod", default, deserialize_with = "nullable")]
    pub cpu_period: i64,
    #[serde(rename = "CpuQuota", default, deserialize_with = "nullable")]
    pub cpu_quota: i64,
    #[serde(rename = "CpuRealtimePeriod", default, deserialize_with = "nullable")]
    pub cpu_realtime_period: i64,
    #[serde(rename = "CpuRealtimeRuntime", default, deserialize_with = "nullable")]
    pub cpu_realtime_runtime: i64,
    #[serde(rename = "CpusetCpus", default, deserialize_with = "nullable")]
    pub cpuset_cpus: String,
    #[serde(rename = "CpusetMems", default, deserialize_with = "nullable")]
    pub cpuset_mems: String,
    #[serde(rename = "Devices", default, deserialize_with = "nullable")]
    pub devices: Option<Vec<Value>>,
    #[serde(rename = "DeviceCgroupRules", default, deserialize_with = "nullable")]
    pub device_cgroup_rules: Option<Vec<String>>,
    #[serde(rename = "DeviceRequests", default, deserialize_with = "nullable")]
    pub device_requests: Option<Vec<Value>>,
    #[serde(rename = "KernelMemoryTCP", default, deserialize_with = "nullable")]
    pub kernel_memory_tcp: i64,
    #[serde(rename = "MemoryReservation", default, deserialize_with = "nullable")]
    pub memory_reservation: i64,
    #[serde(rename = "MemorySwap", default, deserialize_with = "nullable")]
    pub memory_swap: i64,
    #[serde(rename = "MemorySwappiness", default, deserialize_with = "nullable")]
    pub memory_swappiness: Option<i64>,
    #[serde(rename = "NanoCpus", default, deserialize_with = "nullable")]
    pub nano_cpus: i64,
    #[serde(rename = "OomKillDisable", default, deserialize_with = "nullable")]
    pub oom_kill_disable: Option<bool>,
    #[serde(rename = "Init", default, deserialize_with = "nullable")]
    pub init: Option<bool>,
    #[serde(rename = "PidsLimit", default, deserialize_with = "nullable")]
    pub pids_limit: Option<i64>,
    #[serde(rename = "Ulimits", default, deserialize_with = "nullable")]
    pub ulimits: Option<Vec<Value>>,
    #[serde(rename = "CpuCount", default, deserialize_with = "nullable")]
    pub cpu_count: i64,
    #[serde(rename = "CpuPercent", default, deserialize_with = "nullable")]
    pub cpu_percent: i64,
    #[serde(rename = "IOMaximumIOps", default, deserialize_with = "nullable")]
    pub io_maximum_iops: i64,
    #[serde(rename = "IOMaximumBandwidth", default, deserialize_with = "nullable")]
    pub io_maximum_bandwidth: i64,
    #[serde(rename = "Binds", default, deserialize_with = "nullable")]
    pub binds: Option<Vec<String>>,
    #[serde(rename = "ContainerIDFile", default, deserialize_with = "nullable")]
    pub container_id_file: String,
    #[serde(rename = "LogConfig", default, deserialize_with = "nullable")]
    pub log_config: LogConfig,
    #[serde(rename = "NetworkMode", default, deserialize_with = "nullable")]
    pub network_mode: String,
    #[serde(rename = "PortBindings", default, deserialize_with = "nullable")]
    pub port_bindings: Option<PortMap>,
    #[serde(rename = "RestartPolicy", default, deserialize_with = "nullable")]
    pub restart_policy: RestartPolicy,
    #[serde(rename = "AutoRemove", default, deserialize_with = "nullable")]
    pub auto_remove: bool,
    #[serde(rename = "VolumeDriver", default, deserialize_with = "nullable")]
    pub volume_driver: String,
    #[serde(rename = "VolumesFrom", default, deserialize_with = "nullable")]
    pub volumes_from: Option<Vec<String>>,
    #[serde(rename = "Mounts", default, deserialize_with = "nullable")]
    pub mounts: Option<Vec<Mount>>,
    #[serde(rename = "ConsoleSize", default, deserialize_with = "nullable")]
    pub console_size: Option<Vec<u64>>,
    #[serde(rename = "Annotations", default, deserialize_with = "nullable")]
    pub annotations: Option<IndexMap<String, String>>,
    #[serde(rename = "CapAdd", default, deserialize_with = "nullable")]
    pub cap_add: Option<Vec<String>>,
    #[serde(rename = "CapDrop", default, deserialize_with = "nullable")]
    pub cap_drop: Option<Vec<String>>,
    #[serde(rename = "CgroupnsMode", default, deserialize_with = "nullable")]
    pub cgroupns_mode: String,
    #[serde(rename = "Dns", default, deserialize_with = "nullable")]
    pub dns: Option<Vec<String>>,
    #[serde(rename = "DnsOptions", default, deserialize_with = "nullable")]
    pub dns_options: Option<Vec<String>>,
    #[serde(rename = "DnsSearch", default, deserialize_with = "nullable")]
    pub dns_search: Option<Vec<String>>,
    #[serde(rename = "ExtraHosts", default, deserialize_with = "nullable")]
    pub extra_hosts: Option<Vec<String>>,
    #[serde(rename = "GroupAdd", default, deserialize_with = "nullable")]
    pub group_add: Option<Vec<String>>,
    #[serde(rename = "IpcMode", default, deserialize_with = "nullable")]
    pub ipc_mode: String,
    #[serde(rename = "Cgroup", default, deserialize_with = "nullable")]
    pub cgroup: String,
    #[serde(rename = "Links", default, deserialize_with = "nullable")]
    pub links: Option<Vec<String>>,
    #[serde(rename = "OomScoreAdj", default, deserialize_with = "nullable")]
    pub oom_score_adj: i64,
    #[serde(rename = "PidMode", default, deserialize_with = "nullable")]
    pub pid_mode: String,
    #[serde(rename = "Privileged", default, deserialize_with = "nullable")]
    pub privileged: bool,
    #[serde(rename = "PublishAllPorts", default, deserialize_with = "nullable")]
    pub publish_all_ports: bool,
    #[serde(rename = "ReadonlyRootfs", default, deserialize_with = "nullable")]
    pub readonly_rootfs: bool,
    #[serde(rename = "SecurityOpt", default, deserialize_with = "nullable")]
    pub security_opt: Option<Vec<String>>,
    #[serde(rename = "StorageOpt", default, deserialize_with = "nullable")]
    pub storage_opt: Option<IndexMap<String, String>>,
    #[serde(rename = "Tmpfs", default, deserialize_with = "nullable")]
    pub tmpfs: Option<IndexMap<String, String>>,
    #[serde(rename = "UTSMode", default, deserialize_with = "nullable")]
    pub uts_mode: String,
    #[serde(rename = "UsernsMode", default, deserialize_with = "nullable")]
    pub userns_mode: String,
    #[serde(rename = "ShmSize", default, deserialize_with = "nullable")]
    pub shm_size: i64,
    #[serde(rename = "Sysctls", default, deserialize_with = "nullable")]
    pub sysctls: Option<IndexMap<String, String>>,
    #[serde(rename = "Runtime", default, deserialize_with = "nullable")]
    pub runtime: String,
    #[serde(rename = "Isolation", default, deserialize_with = "nullable")]
    pub isolation: String,
    /// Sent by API < 1.42 clients (docker 20.10); accepted and ignored, as dockerd does.
    #[serde(
        rename = "KernelMemory",
        default,
        deserialize_with = "nullable",
        skip_serializing
    )]
    pub kernel_memory: i64,
    /// Sent by API 1.40-1.42 clients; accepted and ignored.
    #[serde(
        rename = "Capabilities",
        default,
        deserialize_with = "nullable",
        skip_serializing
    )]
    pub capabilities: Option<Vec<String>>,
    #[serde(rename = "MaskedPaths", default, deserialize_with = "nullable")]
    pub masked_paths: Option<Vec<String>>,
    #[serde(rename = "ReadonlyPaths", default, deserialize_with = "nullable")]
    pub readonly_paths: Option<Vec<String>>,
}
