//! Docker's seccomp profiles, turned into the OCI `linux.seccomp` section.
//!
//! `profiles/seccomp-default.json` is moby's default profile, embedded as
//! data: github.com/moby/profiles/seccomp v0.2.3 `default.json` (as vendored
//! by moby/moby, Apache-2.0, Copyright The Moby Authors). The conversion
//! below follows that package's documented semantics (`setupSeccomp`): the
//! `archMap` entry of the native architecture gives `architectures`; a rule
//! is kept when its `includes` hold (every cap in the container's bounding
//! set, the native arch listed, the kernel at least `minKernel`) and its
//! `excludes` do not; `name` is a one-element `names`. A user's profile
//! (`--security-opt seccomp=<json>`) goes through the same conversion.
//!
//! Written by hand (over serde) because no crate models Docker's profile
//! format with its cap and arch conditions.

use serde::Deserialize;
use serde_json::{json, Map, Value};

/// moby's default profile (see the module doc for its origin and licence).
pub const DEFAULT_PROFILE: &str = include_str!("../profiles/seccomp-default.json");

/// A profile that cannot be used; the message is shown to the user.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("Decoding seccomp profile failed: {0}")]
    Decode(String),
    #[error("{0}")]
    Invalid(String),
}

#[derive(Deserialize)]
struct Profile {
    #[serde(rename = "defaultAction", default)]
    default_action: String,
    #[serde(rename = "defaultErrnoRet", default)]
    default_errno_ret: Option<u32>,
    #[serde(default)]
    architectures: Option<Vec<String>>,
    #[serde(rename = "archMap", default)]
    arch_map: Option<Vec<ArchMap>>,
    #[serde(default)]
    flags: Option<Vec<String>>,
    #[serde(default)]
    syscalls: Option<Vec<Syscall>>,
}

#[derive(Deserialize)]
struct ArchMap {
    architecture: String,
    #[serde(rename = "subArchitectures", default)]
    sub_architectures: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct Syscall {
    #[serde(default)]
    name: String,
    #[serde(default)]
    names: Option<Vec<String>>,
    #[serde(default)]
    action: String,
    #[serde(rename = "errnoRet", default)]
    errno_ret: Option<u32>,
    #[serde(default)]
    args: Option<Vec<Arg>>,
    #[serde(default)]
    includes: Option<Filter>,
    #[serde(default)]
    excludes: Option<Filter>,
}

#[derive(Deserialize)]
struct Arg {
    index: u32,
    value: u64,
    #[serde(rename = "valueTwo", default)]
    value_two: u64,
    op: String,
}

#[derive(Deserialize, Default)]
struct Filter {
    #[serde(default)]
    caps: Option<Vec<String>>,
    #[serde(default)]
    arches: Option<Vec<String>>,
    #[serde(rename = "minKernel", default)]
    min_kernel: Option<String>,
}

const ACTIONS: &[&str] = &[
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
];

const OPS: &[&str] = &[
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
];

/// The native architecture in libseccomp's short names, as the profile's
/// `arches` filters spell it (moby's `goToNative`).
fn native_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "x86",
        "aarch64" => "arm64",
        "arm" => "arm",
        "riscv64" => "riscv64",
        "s390x" => "s390x",
        "powerpc64" => "ppc64le",
        "loongarch64" => "loongarch64",
        other => other,
    }
}

/// The native architecture as an OCI `SCMP_ARCH_*` name (moby's `nativeToSeccomp`).
fn native_scmp_arch() -> &'static str {
    match native_arch() {
        "amd64" => "SCMP_ARCH_X86_64",
        "x86" => "SCMP_ARCH_X86",
        "arm64" => "SCMP_ARCH_AARCH64",
        "arm" => "SCMP_ARCH_ARM",
        "riscv64" => "SCMP_ARCH_RISCV64",
        "s390x" => "SCMP_ARCH_S390X",
        "ppc64le" => "SCMP_ARCH_PPC64LE",
        "loongarch64" => "SCMP_ARCH_LOONGARCH64",
        _ => "",
    }
}

fn parse_kernel(v: &str) -> Result<(u64, u64), SeccompError> {
    let bad = || {
        SeccompError::Decode(format!(
            "invalid kernel version: \"{v}\", expected \"<kernel>.<major>\""
        ))
    };
    let (a, b) = v.split_once('.').ok_or_else(bad)?;
    let a: u8 = a.parse().map_err(|_| bad())?;
    let b: u8 = b.parse().map_err(|_| bad())?;
    if a == 0 && b == 0 {
        return Err(bad());
    }
    Ok((a.into(), b.into()))
}

/// The running kernel's `major.minor`, from `/proc/sys/kernel/osrelease`.
fn running_kernel() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut it = s.trim().split(['.', '-']);
    let a = it.next().and_then(|x| x.parse().ok()).unwrap_or(0);
    let b = it.next().and_then(|x| x.parse().ok()).unwrap_or(0);
    (a, b)
}

/// Converts a Docker seccomp profile (JSON text) to the OCI `linux.seccomp`
/// value for a container whose bounding set is `caps` (`CAP_*` names).
/// `Ok(None)`: the profile disables seccomp (no default action, no rules).
pub fn to_oci(profile: &str, caps: &[String]) -> Result<Option<Value>, SeccompError> {
    to_oci_for(profile, caps, running_kernel())
}

fn to_oci_for(
    profile: &str,
    caps: &[String],
    kernel: (u64, u64),
) -> Result<Option<Value>, SeccompError> {
    let v: Value =
        serde_json::from_str(profile).map_err(|e| SeccompError::Decode(e.to_string()))?;
    if !v.is_object() {
        return Err(SeccompError::Decode(
            "the profile is not a JSON object".into(),
        ));
    }
    let p: Profile = serde_json::from_value(v).map_err(|e| SeccompError::Decode(e.to_string()))?;
    let syscalls_in = p.syscalls.unwrap_or_default();
    if p.default_action.is_empty() && syscalls_in.is_empty() {
        return Ok(None);
    }
    let archs_given = p.architectures.as_ref().is_some_and(|a| !a.is_empty());
    let map_given = p.arch_map.as_ref().is_some_and(|a| !a.is_empty());
    if archs_given && map_given {
        return Err(SeccompError::Invalid(
            "both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'".into(),
        ));
    }
    check_action(&p.default_action)?;
    let arch = native_arch();
    let mut architectures = p.architectures.unwrap_or_default();
    for a in p.arch_map.unwrap_or_default() {
        if a.architecture == native_scmp_arch() {
            architectures.push(a.architecture);
            architectures.extend(a.sub_architectures.unwrap_or_default());
            break;
        }
    }
    let mut out_calls = Vec::new();
    for call in syscalls_in {
        let names = match (call.name.is_empty(), call.names) {
            (false, Some(n)) if !n.is_empty() => {
                return Err(SeccompError::Invalid(
                    "both 'name' and 'names' are specified in the seccomp profile, use either 'name' or 'names'".into(),
                ))
            }
            (false, _) => vec![call.name],
            (true, n) => n.unwrap_or_default(),
        };
        check_action(&call.action)?;
        if let Some(ex) = call.excludes {
            if ex.arches.unwrap_or_default().iter().any(|a| a == arch) {
                continue;
            }
            if ex.caps.unwrap_or_default().iter().any(|c| caps.contains(c)) {
                continue;
            }
            if let Some(k) = ex.min_kernel.filter(|k| !k.is_empty()) {
                if kernel >= parse_kernel(&k)? {
                    continue;
                }
            }
        }
        if let Some(inc) = call.includes {
            let arches = inc.arches.unwrap_or_default();
            if !arches.is_empty() && !arches.iter().any(|a| a == arch) {
                continue;
            }
            if !inc
                .caps
                .unwrap_or_default()
                .iter()
                .all(|c| caps.contains(c))
            {
                continue;
            }
            if let Some(k) = inc.min_kernel.filter(|k| !k.is_empty()) {
                if kernel < parse_kernel(&k)? {
                    continue;
                }
            }
        }
        let mut rule = Map::new();
        rule.insert("names".into(), json!(names));
        rule.insert("action".into(), json!(call.action));
        if let Some(e) = call.errno_ret {
            rule.insert("errnoRet".into(), json!(e));
        }
        if let Some(args) = call.args.filter(|a| !a.is_empty()) {
            let mut list = Vec::new();
            for a in args {
                if !OPS.contains(&a.op.as_str()) {
                    return Err(SeccompError::Invalid(format!(
                        "unknown seccomp operator: {:?}",
                        a.op
                    )));
                }
                if a.index > 5 {
                    return Err(SeccompError::Invalid(format!(
                        "seccomp argument index {} is out of range (0-5)",
                        a.index
                    )));
                }
                list.push(json!({"index": a.index, "value": a.value, "valueTwo": a.value_two, "op": a.op}));
            }
            rule.insert("args".into(), Value::Array(list));
        }
        out_calls.push(Value::Object(rule));
    }
    let mut out = Map::new();
    out.insert("defaultAction".into(), json!(p.default_action));
    if let Some(e) = p.default_errno_ret {
        out.insert("defaultErrnoRet".into(), json!(e));
    }
    if !architectures.is_empty() {
        out.insert("architectures".into(), json!(architectures));
    }
    if let Some(f) = p.flags.filter(|f| !f.is_empty()) {
        out.insert("flags".into(), json!(f));
    }
    out.insert("syscalls".into(), Value::Array(out_calls));
    let out = Value::Object(out);
    // The shim reads this with oci-spec: check now that it will, so a bad
    // architecture or flag is the user's error at create, not a failed start.
    serde_json::from_value::<oci_spec::runtime::LinuxSeccomp>(out.clone())
        .map_err(|e| SeccompError::Invalid(format!("invalid seccomp profile: {e}")))?;
    Ok(Some(out))
}

fn check_action(a: &str) -> Result<(), SeccompError> {
    if ACTIONS.contains(&a) {
        Ok(())
    } else if a == "SCMP_ACT_NOTIFY" {
        Err(SeccompError::Invalid(
            "SCMP_ACT_NOTIFY is not supported in a seccomp profile".into(),
        ))
    } else {
        Err(SeccompError::Invalid(format!(
            "unknown seccomp action: {a:?}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_caps() -> Vec<String> {
        crate::spec::DEFAULT_CAPABILITIES
            .iter()
            .map(|c| c.to_string())
            .collect()
    }

    fn rules_for<'a>(v: &'a Value, name: &str) -> Vec<&'a Value> {
        v["syscalls"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|r| {
                        r["names"]
                            .as_array()
                            .is_some_and(|n| n.iter().any(|x| x == name))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn default_profile_for_default_caps() {
        let v = to_oci_for(DEFAULT_PROFILE, &default_caps(), (6, 1))
            .unwrap()
            .unwrap();
        assert_eq!(v["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(v["defaultErrnoRet"], 1);
        if native_arch() == "amd64" {
            assert_eq!(
                v["architectures"],
                json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
            );
            assert_eq!(rules_for(&v, "arch_prctl").len(), 1);
        }
        // Not allowed without their caps.
        for n in [
            "mount",
            "unshare",
            "setns",
            "init_module",
            "finit_module",
            "reboot",
            "bpf",
        ] {
            assert!(rules_for(&v, n).is_empty(), "{n} allowed");
        }
        // keyctl/add_key are not in the profile at all.
        assert!(rules_for(&v, "keyctl").is_empty());
        assert_eq!(rules_for(&v, "read").len(), 1);
        // chroot comes with CAP_SYS_CHROOT (a default cap).
        assert_eq!(rules_for(&v, "chroot").len(), 1);
        // clone: only without namespace flags; clone3 answers ENOSYS.
        let clone = rules_for(&v, "clone");
        assert_eq!(clone.len(), 1);
        assert_eq!(clone[0]["args"][0]["op"], "SCMP_CMP_MASKED_EQ");
        assert_eq!(clone[0]["args"][0]["value"], 2114060288u64);
        let clone3 = rules_for(&v, "clone3");
        assert_eq!(clone3.len(), 1);
        assert_eq!(clone3[0]["errnoRet"], 38);
        assert!(v["syscalls"][0].get("includes").is_none());
        // minKernel 4.8: ptrace allowed on 6.1, not on 4.4.
        assert_eq!(rules_for(&v, "ptrace").len(), 1);
        let old = to_oci_for(DEFAULT_PROFILE, &default_caps(), (4, 4))
            .unwrap()
            .unwrap();
        assert!(rules_for(&old, "ptrace").is_empty());
    }

    #[test]
    fn sys_admin_lifts_its_rules() {
        let mut caps = default_caps();
        caps.push("CAP_SYS_ADMIN".into());
        let v = to_oci_for(DEFAULT_PROFILE, &caps, (6, 1)).unwrap().unwrap();
        assert_eq!(rules_for(&v, "mount").len(), 1);
        assert_eq!(rules_for(&v, "unshare").len(), 1);
        // clone is then allowed outright and clone3 is not refused.
        let clone = rules_for(&v, "clone");
        assert_eq!(clone.len(), 1);
        assert!(clone[0].get("args").is_none());
        assert!(rules_for(&v, "clone3")
            .iter()
            .all(|r| r["action"] == "SCMP_ACT_ALLOW"));
        // Still no keyctl, add_key, kexec_load.
        assert!(rules_for(&v, "keyctl").is_empty());
        assert!(rules_for(&v, "kexec_load").is_empty());
    }

    #[test]
    fn user_profiles() {
        let p = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"mkdir","action":"SCMP_ACT_ERRNO"}]}"#;
        let v = to_oci(p, &[]).unwrap().unwrap();
        assert_eq!(v["syscalls"][0]["names"], json!(["mkdir"]));
        assert!(to_oci("{}", &[]).unwrap().is_none());
        for bad in [
            "",
            "not json",
            "[]",
            r#"{"defaultAction":"SCMP_ACT_NOPE"}"#,
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],"action":"allow"}]}"#,
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"a","names":["b"],"action":"SCMP_ACT_ALLOW"}]}"#,
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86"],"archMap":[{"architecture":"SCMP_ARCH_X86_64"}]}"#,
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_NOPE"]}"#,
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],"action":"SCMP_ACT_ALLOW","args":[{"index":9,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#,
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"four"}}]}"#,
            r#"{"defaultAction":"SCMP_ACT_NOTIFY"}"#,
        ] {
            assert!(to_oci(bad, &[]).is_err(), "{bad}");
        }
    }
}
