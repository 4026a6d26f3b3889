//! `/info`, `/version` and `/system/df`: what the daemon and host really are.

use berth_api::types::VersionResponse;
use berth_api::version::{API_VERSION, MIN_API_VERSION};
use berth_api::Result;
use serde_json::{json, Value};

use crate::container::Status;
use crate::Engine;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `1` on a v1 or hybrid host (the v1 controllers are where limits go), `2`
/// on a pure cgroup2 host.
pub fn cgroup_version() -> &'static str {
    match nix::sys::statfs::statfs("/sys/fs/cgroup") {
        Ok(s) if s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC => "2",
        _ => "1",
    }
}

fn kernel_version() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn os_release(key: &str) -> String {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_default()
}

fn mem_total() -> i64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

pub fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

impl Engine {
    pub fn version(&self) -> VersionResponse {
        let kernel = kernel_version();
        VersionResponse {
            platform: json!({"Name": "berth"}),
            components: vec![json!({
                "Name": "Engine",
                "Version": VERSION,
                "Details": {
                    "ApiVersion": API_VERSION,
                    "MinAPIVersion": MIN_API_VERSION,
                    "Os": "linux",
                    "Arch": arch(),
                    "KernelVersion": kernel,
                    "Experimental": "false",
                }
            })],
            version: VERSION.into(),
            api_version: API_VERSION.into(),
            min_api_version: MIN_API_VERSION.into(),
            git_commit: option_env!("BERTH_GIT_COMMIT").unwrap_or("unknown").into(),
            go_version: format!(
                "rust{}",
                option_env!("CARGO_PKG_RUST_VERSION").unwrap_or("")
            ),
            os: "linux".into(),
            arch: arch().into(),
            kernel_version: kernel,
            build_time: String::new(),
        }
    }

    pub fn info(&self) -> Result<Value> {
        let records: Vec<_> = self.all().iter().map(|h| h.snapshot()).collect();
        let running = records
            .iter()
            .filter(|r| r.state.status == Status::Running)
            .count();
        let paused = records
            .iter()
            .filter(|r| r.state.status == Status::Running && r.state.paused)
            .count();
        let stopped = records.len() - running;
        let images = self.images.list()?.len();
        let hostname = nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(json!({
            "ID": self.id,
            "Containers": records.len(),
            "ContainersRunning": running - paused,
            "ContainersPaused": paused,
            "ContainersStopped": stopped,
            "Images": images,
            "Driver": self.images.driver_name(),
            "DriverStatus": self.images.driver_status(),
            "Plugins": {
                "Volume": ["local"],
                "Network": ["host", "null"],
                "Authorization": null,
                "Log": ["json-file", "none"],
            },
            "MemoryLimit": true,
            "SwapLimit": std::path::Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists() || cgroup_version() == "2",
            "CpuCfsPeriod": true,
            "CpuCfsQuota": true,
            "CPUShares": true,
            "CPUSet": true,
            "PidsLimit": true,
            "IPv4Forwarding": std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").map(|s| s.trim() == "1").unwrap_or(false),
            "Debug": tracing::enabled!(tracing::Level::DEBUG),
            "NFd": std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0),
            "OomKillDisable": cgroup_version() == "1",
            "NGoroutines": 0,
            "SystemTime": berth_api::units::go_rfc3339_nano(&chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, false)),
            "LoggingDriver": "json-file",
            "CgroupDriver": "cgroupfs",
            "CgroupVersion": cgroup_version(),
            "NEventsListener": 0,
            "KernelVersion": kernel_version(),
            "OperatingSystem": os_release("PRETTY_NAME"),
            "OSVersion": os_release("VERSION_ID"),
            "OSType": "linux",
            "Architecture": std::env::consts::ARCH,
            "IndexServerAddress": "https://index.docker.io/v1/",
            "RegistryConfig": {
                "AllowNondistributableArtifactsCIDRs": null,
                "AllowNondistributableArtifactsHostnames": null,
                "InsecureRegistryCIDRs": ["127.0.0.0/8"],
                "IndexConfigs": {"docker.io": {"Name": "docker.io", "Mirrors": [], "Secure": true, "Official": true}},
                "Mirrors": null
            },
            "NCPU": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "MemTotal": mem_total(),
            "GenericResources": null,
            "DockerRootDir": self.config.data_root,
            "HttpProxy": "",
            "HttpsProxy": "",
            "NoProxy": "",
            "Name": hostname,
            "Labels": self.config.labels,
            "ExperimentalBuild": false,
            "ServerVersion": VERSION,
            "Runtimes": self.info_runtimes(),
            "DefaultRuntime": self.config.runtimes.default_name(),
            "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": false, "Error": "", "RemoteManagers": null},
            "LiveRestoreEnabled": true,
            "Isolation": "",
            "InitBinary": "docker-init",
            "ContainerdCommit": {"ID": ""},
            "RuncCommit": {"ID": ""},
            "InitCommit": {"ID": ""},
            "SecurityOptions": ["name=seccomp,profile=builtin"],
            "Warnings": []
        }))
    }

    /// `GET /system/df`.
    pub fn disk_usage(&self) -> Result<Value> {
        let filters = crate::lifecycle::Filters::default();
        let mut images = self.list_images(true, &filters)?;
        let shared = self.images.shared_sizes()?;
        for i in &mut images {
            i.shared_size = shared.get(&i.id).copied().unwrap_or(0);
        }
        let containers = self.list(true, None, true, &filters)?;
        Ok(json!({
            "LayersSize": self.images.layers_size()?,
            "Images": images,
            "Containers": containers,
            "Volumes": self.volume_usage()?,
            "BuildCache": [],
        }))
    }

    /// `/info`'s `Runtimes`: name -> binary and `runtimeArgs`, as dockerd.
    fn info_runtimes(&self) -> std::collections::BTreeMap<String, InfoRuntime> {
        self.config
            .runtimes
            .list(&self.config.shim_binary)
            .map(|(name, path, args)| {
                (
                    name.to_string(),
                    InfoRuntime {
                        path: path.to_path_buf(),
                        runtime_args: args.to_vec(),
                    },
                )
            })
            .collect()
    }
}

/// One runtime in `/info`'s `Runtimes`.
#[derive(serde::Serialize)]
struct InfoRuntime {
    path: std::path::PathBuf,
    #[serde(rename = "runtimeArgs", skip_serializing_if = "Vec::is_empty")]
    runtime_args: Vec<String>,
}
