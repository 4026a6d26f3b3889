//! `berth update` and `berth stats`, as the docker CLI 28 prints them.

use std::io::Write;

use berth_api::model::{ContainerUpdateBody, RestartPolicy};
use berth_api::units::ram_in_bytes;
use serde_json::{json, Value};

use crate::client::{q, Client};
use crate::format::{human_size_prec, render_rows};
use crate::Failure;

/// The flags of `berth update`.
#[derive(Debug, Default, clap::Args)]
pub struct UpdateOpts {
    /// Memory limit
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Memory soft limit
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    /// Number of CPUs
    #[arg(long)]
    pub cpus: Option<f64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares")]
    pub cpu_shares: Option<i64>,
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
    /// Restart policy to apply when a container exits
    #[arg(long)]
    pub restart: Option<String>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

fn bytes_flag(v: &Option<String>, flag: &str) -> Result<Option<i64>, Failure> {
    match v.as_deref() {
        None => Ok(None),
        Some("-1") => Ok(Some(-1)),
        Some(s) => ram_in_bytes(s).map(Some).map_err(|e| {
            Failure::usage(format!("invalid argument \"{s}\" for \"{flag}\" flag: {e}"))
        }),
    }
}

pub async fn update(c: &Client, o: UpdateOpts) -> Result<i32, Failure> {
    // docker's check is on the flags given, whatever their values.
    let given = o.memory.is_some()
        || o.memory_swap.is_some()
        || o.memory_reservation.is_some()
        || o.cpus.is_some()
        || o.cpu_shares.is_some()
        || o.cpu_period.is_some()
        || o.cpu_quota.is_some()
        || o.cpuset_cpus.is_some()
        || o.cpuset_mems.is_some()
        || o.pids_limit.is_some()
        || o.blkio_weight.is_some()
        || o.restart.is_some();
    // The whole update config, zero values meaning "unchanged" (as the
    // docker CLI sends it and dockerd reads it); only `PidsLimit` is a
    // pointer, left `null` unless given.
    let body = ContainerUpdateBody {
        memory: bytes_flag(&o.memory, "-m, --memory")?.unwrap_or(0),
        memory_swap: bytes_flag(&o.memory_swap, "--memory-swap")?.unwrap_or(0),
        memory_reservation: bytes_flag(&o.memory_reservation, "--memory-reservation")?.unwrap_or(0),
        nano_cpus: o.cpus.map(|c| (c * 1e9) as i64).unwrap_or(0),
        cpu_shares: o.cpu_shares.unwrap_or(0),
        cpu_period: o.cpu_period.unwrap_or(0),
        cpu_quota: o.cpu_quota.unwrap_or(0),
        cpuset_cpus: o.cpuset_cpus.clone().unwrap_or_default(),
        cpuset_mems: o.cpuset_mems.clone().unwrap_or_default(),
        pids_limit: o.pids_limit,
        blkio_weight: o.blkio_weight.unwrap_or(0),
        restart_policy: match &o.restart {
            Some(r) => crate::commands::opts::restart_policy(Some(r))?,
            None => RestartPolicy::default(),
        },
        ..ContainerUpdateBody::default()
    };
    if !given {
        return Err(Failure::msg(
            "you must provide one or more flags when using this command",
        ));
    }
    let mut errors = Vec::new();
    for id in &o.containers {
        match c.update_container(id, &body).await {
            Ok(answer) => {
                for w in answer.warnings.into_iter().flatten() {
                    eprintln!("{w}");
                }
                println!("{id}");
            }
            Err(e) => errors.push(Failure::from(e).message),
        }
    }
    if errors.is_empty() {
        Ok(0)
    } else {
        Err(Failure::msg(errors.join("\n")))
    }
}

/// The flags of `berth stats`.
#[derive(Debug, Default, clap::Args)]
pub struct StatsOpts {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long = "no-stream")]
    pub no_stream: bool,
    /// Do not truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Format output using a custom template
    #[arg(long)]
    pub format: Option<String>,
    pub containers: Vec<String>,
}

const STATS_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

fn headers() -> Value {
    json!({
        "ID": "CONTAINER ID", "Container": "CONTAINER", "Name": "NAME",
        "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %",
        "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS",
    })
}

fn u(v: &Value) -> f64 {
    v.as_u64().unwrap_or(0) as f64
}

/// docker's `units.HumanSizeWithPrecision(v, 3)` (decimal) for I/O.
fn io(a: f64, b: f64) -> String {
    format!("{} / {}", human_size_prec(a, 3), human_size_prec(b, 3))
}

/// docker's `units.BytesSize` (binary) for memory.
fn bin(v: f64) -> String {
    crate::format::bytes_size(v)
}

/// One row of the table from a stats document, computed as the docker
/// CLI does (`cli/command/container/stats_helpers.go`).
pub fn row(container: &str, s: &Value, no_trunc: bool) -> Value {
    let id = s["id"].as_str().unwrap_or("");
    let id = if no_trunc {
        id
    } else {
        &id[..id.len().min(12)]
    };
    let name = s["name"].as_str().unwrap_or("").trim_start_matches('/');
    if s["read"].as_str() == Some("0001-01-01T00:00:00Z") {
        return json!({
            "ID": id, "Container": container, "Name": name,
            "CPUPerc": "0.00%", "MemUsage": "0B / 0B", "MemPerc": "0.00%",
            "NetIO": "0B / 0B", "BlockIO": "0B / 0B", "PIDs": "0",
        });
    }
    let cpu = &s["cpu_stats"];
    let pre = &s["precpu_stats"];
    let cpu_delta = u(&cpu["cpu_usage"]["total_usage"]) - u(&pre["cpu_usage"]["total_usage"]);
    let sys_delta = u(&cpu["system_cpu_usage"]) - u(&pre["system_cpu_usage"]);
    let mut online = u(&cpu["online_cpus"]);
    if online == 0.0 {
        online = cpu["cpu_usage"]["percpu_usage"]
            .as_array()
            .map(|a| a.len() as f64)
            .unwrap_or(1.0);
    }
    let cpu_perc = if sys_delta > 0.0 && cpu_delta > 0.0 {
        cpu_delta / sys_delta * online * 100.0
    } else {
        0.0
    };
    let mem = &s["memory_stats"];
    let stats = &mem["stats"];
    // Usage without the page cache: v1 total_inactive_file, v2 inactive_file.
    let cache = if stats.get("total_inactive_file").is_some() {
        u(&stats["total_inactive_file"])
    } else {
        u(&stats["inactive_file"])
    };
    let usage = (u(&mem["usage"]) - cache).max(0.0);
    let limit = u(&mem["limit"]);
    let mem_perc = if limit > 0.0 {
        usage / limit * 100.0
    } else {
        0.0
    };
    let (mut rx, mut tx) = (0.0, 0.0);
    if let Some(n) = s["networks"].as_object() {
        for v in n.values() {
            rx += u(&v["rx_bytes"]);
            tx += u(&v["tx_bytes"]);
        }
    }
    let (mut rd, mut wr) = (0.0, 0.0);
    for e in s["blkio_stats"]["io_service_bytes_recursive"]
        .as_array()
        .into_iter()
        .flatten()
    {
        match e["op"].as_str().map(str::to_ascii_lowercase).as_deref() {
            Some("read") => rd += u(&e["value"]),
            Some("write") => wr += u(&e["value"]),
            _ => {}
        }
    }
    json!({
        "ID": id, "Container": container, "Name": name,
        "CPUPerc": format!("{cpu_perc:.2}%"),
        "MemUsage": format!("{} / {}", bin(usage), bin(limit)),
        "MemPerc": format!("{mem_perc:.2}%"),
        "NetIO": io(rx, tx),
        "BlockIO": io(rd, wr),
        "PIDs": s["pids_stats"]["current"].as_u64().unwrap_or(0).to_string(),
    })
}

pub async fn stats(c: &Client, o: StatsOpts) -> Result<i32, Failure> {
    let named = !o.containers.is_empty();
    loop {
        let ids: Vec<String> = if named {
            o.containers.clone()
        } else {
            let all = if o.all { "?all=1" } else { "" };
            let list = c.get_json(&format!("/containers/json{all}")).await?;
            list.as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v["Id"].as_str().map(|s| s[..s.len().min(12)].to_string()))
                .collect()
        };
        // All samples in parallel: each waits half a second for its second sample.
        let futs = ids.iter().map(|id| async move {
            (
                id.clone(),
                c.get_json(&format!("/containers/{}/stats?stream=false", q(id)))
                    .await,
            )
        });
        let mut rows = Vec::new();
        let mut errors = Vec::new();
        for (id, r) in futures_util::future::join_all(futs).await {
            match r {
                Ok(v) => rows.push(row(&id, &v, o.no_trunc)),
                Err(e) => errors.push(Failure::from(e).message),
            }
        }
        if named && !errors.is_empty() {
            return Err(Failure::msg(errors.join("\n")));
        }
        let text = render_rows(
            o.format.as_deref(),
            STATS_TABLE,
            &headers(),
            &rows,
            "*formatter.statsContext",
        )
        .map_err(Failure::msg)?;
        let mut out = std::io::stdout();
        if !o.no_stream {
            // Clear the screen and home the cursor, as docker stats does.
            let _ = write!(out, "\x1b[2J\x1b[H");
        }
        let _ = write!(out, "{text}");
        let _ = out.flush();
        if o.no_stream {
            return Ok(0);
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}
