//! Resource limits: `HostConfig`'s memory, CPU, pids, blkio and ulimit
//! fields checked as dockerd checks them (its words, 400), adapted as
//! dockerd adapts them (`MemorySwap` twice `Memory`), turned into the OCI
//! spec's `linux.resources` and `process.rlimits`. `update.rs` writes them
//! into a running container's cgroup for `POST /containers/{id}/update`.

use berth_api::{Error, HostConfig, Result};
use berth_runtime::cgroups::{Cgroup, Layout};
use berth_runtime::spec::Resources;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// moby's `linuxMinMemory`.
const MIN_MEMORY: i64 = 6 * 1024 * 1024;
const MIN_CPU_SHARES: i64 = 2;
const MAX_CPU_SHARES: i64 = 262144;

/// What this host's cgroups can do (moby's `sysinfo`), read at each check.
#[derive(Debug, Clone)]
pub struct HostCaps {
    pub layout: Layout,
    pub swap: bool,
    pub swappiness: bool,
    pub blkio_weight: bool,
    pub blkio_weight_device: bool,
    /// `blkio.throttle.{read_bps,write_bps,read_iops,write_iops}_device`.
    pub blkio_throttle: [bool; 4],
    pub cpus: Vec<u32>,
    pub mems: Vec<u32>,
    pub ncpu: i64,
}

impl HostCaps {
    pub fn read() -> HostCaps {
        let layout = Layout::detect();
        let root = std::path::Path::new("/sys/fs/cgroup");
        let mut caps = HostCaps {
            layout,
            swap: false,
            swappiness: false,
            blkio_weight: false,
            blkio_weight_device: false,
            blkio_throttle: [false; 4],
            cpus: vec![],
            mems: vec![],
            ncpu: 1,
        };
        let (cpus, mems) = match layout {
            Layout::V1 => {
                // moby's sysinfo: each feature by its own file.
                let blkio = |f: &str| root.join("blkio").join(f).exists();
                caps.swap = root.join("memory/memory.memsw.limit_in_bytes").exists();
                caps.swappiness = root.join("memory/memory.swappiness").exists();
                caps.blkio_weight = blkio("blkio.weight");
                caps.blkio_weight_device = blkio("blkio.weight_device");
                caps.blkio_throttle = [
                    blkio("blkio.throttle.read_bps_device"),
                    blkio("blkio.throttle.write_bps_device"),
                    blkio("blkio.throttle.read_iops_device"),
                    blkio("blkio.throttle.write_iops_device"),
                ];
                (
                    std::fs::read_to_string(root.join("cpuset/cpuset.cpus")).unwrap_or_default(),
                    std::fs::read_to_string(root.join("cpuset/cpuset.mems")).unwrap_or_default(),
                )
            }
            Layout::V2 => {
                let ctrls =
                    std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
                let io = ctrls.split_whitespace().any(|c| c == "io");
                caps.swap = root.join("memory.swap.max").exists()
                    || std::path::Path::new("/proc/swaps").exists();
                // cgroup2 has no swappiness (moby: discarded with a warning).
                caps.blkio_weight = io;
                caps.blkio_weight_device = io;
                caps.blkio_throttle = [io; 4];
                (
                    std::fs::read_to_string(root.join("cpuset.cpus.effective")).unwrap_or_default(),
                    std::fs::read_to_string(root.join("cpuset.mems.effective")).unwrap_or_default(),
                )
            }
        };
        let ncpu = std::thread::available_parallelism()
            .map(|n| n.get() as i64)
            .unwrap_or(1);
        caps.cpus = parse_list(cpus.trim()).unwrap_or_default();
        caps.mems = parse_list(mems.trim()).unwrap_or_default();
        caps.ncpu = ncpu;
        caps
    }
}

/// One `BlkioDevice{Read,Write}{Bps,IOps}` entry (moby's
/// `blkiodev.ThrottleDevice`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct ThrottleDevice {
    #[serde(rename = "Path", default)]
    pub path: String,
    #[serde(rename = "Rate", default)]
    pub rate: u64,
}

/// One `BlkioWeightDevice` entry (moby's `blkiodev.WeightDevice`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct WeightDevice {
    #[serde(rename = "Path", default)]
    pub path: String,
    #[serde(rename = "Weight", default)]
    pub weight: u16,
}

/// Reads a list of typed entries out of the API's JSON (a wrong shape is a
/// 400 naming the field, where dockerd fails the JSON decoding).
fn typed<T: serde::de::DeserializeOwned>(field: &str, list: &Option<Vec<Value>>) -> Result<Vec<T>> {
    list.iter()
        .flatten()
        .map(|v| {
            serde_json::from_value(v.clone())
                .map_err(|e| Error::invalid(format!("invalid {field} entry {v}: {e}")))
        })
        .collect()
}

/// Rewrites a device list in its typed form (so `inspect` shows every
/// field, as dockerd does); `None` stays `None`.
fn normalize<T>(field: &str, list: &mut Option<Vec<Value>>) -> Result<()>
where
    T: serde::de::DeserializeOwned + Serialize,
{
    if list.is_some() {
        let typed: Vec<T> = typed(field, list)?;
        *list = Some(typed.iter().map(|t| json!(t)).collect());
    }
    Ok(())
}

/// The block device's `major:minor` for a throttle or weight entry, as
/// dockerd resolves it at start (`stat` of the path; its error text).
fn device_number(path: &str) -> Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::metadata(path).map_err(|e| {
        Error::internal(format!(
            "stat {path}: {}",
            crate::containers::devices::io_text(&e)
        ))
    })?;
    let rdev = md.rdev();
    Ok((
        nix::sys::stat::major(rdev) as u64,
        nix::sys::stat::minor(rdev) as u64,
    ))
}

/// Parses a cpuset list (`0-3,5`), as moby's `parsers.ParseUintList`.
pub fn parse_list(s: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    if s.is_empty() {
        return Some(out);
    }
    for part in s.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
                if b < a || b - a > 1 << 16 {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}

fn check_cpuset(value: &str, available: &[u32], what: &str, unavailable: &str) -> Result<()> {
    if value.is_empty() {
        return Ok(());
    }
    let Some(list) = parse_list(value) else {
        return Err(Error::invalid(format!(
            "Invalid value {value} for cpuset {what}"
        )));
    };
    if list.iter().any(|c| !available.contains(c)) {
        let avail = available
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        return Err(Error::invalid(format!(
            "{unavailable} - requested {value}, available: {avail}"
        )));
    }
    Ok(())
}

/// One `Ulimits` entry as the API carries it.
#[derive(Debug, Deserialize)]
struct Ulimit {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Soft", default)]
    soft: i64,
    #[serde(rename = "Hard", default)]
    hard: i64,
}

const ULIMIT_NAMES: &[&str] = &[
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

fn ulimits(hc: &HostConfig) -> Result<Vec<Ulimit>> {
    let mut out = Vec::new();
    for v in hc.ulimits.iter().flatten() {
        let u: Ulimit = serde_json::from_value(v.clone())
            .map_err(|e| Error::invalid(format!("invalid ulimit: {e}")))?;
        if !ULIMIT_NAMES.contains(&u.name.as_str()) {
            return Err(Error::invalid(format!("invalid ulimit type: {}", u.name)));
        }
        if u.soft > u.hard {
            return Err(Error::invalid(format!(
                "invalid ulimit argument: soft limit ({}) for {} cannot be greater than hard limit ({})",
                u.soft, u.name, u.hard
            )));
        }
        out.push(u);
    }
    Ok(out)
}

/// The memory and CPU checks dockerd makes at create and update (moby's
/// `verifyPlatformContainerResources`), with its words. On success the
/// values are adapted as dockerd adapts them; the answer is the warnings.
pub fn verify(hc: &mut HostConfig, host: &HostCaps, update: bool) -> Result<Vec<String>> {
    let mut warnings = Vec::new();
    verify_memory(hc, host, update, &mut warnings)?;
    verify_cpu(hc, host)?;
    verify_blkio(hc, host, &mut warnings)?;
    if let Some(p) = hc.pids_limit {
        // API 1.40+: 0 and negatives mean unlimited; dockerd keeps 0 as null.
        if p == 0 {
            hc.pids_limit = None;
        }
    }
    if hc.shm_size < 0 {
        return Err(Error::invalid("SHM size can not be less than 0"));
    }
    ulimits(hc)?;
    Ok(warnings)
}

/// Memory, swap, swappiness, reservation and the OOM killer.
fn verify_memory(
    hc: &mut HostConfig,
    host: &HostCaps,
    update: bool,
    warnings: &mut Vec<String>,
) -> Result<()> {
    if hc.memory != 0 && hc.memory < MIN_MEMORY {
        return Err(Error::invalid("Minimum memory limit allowed is 6MB"));
    }
    if hc.memory > 0 && hc.memory_swap > 0 && hc.memory_swap < hc.memory {
        return Err(Error::invalid(
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        ));
    }
    if hc.memory == 0 && hc.memory_swap > 0 && !update {
        return Err(Error::invalid(
            "You should always set the Memory limit when using Memoryswap limit, see usage",
        ));
    }
    if hc.memory > 0 && hc.memory_swap == 0 && !update && host.swap {
        // dockerd's default: as much swap as memory.
        hc.memory_swap = hc.memory * 2;
    }
    if hc.memory_swap > 0 && !host.swap {
        warnings.push(
            "Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.".to_string(),
        );
        hc.memory_swap = -1;
    }
    // -1 (what the docker CLI sends when the flag is unset) means none.
    if hc.memory_swappiness == Some(-1) {
        hc.memory_swappiness = None;
    }
    if hc.memory_swappiness.is_some() && !host.swappiness {
        warnings.push(
            "Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.".into(),
        );
        hc.memory_swappiness = None;
    }
    if let Some(s) = hc.memory_swappiness {
        if !(0..=100).contains(&s) {
            return Err(Error::invalid(format!(
                "Invalid value: {s}, valid memory swappiness range is 0-100"
            )));
        }
    }
    if hc.memory_reservation != 0 && hc.memory_reservation < MIN_MEMORY {
        return Err(Error::invalid("Minimum memory reservation allowed is 6MB"));
    }
    if hc.memory > 0 && hc.memory_reservation > 0 && hc.memory < hc.memory_reservation {
        return Err(Error::invalid(
            "Minimum memory limit can not be less than memory reservation limit, see usage",
        ));
    }
    if hc.oom_kill_disable == Some(true) && host.layout == Layout::V2 {
        warnings
            .push("Your kernel does not support OomKillDisable. OomKillDisable discarded.".into());
        hc.oom_kill_disable = Some(false);
    }
    if hc.oom_kill_disable == Some(true) && hc.memory == 0 {
        warnings.push(
            "OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.".into(),
        );
    }
    Ok(())
}

/// CPUs, CFS period and quota, shares, cpusets.
fn verify_cpu(hc: &mut HostConfig, host: &HostCaps) -> Result<()> {
    if hc.nano_cpus > 0 && hc.cpu_period > 0 {
        return Err(Error::invalid(
            "Conflicting options: Nano CPUs and CPU Period cannot both be set",
        ));
    }
    if hc.nano_cpus > 0 && hc.cpu_quota > 0 {
        return Err(Error::invalid(
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
        ));
    }
    if hc.nano_cpus < 0 || hc.nano_cpus > host.ncpu * 1_000_000_000 {
        return Err(Error::invalid(format!(
            "Range of CPUs is from 0.01 to {n}.00, as there are only {n} CPUs available",
            n = host.ncpu
        )));
    }
    if hc.cpu_period != 0 && !(1000..=1_000_000).contains(&hc.cpu_period) {
        return Err(Error::invalid(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
        ));
    }
    if hc.cpu_quota > 0 && hc.cpu_quota < 1000 {
        return Err(Error::invalid(
            "CPU cfs quota can not be less than 1ms (i.e. 1000)",
        ));
    }
    if hc.cpu_shares < 0 {
        hc.cpu_shares = MIN_CPU_SHARES;
    } else if hc.cpu_shares > MAX_CPU_SHARES {
        hc.cpu_shares = MAX_CPU_SHARES;
    } else if hc.cpu_shares > 0 && hc.cpu_shares < MIN_CPU_SHARES {
        hc.cpu_shares = MIN_CPU_SHARES;
    }
    check_cpuset(
        &hc.cpuset_cpus,
        &host.cpus,
        "cpus",
        "Requested CPUs are not available",
    )?;
    check_cpuset(
        &hc.cpuset_mems,
        &host.mems,
        "mems",
        "Requested memory nodes are not available",
    )?;
    Ok(())
}

/// Block I/O weight and per-device limits.
fn verify_blkio(hc: &mut HostConfig, host: &HostCaps, warnings: &mut Vec<String>) -> Result<()> {
    if hc.blkio_weight > 0 && !host.blkio_weight {
        warnings.push(
            "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.".into(),
        );
        hc.blkio_weight = 0;
    }
    if hc.blkio_weight != 0 && !(10..=1000).contains(&hc.blkio_weight) {
        return Err(Error::invalid("Range of blkio weight is from 10 to 1000"));
    }
    normalize::<WeightDevice>("BlkioWeightDevice", &mut hc.blkio_weight_device)?;
    normalize::<ThrottleDevice>("BlkioDeviceReadBps", &mut hc.blkio_device_read_bps)?;
    normalize::<ThrottleDevice>("BlkioDeviceWriteBps", &mut hc.blkio_device_write_bps)?;
    normalize::<ThrottleDevice>("BlkioDeviceReadIOps", &mut hc.blkio_device_read_i_ops)?;
    normalize::<ThrottleDevice>("BlkioDeviceWriteIOps", &mut hc.blkio_device_write_i_ops)?;
    // What this host's blkio cannot do is dropped with moby's warnings.
    let blkio_lists: [(&mut Option<Vec<Value>>, bool, &str); 5] = [
        (
            &mut hc.blkio_weight_device,
            host.blkio_weight_device,
            "Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.",
        ),
        (
            &mut hc.blkio_device_read_bps,
            host.blkio_throttle[0],
            "Your kernel does not support BPS Block I/O read limit or the cgroup is not mounted. Block I/O BPS read limit discarded.",
        ),
        (
            &mut hc.blkio_device_write_bps,
            host.blkio_throttle[1],
            "Your kernel does not support BPS Block I/O write limit or the cgroup is not mounted. Block I/O BPS write limit discarded.",
        ),
        (
            &mut hc.blkio_device_read_i_ops,
            host.blkio_throttle[2],
            "Your kernel does not support IOPS Block read limit or the cgroup is not mounted. Block I/O IOPS read limit discarded.",
        ),
        (
            &mut hc.blkio_device_write_i_ops,
            host.blkio_throttle[3],
            "Your kernel does not support IOPS Block write limit or the cgroup is not mounted. Block I/O IOPS write limit discarded.",
        ),
    ];
    for (list, supported, warning) in blkio_lists {
        if !supported && list.as_ref().is_some_and(|l| !l.is_empty()) {
            warnings.push(warning.into());
            *list = Some(vec![]);
        }
    }
    Ok(())
}

/// `linux.resources` (besides devices) and `process.rlimits` for the spec.
pub fn oci(hc: &HostConfig) -> Result<Resources> {
    let mut cgroup = Map::new();
    let mut memory = Map::new();
    if hc.memory > 0 {
        memory.insert("limit".into(), json!(hc.memory));
    }
    if hc.memory_swap != 0 && hc.memory > 0 {
        memory.insert("swap".into(), json!(hc.memory_swap));
    }
    if hc.memory_reservation > 0 {
        memory.insert("reservation".into(), json!(hc.memory_reservation));
    }
    if hc.oom_kill_disable == Some(true) {
        memory.insert("disableOOMKiller".into(), json!(true));
    }
    if let Some(s) = hc.memory_swappiness.filter(|s| (0..=100).contains(s)) {
        memory.insert("swappiness".into(), json!(s));
    }
    if !memory.is_empty() {
        cgroup.insert("memory".into(), Value::Object(memory));
    }
    let mut cpu = Map::new();
    if hc.cpu_shares > 0 {
        cpu.insert("shares".into(), json!(hc.cpu_shares));
    }
    if hc.nano_cpus > 0 {
        // dockerd: a 100 ms period, the quota in proportion.
        cpu.insert("period".into(), json!(100_000u64));
        cpu.insert(
            "quota".into(),
            json!(hc.nano_cpus * 100_000 / 1_000_000_000),
        );
    }
    if hc.cpu_period > 0 {
        cpu.insert("period".into(), json!(hc.cpu_period));
    }
    if hc.cpu_quota != 0 {
        cpu.insert("quota".into(), json!(hc.cpu_quota));
    }
    if !hc.cpuset_cpus.is_empty() {
        cpu.insert("cpus".into(), json!(hc.cpuset_cpus));
    }
    if !hc.cpuset_mems.is_empty() {
        cpu.insert("mems".into(), json!(hc.cpuset_mems));
    }
    if !cpu.is_empty() {
        cgroup.insert("cpu".into(), Value::Object(cpu));
    }
    if let Some(p) = hc.pids_limit.filter(|p| *p > 0) {
        cgroup.insert("pids".into(), json!({"limit": p}));
    }
    let mut block_io = Map::new();
    if hc.blkio_weight > 0 {
        block_io.insert("weight".into(), json!(hc.blkio_weight));
    }
    let mut weight_devices = Vec::new();
    for w in typed::<WeightDevice>("BlkioWeightDevice", &hc.blkio_weight_device)? {
        let (major, minor) = device_number(&w.path)?;
        weight_devices.push(json!({"major": major, "minor": minor, "weight": w.weight}));
    }
    if !weight_devices.is_empty() {
        block_io.insert("weightDevice".into(), json!(weight_devices));
    }
    for (field, list, key) in [
        (
            "BlkioDeviceReadBps",
            &hc.blkio_device_read_bps,
            "throttleReadBpsDevice",
        ),
        (
            "BlkioDeviceWriteBps",
            &hc.blkio_device_write_bps,
            "throttleWriteBpsDevice",
        ),
        (
            "BlkioDeviceReadIOps",
            &hc.blkio_device_read_i_ops,
            "throttleReadIOPSDevice",
        ),
        (
            "BlkioDeviceWriteIOps",
            &hc.blkio_device_write_i_ops,
            "throttleWriteIOPSDevice",
        ),
    ] {
        let mut out = Vec::new();
        for t in typed::<ThrottleDevice>(field, list)? {
            let (major, minor) = device_number(&t.path)?;
            out.push(json!({"major": major, "minor": minor, "rate": t.rate}));
        }
        if !out.is_empty() {
            block_io.insert(key.into(), json!(out));
        }
    }
    if !block_io.is_empty() {
        cgroup.insert("blockIO".into(), Value::Object(block_io));
    }
    let rlimits = ulimits(hc)?
        .into_iter()
        .map(|u| {
            json!({
                "type": format!("RLIMIT_{}", u.name.to_uppercase()),
                "soft": u.soft as u64,
                "hard": u.hard as u64,
            })
        })
        .collect();
    Ok(Resources { cgroup, rlimits })
}

impl super::Containers<'_> {
    /// The cgroup of container `id` (`<cgroup-parent>/<id>`).
    pub fn cgroup(&self, id: &str) -> Cgroup {
        Cgroup::new(&format!(
            "{}/{}",
            self.config.cgroup_parent.trim_end_matches('/'),
            id
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> HostCaps {
        HostCaps {
            layout: Layout::V1,
            swap: true,
            swappiness: true,
            blkio_weight: false,
            blkio_weight_device: false,
            blkio_throttle: [true; 4],
            cpus: vec![0, 1],
            mems: vec![0],
            ncpu: 2,
        }
    }

    fn err(hc: &mut HostConfig) -> String {
        verify(hc, &host(), false).unwrap_err().message
    }

    #[test]
    fn dockerd_messages() {
        let mut hc = HostConfig {
            memory: 1024,
            ..Default::default()
        };
        assert_eq!(err(&mut hc), "Minimum memory limit allowed is 6MB");
        let mut hc = HostConfig {
            nano_cpus: 500_000_000,
            cpu_period: 50_000,
            ..Default::default()
        };
        assert_eq!(
            err(&mut hc),
            "Conflicting options: Nano CPUs and CPU Period cannot both be set"
        );
        let mut hc = HostConfig {
            nano_cpus: 3_000_000_000,
            ..Default::default()
        };
        assert_eq!(
            err(&mut hc),
            "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"
        );
        let mut hc = HostConfig {
            cpuset_cpus: "0-x".into(),
            ..Default::default()
        };
        assert_eq!(err(&mut hc), "Invalid value 0-x for cpuset cpus");
        let mut hc = HostConfig {
            cpuset_cpus: "0,7".into(),
            ..Default::default()
        };
        assert_eq!(
            err(&mut hc),
            "Requested CPUs are not available - requested 0,7, available: 0,1"
        );
    }

    #[test]
    fn swap_defaults_to_twice_memory_and_reaches_the_spec() {
        let mut hc = HostConfig {
            memory: 32 << 20,
            nano_cpus: 500_000_000,
            pids_limit: Some(20),
            ..Default::default()
        };
        verify(&mut hc, &host(), false).unwrap();
        assert_eq!(hc.memory_swap, 64 << 20);
        let r = oci(&hc).unwrap();
        assert_eq!(r.cgroup["memory"]["limit"], 32 << 20);
        assert_eq!(r.cgroup["memory"]["swap"], 64 << 20);
        assert_eq!(r.cgroup["cpu"]["quota"], 50_000);
        assert_eq!(r.cgroup["cpu"]["period"], 100_000);
        assert_eq!(r.cgroup["pids"]["limit"], 20);
    }

    #[test]
    fn ulimits_become_rlimits() {
        let mut hc = HostConfig {
            ulimits: Some(vec![json!({"Name": "nofile", "Soft": 100, "Hard": 200})]),
            ..Default::default()
        };
        verify(&mut hc, &host(), false).unwrap();
        let r = oci(&hc).unwrap();
        assert_eq!(r.rlimits[0]["type"], "RLIMIT_NOFILE");
        hc.ulimits = Some(vec![json!({"Name": "bogus", "Soft": 1, "Hard": 1})]);
        assert!(verify(&mut hc, &host(), false).is_err());
        hc.ulimits = Some(vec![json!({"Name": "nofile", "Soft": 10, "Hard": 1})]);
        assert!(verify(&mut hc, &host(), false).is_err());
    }

    #[test]
    fn cpuset_lists() {
        assert_eq!(parse_list("0-2,5"), Some(vec![0, 1, 2, 5]));
        assert_eq!(parse_list("2-1"), None);
        assert_eq!(parse_list("a"), None);
    }

    #[test]
    fn blkio_devices_are_typed_resolved_or_dropped_like_dockerd() {
        // /dev/null is a device node everywhere (1:3); its numbers are read
        // from the node, not assumed.
        let md = std::os::unix::fs::MetadataExt::rdev(&std::fs::metadata("/dev/null").unwrap());
        let (maj, min) = (nix::sys::stat::major(md), nix::sys::stat::minor(md));
        let mut hc = HostConfig {
            blkio_device_read_bps: Some(vec![json!({"Path": "/dev/null", "Rate": 1048576})]),
            blkio_device_write_i_ops: Some(vec![json!({"Path": "/dev/null"})]),
            blkio_weight_device: Some(vec![json!({"Path": "/dev/null", "Weight": 300})]),
            memory_swappiness: Some(-1),
            ..Default::default()
        };
        let warnings = verify(&mut hc, &host(), false).unwrap();
        // This host fixture has no weight_device: dropped with moby's warning.
        assert_eq!(
            warnings,
            vec!["Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded."]
        );
        assert_eq!(hc.blkio_weight_device, Some(vec![]));
        // Every field shown, as dockerd's inspect does; -1 is none.
        assert_eq!(
            hc.blkio_device_write_i_ops,
            Some(vec![json!({"Path": "/dev/null", "Rate": 0})])
        );
        assert_eq!(hc.memory_swappiness, None);
        let r = oci(&hc).unwrap();
        assert_eq!(
            r.cgroup["blockIO"],
            json!({
                "throttleReadBpsDevice": [{"major": maj, "minor": min, "rate": 1048576}],
                "throttleWriteIOPSDevice": [{"major": maj, "minor": min, "rate": 0}],
            })
        );
        // A path that is not there fails the start with dockerd's words.
        let hc = HostConfig {
            blkio_device_read_bps: Some(vec![json!({"Path": "/dev/berth-nope", "Rate": 1})]),
            ..Default::default()
        };
        assert_eq!(
            oci(&hc).unwrap_err().message,
            "stat /dev/berth-nope: no such file or directory"
        );
        // Wrong shapes are refused at create.
        for bad in [json!("x"), json!({"Path": "/dev/null", "Rate": -1})] {
            let mut hc = HostConfig {
                blkio_device_read_bps: Some(vec![bad]),
                ..Default::default()
            };
            assert!(verify(&mut hc, &host(), false).is_err());
        }
        let mut hc = HostConfig {
            blkio_weight_device: Some(vec![json!({"Path": "/dev/null", "Weight": 70000})]),
            ..Default::default()
        };
        assert!(verify(&mut hc, &host(), false).is_err());
        // Swappiness: applied where the host has it, dropped where not.
        let mut hc = HostConfig {
            memory_swappiness: Some(17),
            ..Default::default()
        };
        verify(&mut hc, &host(), false).unwrap();
        assert_eq!(oci(&hc).unwrap().cgroup["memory"]["swappiness"], json!(17));
        let v2 = HostCaps {
            swappiness: false,
            ..host()
        };
        let w = verify(&mut hc, &v2, false).unwrap();
        assert_eq!(hc.memory_swappiness, None);
        assert!(w[0].starts_with("Your kernel does not support memory swappiness"));
        hc.memory_swappiness = Some(101);
        assert_eq!(
            verify(&mut hc, &host(), false).unwrap_err().message,
            "Invalid value: 101, valid memory swappiness range is 0-100"
        );
    }
}
