//! `GET /containers/{id}/stats`: one sample of a container's cgroup
//! counters and its netns' interface counters, in dockerd's JSON (moby's
//! `types.StatsJSON`), on cgroup v1/hybrid and on pure cgroup2.

use berth_api::views::{
    BlkioStatEntry, BlkioStats, CpuStats, CpuUsage, MemoryStats, NetworkStats, PidsStats,
    StatsResponse, StorageStats, ThrottlingData,
};
use berth_api::{Error, Result};
use berth_runtime::cgroups::{Cgroup, Layout};
use indexmap::IndexMap;

use crate::containers::container::Status;

/// Go's zero time, which dockerd writes for a sample that was not taken.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Nanoseconds per USER_HZ tick (100 on Linux).
const NS_PER_TICK: u64 = 10_000_000;

/// One sample: the parts of the stats document that change between reads.
#[derive(Debug, Clone)]
pub struct Sample {
    pub read: String,
    pub cpu: CpuStats,
    pub memory: MemoryStats,
    pub pids: PidsStats,
    pub blkio: BlkioStats,
    pub networks: Option<IndexMap<String, NetworkStats>>,
}

impl Sample {
    /// The stats document, with `pre` as the previous sample (`precpu_stats`).
    pub fn document(&self, pre: Option<&Sample>, name: &str, id: &str) -> StatsResponse {
        StatsResponse {
            read: self.read.clone(),
            preread: pre.map_or(ZERO_TIME, |p| p.read.as_str()).to_string(),
            pids_stats: self.pids.clone(),
            blkio_stats: self.blkio.clone(),
            num_procs: 0,
            storage_stats: StorageStats {},
            cpu_stats: self.cpu.clone(),
            precpu_stats: pre.map(|p| p.cpu.clone()).unwrap_or_default(),
            memory_stats: self.memory.clone(),
            name: name.to_string(),
            id: id.to_string(),
            networks: self.networks.clone(),
        }
    }
}

/// dockerd's document for a container that is not running: zeros.
pub fn not_running(name: &str, id: &str) -> StatsResponse {
    StatsResponse {
        read: ZERO_TIME.into(),
        preread: ZERO_TIME.into(),
        name: name.to_string(),
        id: id.to_string(),
        ..StatsResponse::default()
    }
}

/// The host's CPU time in nanoseconds (the `cpu` line of `/proc/stat`), as
/// dockerd's `getSystemCPUUsage`.
fn system_cpu_usage() -> u64 {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with("cpu "))
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .take(7)
                .filter_map(|f| f.parse::<u64>().ok())
                .sum::<u64>()
                * NS_PER_TICK
        })
        .unwrap_or(0)
}

fn online_cpus() -> u64 {
    std::thread::available_parallelism()
        .map(|n| n.get() as u64)
        .unwrap_or(1)
}

fn kv(cg: &Cgroup, ctrl: &str, file: &str) -> IndexMap<String, u64> {
    cg.read_kv(ctrl, file).into_iter().collect()
}

/// A list as Go prints a nil slice when empty: `null`.
fn non_empty(v: Vec<BlkioStatEntry>) -> Option<Vec<BlkioStatEntry>> {
    (!v.is_empty()).then_some(v)
}

/// `blkio.throttle.*` (v1) lines `MAJ:MIN Op VALUE` as dockerd's entries.
fn blkio_v1(cg: &Cgroup, file: &str) -> Option<Vec<BlkioStatEntry>> {
    let text = cg.read("blkio", file)?;
    let entries = text
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let dev = it.next()?;
            let op = it.next()?;
            let value: u64 = it.next()?.parse().ok()?;
            let (maj, min) = dev.split_once(':')?;
            Some(BlkioStatEntry {
                major: maj.parse().ok()?,
                minor: min.parse().ok()?,
                op: op.to_string(),
                value,
            })
        })
        .collect();
    non_empty(entries)
}

/// `io.stat` (v2) lines `MAJ:MIN rbytes=.. wbytes=.. rios=.. wios=..`.
fn blkio_v2(cg: &Cgroup) -> BlkioStats {
    let text = cg.read("io", "io.stat").unwrap_or_default();
    let mut bytes = Vec::new();
    let mut ios = Vec::new();
    for l in text.lines() {
        let mut it = l.split_whitespace();
        let Some((maj, min)) = it.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(maj), Ok(min)) = (maj.parse::<u64>(), min.parse::<u64>()) else {
            continue;
        };
        for f in it {
            let Some((k, v)) = f.split_once('=') else {
                continue;
            };
            let Ok(v) = v.parse::<u64>() else { continue };
            let (list, op) = match k {
                "rbytes" => (&mut bytes, "read"),
                "wbytes" => (&mut bytes, "write"),
                "rios" => (&mut ios, "read"),
                "wios" => (&mut ios, "write"),
                _ => continue,
            };
            list.push(BlkioStatEntry {
                major: maj,
                minor: min,
                op: op.to_string(),
                value: v,
            });
        }
    }
    BlkioStats {
        io_service_bytes_recursive: non_empty(bytes),
        io_serviced_recursive: non_empty(ios),
        ..BlkioStats::default()
    }
}

/// `/proc/<pid>/net/dev` of the container's init: its netns' interfaces.
fn networks(pid: i64) -> Option<IndexMap<String, NetworkStats>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/net/dev")).ok()?;
    let mut out = IndexMap::new();
    for l in text.lines().skip(2) {
        let Some((name, rest)) = l.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name == "lo" {
            continue;
        }
        let f: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if f.len() < 12 {
            continue;
        }
        out.insert(
            name.to_string(),
            NetworkStats {
                rx_bytes: f[0],
                rx_packets: f[1],
                rx_errors: f[2],
                rx_dropped: f[3],
                tx_bytes: f[8],
                tx_packets: f[9],
                tx_errors: f[10],
                tx_dropped: f[11],
            },
        );
    }
    (!out.is_empty()).then_some(out)
}

/// Takes one sample of `cg`, with `machine_memory` standing in for "no limit".
pub fn sample(cg: &Cgroup, pid: i64, machine_memory: u64) -> Sample {
    let read = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    let system = system_cpu_usage();
    let online = online_cpus();
    let cap = |limit: u64| {
        if machine_memory > 0 && limit > machine_memory {
            machine_memory
        } else {
            limit
        }
    };
    let (cpu, memory, blkio) = match cg.layout {
        Layout::V1 => {
            let acct = kv(cg, "cpuacct", "cpuacct.stat");
            let ticks = |k: &str| acct.get(k).copied().unwrap_or(0) * NS_PER_TICK;
            let percpu: Vec<u64> = cg
                .read("cpuacct", "cpuacct.usage_percpu")
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            let throttle = kv(cg, "cpu", "cpu.stat");
            let t = |k: &str| throttle.get(k).copied().unwrap_or(0);
            let cpu = CpuStats {
                cpu_usage: CpuUsage {
                    total_usage: cg.read_u64("cpuacct", "cpuacct.usage").unwrap_or(0),
                    percpu_usage: Some(percpu),
                    usage_in_kernelmode: ticks("system"),
                    usage_in_usermode: ticks("user"),
                },
                system_cpu_usage: Some(system),
                online_cpus: Some(online),
                throttling_data: ThrottlingData {
                    periods: t("nr_periods"),
                    throttled_periods: t("nr_throttled"),
                    throttled_time: t("throttled_time"),
                },
            };
            let stats = kv(cg, "memory", "memory.stat");
            let limit = stats
                .get("hierarchical_memory_limit")
                .copied()
                .or_else(|| cg.read_u64("memory", "memory.limit_in_bytes"))
                .unwrap_or(u64::MAX);
            let memory = MemoryStats {
                usage: Some(cg.read_u64("memory", "memory.usage_in_bytes").unwrap_or(0)),
                max_usage: Some(
                    cg.read_u64("memory", "memory.max_usage_in_bytes")
                        .unwrap_or(0),
                ),
                stats: Some(stats),
                limit: Some(cap(limit)),
            };
            let blkio = BlkioStats {
                io_service_bytes_recursive: blkio_v1(
                    cg,
                    "blkio.throttle.io_service_bytes_recursive",
                ),
                io_serviced_recursive: blkio_v1(cg, "blkio.throttle.io_serviced_recursive"),
                ..BlkioStats::default()
            };
            (cpu, memory, blkio)
        }
        Layout::V2 => {
            let st = kv(cg, "cpu", "cpu.stat");
            let us = |k: &str| st.get(k).copied().unwrap_or(0);
            let cpu = CpuStats {
                cpu_usage: CpuUsage {
                    total_usage: us("usage_usec") * 1000,
                    percpu_usage: None,
                    usage_in_kernelmode: us("system_usec") * 1000,
                    usage_in_usermode: us("user_usec") * 1000,
                },
                system_cpu_usage: Some(system),
                online_cpus: Some(online),
                throttling_data: ThrottlingData {
                    periods: us("nr_periods"),
                    throttled_periods: us("nr_throttled"),
                    throttled_time: us("throttled_usec") * 1000,
                },
            };
            let limit = cg.read_u64("memory", "memory.max").unwrap_or(u64::MAX);
            let memory = MemoryStats {
                usage: Some(cg.read_u64("memory", "memory.current").unwrap_or(0)),
                max_usage: None,
                stats: Some(kv(cg, "memory", "memory.stat")),
                limit: Some(cap(limit)),
            };
            (cpu, memory, blkio_v2(cg))
        }
    };
    Sample {
        read,
        cpu,
        memory,
        pids: pids_stats(cg),
        blkio,
        networks: networks(pid),
    }
}

fn pids_stats(cg: &Cgroup) -> PidsStats {
    PidsStats {
        current: Some(cg.read_u64("pids", "pids.current").unwrap_or(0)),
        limit: cg.read_u64("pids", "pids.max"),
    }
}

fn machine_memory() -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

impl super::Containers<'_> {
    /// One sample of a running container, or `None` when it is not running;
    /// with the name (`/web`) and full id for the document.
    pub fn stats_sample(&self, key: &str) -> Result<(String, String, Option<Sample>)> {
        let h = self.lookup(key)?;
        let r = h.snapshot();
        let name = r.name.clone();
        if r.state.status != Status::Running || r.state.pid <= 0 {
            return Ok((name, r.id, None));
        }
        let cg = self.cgroup(&r.id);
        if !cg.exists() {
            return Err(Error::internal(format!(
                "cgroup of container {} not found",
                r.id
            )));
        }
        Ok((
            name,
            r.id.clone(),
            Some(sample(&cg, r.state.pid, machine_memory())),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_have_dockerds_keys() {
        let s = Sample {
            read: "2026-01-01T00:00:00Z".into(),
            cpu: CpuStats::default(),
            memory: MemoryStats {
                usage: Some(1),
                ..Default::default()
            },
            pids: PidsStats {
                current: Some(1),
                limit: None,
            },
            blkio: BlkioStats::default(),
            networks: None,
        };
        let d = serde_json::to_value(s.document(None, "/web", "abc")).unwrap();
        let keys: Vec<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "read",
                "preread",
                "pids_stats",
                "blkio_stats",
                "num_procs",
                "storage_stats",
                "cpu_stats",
                "precpu_stats",
                "memory_stats",
                "name",
                "id",
            ]
        );
        assert_eq!(d["preread"], ZERO_TIME);
        assert_eq!(d["pids_stats"], serde_json::json!({"current": 1}));
        let n = not_running("/web", "abc");
        assert_eq!(n.read, ZERO_TIME);
        assert_eq!(
            serde_json::to_value(n).unwrap()["memory_stats"],
            serde_json::json!({})
        );
    }
}
