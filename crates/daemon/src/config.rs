//! berthd's configuration: dockerd's flags and `daemon.json` keys, merged
//! with dockerd's rules — an unknown key, or a key given both as a flag and
//! in the file, is refused at start with dockerd's wording.

// A sibling file, by path: tests/tls.rs includes this file by its path too.
#[path = "config_runtimes.rs"]
mod runtimes;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Parser;
use serde_json::{Map, Value};

#[derive(Debug, Clone, Parser)]
#[command(
    name = "berthd",
    version,
    about = "A self-sufficient runtime for containers (Docker Engine API)"
)]
pub struct Flags {
    /// Root directory of persistent state
    #[arg(long = "data-root")]
    pub data_root: Option<PathBuf>,
    /// Root directory for execution state files
    #[arg(long = "exec-root")]
    pub exec_root: Option<PathBuf>,
    /// Daemon socket(s) to connect to
    #[arg(short = 'H', long = "host")]
    pub hosts: Vec<String>,
    /// Path to use for daemon PID file
    #[arg(short = 'p', long = "pidfile")]
    pub pidfile: Option<PathBuf>,
    /// Enable debug mode
    #[arg(short = 'D', long = "debug")]
    pub debug: bool,
    /// Set the logging level ("debug"|"info"|"warn"|"error"|"fatal")
    #[arg(short = 'l', long = "log-level")]
    pub log_level: Option<String>,
    /// Storage driver to use
    #[arg(short = 's', long = "storage-driver")]
    pub storage_driver: Option<String>,
    /// Daemon configuration file
    #[arg(long = "config-file", default_value = "/etc/berth/daemon.json")]
    pub config_file: PathBuf,
    /// Set key=value labels to the daemon
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// Set parent cgroup for all containers
    #[arg(long = "cgroup-parent")]
    pub cgroup_parent: Option<String>,
    /// Enable live restore of containers when the daemon stops
    #[arg(long = "live-restore")]
    pub live_restore: bool,
    /// Path of the berth-shim binary (default: beside berthd)
    #[arg(long = "shim-binary")]
    pub shim_binary: Option<PathBuf>,
    /// Use TLS; implied by --tlsverify
    #[arg(long = "tls", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub tls: Option<bool>,
    /// Use TLS and verify the remote
    #[arg(long = "tlsverify", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub tlsverify: Option<bool>,
    /// Trust certs signed only by this CA (default "~/.docker/ca.pem")
    #[arg(long = "tlscacert")]
    pub tlscacert: Option<PathBuf>,
    /// Path to TLS certificate file (default "~/.docker/cert.pem")
    #[arg(long = "tlscert")]
    pub tlscert: Option<PathBuf>,
    /// Path to TLS key file (default "~/.docker/key.pem")
    #[arg(long = "tlskey")]
    pub tlskey: Option<PathBuf>,
    /// Attach containers to a network bridge (made if missing; default berth0)
    #[arg(short = 'b', long = "bridge")]
    pub bridge: Option<String>,
    /// Specify network bridge IP
    #[arg(long = "bip")]
    pub bip: Option<String>,
    /// Default address pools for node specific local networks (base=CIDR,size=N)
    #[arg(long = "default-address-pool")]
    pub default_address_pools: Vec<String>,
    /// Enable addition of nftables rules
    #[arg(long = "iptables", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub iptables: Option<bool>,
    /// Enable net.ipv4.ip_forward
    #[arg(long = "ip-forward", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub ip_forward: Option<bool>,
    /// Enable IP masquerading
    #[arg(long = "ip-masq", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub ip_masq: Option<bool>,
    /// Set the containers network MTU
    #[arg(long = "mtu")]
    pub mtu: Option<u32>,
    /// DNS server to use
    #[arg(long = "dns")]
    pub dns: Vec<String>,
    /// DNS search domains to use
    #[arg(long = "dns-search")]
    pub dns_search: Vec<String>,
    /// DNS options to use
    #[arg(long = "dns-opt")]
    pub dns_opts: Vec<String>,
    /// Default driver for container logs
    #[arg(long = "log-driver")]
    pub log_driver: Option<String>,
    /// Default log driver options for containers (key=value)
    #[arg(long = "log-opt")]
    pub log_opts: Vec<String>,
    /// Enable insecure registry communication
    #[arg(long = "insecure-registry")]
    pub insecure_registries: Vec<String>,
    /// Preferred registry mirror
    #[arg(long = "registry-mirror")]
    pub registry_mirrors: Vec<String>,
    /// Where registry trust lives: HOST:PORT/ca.crt (and client.cert,
    /// client.key) under it (berth only; dockerd has it fixed)
    #[arg(long = "registry-certs-dir", default_value = "/etc/docker/certs.d")]
    pub registry_certs_dir: PathBuf,
    /// Register an additional OCI compatible runtime (NAME=PATH)
    #[arg(long = "add-runtime")]
    pub add_runtimes: Vec<String>,
    /// Default OCI runtime for containers
    #[arg(long = "default-runtime")]
    pub default_runtime: Option<String>,
}

/// TLS on the `tcp://` listeners, when `--tls` or `--tlsverify` is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// `--tlsverify`: only clients presenting a certificate signed by `ca`.
    pub verify_clients: bool,
    /// The CA that signs client certificates (always set when verifying).
    pub ca: Option<PathBuf>,
    /// The server's certificate (chain), PEM.
    pub cert: PathBuf,
    /// The server's private key, PEM (PKCS#1, PKCS#8 or SEC1).
    pub key: PathBuf,
}

/// The settings in force, after flags and file are merged.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_root: PathBuf,
    pub exec_root: PathBuf,
    pub hosts: Vec<String>,
    pub pidfile: PathBuf,
    pub debug: bool,
    pub log_level: String,
    pub storage_driver: Option<String>,
    pub labels: Vec<String>,
    pub cgroup_parent: String,
    pub live_restore: bool,
    pub shim_binary: PathBuf,
    pub config_file: PathBuf,
    /// `None`: the tcp:// listeners (if any) speak plain HTTP.
    pub tls: Option<TlsSettings>,
    pub network: berth_engine::networks::NetConfig,
    pub log_driver: String,
    pub log_opts: std::collections::BTreeMap<String, String>,
    /// `insecure-registries` (flag `--insecure-registry`).
    pub insecure_registries: Vec<String>,
    /// `registry-mirrors` (flag `--registry-mirror`).
    pub registry_mirrors: Vec<String>,
    /// `--registry-certs-dir` (`/etc/docker/certs.d`).
    pub registry_certs_dir: PathBuf,
    /// `runtimes` and `default-runtime`.
    pub runtimes: berth_runtime::runtimes::Runtimes,
}

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

pub const DEFAULT_SOCKET: &str = "unix:///run/berth/berth.sock";

impl Config {
    pub fn load(flags: &Flags) -> anyhow::Result<Config> {
        let file = read_file(&flags.config_file)?;
        check_conflicts(flags, &file, &flags.config_file)?;
        let s = |k: &str| file.get(k).and_then(Value::as_str).map(str::to_string);
        let b = |k: &str| file.get(k).and_then(Value::as_bool);
        let list = |k: &str| -> Vec<String> {
            file.get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let hosts = if !flags.hosts.is_empty() {
            flags.hosts.clone()
        } else {
            list("hosts")
        };
        let hosts = if hosts.is_empty() {
            vec![DEFAULT_SOCKET.to_string()]
        } else {
            hosts
        };
        let shim_binary = match &flags.shim_binary {
            Some(p) => p.clone(),
            None => std::env::current_exe()
                .context("locating berthd")?
                .parent()
                .map(|d| d.join("berth-shim"))
                .unwrap_or_else(|| PathBuf::from("berth-shim")),
        };
        let debug = flags.debug || b("debug").unwrap_or(false);
        let tls = tls_settings(flags, &file, &flags.config_file)?;
        let network = network_settings(flags, &file, &flags.config_file)?;
        let (log_driver, log_opts) = log_settings(flags, &file)?;
        let runtimes = runtimes::settings(flags, &file, &flags.config_file)?;
        Ok(Config {
            runtimes,
            log_driver,
            log_opts,
            network,
            data_root: flags
                .data_root
                .clone()
                .or(s("data-root").map(PathBuf::from))
                .unwrap_or_else(|| "/var/lib/berth".into()),
            exec_root: flags
                .exec_root
                .clone()
                .or(s("exec-root").map(PathBuf::from))
                .unwrap_or_else(|| "/run/berth".into()),
            hosts,
            pidfile: flags
                .pidfile
                .clone()
                .or(s("pidfile").map(PathBuf::from))
                .unwrap_or_else(|| "/run/berthd.pid".into()),
            debug,
            log_level: flags
                .log_level
                .clone()
                .or(s("log-level"))
                .unwrap_or_else(|| if debug { "debug".into() } else { "info".into() }),
            storage_driver: flags.storage_driver.clone().or(s("storage-driver")),
            labels: if flags.labels.is_empty() {
                list("labels")
            } else {
                flags.labels.clone()
            },
            cgroup_parent: flags
                .cgroup_parent
                .clone()
                .or(s("cgroup-parent"))
                .unwrap_or_else(|| "/berth".into()),
            live_restore: flags.live_restore || b("live-restore").unwrap_or(false),
            shim_binary,
            config_file: flags.config_file.clone(),
            tls,
            insecure_registries: if flags.insecure_registries.is_empty() {
                list("insecure-registries")
            } else {
                flags.insecure_registries.clone()
            },
            registry_mirrors: if flags.registry_mirrors.is_empty() {
                list("registry-mirrors")
            } else {
                flags.registry_mirrors.clone()
            },
            registry_certs_dir: flags.registry_certs_dir.clone(),
        })
    }

    /// What SIGHUP may change: debug, log level, labels.
    pub fn reloadable(&self) -> anyhow::Result<(bool, String, Vec<String>)> {
        let file = read_file(&self.config_file)?;
        let debug = file
            .get("debug")
            .and_then(Value::as_bool)
            .unwrap_or(self.debug);
        let level = file
            .get("log-level")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| {
                if debug {
                    "debug".into()
                } else {
                    self.log_level.clone()
                }
            });
        let labels = file
            .get("labels")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_else(|| self.labels.clone());
        Ok((debug, level, labels))
    }
}

/// dockerd's rules: `--tlsverify` given at all (even `=false`) turns TLS on;
/// `--tls` alone encrypts without asking clients for a certificate; paths
/// not given default to `ca.pem`, `cert.pem`, `key.pem` in
/// `$DOCKER_CERT_PATH`, else `~/.docker`. The CA is only needed (and only
/// defaulted) when verifying clients.
fn tls_settings(
    flags: &Flags,
    file: &Map<String, Value>,
    path: &Path,
) -> anyhow::Result<Option<TlsSettings>> {
    let bool_key = |k: &str| -> anyhow::Result<Option<bool>> {
        match file.get(k) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => bail!(
                "unable to configure the daemon with file {}: {k} must be a boolean, not {v}",
                path.display()
            ),
        }
    };
    let path_key = |k: &str| -> anyhow::Result<Option<PathBuf>> {
        match file.get(k) {
            None => Ok(None),
            Some(Value::String(s)) if !s.is_empty() => Ok(Some(PathBuf::from(s))),
            Some(v) => bail!(
                "unable to configure the daemon with file {}: {k} must be a file path, not {v}",
                path.display()
            ),
        }
    };
    let tlsverify = flags.tlsverify.or(bool_key("tlsverify")?);
    let tls = flags.tls.or(bool_key("tls")?).unwrap_or(false);
    let cacert = flags.tlscacert.clone().or(path_key("tlscacert")?);
    let cert = flags.tlscert.clone().or(path_key("tlscert")?);
    let key = flags.tlskey.clone().or(path_key("tlskey")?);
    if !tls && tlsverify.is_none() {
        return Ok(None);
    }
    let verify_clients = tlsverify.unwrap_or(false);
    let dir = default_cert_dir();
    Ok(Some(TlsSettings {
        verify_clients,
        ca: cacert.or_else(|| verify_clients.then(|| dir.join("ca.pem"))),
        cert: cert.unwrap_or_else(|| dir.join("cert.pem")),
        key: key.unwrap_or_else(|| dir.join("key.pem")),
    }))
}

/// Where dockerd looks for `ca.pem`, `cert.pem` and `key.pem` by default.
fn default_cert_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("DOCKER_CERT_PATH").filter(|d| !d.is_empty()) {
        return d.into();
    }
    if let Some(d) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return d.into();
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".docker")
}

/// Reads `daemon.json`; a missing file is an empty configuration.
fn read_file(path: &Path) -> anyhow::Result<Map<String, Value>> {
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

/// The networking keys: `bridge`, `bip`, `default-address-pools`,
/// `iptables`, `ip-forward`, `ip-masq`, `mtu`, `dns`, `dns-search`, `dns-opts`.
fn network_settings(
    flags: &Flags,
    file: &Map<String, Value>,
    path: &Path,
) -> anyhow::Result<berth_engine::networks::NetConfig> {
    use berth_engine::networks::NetConfig;
    let bad = |k: &str, why: &str| {
        anyhow::anyhow!(
            "unable to configure the daemon with file {}: {k}: {why}",
            path.display()
        )
    };
    let s = |k: &str| file.get(k).and_then(Value::as_str).map(str::to_string);
    let b = |k: &str| file.get(k).and_then(Value::as_bool);
    let list = |k: &str| -> Vec<String> {
        file.get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut c = NetConfig::default();
    if let Some(br) = flags.bridge.clone().or(s("bridge")) {
        if br.is_empty() || br.len() > 15 || br == "none" {
            bail!("invalid bridge name {br:?}: 1 to 15 characters");
        }
        c.bridge = br;
    }
    if let Some(bip) = flags.bip.clone().or(s("bip")) {
        c.bip = Some(
            bip.parse()
                .map_err(|_| anyhow::anyhow!("invalid bip {bip:?}: not an IPv4 CIDR address"))?,
        );
    }
    let mut pools: Vec<(ipnet::Ipv4Net, u8)> = Vec::new();
    for p in &flags.default_address_pools {
        let mut base = None;
        let mut size = None;
        for kv in p.split(',') {
            match kv.split_once('=') {
                Some(("base", v)) => base = v.parse().ok(),
                Some(("size", v)) => size = v.parse().ok(),
                _ => bail!("invalid default address pool {p:?}: want base=CIDR,size=N"),
            }
        }
        match (base, size) {
            (Some(b), Some(s)) => pools.push((b, s)),
            _ => bail!("invalid default address pool {p:?}: want base=CIDR,size=N"),
        }
    }
    if let Some(v) = file.get("default-address-pools") {
        let arr = v
            .as_array()
            .ok_or_else(|| bad("default-address-pools", "not a list"))?;
        for p in arr {
            let base = p
                .get("base")
                .and_then(Value::as_str)
                .and_then(|b| b.parse().ok())
                .ok_or_else(|| bad("default-address-pools", "base must be an IPv4 CIDR"))?;
            let size = p
                .get("size")
                .and_then(Value::as_u64)
                .ok_or_else(|| bad("default-address-pools", "size must be a number"))?;
            pools.push((base, size as u8));
        }
    }
    if !pools.is_empty() {
        c.pools =
            berth_network::ipam::pools_from(&pools).map_err(|e| anyhow::anyhow!(e.message))?;
    }
    c.iptables = flags.iptables.or(b("iptables")).unwrap_or(true);
    c.ip_forward = flags.ip_forward.or(b("ip-forward")).unwrap_or(true);
    c.ip_masq = flags.ip_masq.or(b("ip-masq")).unwrap_or(true);
    c.mtu = flags
        .mtu
        .or(file.get("mtu").and_then(Value::as_u64).map(|m| m as u32))
        .filter(|m| *m != 0 && *m != 1500);
    c.dns = if flags.dns.is_empty() {
        list("dns")
    } else {
        flags.dns.clone()
    };
    for d in &c.dns {
        if d.parse::<std::net::IpAddr>().is_err() {
            bail!("{d} is not an ip address");
        }
    }
    c.dns_search = if flags.dns_search.is_empty() {
        list("dns-search")
    } else {
        flags.dns_search.clone()
    };
    c.dns_options = if flags.dns_opts.is_empty() {
        list("dns-opts")
    } else {
        flags.dns_opts.clone()
    };
    Ok(c)
}

/// `log-driver` / `log-opts` (`--log-driver`, `--log-opt k=v`), checked
/// as a container's would be.
fn log_settings(
    flags: &Flags,
    file: &Map<String, Value>,
) -> anyhow::Result<(String, std::collections::BTreeMap<String, String>)> {
    let driver = flags
        .log_driver
        .clone()
        .or_else(|| {
            file.get("log-driver")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| "json-file".into());
    let mut opts = std::collections::BTreeMap::new();
    if let Some(m) = file.get("log-opts").and_then(Value::as_object) {
        for (k, v) in m {
            let Some(v) = v.as_str() else {
                bail!("log-opts: the value of {k} must be a string");
            };
            opts.insert(k.clone(), v.to_string());
        }
    }
    for kv in &flags.log_opts {
        let Some((k, v)) = kv.split_once('=') else {
            bail!("invalid key value pair format in log opts: {kv}");
        };
        opts.insert(k.to_string(), v.to_string());
    }
    let as_map: indexmap::IndexMap<String, String> =
        opts.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    berth_engine::logdriver::validate(&driver, &as_map)
        .map_err(|e| anyhow::anyhow!("failed to set log opts: {}", e.message))?;
    Ok((driver, opts))
}

fn check_conflicts(flags: &Flags, file: &Map<String, Value>, path: &Path) -> anyhow::Result<()> {
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

fn display(v: &Value) -> String {
    match v {
        Value::Array(a) => format!("[{}]", a.iter().map(display).collect::<Vec<_>>().join(" ")),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(args: &[&str]) -> Flags {
        Flags::parse_from(std::iter::once("berthd").chain(args.iter().copied()))
    }

    #[test]
    fn refuses_a_key_given_twice() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("daemon.json");
        std::fs::write(&file, r#"{"hosts": ["tcp://127.0.0.1:2376"]}"#).unwrap();
        let f = flags(&[
            "-H",
            "unix:///var/run/docker.sock",
            "--config-file",
            file.to_str().unwrap(),
        ]);
        let e = Config::load(&f).unwrap_err().to_string();
        assert!(e.contains("the following directives are specified both as a flag and in the configuration file: hosts: (from flag: [unix:///var/run/docker.sock], from file: [tcp://127.0.0.1:2376])"), "{e}");
    }

    #[test]
    fn refuses_unknown_keys_and_reads_known_ones() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("daemon.json");
        std::fs::write(&file, r#"{"no-such-key": 1}"#).unwrap();
        let e = Config::load(&flags(&["--config-file", file.to_str().unwrap()]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("don't match any configuration option: no-such-key"),
            "{e}"
        );
        std::fs::write(
            &file,
            r#"{"data-root": "/tmp/x", "debug": true, "labels": ["a=b"]}"#,
        )
        .unwrap();
        let c = Config::load(&flags(&["--config-file", file.to_str().unwrap()])).unwrap();
        assert_eq!(c.data_root, PathBuf::from("/tmp/x"));
        assert!(c.debug);
        assert_eq!(c.log_level, "debug");
        assert_eq!(c.labels, vec!["a=b"]);
        assert_eq!(c.hosts, vec![DEFAULT_SOCKET]);
    }

    fn load(args: &[&str], json: &str) -> anyhow::Result<Config> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("daemon.json");
        std::fs::write(&file, json).unwrap();
        let mut all = args.to_vec();
        all.extend(["--config-file", file.to_str().unwrap()]);
        Config::load(&flags(&all))
    }

    #[test]
    fn tls_is_off_unless_asked_for() {
        assert_eq!(load(&[], "{}").unwrap().tls, None);
        // Paths alone do not turn it on, as with dockerd.
        assert_eq!(load(&["--tlscert", "/c.pem"], "{}").unwrap().tls, None);
        assert_eq!(load(&["--tls=false"], "{}").unwrap().tls, None);
        assert_eq!(load(&[], r#"{"tls": false}"#).unwrap().tls, None);
    }

    #[test]
    fn tlsverify_from_flags() {
        let c = load(
            &[
                "--tlsverify",
                "--tlscacert=/p/ca.pem",
                "--tlscert",
                "/p/server-cert.pem",
                "--tlskey",
                "/p/server-key.pem",
            ],
            "{}",
        )
        .unwrap();
        assert_eq!(
            c.tls,
            Some(TlsSettings {
                verify_clients: true,
                ca: Some("/p/ca.pem".into()),
                cert: "/p/server-cert.pem".into(),
                key: "/p/server-key.pem".into(),
            })
        );
    }

    #[test]
    fn tls_alone_encrypts_without_verifying_and_defaults_the_paths() {
        let dir = default_cert_dir();
        let c = load(&["--tls"], "{}").unwrap();
        assert_eq!(
            c.tls,
            Some(TlsSettings {
                verify_clients: false,
                ca: None,
                cert: dir.join("cert.pem"),
                key: dir.join("key.pem"),
            })
        );
        // Verifying needs a CA: the default one when none is named.
        let c = load(&["--tlsverify=true"], "{}").unwrap();
        let t = c.tls.unwrap();
        assert!(t.verify_clients);
        assert_eq!(t.ca, Some(dir.join("ca.pem")));
        // dockerd: --tlsverify given at all, even false, turns TLS on.
        let t = load(&["--tlsverify=false"], "{}").unwrap().tls.unwrap();
        assert!(!t.verify_clients);
        let t = load(&["--tls=false", "--tlsverify"], "{}")
            .unwrap()
            .tls
            .unwrap();
        assert!(t.verify_clients);
    }

    #[test]
    fn tls_from_daemon_json() {
        let c = load(
            &[],
            r#"{"tlsverify": true, "tlscacert": "/d/ca.pem", "tlscert": "/d/cert.pem", "tlskey": "/d/key.pem"}"#,
        )
        .unwrap();
        assert_eq!(
            c.tls,
            Some(TlsSettings {
                verify_clients: true,
                ca: Some("/d/ca.pem".into()),
                cert: "/d/cert.pem".into(),
                key: "/d/key.pem".into(),
            })
        );
        let t = load(
            &[],
            r#"{"tls": true, "tlscert": "/d/cert.pem", "tlskey": "/d/key.pem"}"#,
        )
        .unwrap()
        .tls
        .unwrap();
        assert!(!t.verify_clients);
        assert_eq!(t.ca, None);
        // A flag and the file together: tlsverify from the file, paths from flags.
        let t = load(
            &["--tlscert", "/f/cert.pem", "--tlskey", "/f/key.pem"],
            r#"{"tlsverify": true, "tlscacert": "/d/ca.pem"}"#,
        )
        .unwrap()
        .tls
        .unwrap();
        assert_eq!(t.cert, PathBuf::from("/f/cert.pem"));
        assert_eq!(t.ca, Some("/d/ca.pem".into()));
    }

    #[test]
    fn tls_keys_conflict_and_are_type_checked() {
        let e = load(
            &["--tlsverify", "--tlscert", "/a.pem"],
            r#"{"tlsverify": true, "tlscert": "/b.pem"}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("specified both as a flag and in the configuration file: tlsverify: (from flag: true, from file: true), tlscert: (from flag: /a.pem, from file: /b.pem)"),
            "{e}"
        );
        let e = load(&[], r#"{"tlsverify": "true"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("tlsverify must be a boolean"), "{e}");
        let e = load(&["--tls"], r#"{"tlskey": 7}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("tlskey must be a file path"), "{e}");
    }
}
