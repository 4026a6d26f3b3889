//! One flag's value at a time, with the docker CLI's checks and words.

use berth_api::types::{HealthConfig, PortBinding, PortMap, RestartPolicy};
use indexmap::IndexMap;
use serde_json::{json, Value};

use super::CreateOpts;
use crate::Failure;

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
pub fn parse_labels(labels: &[String]) -> IndexMap<String, String> {
    labels
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
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

pub fn restart_policy(spec: Option<&str>) -> Result<RestartPolicy, Failure> {
    let Some(spec) = spec.filter(|s| !s.is_empty()) else {
        return Ok(RestartPolicy {
            name: "no".into(),
            maximum_retry_count: 0,
        });
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
    Ok(RestartPolicy {
        name: name.into(),
        maximum_retry_count: count,
    })
}

pub use berth_api::units::ram_in_bytes;

/// `-p [ip:][hostPort:]containerPort[/proto]`, ranges allowed: the
/// exposed ports and their bindings.
/// Exposed ports and port bindings, keyed `port/proto`.
/// (The exposed ports' values are `{}`, as `Config.ExposedPorts` holds them.)
pub type PortMaps = (IndexMap<String, Value>, PortMap);

pub fn parse_ports(specs: &[String]) -> Result<PortMaps, Failure> {
    let mut exposed = IndexMap::new();
    let mut bindings = PortMap::new();
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
            bindings
                .entry(key)
                .or_insert_with(|| Some(Vec::new()))
                .get_or_insert_with(Vec::new)
                .push(PortBinding {
                    host_ip: ip.clone(),
                    host_port,
                });
        }
    }
    Ok((exposed, bindings))
}

/// `-v`: `/ctr` is an anonymous volume (Config.Volumes); `src:/ctr[:opts]`
/// is a bind or named volume, passed through in HostConfig.Binds.
/// (The anonymous volumes' values are `{}`, as `Config.Volumes` holds them.)
pub fn parse_volumes(specs: &[String]) -> Result<(IndexMap<String, Value>, Vec<String>), Failure> {
    let mut volumes = IndexMap::new();
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

/// `--security-opt`: as the docker CLI, `seccomp=FILE` sends the file's
/// (compacted) JSON, not its path.
pub(super) fn security_opts(opts: &[String]) -> Result<Vec<String>, Failure> {
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
pub(super) fn healthcheck(opts: &CreateOpts) -> Result<Option<HealthConfig>, Failure> {
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
        return Ok(Some(HealthConfig {
            test: Some(vec!["NONE".into()]),
            ..HealthConfig::default()
        }));
    }
    if !any {
        return Ok(None);
    }
    if interval < 0 || timeout < 0 || start < 0 || start_interval < 0 {
        return Err(Failure::usage("--health-* durations cannot be negative"));
    }
    // Zero durations are left out of the encoding, as Go's `omitempty`
    // leaves them; the daemon reads a missing one as 0 either way.
    let test = opts
        .health_cmd
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(|cmd| vec!["CMD-SHELL".to_string(), cmd.to_string()]);
    Ok(Some(HealthConfig {
        test,
        interval,
        timeout,
        start_period: start,
        start_interval,
        retries,
    }))
}
