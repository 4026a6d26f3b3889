//! `--security-opt`: seccomp and no-new-privileges, with dockerd's parsing
//! and messages (moby `daemon/daemon_unix.go` `parseSecurityOpt`,
//! `daemon/seccomp_linux.go` `WithSeccomp`).

use berth_api::{Error, HostConfig, Result};
use serde_json::Value;

/// What a container's `SecurityOpt` asks for.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SecurityOptions {
    pub no_new_privileges: bool,
    /// `seccomp=`: `unconfined`, `builtin`, or a profile's JSON text.
    pub seccomp: Option<String>,
}

/// Parses `HostConfig.SecurityOpt` as dockerd does; an unknown option is a
/// 400 with dockerd's wording.
pub fn parse(hc: &HostConfig) -> Result<SecurityOptions> {
    let mut out = SecurityOptions::default();
    for opt in hc.security_opt.iter().flatten() {
        match opt.as_str() {
            "no-new-privileges" => {
                out.no_new_privileges = true;
                continue;
            }
            // SELinux's "disable" and cgroups' "writable-cgroups": accepted,
            // nothing to do on a host without SELinux labels.
            "disable" | "writable-cgroups" => continue,
            _ => {}
        }
        let kv = if opt.contains('=') {
            opt.split_once('=')
        } else {
            opt.split_once(':')
        };
        let Some((k, v)) = kv else {
            return Err(Error::invalid(format!("invalid --security-opt 1: {opt:?}")));
        };
        match k {
            "label" | "apparmor" => {}
            "seccomp" => out.seccomp = Some(v.to_string()),
            "no-new-privileges" | "writable-cgroups" => {
                let b = parse_bool(v)
                    .ok_or_else(|| Error::invalid(format!("invalid --security-opt 2: {opt:?}")))?;
                if k == "no-new-privileges" {
                    out.no_new_privileges = b;
                }
            }
            _ => return Err(Error::invalid(format!("invalid --security-opt 2: {opt:?}"))),
        }
    }
    Ok(out)
}

/// Go's `strconv.ParseBool`.
fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The OCI `linux.seccomp` for a container with bounding set `caps`:
/// none when privileged (unless a profile is named) or `unconfined`,
/// moby's default profile unless another is given.
pub(crate) fn seccomp_for(
    opts: &SecurityOptions,
    privileged: bool,
    caps: &[String],
) -> Result<Option<Value>> {
    let profile = match opts.seccomp.as_deref() {
        Some("unconfined") => return Ok(None),
        None | Some("builtin") if privileged => return Ok(None),
        None | Some("builtin") | Some("") => berth_runtime::seccomp::DEFAULT_PROFILE,
        Some(p) => p,
    };
    berth_runtime::seccomp::to_oci(profile, caps).map_err(|e| Error::invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hc(opts: &[&str]) -> HostConfig {
        HostConfig {
            security_opt: Some(opts.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn parses_like_dockerd() {
        let o = parse(&hc(&["no-new-privileges", "seccomp=unconfined"])).unwrap();
        assert!(o.no_new_privileges);
        assert_eq!(o.seccomp.as_deref(), Some("unconfined"));
        let o = parse(&hc(&["no-new-privileges:false", "seccomp:{}"])).unwrap();
        assert!(!o.no_new_privileges);
        assert_eq!(o.seccomp.as_deref(), Some("{}"));
        assert!(parse(&hc(&["label=disable", "apparmor=unconfined"])).is_ok());
        let e = parse(&hc(&["nonsense"])).unwrap_err();
        assert_eq!(e.message, "invalid --security-opt 1: \"nonsense\"");
        let e = parse(&hc(&["foo=bar"])).unwrap_err();
        assert_eq!(e.message, "invalid --security-opt 2: \"foo=bar\"");
        let e = parse(&hc(&["no-new-privileges=maybe"])).unwrap_err();
        assert_eq!(
            e.message,
            "invalid --security-opt 2: \"no-new-privileges=maybe\""
        );
    }

    #[test]
    fn privileged_and_unconfined_have_no_filter() {
        let caps = vec!["CAP_CHOWN".to_string()];
        let d = SecurityOptions::default();
        assert!(seccomp_for(&d, true, &caps).unwrap().is_none());
        assert!(seccomp_for(&d, false, &caps).unwrap().is_some());
        let u = SecurityOptions {
            seccomp: Some("unconfined".into()),
            ..Default::default()
        };
        assert!(seccomp_for(&u, false, &caps).unwrap().is_none());
        let bad = SecurityOptions {
            seccomp: Some("{".into()),
            ..Default::default()
        };
        assert!(seccomp_for(&bad, false, &caps).is_err());
    }
}

/// IPC-namespaced sysctls (runc's `validateSysctl` list).
const IPC_SYSCTLS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// `--sysctl`: only sysctls of a namespace the container has of its own
/// (runc's rules and wording, which dockerd passes on).
pub fn validate_sysctls(hc: &HostConfig) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let net = crate::containers::container::network_mode(hc);
    for (k, v) in hc.sysctls.iter().flatten() {
        if k.is_empty() || k.contains('/') || k.contains("..") || k.contains('\0') {
            return Err(Error::invalid(format!("invalid sysctl {k:?}")));
        }
        if IPC_SYSCTLS.contains(&k.as_str()) || k.starts_with("fs.mqueue.") {
            if hc.ipc_mode == "host" {
                return Err(Error::invalid(format!(
                    "sysctl {k:?} not allowed in host IPC namespace"
                )));
            }
        } else if k.starts_with("net.") {
            if net == "host" {
                return Err(Error::invalid(format!(
                    "sysctl {k:?} not allowed in host network namespace"
                )));
            }
        } else if k == "kernel.domainname" || k == "kernel.hostname" {
            if hc.uts_mode == "host" {
                return Err(Error::invalid(format!(
                    "sysctl {k:?} not allowed in host UTS namespace"
                )));
            }
        } else {
            return Err(Error::invalid(format!(
                "sysctl {k:?} is not in a separate kernel namespace"
            )));
        }
        out.push((k.clone(), v.clone()));
    }
    Ok(out)
}

/// `--group-add`: group names resolve through the container's own
/// `/etc/group`; numbers are taken as they are.
pub fn group_add(rootfs: &std::path::Path, hc: &HostConfig) -> Result<Vec<u32>> {
    let want = hc.group_add.clone().unwrap_or_default();
    if want.is_empty() {
        return Ok(vec![]);
    }
    let file = std::fs::read_to_string(rootfs.join("etc/group")).unwrap_or_default();
    let mut out = Vec::new();
    for g in want {
        let by_name = file.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 3 && f[0] == g).then(|| f[2].parse::<u32>().ok())?
        });
        let id = match by_name.or_else(|| g.parse::<u32>().ok()) {
            Some(id) => id,
            None => {
                return Err(Error::invalid(format!(
                    "Unable to find group {g}: no matching entries in group file"
                )))
            }
        };
        out.push(id);
    }
    Ok(out)
}

#[cfg(test)]
mod sysctl_tests {
    use super::*;

    fn hc(k: &str, net: &str) -> HostConfig {
        let mut m = indexmap::IndexMap::new();
        m.insert(k.to_string(), "1".to_string());
        HostConfig {
            sysctls: Some(m),
            network_mode: net.into(),
            ..Default::default()
        }
    }

    #[test]
    fn namespaced_only() {
        assert!(validate_sysctls(&hc("net.ipv4.ip_forward", "")).is_ok());
        assert!(validate_sysctls(&hc("kernel.shmmax", "")).is_ok());
        assert!(validate_sysctls(&hc("fs.mqueue.msg_max", "")).is_ok());
        assert_eq!(
            validate_sysctls(&hc("kernel.pid_max", ""))
                .unwrap_err()
                .message,
            "sysctl \"kernel.pid_max\" is not in a separate kernel namespace"
        );
        assert_eq!(
            validate_sysctls(&hc("net.ipv4.ip_forward", "host"))
                .unwrap_err()
                .message,
            "sysctl \"net.ipv4.ip_forward\" not allowed in host network namespace"
        );
        assert!(validate_sysctls(&hc("net/../../x", "")).is_err());
    }

    #[test]
    fn groups_by_name_and_number() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("etc/group"), "root:x:0:\nbsecg:x:4242:\n").unwrap();
        let h = HostConfig {
            group_add: Some(vec!["bsecg".into(), "77".into()]),
            ..Default::default()
        };
        assert_eq!(group_add(dir.path(), &h).unwrap(), vec![4242, 77]);
        let h = HostConfig {
            group_add: Some(vec!["nope".into()]),
            ..Default::default()
        };
        assert_eq!(
            group_add(dir.path(), &h).unwrap_err().message,
            "Unable to find group nope: no matching entries in group file"
        );
    }
}
