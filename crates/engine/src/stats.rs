//! `GET /containers/{id}/stats`: one sample of a container's cgroup
//! counters and its netns' interface counters, in dockerd's JSON (moby's
//! `types.StatsJSON`), on cgroup v1/hybrid and on pure cgroup2.

use berth_api::{Error, Result};
use berth_runtime::cgroups::{Cgroup, Layout};
use serde_json::{json, Map, Value};

use crate::container::Status;

/// Go's zero time, which dockerd writes for a sample that was not taken.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Nanoseconds per USER_HZ tick (100 on Linux).
const NS_PER_TICK: u64 = 10_000_000;

/// One sample: the parts of the stats document that change between reads.
#[derive(Debug, Clone)]
pub struct Sample {
    pub read: String,
    pub cpu: Value,
    pub memory: Value,
    pub pids: Value,
    pub blkio: Value,
    pub networks: Option<Value>,
}

impl Sample {
    /// The stats document, with `pre` as the previous sample (`precpu_stats`).
    pub fn document(&self, pre: Option<&Sample>, name: &str, id: &str) -> Value {
        let mut v = json!({
            "read": self.read,
            "preread": pre.map(|p| p.read.as_str()).unwrap_or(ZERO_TIME),
            "pids_stats": self.pids,
            "blkio_stats": self.blkio,
            "num_procs": 0,
            "storage_stats": {},
            "cpu_stats": self.cpu,
            "precpu_stats": pre.map(|p| p.cpu.clone()).unwrap_or_else(empty_cpu),
            "memory_stats": self.memory,
            "name": name,
            "id": id,
        });
        if let Some(n) = &self.networks {
            v["networks"] = n.clone();
        }
        v
    }
}

fn empty_cpu() -> Value {
    json!({
        "cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
        "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
    })
}

fn empty_blkio() -> Value {
    json!({
        "io_service_bytes_recursive": null,
        "io_serviced_recursive": null,
        "io_queue_recursive": null,
        "io_service_time_recursive": null,
        "io_wait_time_recursive": null,
        "io_merged_recursive": null,
        "io_time_recursive": null,
        "sectors_recursive": null,
    })
}

/// dockerd's document for a container that is not running: zeros.
pub fn not_running(name: &str, id: &str) -> Value {
    json!({
        "read": ZERO_TIME,
        "preread": ZERO_TIME,
        "pids_stats": {},
        "blkio_stats": empty_blkio(),
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": empty_cpu(),
        "precpu_stats": empty_cpu(),
        "memory_stats": {},
        "name": name,
        "id": id,
    })
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

fn kv(cg: &Cgroup, ctrl: &str, file: &str) -> Map<String, Value> {
    cg.read_kv(ctrl, file)
        .into_iter()
        .map(|(k, v)| (k, json!(v)))
        .collect()
}

/// `blkio.throttle.*` (v1) lines `MAJ:MIN Op VALUE` as dockerd's entries.
fn blkio_v1(cg: &Cgroup, file: &str) -> Value {
    let Some(text) = cg.read("blkio", file) else {
        return Value::Null;
    };
    let entries: Vec<Value> = text
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let dev = it.next()?;
            let op = it.next()?;
            let value: u64 = it.next()?.parse().ok()?;
            let (maj, min) = dev.split_once(':')?;
            Some(json!({
                "major": maj.parse::<u64>().ok()?,
                "minor": min.parse::<u64>().ok()?,
                "op": op,
                "value": value,
            }))
        })
        .collect();
    if entries.is_empty() {
        Value::Null
    } else {
        Value::Array(entries)
    }
}

/// `io.stat` (v2) lines `MAJ:MIN rbytes=.. wbytes=.. rios=.. wios=..`.
fn blkio_v2(cg: &Cgroup) -> (Value, Value) {
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
            list.push(json!({"major": maj, "minor": min, "op": op, "value": v}));
        }
    }
    let wrap = |v: Vec<Value>| {
        if v.is_empty() {
            Value::Null
        } else {
            Value::Array(v)
        }
    };
    (wrap(bytes), wrap(ios))
}

/// `/proc/<pid>/net/dev` of the container's init: its netns' interfaces.
fn networks(pid: i64) -> Option<Value> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/net/dev")).ok()?;
    let mut out = Map::new();
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
            json!({
                "rx_bytes": f[0], "rx_packets": f[1], "rx_errors": f[2], "rx_dropped": f[3],
                "tx_bytes": f[8], "tx_packets": f[9], "tx_errors": f[10], "tx_dropped": f[11],
            }),
        );
    }
    if out.is_empty() {
        None
    } else {
        Some(Value::Object(out))
    }
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
    let (cpu, memory, pids, blkio) = match cg.layout {
        Layout::V1 => {
            let acct = kv(cg, "cpuacct", "cpuacct.stat");
            let ticks = |k: &str| acct.get(k).and_then(Value::as_u64).unwrap_or(0) * NS_PER_TICK;
            let percpu: Vec<u64> = cg
                .read("cpuacct", "cpuacct.usage_percpu")
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            let throttle = kv(cg, "cpu", "cpu.stat");
            let t = |k: &str| throttle.get(k).and_then(Value::as_u64).unwrap_or(0);
            let cpu = json!({
                "cpu_usage": {
                    "total_usage": cg.read_u64("cpuacct", "cpuacct.usage").unwrap_or(0),
                    "percpu_usage": percpu,
                    "usage_in_kernelmode": ticks("system"),
                    "usage_in_usermode": ticks("user"),
                },
                "system_cpu_usage": system,
                "online_cpus": online,
                "throttling_data": {
                    "periods": t("nr_periods"),
                    "throttled_periods": t("nr_throttled"),
                    "throttled_time": t("throttled_time"),
                },
            });
            let stats = kv(cg, "memory", "memory.stat");
            let limit = stats
                .get("hierarchical_memory_limit")
                .and_then(Value::as_u64)
                .or_else(|| cg.read_u64("memory", "memory.limit_in_bytes"))
                .unwrap_or(u64::MAX);
            let memory = json!({
                "usage": cg.read_u64("memory", "memory.usage_in_bytes").unwrap_or(0),
                "max_usage": cg.read_u64("memory", "memory.max_usage_in_bytes").unwrap_or(0),
                "stats": stats,
                "limit": cap(limit),
            });
            let blkio = json!({
                "io_service_bytes_recursive": blkio_v1(cg, "blkio.throttle.io_service_bytes_recursive"),
                "io_serviced_recursive": blkio_v1(cg, "blkio.throttle.io_serviced_recursive"),
                "io_queue_recursive": null,
                "io_service_time_recursive": null,
                "io_wait_time_recursive": null,
                "io_merged_recursive": null,
                "io_time_recursive": null,
                "sectors_recursive": null,
            });
            (cpu, memory, pids_stats(cg), blkio)
        }
        Layout::V2 => {
            let st = kv(cg, "cpu", "cpu.stat");
            let us = |k: &str| st.get(k).and_then(Value::as_u64).unwrap_or(0);
            let cpu = json!({
                "cpu_usage": {
                    "total_usage": us("usage_usec") * 1000,
                    "usage_in_kernelmode": us("system_usec") * 1000,
                    "usage_in_usermode": us("user_usec") * 1000,
                },
                "system_cpu_usage": system,
                "online_cpus": online,
                "throttling_data": {
                    "periods": us("nr_periods"),
                    "throttled_periods": us("nr_throttled"),
                    "throttled_time": us("throttled_usec") * 1000,
                },
            });
            let limit = cg.read_u64("memory", "memory.max").unwrap_or(u64::MAX);
            let memory = json!({
                "usage": cg.read_u64("memory", "memory.current").unwrap_or(0),
                "stats": kv(cg, "memory", "memory.stat"),
                "limit": cap(limit),
            });
            let (bytes, ios) = blkio_v2(cg);
            let blkio = json!({
                "io_service_bytes_recursive": bytes,
                "io_serviced_recursive": ios,
                "io_queue_recursive": null,
                "io_service_time_recursive": null,
                "io_wait_time_recursive": null,
                "io_merged_recursive": null,
                "io_time_recursive": null,
                "sectors_recursive": null,
            });
            (cpu, memory, pids_stats(cg), blkio)
        }
    };
    Sample {
        read,
        cpu,
        memory,
        pids,
        blkio,
        networks: networks(pid),
    }
}

fn pids_stats(cg: &Cgroup) -> Value {
    let mut v = json!({"current": cg.read_u64("pids", "pids.current").unwrap_or(0)});
    if let Some(l) = cg.read_u64("pids", "pids.max") {
        v["limit"] = json!(l);
    }
    v
}

fn machine_memory() -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

impl crate::Engine {
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
            cpu: empty_cpu(),
            memory: json!({"usage": 1}),
            pids: json!({"current": 1}),
            blkio: empty_blkio(),
            networks: None,
        };
        let d = s.document(None, "/web", "abc");
        for k in [
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
        ] {
            assert!(d.get(k).is_some(), "{k}");
        }
        assert_eq!(d["preread"], ZERO_TIME);
        assert!(d.get("networks").is_none());
        let n = not_running("/web", "abc");
        assert_eq!(n["read"], ZERO_TIME);
    }
}
