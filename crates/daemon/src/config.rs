//! berthd's configuration: dockerd's flags and `daemon.json` keys, merged
//! with dockerd's rules — an unknown key, or a key given both as a flag and
//! in the file, is refused at start with dockerd's wording.

// Sibling files, by path: tests/tls.rs includes this file by its path too.
#[path = "config_file.rs"]
mod file;
#[path = "config_runtimes.rs"]
mod runtimes;
#[path = "config_settings.rs"]
mod settings;

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use serde_json::Value;

use file::{check_conflicts, read_file};
use settings::{log_settings, network_settings, tls_settings};

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
    // `--live-restore=false` too, as Go's boolean flags read it (the last
    // one given wins).
    #[arg(
        long = "live-restore",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        action = clap::ArgAction::Set,
        overrides_with = "live_restore"
    )]
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

#[cfg(test)]
mod tests {
    use super::settings::default_cert_dir;
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
