//! The OCI runtime spec (`config.json`) for a container, with Docker's
//! defaults: its capability set, its mounts of `/proc`, `/dev`, `/sys`, its
//! masked and read-only kernel paths. The engine resolves *what* runs (args,
//! env, user) and passes it here as [`SpecParams`].

use std::path::PathBuf;

/// The typed OCI device entries the engine hands in ([`SpecParams`]).
pub use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType};
use serde_json::{json, Value};

/// Docker's default capabilities (moby `oci/caps/defaults.go`).
pub const DEFAULT_CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Paths Docker hides from containers (bind of /dev/null or an empty tmpfs).
pub const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths Docker makes read-only inside containers.
pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// How the container's network namespace is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetNs {
    /// Share the host's (`--network host`).
    Host,
    /// Join the namespace bound at this path (made by the shim or the network layer).
    Path(PathBuf),
}

/// A bind mount the engine adds (`/etc/hosts`, `/etc/hostname`, `/etc/resolv.conf`, volumes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindMount {
    pub source: PathBuf,
    pub destination: String,
    pub read_only: bool,
}

/// A user's mount (volume, bind or tmpfs), already resolved by the engine:
/// `destination` lies inside the rootfs with no symlink left to follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecMount {
    pub destination: String,
    /// `bind` or `tmpfs`.
    pub kind: String,
    pub source: String,
    pub options: Vec<String>,
}

/// Resource limits the engine computed from `HostConfig` (see the engine's
/// `resources` module).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    /// Entries of `linux.resources` besides `devices`: `memory`, `cpu`,
    /// `pids`, `blockIO`.
    pub cgroup: serde_json::Map<String, Value>,
    /// `process.rlimits` (`--ulimit`).
    pub rlimits: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecParams {
    pub rootfs: PathBuf,
    pub readonly_rootfs: bool,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub hostname: String,
    pub terminal: bool,
    pub netns: NetNs,
    pub binds: Vec<BindMount>,
    /// Volumes, binds and tmpfs of the user, mounted before `binds`.
    pub mounts: Vec<SpecMount>,
    /// cgroup path relative to each hierarchy's root, e.g. `/berth/<id>`.
    pub cgroups_path: String,
    pub privileged: bool,
    /// Capabilities for a privileged container: what the host actually has
    /// (its bounding set), since asking for more fails here (TESTING.md).
    pub host_capabilities: Vec<String>,
    /// The set for an unprivileged container (Docker's default with
    /// `--cap-add`/`--cap-drop` applied); `None` means Docker's default.
    pub capabilities: Option<Vec<String>>,
    pub shm_size: i64,
    /// The OCI `linux.seccomp` section (see [`crate::seccomp`]); `None`:
    /// unconfined.
    pub seccomp: Option<Value>,
    /// `--security-opt no-new-privileges`.
    pub no_new_privileges: bool,
    /// OCI `linux.devices`: `--device`s, or the host's for `--privileged`.
    pub devices: Vec<LinuxDevice>,
    /// Device cgroup rules after the default deny-all (`--device`,
    /// `--device-cgroup-rule`, allow-all for `--privileged`).
    pub device_rules: Vec<LinuxDeviceCgroup>,
    /// `--sysctl`s (namespaced ones, checked by the engine).
    pub sysctl: Vec<(String, String)>,
    pub resources: Resources,
}

/// Builds the `config.json` document.
pub fn build_spec(p: &SpecParams) -> Value {
    let caps: Vec<&str> = if p.privileged {
        p.host_capabilities.iter().map(String::as_str).collect()
    } else if let Some(c) = &p.capabilities {
        c.iter().map(String::as_str).collect()
    } else {
        DEFAULT_CAPABILITIES.to_vec()
    };
    let shm_size = if p.shm_size > 0 {
        p.shm_size
    } else {
        64 * 1024 * 1024
    };
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", if p.privileged { "rw" } else { "ro" }]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", format!("size={shm_size}")]}),
    ];
    for m in &p.mounts {
        mounts.push(json!({
            "destination": m.destination,
            "type": m.kind,
            "source": m.source,
            "options": m.options,
        }));
    }
    for b in &p.binds {
        let mut options = vec!["rbind", "rprivate"];
        if b.read_only {
            options.push("ro");
        }
        mounts.push(json!({
            "destination": b.destination,
            "type": "bind",
            "source": b.source,
            "options": options,
        }));
    }
    let mut namespaces = vec![
        json!({"type": "pid"}),
        json!({"type": "ipc"}),
        json!({"type": "uts"}),
        json!({"type": "mount"}),
    ];
    match &p.netns {
        NetNs::Host => {}
        NetNs::Path(path) => namespaces.push(json!({"type": "network", "path": path})),
    }
    let mut linux = json!({
        "namespaces": namespaces,
        "cgroupsPath": p.cgroups_path,
        "resources": {
            "devices": std::iter::once(json!({"allow": false, "access": "rwm"}))
                .chain(p.device_rules.iter().map(|r| json!(r)))
                .collect::<Vec<_>>()
        },
    });
    if !p.devices.is_empty() {
        linux["devices"] = json!(p.devices);
    }
    if !p.sysctl.is_empty() {
        let m: serde_json::Map<String, Value> = p
            .sysctl
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        linux["sysctl"] = Value::Object(m);
    }
    // As dockerd: a shared (or slave) user mount needs the rootfs to
    // propagate too, or the runtime's private rootfs would cut it off.
    // libcontainer takes `shared`/`slave` (always recursive), not the
    // `r`-prefixed names.
    let has = |names: &[&str]| {
        p.mounts
            .iter()
            .any(|m| m.options.iter().any(|o| names.contains(&o.as_str())))
    };
    if has(&["shared", "rshared"]) {
        linux["rootfsPropagation"] = json!("shared");
    } else if has(&["slave", "rslave"]) {
        linux["rootfsPropagation"] = json!("slave");
    }
    if let Some(seccomp) = &p.seccomp {
        linux["seccomp"] = seccomp.clone();
    }
    for (k, v) in &p.resources.cgroup {
        linux["resources"][k] = v.clone();
    }
    if !p.privileged {
        linux["maskedPaths"] = json!(MASKED_PATHS);
        linux["readonlyPaths"] = json!(READONLY_PATHS);
    }
    let mut spec = json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": p.terminal,
            "user": {"uid": p.uid, "gid": p.gid},
            "args": p.args,
            "env": p.env,
            "cwd": if p.cwd.is_empty() { "/" } else { p.cwd.as_str() },
            "capabilities": {
                "bounding": caps,
                "effective": caps,
                "permitted": caps,
            },
        },
        "root": {"path": p.rootfs, "readonly": p.readonly_rootfs},
        "hostname": p.hostname,
        "mounts": mounts,
        "linux": linux,
    });
    // Only when set: libcontainer 0.7 treats any `noNewPrivileges` (even
    // `false`) as set and then loads the seccomp filter after dropping
    // CAP_SYS_ADMIN, which the kernel refuses without no_new_privs.
    if p.no_new_privileges {
        spec["process"]["noNewPrivileges"] = json!(true);
    }
    if !p.resources.rlimits.is_empty() {
        spec["process"]["rlimits"] = json!(p.resources.rlimits);
    }
    if !p.additional_gids.is_empty() {
        spec["process"]["user"]["additionalGids"] = json!(p.additional_gids);
    }
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> SpecParams {
        SpecParams {
            rootfs: "/rootfs".into(),
            readonly_rootfs: false,
            args: vec!["sh".into()],
            env: vec!["PATH=/bin".into()],
            cwd: String::new(),
            uid: 0,
            gid: 0,
            additional_gids: vec![10],
            hostname: "abc".into(),
            terminal: true,
            netns: NetNs::Path("/run/x/netns".into()),
            binds: vec![BindMount {
                source: "/h".into(),
                destination: "/etc/hosts".into(),
                read_only: false,
            }],
            mounts: vec![SpecMount {
                destination: "/data".into(),
                kind: "bind".into(),
                source: "/v/_data".into(),
                options: vec!["rbind".into(), "rprivate".into(), "ro".into()],
            }],
            cgroups_path: "/berth/abc".into(),
            privileged: false,
            host_capabilities: vec![],
            capabilities: None,
            shm_size: 0,
            seccomp: None,
            no_new_privileges: false,
            devices: vec![],
            device_rules: vec![],
            sysctl: vec![],
            resources: Resources::default(),
        }
    }

    #[test]
    fn parses_as_an_oci_spec() {
        let v = build_spec(&params());
        let spec: oci_spec::runtime::Spec = serde_json::from_value(v).expect("valid OCI spec");
        let process = spec.process().as_ref().unwrap();
        assert_eq!(process.cwd().to_str(), Some("/"));
        assert!(process.terminal().unwrap());
        let caps = process
            .capabilities()
            .as_ref()
            .unwrap()
            .bounding()
            .as_ref()
            .unwrap();
        assert_eq!(caps.len(), DEFAULT_CAPABILITIES.len());
        let ns = spec
            .linux()
            .as_ref()
            .unwrap()
            .namespaces()
            .as_ref()
            .unwrap();
        assert_eq!(ns.len(), 5);
        assert!(spec
            .linux()
            .as_ref()
            .unwrap()
            .masked_paths()
            .as_ref()
            .unwrap()
            .iter()
            .any(|p| p == "/proc/kcore"));
    }

    #[test]
    fn user_mounts_precede_etc_binds_and_set_rootfs_propagation() {
        let mut p = params();
        let v = build_spec(&p);
        let dests: Vec<&str> = v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["destination"].as_str().unwrap())
            .collect();
        assert_eq!(&dests[dests.len() - 2..], ["/data", "/etc/hosts"]);
        assert!(v["linux"].get("rootfsPropagation").is_none());
        p.mounts[0].options = vec!["rbind".into(), "rshared".into()];
        assert_eq!(build_spec(&p)["linux"]["rootfsPropagation"], "shared");
        p.mounts[0].options = vec!["rbind".into(), "rslave".into()];
        assert_eq!(build_spec(&p)["linux"]["rootfsPropagation"], "slave");
    }

    #[test]
    fn resources_and_rlimits_reach_the_spec() {
        let mut p = params();
        p.resources
            .cgroup
            .insert("memory".into(), json!({"limit": 33554432}));
        p.resources
            .rlimits
            .push(json!({"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200}));
        let v = build_spec(&p);
        let spec: oci_spec::runtime::Spec = serde_json::from_value(v.clone()).expect("valid");
        let res = spec.linux().as_ref().unwrap().resources().as_ref().unwrap();
        assert_eq!(res.memory().as_ref().unwrap().limit(), Some(33554432));
        assert_eq!(res.devices().as_ref().unwrap().len(), 1);
        assert_eq!(v["process"]["rlimits"][0]["hard"], 200);
    }

    #[test]
    fn host_network_has_no_netns() {
        let mut p = params();
        p.netns = NetNs::Host;
        p.privileged = true;
        p.host_capabilities = vec!["CAP_SYS_ADMIN".into()];
        let v = build_spec(&p);
        let ns = v["linux"]["namespaces"].as_array().unwrap();
        assert!(ns.iter().all(|n| n["type"] != "network"));
        assert_eq!(
            v["process"]["capabilities"]["bounding"],
            json!(["CAP_SYS_ADMIN"])
        );
        assert!(v["linux"].get("maskedPaths").is_none());
    }
}
