//! Soak (issue 21): a few hundred mixed container lifecycles from a few
//! concurrent clients, then the same counts as before them: mounts,
//! bridge ports (veths), shim and container processes, cgroups of the
//! containers run, firewall rules, the daemon's file descriptors and
//! memory. Runs on both daemons.
//!
//! `BERTH_E2E_SOAK=N` sets the number of lifecycles (default 200: about
//! two minutes for a debug berthd on two cores).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use berth_e2e::{leak, Daemon};

const WORKERS: usize = 4;

fn lifecycles() -> usize {
    std::env::var("BERTH_E2E_SOAK")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

/// The default bridge: berthd's per-slot one, dockerd's `docker0` (in the
/// harness's netns).
fn bridges(d: &Daemon) -> Vec<String> {
    let default = if d.is_dockerd() {
        "docker0".to_string()
    } else {
        d.net_name.clone()
    };
    let id = d.inspect("soaknet", "{{.Id}}");
    vec![default, format!("br-{}", &id[..12])]
}

fn firewall_rules(d: &Daemon) -> usize {
    let script = if d.is_dockerd() {
        "iptables-save | grep -c '^-A'".to_string()
    } else {
        let tables = leak::nft_tables_containing(&d.net_name);
        assert_eq!(tables.len(), 1, "the daemon's nftables table: {tables:?}");
        format!("nft -a list table {} | grep -c '# handle'", tables[0])
    };
    d.host_sh(&script).stdout.trim().parse().unwrap_or(0)
}

fn proc_status(pid: i32, key: &str) -> usize {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

/// Everything counted, by name.
fn counts(d: &Daemon, cids: &[String]) -> BTreeMap<&'static str, usize> {
    let pid = d.pid().expect("the daemon runs");
    let mut m = BTreeMap::new();
    m.insert("mounts", leak::mounts_under(&d.dir).len());
    let ports: usize = bridges(d)
        .iter()
        .map(|b| {
            d.host_sh(&format!("ip -o link show master {b}"))
                .stdout
                .lines()
                .count()
        })
        .sum();
    m.insert("bridge ports", ports);
    m.insert(
        "processes",
        leak::processes_under(&d.dir)
            .iter()
            .filter(|(p, _)| *p != pid)
            .count(),
    );
    let cgroups = ["/sys/fs/cgroup/berth", "/sys/fs/cgroup/system.slice"];
    let left = cids
        .iter()
        .filter(|id| {
            cgroups.iter().any(|c| {
                Path::new(c).join(id).exists()
                    || Path::new(c).join(format!("docker-{id}.scope")).exists()
            })
        })
        .count();
    m.insert("cgroups of the containers run", left);
    m.insert("firewall rules", firewall_rules(d));
    m.insert(
        "daemon fds",
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|r| r.count())
            .unwrap_or(0),
    );
    m.insert("daemon RSS KiB", proc_status(pid, "VmRSS:"));
    m
}

/// One lifecycle of kind `i % 5`; the container's id goes to `cids`.
fn lifecycle(d: &Daemon, i: usize, cids: &Mutex<Vec<String>>) {
    let cidfile = d.tmp().join(format!("cid-{i}"));
    let cid = cidfile.to_str().expect("utf-8").to_string();
    let name = format!("soak{i}");
    let vol = format!("soakvol{i}");
    let run = |args: &[&str]| {
        let mut a = vec!["run", "--cidfile", &cid];
        a.extend_from_slice(args);
        d.docker(&a).ok();
    };
    match i % 5 {
        0 => run(&["--rm", "busybox", "true"]),
        1 => {
            run(&[
                "-d",
                "--name",
                &name,
                "busybox",
                "sh",
                "-c",
                "trap 'exit 0' TERM; sleep 60 & wait",
            ]);
            d.docker(&["exec", &name, "echo", "hi"])
                .ok()
                .stdout_is("hi\n");
            d.docker(&["stop", "-t", "5", &name]).ok();
            d.docker(&["rm", &name]).ok();
        }
        2 => run(&["--rm", "-p", "127.0.0.1::80", "busybox", "true"]),
        3 => run(&["--rm", "--network", "soaknet", "busybox", "true"]),
        _ => {
            run(&[
                "--rm",
                "-v",
                &format!("{vol}:/data"),
                "busybox",
                "sh",
                "-c",
                "echo x > /data/f",
            ]);
            d.docker(&["volume", "rm", &vol]).ok();
        }
    }
    let id = std::fs::read_to_string(&cidfile).expect("cidfile");
    let _ = std::fs::remove_file(&cidfile);
    cids.lock().expect("cids").push(id.trim().to_string());
}

#[test]
fn hundreds_of_mixed_lifecycles_leak_nothing() {
    let d = Daemon::start();
    d.docker(&["network", "create", "soaknet"]).ok();
    let cids = Mutex::new(Vec::new());
    // One of each first, so what is made once (the user network's bridge
    // and rules, the daemon's pools and caches) is counted before.
    for i in 0..5 {
        lifecycle(&d, i, &cids);
    }
    let before = counts(&d, &[]);
    let n = lifecycles();
    let next = AtomicUsize::new(5);
    let t0 = Instant::now();
    thread::scope(|s| {
        for _ in 0..WORKERS {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= n + 5 {
                    break;
                }
                lifecycle(&d, i, &cids);
            });
        }
    });
    let took = t0.elapsed();
    // Exits are recorded by the monitor; give the last --rm a moment.
    let settled = berth_e2e::wait_for(Duration::from_secs(10), || {
        (d.docker(&["ps", "-aq"]).stdout.trim().is_empty()).then_some(())
    });
    assert!(
        settled.is_some(),
        "containers left: {}",
        d.docker(&["ps", "-a"])
    );
    let cids = cids.into_inner().expect("cids");
    let after = counts(&d, &cids);
    eprintln!(
        "soak on {}: {n} lifecycles in {took:.1?}\n  before: {before:?}\n  after:  {after:?}",
        d.flavor.name()
    );
    for (k, v) in &before {
        let a = after[k];
        match *k {
            // Memory may grow by what allocators keep, not by a leak's slope.
            "daemon RSS KiB" => assert!(
                a <= v + v / 2 + 32 * 1024,
                "daemon RSS grew from {v} to {a} KiB over {n} lifecycles"
            ),
            _ => assert_eq!(a, *v, "{k}: {v} before, {a} after {n} lifecycles"),
        }
    }
    assert_eq!(after["cgroups of the containers run"], 0);
    let vols = d.docker(&["volume", "ls", "-q"]);
    assert_eq!(vols.ok().stdout, "", "volumes left");
}
