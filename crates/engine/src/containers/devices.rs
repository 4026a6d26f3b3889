//! Devices: `--device`, `--device-cgroup-rule`, and the host's devices for
//! `--privileged`, as OCI `linux.devices` entries and device cgroup rules
//! (moby `daemon/oci_linux.go` `WithDevices`, runc's `HostDevices`).

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use berth_api::{Error, HostConfig, Result};
use berth_runtime::spec::{LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType};
use serde_json::Value;

/// Devices every container gets from the runtime; never listed twice.
const RUNTIME_DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/tty",
    "/dev/random",
    "/dev/urandom",
    "/dev/ptmx",
    "/dev/console",
];

/// `--device` as the API carries it.
struct Mapping {
    host: String,
    container: String,
    perms: String,
}

fn mappings(hc: &HostConfig) -> Result<Vec<Mapping>> {
    let mut out = Vec::new();
    for d in hc.devices.iter().flatten() {
        let s = |k: &str| {
            d.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let host = s("PathOnHost");
        let mut container = s("PathInContainer");
        let mut perms = s("CgroupPermissions");
        if host.is_empty() {
            return Err(Error::invalid("device PathOnHost cannot be empty"));
        }
        if container.is_empty() {
            container = host.clone();
        }
        if perms.is_empty() {
            perms = "rwm".into();
        }
        if !container.starts_with('/') {
            return Err(Error::invalid(format!(
                "{container} is not an absolute path"
            )));
        }
        if !valid_mode(&perms) {
            return Err(Error::invalid(format!("invalid device mode: {perms}")));
        }
        out.push(Mapping {
            host,
            container,
            perms,
        });
    }
    Ok(out)
}

/// `rwm`, each letter at most once (dockerd's `validDeviceMode`).
fn valid_mode(m: &str) -> bool {
    let mut seen = [false; 3];
    !m.is_empty()
        && m.len() <= 3
        && m.chars().all(|c| {
            let i = match c {
                'r' => 0,
                'w' => 1,
                'm' => 2,
                _ => return false,
            };
            !std::mem::replace(&mut seen[i], true)
        })
}

/// An allowing device cgroup rule; `None` numbers are `*`.
fn allow(
    kind: Option<LinuxDeviceType>,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> LinuxDeviceCgroup {
    let mut r = LinuxDeviceCgroup::default();
    r.set_allow(true)
        .set_typ(kind)
        .set_major(major)
        .set_minor(minor)
        .set_access(Some(access.to_string()));
    r
}

fn device_type(kind: &str) -> Option<LinuxDeviceType> {
    match kind {
        "a" => Some(LinuxDeviceType::A),
        "b" => Some(LinuxDeviceType::B),
        "c" => Some(LinuxDeviceType::C),
        _ => None,
    }
}

/// A `--device-cgroup-rule` (`c 1:3 rwm`, `b *:* m`, `a`) as an OCI rule.
fn cgroup_rule(rule: &str) -> Result<LinuxDeviceCgroup> {
    let bad = || Error::invalid(format!("invalid device cgroup rule format: '{rule}'"));
    if rule == "a" {
        return Ok(allow(Some(LinuxDeviceType::A), None, None, "rwm"));
    }
    let parts: Vec<&str> = rule.split(' ').collect();
    let [kind, nums, access] = parts[..] else {
        return Err(bad());
    };
    let kind = device_type(kind).ok_or_else(bad)?;
    if !valid_mode(access) {
        return Err(bad());
    }
    let (maj, min) = nums.split_once(':').ok_or_else(bad)?;
    let num = |n: &str| -> Result<Option<i64>> {
        if n == "*" {
            Ok(None)
        } else {
            n.parse::<i64>().map(Some).map_err(|_| bad())
        }
    };
    Ok(allow(Some(kind), num(maj)?, num(min)?, access))
}

/// Checks `Devices` and `DeviceCgroupRules` at create.
pub fn validate(hc: &HostConfig) -> Result<()> {
    mappings(hc)?;
    for r in hc.device_cgroup_rules.iter().flatten() {
        cgroup_rule(r)?;
    }
    Ok(())
}

/// One device node as an OCI `linux.devices` entry at `path`.
fn node(host: &Path, path: &str) -> Option<LinuxDevice> {
    let md = std::fs::symlink_metadata(host).ok()?;
    let ft = md.file_type();
    let kind = if ft.is_char_device() {
        LinuxDeviceType::C
    } else if ft.is_block_device() {
        LinuxDeviceType::B
    } else {
        return None;
    };
    let rdev = md.rdev();
    let mut d = LinuxDevice::default();
    d.set_path(path.into())
        .set_typ(kind)
        .set_major(nix::sys::stat::major(rdev) as i64)
        .set_minor(nix::sys::stat::minor(rdev) as i64)
        .set_file_mode(Some(md.mode() & 0o7777))
        .set_uid(Some(md.uid()))
        .set_gid(Some(md.gid()));
    Some(d)
}

/// Device nodes under `dir` (recursively), skipping what runc skips.
fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            let name = e.file_name();
            if matches!(
                name.to_str(),
                Some("pts" | "shm" | "fd" | "mqueue" | ".lxc" | ".lxd-mounts" | ".udev")
            ) {
                continue;
            }
            walk(&p, out);
        } else if ft.is_char_device() || ft.is_block_device() {
            out.push(p);
        }
    }
}

/// The OCI `linux.devices` and extra device cgroup rules for a container.
pub fn for_container(hc: &HostConfig) -> Result<(Vec<LinuxDevice>, Vec<LinuxDeviceCgroup>)> {
    let mut devices = Vec::new();
    let mut rules = Vec::new();
    if hc.privileged {
        let mut paths = Vec::new();
        walk(Path::new("/dev"), &mut paths);
        paths.sort();
        for p in paths {
            let s = p.to_string_lossy().into_owned();
            if RUNTIME_DEVICES.contains(&s.as_str()) {
                continue;
            }
            if let Some(d) = node(&p, &s) {
                devices.push(d);
            }
        }
        rules.push(allow(None, None, None, "rwm"));
    }
    for m in mappings(hc)? {
        let host = Path::new(&m.host);
        let gather = |e: String| {
            Error::invalid(format!(
                "error gathering device information while adding custom device \"{}\": {e}",
                m.host
            ))
        };
        let md = std::fs::metadata(host).map_err(|e| gather(io_text(&e)))?;
        let mut found = Vec::new();
        if md.is_dir() {
            let mut paths = Vec::new();
            walk(host, &mut paths);
            for p in paths {
                let rel = p
                    .strip_prefix(host)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .into_owned();
                let target = format!("{}/{}", m.container.trim_end_matches('/'), rel);
                found.extend(node(&p, &target));
            }
        } else {
            // Follow a symlink to its node, as dockerd does.
            let real = std::fs::canonicalize(host).map_err(|e| gather(io_text(&e)))?;
            found
                .push(node(&real, &m.container).ok_or_else(|| gather("not a device node".into()))?);
        }
        for d in found {
            rules.push(allow(
                Some(d.typ()),
                Some(d.major()),
                Some(d.minor()),
                &m.perms,
            ));
            if !hc.privileged {
                devices.push(d);
            }
        }
    }
    for r in hc.device_cgroup_rules.iter().flatten() {
        rules.push(cgroup_rule(r)?);
    }
    Ok((devices, rules))
}

/// Go's wording for the common errors (`no such file or directory`).
pub(crate) fn io_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cgroup_rules() {
        let rule = |r: &str| serde_json::to_value(cgroup_rule(r).unwrap()).unwrap();
        assert_eq!(
            rule("c 1:3 rwm"),
            json!({"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"})
        );
        assert_eq!(
            rule("b *:* m"),
            json!({"allow": true, "type": "b", "access": "m"})
        );
        assert_eq!(
            rule("a"),
            json!({"allow": true, "type": "a", "access": "rwm"})
        );
        for bad in [
            "",
            "x 1:3 rwm",
            "c 1 rwm",
            "c 1:3 rwx",
            "c 1:3 rrw",
            "c a:3 r",
            "c 1:3",
        ] {
            let e = cgroup_rule(bad).unwrap_err();
            assert_eq!(
                e.message,
                format!("invalid device cgroup rule format: '{bad}'")
            );
        }
    }

    #[test]
    fn device_mappings() {
        let hc = |v: Value| HostConfig {
            devices: Some(vec![v]),
            ..Default::default()
        };
        let (d, r) = for_container(&hc(json!({"PathOnHost": "/dev/null", "PathInContainer": "/dev/xnull", "CgroupPermissions": "rw"}))).unwrap();
        assert_eq!(d[0].path(), Path::new("/dev/xnull"));
        assert_eq!((d[0].major(), d[0].minor()), (1, 3));
        assert_eq!(d[0].typ(), LinuxDeviceType::C);
        assert_eq!(r[0].access().as_deref(), Some("rw"));
        assert_eq!((r[0].major(), r[0].minor()), (Some(1), Some(3)));
        let e = for_container(&hc(json!({"PathOnHost": "/dev/bsec-nope"}))).unwrap_err();
        assert_eq!(
            e.message,
            "error gathering device information while adding custom device \"/dev/bsec-nope\": no such file or directory"
        );
        let e = for_container(&hc(json!({"PathOnHost": "/etc/hostname"}))).unwrap_err();
        assert!(e.message.ends_with("not a device node"), "{}", e.message);
        let e = validate(&hc(
            json!({"PathOnHost": "/dev/null", "CgroupPermissions": "rwx"}),
        ))
        .unwrap_err();
        assert_eq!(e.message, "invalid device mode: rwx");
        let e = validate(&hc(
            json!({"PathOnHost": "/dev/null", "PathInContainer": "rel"}),
        ))
        .unwrap_err();
        assert_eq!(e.message, "rel is not an absolute path");
    }
}
