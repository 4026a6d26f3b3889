//! `run`/`create` flags and their parsing into the create body
//! (`Config` fields with `HostConfig` beside them), as the docker CLI
//! builds it. Flags the daemon cannot act on yet are still passed through.

use clap::Args;
use serde_json::{json, Map, Value};

use crate::Failure;

#[derive(Debug, Args, Clone, Default)]
pub struct CreateOpts {
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Attach to STDIN, STDOUT or STDERR
    #[arg(short = 'a', long = "attach")]
    pub attach: Vec<String>,
    /// Set environment variables
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file")]
    pub env_file: Vec<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    /// Container host name
    #[arg(short = 'h', long = "hostname")]
    pub hostname: Option<String>,
    /// Container NIS domain name
    #[arg(long)]
    pub domainname: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Set meta data on a container
    #[arg(short = 'l', long = "label")]
    pub label: Vec<String>,
    /// Connect a container to a network
    #[arg(long = "network", alias = "net")]
    pub network: Vec<String>,
    /// Add network-scoped alias for the container
    #[arg(long = "network-alias", alias = "net-alias")]
    pub network_alias: Vec<String>,
    /// IPv4 address (e.g., 172.30.100.104)
    #[arg(long)]
    pub ip: Option<String>,
    /// IPv6 address (e.g., 2001:db8::33)
    #[arg(long)]
    pub ip6: Option<String>,
    /// Container IPv4/IPv6 link-local addresses
    #[arg(long = "link-local-ip")]
    pub link_local_ip: Vec<String>,
    /// Container MAC address (e.g., 92:d0:c6:0a:29:33)
    #[arg(long = "mac-address")]
    pub mac_address: Option<String>,
    /// Set custom DNS search domains
    #[arg(long = "dns-search")]
    pub dns_search: Vec<String>,
    /// Set DNS options
    #[arg(long = "dns-option", alias = "dns-opt")]
    pub dns_option: Vec<String>,
    /// Publish a container's port(s) to the host
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Expose a port or a range of ports
    #[arg(long)]
    pub expose: Vec<String>,
    /// Bind mount a volume
    #[arg(short = 'v', long = "volume")]
    pub volume: Vec<String>,
    /// Mount a tmpfs directory
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// Attach a filesystem mount to the container
    #[arg(long = "mount")]
    pub mount: Vec<String>,
    /// Mount volumes from the specified container(s)
    #[arg(long = "volumes-from")]
    pub volumes_from: Vec<String>,
    /// Set custom DNS servers
    #[arg(long)]
    pub dns: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Automatically remove the container and its associated anonymous volumes when it exits
    #[arg(long)]
    pub rm: bool,
    /// Restart policy to apply when a container exits
    #[arg(long)]
    pub restart: Option<String>,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long)]
    pub init: bool,
    /// Give extended privileges to this container
    #[arg(long)]
    pub privileged: bool,
    /// Runtime to use for this container
    #[arg(long)]
    pub runtime: Option<String>,
    /// Add Linux capabilities
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    /// Signal to stop the container
    #[arg(long = "stop-signal")]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container
    #[arg(long = "stop-timeout")]
    pub stop_timeout: Option<i64>,
    /// Memory limit
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Number of CPUs
    #[arg(long)]
    pub cpus: Option<f64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares")]
    pub cpu_shares: Option<i64>,
    /// Size of /dev/shm
    #[arg(long = "shm-size")]
    pub shm_size: Option<String>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Memory soft limit
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    /// Disable OOM Killer
    #[arg(long = "oom-kill-disable")]
    pub oom_kill_disable: bool,
    /// Limit CPU CFS (Completely Fair Scheduler) period
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<i64>,
    /// Block IO weight (relative device weight)
    #[arg(long = "blkio-weight-device")]
    pub blkio_weight_device: Vec<String>,
    /// Limit read rate (bytes per second) from a device
    #[arg(long = "device-read-bps")]
    pub device_read_bps: Vec<String>,
    /// Limit write rate (bytes per second) to a device
    #[arg(long = "device-write-bps")]
    pub device_write_bps: Vec<String>,
    /// Limit read rate (IO per second) from a device
    #[arg(long = "device-read-iops")]
    pub device_read_iops: Vec<String>,
    /// Limit write rate (IO per second) to a device
    #[arg(long = "device-write-iops")]
    pub device_write_iops: Vec<String>,
    /// Tune container memory swappiness (0 to 100)
    #[arg(long = "memory-swappiness", allow_hyphen_values = true)]
    pub memory_swappiness: Option<i64>,
    /// Ulimit options
    #[arg(long = "ulimit")]
    pub ulimit: Vec<String>,
    /// PID namespace to use
    #[arg(long)]
    pub pid: Option<String>,
    /// IPC mode to use
    #[arg(long)]
    pub ipc: Option<String>,
    /// Mount the container's root filesystem as read only
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Security options
    #[arg(long = "security-opt")]
    pub security_opt: Vec<String>,

    #[arg(long)]
    pub device: Vec<String>,

    #[arg(long = "device-cgroup-rule")]
    pub device_cgroup_rule: Vec<String>,

    #[arg(long)]
    pub sysctl: Vec<String>,

    #[arg(long = "group-add")]
    pub group_add: Vec<String>,

    #[arg(long = "health-cmd")]
    pub health_cmd: Option<String>,

    #[arg(long = "health-interval")]
    pub health_interval: Option<String>,

    #[arg(long = "health-timeout")]
    pub health_timeout: Option<String>,

    #[arg(long = "health-start-period")]
    pub health_start_period: Option<String>,
    /// Time between running the check during the start period (ms|s|m|h)
    #[arg(long = "health-start-interval")]
    pub health_start_interval: Option<String>,

    #[arg(long = "health-retries")]
    pub health_retries: Option<i64>,

    #[arg(long = "no-healthcheck")]
    pub no_healthcheck: bool,
    /// Logging driver for the container
    #[arg(long = "log-driver")]
    pub log_driver: Option<String>,
    /// Log driver options
    #[arg(long = "log-opt")]
    pub log_opt: Vec<String>,
    /// Set platform if server is multi-platform capable
    #[arg(long)]
    pub platform: Option<String>,
    /// Proxy received signals to the process
    #[arg(long = "sig-proxy", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub sig_proxy: bool,
    /// Print usage
    #[arg(long = "help", action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// The image to run
    pub image: String,
    /// The command and its arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// `-e NAME=value` as is; `-e NAME` takes the local value, or passes the
/// bare name (unset in the container), as docker does.
fn env_value(e: &str) -> String {
    if e.contains('=') {
        return e.to_string();
    }
    match std::env::var(e) {
        Ok(v) => format!("{e}={v}"),
        Err(_) => e.to_string(),
    }
}

/// docker's `--env-file`: `#` comments and blank lines skipped, leading
/// space trimmed, values kept verbatim (no quote handling).
pub fn parse_env_file(path: &str, text: &str) -> Result<Vec<String>, Failure> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name = line.split_once('=').map(|(k, _)| k).unwrap_or(line);
        if name.is_empty() {
            return Err(Failure::usage(format!(
                "invalid env file ({path}): variable '{line}' contains whitespaces"
            )));
        }
        if name.contains(char::is_whitespace) {
            return Err(Failure::usage(format!(
                "invalid env file ({path}): variable '{name}' contains whitespaces"
            )));
        }
        out.push(env_value(line));
    }
    Ok(out)
}

pub fn env_list(opts: &CreateOpts) -> Result<Vec<String>, Failure> {
    let mut env = Vec::new();
    for f in &opts.env_file {
        let text = std::fs::read_to_string(f)
            .map_err(|e| Failure::usage(format!("open {f}: {}", io_text(&e))))?;
        env.extend(parse_env_file(f, &text)?);
    }
    env.extend(opts.env.iter().map(|e| env_value(e)));
    Ok(env)
}

/// Go's wording of common I/O errors.
pub fn io_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// `-l key=value` / `-l key` into a label map.
pub fn parse_labels(labels: &[String]) -> Map<String, Value> {
    labels
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), json!(v)),
            None => (l.clone(), json!("")),
        })
        .collect()
}

/// `--restart no|always|unless-stopped|on-failure[:N]`.
/// `--ulimit NAME=SOFT[:HARD]` (docker's `opts.ParseUlimit`).
pub fn parse_ulimit(s: &str) -> Result<Value, String> {
    let (name, vals) = s
        .split_once('=')
        .ok_or_else(|| format!("invalid ulimit argument: {s}"))?;
    let (soft, hard) = vals.split_once(':').unwrap_or((vals, vals));
    let soft: i64 = soft
        .parse()
        .map_err(|_| format!("invalid ulimit soft value: {soft}"))?;
    let hard: i64 = hard
        .parse()
        .map_err(|_| format!("invalid ulimit hard value: {hard}"))?;
    if soft > hard {
        return Err(format!(
            "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        ));
    }
    Ok(json!({"Name": name, "Soft": soft, "Hard": hard}))
}

pub fn restart_policy(spec: Option<&str>) -> Result<Value, Failure> {
    let Some(spec) = spec.filter(|s| !s.is_empty()) else {
        return Ok(json!({"Name": "no", "MaximumRetryCount": 0}));
    };
    let (name, count) = match spec.split_once(':') {
        Some((n, c)) => (
            n,
            c.parse::<i64>().map_err(|_| {
                Failure::usage(format!(
                    "invalid restart policy format: maximum retry count must be an integer: strconv.Atoi: parsing \"{c}\": invalid syntax"
                ))
            })?,
        ),
        None => (spec, 0),
    };
    Ok(json!({"Name": name, "MaximumRetryCount": count}))
}

pub use berth_api::units::ram_in_bytes;

/// `-p [ip:][hostPort:]containerPort[/proto]`, ranges allowed: the
/// exposed ports and their bindings.
/// Exposed ports and port bindings, keyed `port/proto`.
pub type PortMaps = (Map<String, Value>, Map<String, Value>);

pub fn parse_ports(specs: &[String]) -> Result<PortMaps, Failure> {
    let mut exposed = Map::new();
    let mut bindings: Map<String, Value> = Map::new();
    for spec in specs {
        let bad = || {
            Failure::usage(format!("invalid argument \"{spec}\" for \"-p, --publish\" flag: Invalid containerPort: {spec}"))
        };
        // As go-connections' ParsePortSpec: an empty protocol is tcp, the
        // protocol is lower-cased and must be one the daemon knows.
        let (rest, proto) = match spec.rsplit_once('/') {
            Some((r, p)) if !p.is_empty() => (r, p.to_ascii_lowercase()),
            Some((r, _)) => (r, "tcp".to_string()),
            None => (spec.as_str(), "tcp".to_string()),
        };
        if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
            return Err(Failure::usage(format!("invalid proto: {proto}")));
        }
        // An IPv6 address is bracketed: [::1]:8080:80.
        let (ip, rest) = if let Some(r) = rest.strip_prefix('[') {
            let (ip, r) = r.split_once("]:").ok_or_else(bad)?;
            (ip.to_string(), r.to_string())
        } else {
            let parts: Vec<&str> = rest.split(':').collect();
            match parts.len() {
                1 | 2 => (String::new(), rest.to_string()),
                3 => (parts[0].to_string(), format!("{}:{}", parts[1], parts[2])),
                _ => return Err(bad()),
            }
        };
        let (host, ctr) = match rest.split_once(':') {
            Some((h, c)) => (h.to_string(), c.to_string()),
            None => (String::new(), rest.clone()),
        };
        let range = |s: &str| -> Result<(u32, u32), Failure> {
            let (a, b) = s.split_once('-').unwrap_or((s, s));
            let a: u32 = a.parse().map_err(|_| bad())?;
            let b: u32 = b.parse().map_err(|_| bad())?;
            if a == 0 || b < a || b > 65535 {
                return Err(bad());
            }
            Ok((a, b))
        };
        let (c0, c1) = range(&ctr)?;
        let hosts = if host.is_empty() {
            None
        } else {
            Some(range(&host)?)
        };
        if let Some((h0, h1)) = hosts {
            if h1 - h0 != c1 - c0 && h0 != h1 {
                return Err(Failure::usage(format!(
                    "invalid argument \"{spec}\" for \"-p, --publish\" flag: invalid ranges specified for container and host Ports: {ctr} and {host}"
                )));
            }
        }
        for (i, port) in (c0..=c1).enumerate() {
            let key = format!("{port}/{proto}");
            exposed.insert(key.clone(), json!({}));
            let host_port = match hosts {
                None => String::new(),
                Some((h0, h1)) if h0 == h1 => h0.to_string(),
                Some((h0, _)) => (h0 + i as u32).to_string(),
            };
            let entry = bindings.entry(key).or_insert_with(|| json!([]));
            if let Some(list) = entry.as_array_mut() {
                list.push(json!({"HostIp": ip, "HostPort": host_port}));
            }
        }
    }
    Ok((exposed, bindings))
}

/// `-v`: `/ctr` is an anonymous volume (Config.Volumes); `src:/ctr[:opts]`
/// is a bind or named volume, passed through in HostConfig.Binds.
pub fn parse_volumes(specs: &[String]) -> Result<(Map<String, Value>, Vec<String>), Failure> {
    let mut volumes = Map::new();
    let mut binds = Vec::new();
    for spec in specs {
        let parts: Vec<&str> = spec.split(':').collect();
        let bad = || {
            Failure::usage(format!("invalid argument \"{spec}\" for \"-v, --volume\" flag: invalid spec: {spec}: too many colons"))
        };
        match parts.len() {
            1 => {
                if !spec.starts_with('/') {
                    return Err(Failure::usage(format!("invalid argument \"{spec}\" for \"-v, --volume\" flag: invalid mount config: mount path must be absolute")));
                }
                volumes.insert(spec.clone(), json!({}));
            }
            2 | 3 => {
                if parts[1].is_empty() || parts[0].is_empty() {
                    return Err(Failure::usage(format!("invalid argument \"{spec}\" for \"-v, --volume\" flag: invalid spec: {spec}: empty section between colons")));
                }
                // As docker 23+: a relative host path (`.`, `./x`, `..`) is made absolute.
                let src = parts[0];
                if src == "." || src == ".." || src.starts_with("./") || src.starts_with("../") {
                    let abs = std::env::current_dir()
                        .map(|d| crate::commands::mount::clean(&d.join(src)))
                        .map_err(|e| Failure::usage(e.to_string()))?;
                    let mut p: Vec<String> = parts.iter().map(|s| s.to_string()).collect();
                    p[0] = abs;
                    binds.push(p.join(":"));
                } else {
                    binds.push(spec.clone());
                }
            }
            _ => return Err(bad()),
        }
    }
    Ok((volumes, binds))
}

/// The body of `POST /containers/create` for these flags. `attach`: the
/// streams the CLI will attach (none when detached).
pub fn create_body(
    opts: &CreateOpts,
    attach: bool,
    console: Option<(u16, u16)>,
) -> Result<Value, Failure> {
    let entrypoint = opts.entrypoint.as_ref().map(|e| {
        if e.is_empty() {
            vec![String::new()]
        } else {
            vec![e.clone()]
        }
    });
    let (mut exposed, bindings) = parse_ports(&opts.publish)?;
    for e in &opts.expose {
        let (p, proto) = e.split_once('/').unwrap_or((e, "tcp"));
        exposed.insert(format!("{p}/{proto}"), json!({}));
    }
    let (volumes, binds) = parse_volumes(&opts.volume)?;
    let mounts = opts
        .mount
        .iter()
        .map(|m| {
            crate::commands::mount::parse_mount(m).map_err(|e| {
                Failure::usage(format!(
                    "invalid argument \"{m}\" for \"--mount\" flag: {e}"
                ))
            })
        })
        .collect::<Result<Vec<Value>, Failure>>()?;
    let memory = match &opts.memory {
        Some(m) => ram_in_bytes(m).map_err(|e| {
            Failure::usage(format!(
                "invalid argument \"{m}\" for \"-m, --memory\" flag: {e}"
            ))
        })?,
        None => 0,
    };
    let shm = match &opts.shm_size {
        Some(m) => ram_in_bytes(m).map_err(|e| {
            Failure::usage(format!(
                "invalid argument \"{m}\" for \"--shm-size\" flag: {e}"
            ))
        })?,
        None => 0,
    };
    let bytes = |v: &Option<String>, flag: &str| -> Result<i64, Failure> {
        match v.as_deref() {
            None => Ok(0),
            Some("-1") => Ok(-1),
            Some(m) => ram_in_bytes(m).map_err(|e| {
                Failure::usage(format!("invalid argument \"{m}\" for \"{flag}\" flag: {e}"))
            }),
        }
    };
    let memory_swap = bytes(&opts.memory_swap, "--memory-swap")?;
    let memory_reservation = bytes(&opts.memory_reservation, "--memory-reservation")?;
    // The docker CLI leaves -1 (its default) unsent, and checks the range.
    let swappiness = match opts.memory_swappiness {
        None | Some(-1) => Value::Null,
        Some(s) if (0..=100).contains(&s) => json!(s),
        Some(s) => {
            return Err(Failure::usage(format!(
                "invalid value: {s}. Valid memory swappiness range is 0-100"
            )))
        }
    };
    let throttles = |flag: &str, vals: &[String], iops: bool| -> Result<Value, Failure> {
        vals.iter()
            .map(|v| {
                parse_throttle_device(v, iops).map_err(|e| {
                    Failure::usage(format!(
                        "invalid argument \"{v}\" for \"--{flag}\" flag: {e}"
                    ))
                })
            })
            .collect::<Result<Vec<Value>, Failure>>()
            .map(Value::Array)
    };
    let read_bps = throttles("device-read-bps", &opts.device_read_bps, false)?;
    let write_bps = throttles("device-write-bps", &opts.device_write_bps, false)?;
    let read_iops = throttles("device-read-iops", &opts.device_read_iops, true)?;
    let write_iops = throttles("device-write-iops", &opts.device_write_iops, true)?;
    let weight_devices = opts
        .blkio_weight_device
        .iter()
        .map(|v| {
            parse_weight_device(v).map_err(|e| {
                Failure::usage(format!(
                    "invalid argument \"{v}\" for \"--blkio-weight-device\" flag: {e}"
                ))
            })
        })
        .collect::<Result<Vec<Value>, Failure>>()?;
    let ulimits = opts
        .ulimit
        .iter()
        .map(|u| {
            parse_ulimit(u).map_err(|e| {
                Failure::usage(format!(
                    "invalid argument \"{u}\" for \"--ulimit\" flag: {e}"
                ))
            })
        })
        .collect::<Result<Vec<Value>, Failure>>()?;
    let streams = |name: &str| {
        attach
            && (opts.attach.is_empty() || opts.attach.iter().any(|a| a.eq_ignore_ascii_case(name)))
    };
    let stdin = if opts.attach.is_empty() {
        attach && opts.interactive
    } else {
        streams("stdin")
    };
    let log_config: Map<String, Value> = opts
        .log_opt
        .iter()
        .map(|o| {
            let (k, v) = o.split_once('=').unwrap_or((o, ""));
            (k.to_string(), json!(v))
        })
        .collect();
    let tmpfs: Map<String, Value> = opts
        .tmpfs
        .iter()
        .map(|t| {
            let (k, v) = t.split_once(':').unwrap_or((t, ""));
            (k.to_string(), json!(v))
        })
        .collect();
    let security_opt = security_opts(&opts.security_opt)?;
    let devices = opts
        .device
        .iter()
        .map(|d| parse_device(d))
        .collect::<Result<Vec<Value>, Failure>>()?;
    let mut sysctls = Map::new();
    for s in &opts.sysctl {
        let Some((k, v)) = s.split_once('=') else {
            return Err(Failure::usage(format!(
                "invalid argument \"{s}\" for \"--sysctl\" flag: sysctl '{s}' is not allowed"
            )));
        };
        sysctls.insert(k.to_string(), json!(v));
    }
    let healthcheck = healthcheck(opts)?;
    let (network, endpoints) = super::network::endpoints_config(opts)?;
    Ok(json!({
        "Hostname": opts.hostname.clone().unwrap_or_default(),
        "Domainname": opts.domainname.clone().unwrap_or_default(),
        "User": opts.user.clone().unwrap_or_default(),
        "AttachStdin": stdin,
        "AttachStdout": streams("stdout"),
        "AttachStderr": streams("stderr"),
        "ExposedPorts": if exposed.is_empty() { Value::Null } else { Value::Object(exposed) },
        "Tty": opts.tty,
        "OpenStdin": opts.interactive,
        "StdinOnce": stdin,
        "Env": env_list(opts)?,
        "Cmd": if opts.command.is_empty() { Value::Null } else { json!(opts.command) },
        "Image": opts.image,
        "Volumes": if volumes.is_empty() { Value::Null } else { Value::Object(volumes) },
        "WorkingDir": opts.workdir.clone().unwrap_or_default(),
        "Entrypoint": entrypoint,
        "Labels": parse_labels(&opts.label),
        "Healthcheck": healthcheck,
        "StopSignal": opts.stop_signal,
        "StopTimeout": opts.stop_timeout,
        "HostConfig": {
            "Binds": if binds.is_empty() { Value::Null } else { json!(binds) },
            "Mounts": if mounts.is_empty() { Value::Null } else { json!(mounts) },
            "VolumesFrom": if opts.volumes_from.is_empty() { Value::Null } else { json!(opts.volumes_from) },
            "NetworkMode": network,
            "PortBindings": bindings,
            "PublishAllPorts": opts.publish_all,
            "RestartPolicy": restart_policy(opts.restart.as_deref())?,
            "AutoRemove": opts.rm,
            "Dns": opts.dns,
            "DnsOptions": opts.dns_option,
            "DnsSearch": opts.dns_search,
            "ExtraHosts": if opts.add_host.is_empty() { Value::Null } else { json!(opts.add_host) },
            "Privileged": opts.privileged,
            "CapAdd": if opts.cap_add.is_empty() { Value::Null } else { json!(opts.cap_add) },
            "CapDrop": if opts.cap_drop.is_empty() { Value::Null } else { json!(opts.cap_drop) },
            "ReadonlyRootfs": opts.read_only,
            "SecurityOpt": if security_opt.is_empty() { Value::Null } else { json!(security_opt) },
            "Devices": if devices.is_empty() { Value::Null } else { json!(devices) },
            "DeviceCgroupRules": if opts.device_cgroup_rule.is_empty() { Value::Null } else { json!(opts.device_cgroup_rule) },
            "Sysctls": if sysctls.is_empty() { Value::Null } else { Value::Object(sysctls) },
            "GroupAdd": if opts.group_add.is_empty() { Value::Null } else { json!(opts.group_add) },
            "Tmpfs": if tmpfs.is_empty() { Value::Null } else { Value::Object(tmpfs) },
            "Init": if opts.init { json!(true) } else { Value::Null },
            "Runtime": opts.runtime.as_deref().unwrap_or(""),
            "Memory": memory,
            "NanoCpus": opts.cpus.map(|c| (c * 1e9) as i64).unwrap_or(0),
            "CpuShares": opts.cpu_shares.unwrap_or(0),
            "ShmSize": shm,
            "MemorySwap": memory_swap,
            "MemoryReservation": memory_reservation,
            "OomKillDisable": opts.oom_kill_disable,
            "CpuPeriod": opts.cpu_period.unwrap_or(0),
            "CpuQuota": opts.cpu_quota.unwrap_or(0),
            "CpusetCpus": opts.cpuset_cpus.clone().unwrap_or_default(),
            "CpusetMems": opts.cpuset_mems.clone().unwrap_or_default(),
            "PidsLimit": opts.pids_limit,
            "BlkioWeight": opts.blkio_weight.unwrap_or(0),
            "BlkioWeightDevice": weight_devices,
            "BlkioDeviceReadBps": read_bps,
            "BlkioDeviceWriteBps": write_bps,
            "BlkioDeviceReadIOps": read_iops,
            "BlkioDeviceWriteIOps": write_iops,
            "MemorySwappiness": swappiness,
            "Ulimits": if ulimits.is_empty() { Value::Null } else { json!(ulimits) },
            "PidMode": opts.pid.clone().unwrap_or_default(),
            "IpcMode": opts.ipc.clone().unwrap_or_default(),
            "ConsoleSize": console.map(|(h, w)| vec![h, w]).unwrap_or([0, 0].to_vec()),
            "LogConfig": {"Type": opts.log_driver.clone().unwrap_or_default(), "Config": log_config},
        },
        "NetworkingConfig": {"EndpointsConfig": endpoints},
    }))
}

/// `--security-opt`: as the docker CLI, `seccomp=FILE` sends the file's
/// (compacted) JSON, not its path.
fn security_opts(opts: &[String]) -> Result<Vec<String>, Failure> {
    let mut out = Vec::new();
    for o in opts {
        let (k, v) = match o.split_once('=') {
            Some(kv) => kv,
            None if o != "no-new-privileges" => o.split_once(':').unwrap_or((o, "")),
            None => (o.as_str(), ""),
        };
        if v.is_empty() && k != "no-new-privileges" {
            return Err(Failure::usage(format!("Invalid --security-opt: {o:?}")));
        }
        if k == "seccomp" && v != "unconfined" && v != "builtin" {
            let text = std::fs::read(v).map_err(|e| {
                Failure::usage(format!(
                    "opening seccomp profile ({v}) failed: open {v}: {}",
                    io_text(&e)
                ))
            })?;
            let parsed: Value = serde_json::from_slice(&text).map_err(|e| {
                Failure::usage(format!(
                    "compacting json for seccomp profile ({v}) failed: {e}"
                ))
            })?;
            out.push(format!("seccomp={parsed}"));
        } else {
            out.push(o.clone());
        }
    }
    Ok(out)
}

/// `--device HOST[:CONTAINER][:PERMISSIONS]` (the docker CLI's `parseDevice`).
pub(crate) fn parse_device(d: &str) -> Result<Value, Failure> {
    let valid_mode =
        |m: &str| !m.is_empty() && m.len() <= 3 && m.chars().all(|c| matches!(c, 'r' | 'w' | 'm'));
    let bad = || {
        Failure::usage(format!(
            "invalid argument \"{d}\" for \"--device\" flag: invalid device specification: {d}"
        ))
    };
    let parts: Vec<&str> = d.split(':').collect();
    let (src, mut dst, perm) = match parts[..] {
        [s] => (s, "", "rwm"),
        [s, x] if valid_mode(x) => (s, "", x),
        [s, x] => (s, x, "rwm"),
        [s, x, p] if valid_mode(p) => (s, x, p),
        _ => return Err(bad()),
    };
    if src.is_empty() {
        return Err(bad());
    }
    if dst.is_empty() {
        dst = src;
    }
    Ok(json!({"PathOnHost": src, "PathInContainer": dst, "CgroupPermissions": perm}))
}

/// `--device-{read,write}-{bps,iops} PATH:RATE` (the docker CLI's
/// `ValidateThrottle{Bps,IOps}Device`, its words).
pub(crate) fn parse_throttle_device(v: &str, iops: bool) -> Result<Value, String> {
    let (path, rate) = device_pair(v)?;
    let rate = if iops {
        rate.parse::<u64>().map_err(|_| {
            format!("invalid rate for device: {v}. The correct format is <device-path>:<number>. Number must be a positive integer")
        })?
    } else {
        ram_in_bytes(rate)
            .ok()
            .and_then(|r| u64::try_from(r).ok())
            .ok_or_else(|| {
                format!("invalid rate for device: {v}. The correct format is <device-path>:<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb")
            })?
    };
    Ok(json!({"Path": path, "Rate": rate}))
}

/// `--blkio-weight-device PATH:WEIGHT` (the docker CLI's `validateWeightDevice`).
pub(crate) fn parse_weight_device(v: &str) -> Result<Value, String> {
    let (path, weight) = device_pair(v)?;
    match weight.parse::<u16>() {
        Ok(w) if w == 0 || (10..=1000).contains(&w) => Ok(json!({"Path": path, "Weight": w})),
        _ => Err(format!("invalid weight for device: {v}")),
    }
}

fn device_pair(v: &str) -> Result<(&str, &str), String> {
    let (path, value) = match v.split_once(':') {
        Some((p, val)) if !p.is_empty() => (p, val),
        _ => return Err(format!("bad format: {v}")),
    };
    if !path.starts_with("/dev/") {
        return Err(format!("bad format for device path: {v}"));
    }
    Ok((path, value))
}

/// `--health-*` / `--no-healthcheck` as the docker CLI builds `Healthcheck`.
fn healthcheck(opts: &CreateOpts) -> Result<Value, Failure> {
    let dur = |flag: &str, v: &Option<String>| -> Result<i64, Failure> {
        match v {
            None => Ok(0),
            Some(s) => berth_api::units::parse_duration(s)
                .map(|secs| (secs * 1e9) as i64)
                .ok_or_else(|| {
                    Failure::usage(format!(
                        "invalid argument \"{s}\" for \"--{flag}\" flag: time: invalid duration \"{s}\""
                    ))
                }),
        }
    };
    let interval = dur("health-interval", &opts.health_interval)?;
    let timeout = dur("health-timeout", &opts.health_timeout)?;
    let start = dur("health-start-period", &opts.health_start_period)?;
    let start_interval = dur("health-start-interval", &opts.health_start_interval)?;
    let retries = opts.health_retries.unwrap_or(0);
    let any = opts.health_cmd.is_some()
        || interval != 0
        || timeout != 0
        || start != 0
        || start_interval != 0
        || retries != 0;
    if opts.no_healthcheck {
        if any {
            return Err(Failure::usage(
                "--no-healthcheck conflicts with --health-* options",
            ));
        }
        return Ok(json!({"Test": ["NONE"]}));
    }
    if !any {
        return Ok(Value::Null);
    }
    if interval < 0 || timeout < 0 || start < 0 || start_interval < 0 {
        return Err(Failure::usage("--health-* durations cannot be negative"));
    }
    let mut h = json!({
        "Interval": interval,
        "Timeout": timeout,
        "StartPeriod": start,
        "StartInterval": start_interval,
        "Retries": retries,
    });
    if let Some(cmd) = opts.health_cmd.as_deref().filter(|c| !c.is_empty()) {
        h["Test"] = json!(["CMD-SHELL", cmd]);
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(image: &str) -> CreateOpts {
        CreateOpts {
            image: image.into(),
            sig_proxy: true,
            ..Default::default()
        }
    }

    #[test]
    fn blkio_device_flags_like_docker() {
        assert_eq!(
            parse_throttle_device("/dev/vda:1mb", false).unwrap(),
            json!({"Path": "/dev/vda", "Rate": 1048576})
        );
        assert_eq!(
            parse_throttle_device("/dev/vda:100", true).unwrap(),
            json!({"Path": "/dev/vda", "Rate": 100})
        );
        assert_eq!(
            parse_throttle_device("/dev/vda", false).unwrap_err(),
            "bad format: /dev/vda"
        );
        assert_eq!(
            parse_throttle_device("vda:1mb", false).unwrap_err(),
            "bad format for device path: vda:1mb"
        );
        assert!(parse_throttle_device("/dev/vda:1k", true)
            .unwrap_err()
            .starts_with(
            "invalid rate for device: /dev/vda:1k. The correct format is <device-path>:<number>. "
        ));
        assert!(parse_throttle_device("/dev/vda:x", false)
            .unwrap_err()
            .contains("Unit is optional and can be kb, mb, or gb"));
        assert_eq!(
            parse_weight_device("/dev/vda:300").unwrap(),
            json!({"Path": "/dev/vda", "Weight": 300})
        );
        for bad in ["/dev/vda:5", "/dev/vda:1001", "/dev/vda:x"] {
            assert_eq!(
                parse_weight_device(bad).unwrap_err(),
                format!("invalid weight for device: {bad}")
            );
        }
    }

    #[test]
    fn env_files_like_docker() {
        std::env::set_var("BERTH_TEST_PASS", "x y");
        let got = parse_env_file(
            "f",
            "# comment\n\n  A=1\nB= spaced \"q\"\nBERTH_TEST_PASS\nBERTH_TEST_UNSET_VAR\nC=\n",
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                "A=1",
                "B= spaced \"q\"",
                "BERTH_TEST_PASS=x y",
                "BERTH_TEST_UNSET_VAR",
                "C="
            ]
        );
        assert!(parse_env_file("f", "BAD NAME=1").is_err());
    }

    #[test]
    fn env_flags() {
        let mut o = opts("busybox");
        o.env = vec![
            "A=1".into(),
            "EMPTY=".into(),
            "BERTH_TEST_UNSET_VAR2".into(),
        ];
        assert_eq!(
            env_list(&o).unwrap(),
            vec!["A=1", "EMPTY=", "BERTH_TEST_UNSET_VAR2"]
        );
    }

    /// Found by the property tests: an unknown protocol (`80/foo`) was
    /// sent to the daemon; docker refuses it in the CLI.
    #[test]
    fn port_protocols() {
        let err = parse_ports(&["80/foo".into()]).unwrap_err();
        assert_eq!(err.message, "invalid proto: foo");
        let (exp, _) = parse_ports(&["80/UDP".into(), "81/".into()]).unwrap();
        assert!(exp.contains_key("80/udp") && exp.contains_key("81/tcp"));
    }

    #[test]
    fn ports() {
        let (exp, b) = parse_ports(&[
            "8080:80".into(),
            "127.0.0.1:9000-9001:90-91/udp".into(),
            "70".into(),
            "[::1]:53:53/udp".into(),
            "127.0.0.1::443".into(),
        ])
        .unwrap();
        assert!(
            exp.contains_key("80/tcp") && exp.contains_key("91/udp") && exp.contains_key("70/tcp")
        );
        assert_eq!(b["80/tcp"], json!([{"HostIp": "", "HostPort": "8080"}]));
        assert_eq!(
            b["91/udp"],
            json!([{"HostIp": "127.0.0.1", "HostPort": "9001"}])
        );
        assert_eq!(b["70/tcp"], json!([{"HostIp": "", "HostPort": ""}]));
        assert_eq!(b["53/udp"], json!([{"HostIp": "::1", "HostPort": "53"}]));
        assert_eq!(
            b["443/tcp"],
            json!([{"HostIp": "127.0.0.1", "HostPort": ""}])
        );
        assert!(parse_ports(&["x:80".into()]).is_err());
        assert!(parse_ports(&["0".into()]).is_err());
        assert!(parse_ports(&["1-3:1-2".into()]).is_err());
    }

    #[test]
    fn volumes() {
        let (v, b) =
            parse_volumes(&["/data".into(), "/h:/c:ro".into(), "named:/n".into()]).unwrap();
        assert_eq!(v.keys().collect::<Vec<_>>(), vec!["/data"]);
        assert_eq!(b, vec!["/h:/c:ro", "named:/n"]);
        assert!(parse_volumes(&["rel".into()]).is_err());
        assert!(parse_volumes(&["a:b:c:d".into()]).is_err());
    }

    #[test]
    fn labels_and_restart_and_sizes() {
        let l = parse_labels(&["a=b".into(), "c".into(), "d=e=f".into()]);
        assert_eq!(Value::Object(l), json!({"a": "b", "c": "", "d": "e=f"}));
        assert_eq!(
            restart_policy(Some("on-failure:3")).unwrap(),
            json!({"Name": "on-failure", "MaximumRetryCount": 3})
        );
        // The daemon judges the name, as dockerd does.
        assert_eq!(restart_policy(Some("always")).unwrap()["Name"], "always");
        assert!(restart_policy(Some("on-failure:x")).is_err());
        assert_eq!(ram_in_bytes("512m").unwrap(), 512 * 1024 * 1024);
        assert_eq!(ram_in_bytes("1GB").unwrap(), 1 << 30);
        assert_eq!(ram_in_bytes("100").unwrap(), 100);
        assert!(ram_in_bytes("12x").is_err());
    }

    #[test]
    fn body_carries_flags() {
        let mut o = opts("busybox");
        o.command = vec!["true".into()];
        o.interactive = true;
        o.tty = true;
        o.entrypoint = Some(String::new());
        o.memory = Some("64m".into());
        o.rm = true;
        let b = create_body(&o, true, Some((24, 80))).unwrap();
        assert_eq!(b["Cmd"], json!(["true"]));
        assert_eq!(b["Entrypoint"], json!([""]));
        assert_eq!(b["AttachStdin"], json!(true));
        assert_eq!(b["StdinOnce"], json!(true));
        assert_eq!(b["HostConfig"]["Memory"], json!(64 << 20));
        assert_eq!(b["HostConfig"]["AutoRemove"], json!(true));
        assert_eq!(b["HostConfig"]["ConsoleSize"], json!([24, 80]));
        let d = create_body(&o, false, None).unwrap();
        assert_eq!(d["AttachStdout"], json!(false));
        assert_eq!(d["StdinOnce"], json!(false));
    }
}
