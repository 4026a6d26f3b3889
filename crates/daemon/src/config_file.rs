//! `daemon.json`: read, its keys checked against dockerd's, and refused
//! when a key is also given as a flag (dockerd's wording for both).

use std::path::Path;

use anyhow::bail;
use serde_json::{Map, Value};

use super::Flags;

/// dockerd's `daemon.json` keys. Those berth does not act on yet are still
/// accepted, so a file written for dockerd loads.
const KNOWN_KEYS: &[&str] = &[
    "allow-nondistributable-artifacts",
    "api-cors-header",
    "authorization-plugins",
    "bip",
    "bridge",
    "builder",
    "cgroup-parent",
    "cluster-advertise",
    "cluster-store",
    "cluster-store-opts",
    "containerd",
    "containerd-namespace",
    "containerd-plugins-namespace",
    "data-root",
    "debug",
    "default-address-pools",
    "default-cgroupns-mode",
    "default-gateway",
    "default-gateway-v6",
    "default-ipc-mode",
    "default-network-opts",
    "default-runtime",
    "default-shm-size",
    "default-ulimits",
    "dns",
    "dns-opts",
    "dns-search",
    "exec-opts",
    "exec-root",
    "experimental",
    "features",
    "fixed-cidr",
    "fixed-cidr-v6",
    "group",
    "hosts",
    "http-proxy",
    "https-proxy",
    "icc",
    "init",
    "init-path",
    "insecure-registries",
    "ip",
    "ip-forward",
    "ip-masq",
    "ip6tables",
    "iptables",
    "ipv6",
    "labels",
    "live-restore",
    "log-driver",
    "log-format",
    "log-level",
    "log-opts",
    "max-concurrent-downloads",
    "max-concurrent-uploads",
    "max-download-attempts",
    "mtu",
    "no-new-privileges",
    "no-proxy",
    "node-generic-resources",
    "oom-score-adjust",
    "pidfile",
    "raw-logs",
    "registry-mirrors",
    "runtimes",
    "seccomp-profile",
    "selinux-enabled",
    "shutdown-timeout",
    "storage-driver",
    "storage-opts",
    "swarm-default-advertise-addr",
    "tls",
    "tlscacert",
    "tlscert",
    "tlskey",
    "tlsverify",
    "userland-proxy",
    "userland-proxy-path",
    "userns-remap",
];

/// Reads `daemon.json`; a missing file is an empty configuration.
pub(super) fn read_file(path: &Path) -> anyhow::Result<Map<String, Value>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Map::new()),
        Err(e) => bail!(
            "unable to configure the daemon with file {}: {e}",
            path.display()
        ),
    };
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    let v: Value = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "unable to configure the daemon with file {}: {e}",
            path.display()
        )
    })?;
    let Value::Object(map) = v else {
        bail!(
            "unable to configure the daemon with file {}: not a JSON object",
            path.display()
        );
    };
    let unknown: Vec<&str> = map
        .keys()
        .map(String::as_str)
        .filter(|k| !KNOWN_KEYS.contains(k))
        .collect();
    if !unknown.is_empty() {
        bail!(
            "unable to configure the daemon with file {}: the following directives don't match any configuration option: {}",
            path.display(),
            unknown.join(", ")
        );
    }
    Ok(map)
}

/// A key given both as a flag and in the file is refused, all such keys
/// named in one error, as dockerd's `getConflictFreeConfiguration` does.
pub(super) fn check_conflicts(
    flags: &Flags,
    file: &Map<String, Value>,
    path: &Path,
) -> anyhow::Result<()> {
    let mut conflicts = Vec::new();
    let mut check = |key: &str, flag: Option<String>| {
        if let (Some(f), Some(v)) = (flag, file.get(key)) {
            conflicts.push(format!(
                "{key}: (from flag: {f}, from file: {})",
                display(v)
            ));
        }
    };
    check(
        "hosts",
        (!flags.hosts.is_empty()).then(|| format!("[{}]", flags.hosts.join(" "))),
    );
    check(
        "data-root",
        flags.data_root.as_ref().map(|p| p.display().to_string()),
    );
    check(
        "exec-root",
        flags.exec_root.as_ref().map(|p| p.display().to_string()),
    );
    check(
        "pidfile",
        flags.pidfile.as_ref().map(|p| p.display().to_string()),
    );
    check("debug", flags.debug.then(|| "true".to_string()));
    check("log-level", flags.log_level.clone());
    check("storage-driver", flags.storage_driver.clone());
    check(
        "labels",
        (!flags.labels.is_empty()).then(|| format!("[{}]", flags.labels.join(" "))),
    );
    check("cgroup-parent", flags.cgroup_parent.clone());
    check(
        "insecure-registries",
        (!flags.insecure_registries.is_empty())
            .then(|| format!("[{}]", flags.insecure_registries.join(" "))),
    );
    check(
        "registry-mirrors",
        (!flags.registry_mirrors.is_empty())
            .then(|| format!("[{}]", flags.registry_mirrors.join(" "))),
    );
    check(
        "live-restore",
        flags.live_restore.then(|| "true".to_string()),
    );
    check("tls", flags.tls.map(|b| b.to_string()));
    check("tlsverify", flags.tlsverify.map(|b| b.to_string()));
    check(
        "tlscacert",
        flags.tlscacert.as_ref().map(|p| p.display().to_string()),
    );
    check(
        "tlscert",
        flags.tlscert.as_ref().map(|p| p.display().to_string()),
    );
    check(
        "tlskey",
        flags.tlskey.as_ref().map(|p| p.display().to_string()),
    );
    check(
        "runtimes",
        (!flags.add_runtimes.is_empty()).then(|| format!("[{}]", flags.add_runtimes.join(" "))),
    );
    check("default-runtime", flags.default_runtime.clone());
    check("log-driver", flags.log_driver.clone());
    check(
        "log-opts",
        (!flags.log_opts.is_empty()).then(|| flags.log_opts.join(" ")),
    );
    check("bridge", flags.bridge.clone());
    check("bip", flags.bip.clone());
    check(
        "default-address-pools",
        (!flags.default_address_pools.is_empty()).then(|| flags.default_address_pools.join(" ")),
    );
    check("iptables", flags.iptables.map(|b| b.to_string()));
    check("ip-forward", flags.ip_forward.map(|b| b.to_string()));
    check("ip-masq", flags.ip_masq.map(|b| b.to_string()));
    check("mtu", flags.mtu.map(|b| b.to_string()));
    check(
        "dns",
        (!flags.dns.is_empty()).then(|| format!("[{}]", flags.dns.join(" "))),
    );
    check(
        "dns-search",
        (!flags.dns_search.is_empty()).then(|| format!("[{}]", flags.dns_search.join(" "))),
    );
    check(
        "dns-opts",
        (!flags.dns_opts.is_empty()).then(|| format!("[{}]", flags.dns_opts.join(" "))),
    );
    if !conflicts.is_empty() {
        bail!(
            "unable to configure the Docker daemon with file {}: the following directives are specified both as a flag and in the configuration file: {}",
            path.display(),
            conflicts.join(", ")
        );
    }
    Ok(())
}

pub(super) fn display(v: &Value) -> String {
    match v {
        Value::Array(a) => format!("[{}]", a.iter().map(display).collect::<Vec<_>>().join(" ")),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
