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
pub fn seccomp_for(opts: &SecurityOptions, privileged: bool, caps: &[String]) -> Result<Option<Value>> {
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
        assert_eq!(e.message, "invalid --security-opt 2: \"no-new-privileges=maybe\"");
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
