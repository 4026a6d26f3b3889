//! The system service: `/info`, `/version` and `/system/df` (what the
//! daemon and host really are), and the event bus behind `/events`.

pub mod events;

use std::collections::BTreeMap;

use berth_api::types::VersionResponse;
use berth_api::version::{API_VERSION, MIN_API_VERSION};
use berth_api::views::{
    Commit, DiskUsage, IndexInfo, InfoRuntime, PluginsInfo, RegistryServiceConfig, SwarmInfo,
    SystemInfo,
};
use berth_api::Result;
use indexmap::IndexMap;
use serde_json::json;

use crate::containers::container::Status;

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

service! {
    /// `engine.system()`: the daemon as a whole.
    System
}

impl System<'_> {
    /// `/events`: the events kept so far with time >= `since_nanos`, and a
    /// receiver for every later one.
    pub fn events(
        &self,
        since_nanos: i64,
    ) -> (
        Vec<berth_api::types::EventMessage>,
        tokio::sync::broadcast::Receiver<berth_api::types::EventMessage>,
    ) {
        self.events.subscribe(since_nanos)
    }

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

    /// `GET /info`.
    pub fn info(&self) -> Result<SystemInfo> {
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
        let strings = |v: &[&str]| Some(v.iter().map(|s| s.to_string()).collect());
        let no_commit = Commit::default;
        Ok(SystemInfo {
            id: self.id.clone(),
            containers: records.len() as i64,
            containers_running: (running - paused) as i64,
            containers_paused: paused as i64,
            containers_stopped: stopped as i64,
            images: images as i64,
            driver: self.images.driver_name().to_string(),
            driver_status: self.images.driver_status(),
            plugins: PluginsInfo {
                // Every driver berth has, in dockerd's order (sorted; dockerd
                // lists no `none` log driver).
                volume: strings(&["local"]),
                network: strings(&["bridge", "host", "macvlan", "null"]),
                authorization: None,
                log: strings(&[
                    "fluentd",
                    "gelf",
                    "journald",
                    "json-file",
                    "local",
                    "syslog",
                ]),
            },
            memory_limit: true,
            swap_limit: std::path::Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
                .exists()
                || cgroup_version() == "2",
            cpu_cfs_period: true,
            cpu_cfs_quota: true,
            cpu_shares: true,
            cpu_set: true,
            pids_limit: true,
            ipv4_forwarding: std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
                .map(|s| s.trim() == "1")
                .unwrap_or(false),
            debug: tracing::enabled!(tracing::Level::DEBUG),
            n_fd: std::fs::read_dir("/proc/self/fd")
                .map(|d| d.count())
                .unwrap_or(0) as i64,
            oom_kill_disable: cgroup_version() == "1",
            n_goroutines: 0,
            system_time: berth_api::units::go_rfc3339_nano(
                &chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, false),
            ),
            logging_driver: "json-file".into(),
            cgroup_driver: "cgroupfs".into(),
            cgroup_version: cgroup_version().into(),
            n_events_listener: 0,
            kernel_version: kernel_version(),
            operating_system: os_release("PRETTY_NAME"),
            os_version: os_release("VERSION_ID"),
            os_type: "linux".into(),
            architecture: std::env::consts::ARCH.into(),
            index_server_address: "https://index.docker.io/v1/".into(),
            registry_config: RegistryServiceConfig {
                allow_nondistributable_artifacts_cid_rs: None,
                allow_nondistributable_artifacts_hostnames: None,
                insecure_registry_cid_rs: strings(&["127.0.0.0/8"]),
                index_configs: Some(IndexMap::from([(
                    "docker.io".to_string(),
                    IndexInfo {
                        name: "docker.io".into(),
                        mirrors: Some(vec![]),
                        secure: true,
                        official: true,
                    },
                )])),
                mirrors: None,
            },
            ncpu: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1) as i64,
            mem_total: mem_total(),
            generic_resources: None,
            docker_root_dir: self.config.data_root.display().to_string(),
            http_proxy: String::new(),
            https_proxy: String::new(),
            no_proxy: String::new(),
            name: hostname,
            labels: self.config.labels.clone(),
            experimental_build: false,
            server_version: VERSION.into(),
            runtimes: self.info_runtimes(),
            default_runtime: self.config.runtimes.default_name().to_string(),
            swarm: SwarmInfo {
                local_node_state: "inactive".into(),
                ..SwarmInfo::default()
            },
            live_restore_enabled: true,
            isolation: String::new(),
            init_binary: "docker-init".into(),
            containerd_commit: no_commit(),
            runc_commit: no_commit(),
            init_commit: no_commit(),
            security_options: vec!["name=seccomp,profile=builtin".into()],
            warnings: vec![],
        })
    }

    /// `GET /system/df`.
    pub fn disk_usage(&self) -> Result<DiskUsage> {
        let filters = crate::Filters::default();
        let mut images = self.images().list(true, &filters)?;
        let shared = self.images.shared_sizes()?;
        for i in &mut images {
            i.shared_size = shared.get(&i.id).copied().unwrap_or(0);
        }
        let containers = self.containers().list(true, None, true, &filters)?;
        Ok(DiskUsage {
            layers_size: self.images.layers_size()?,
            images,
            containers,
            volumes: self.volumes().usage()?,
            build_cache: vec![],
        })
    }

    /// `/info`'s `Runtimes`: name -> binary and `runtimeArgs`, as dockerd.
    fn info_runtimes(&self) -> BTreeMap<String, InfoRuntime> {
        self.config
            .runtimes
            .list(&self.config.shim_binary)
            .map(|(name, path, args)| {
                (
                    name.to_string(),
                    InfoRuntime {
                        path: path.display().to_string(),
                        runtime_args: args.to_vec(),
                    },
                )
            })
            .collect()
    }
}
