//! Soak (issue 21): a few hundred mixed container lifecycles from a few
//! concurrent clients, then the same counts as before them: mounts,
//! bridge ports (veths), shim and container processes, cgroups of the
//! containers run, firewall rules, the daemon's file descriptors and
//! memory. Runs on both daemons.
//!
//! `BERTH_E2E_SOAK=N` sets the number of lifecycles (default 300: well under
//! three minutes for a debug berthd on two cores).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use berth_e2e::faults::has_cgroup;
use berth_e2e::{leak, Daemon};

const WORKERS: usize = 4;

fn lifecycles() -> usize {
    std::env::var("BERTH_E2E_SOAK")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
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

/// Processes in the cgroup of one of the containers `ids` (a container's
/// own processes: their root is not under the daemon's dir as seen from
/// here, so `leak::processes_under` finds only shims).
fn container_processes(ids: &[String]) -> usize {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return 0;
    };
    rd.flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter(|e| {
            let cg = std::fs::read_to_string(e.path().join("cgroup")).unwrap_or_default();
            ids.iter().any(|id| cg.contains(id.as_str()))
        })
        .count()
}

/// Everything counted, by name; `cids`: the containers run so far (the
/// witness first).
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
    m.insert("container processes", container_processes(cids));
    let left = cids[1..].iter().filter(|id| has_cgroup(id)).count();
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
            let id = std::fs::read_to_string(&cidfile).expect("cidfile");
            assert!(has_cgroup(id.trim()), "no cgroup for running {id}");
            d.docker(&["exec", &name, "echo", "hi"])
                .ok()
                .stdout_is("hi\n");
            d.docker(&["stop", "-t", "5", &name]).ok();
            d.docker(&["rm", &name]).ok();
        }
        2 => {
            let web = format!("echo {name} > /i.html && exec httpd -f -p 80 -h /");
            run(&[
                "-d",
                "--name",
                &name,
                "-p",
                "127.0.0.1::80",
                "busybox",
                "sh",
                "-c",
                &web,
            ]);
            let port = d.docker(&["port", &name, "80/tcp"]);
            let addr = port
                .ok()
                .stdout
                .lines()
                .next()
                .unwrap_or_default()
                .to_string();
            let page = berth_e2e::wait_for(Duration::from_secs(10), || {
                let o = d.host_sh(&format!("curl -s -m 2 http://{addr}/i.html"));
                (o.stdout.trim() == name).then_some(())
            });
            assert!(page.is_some(), "{name}: nothing served on {addr}");
            d.docker(&["rm", "-f", &name]).ok();
        }
        3 => {
            run(&[
                "-d",
                "--network",
                "soaknet",
                "--name",
                &name,
                "busybox",
                "sleep",
                "60",
            ]);
            let peer = d.docker(&[
                "run",
                "--rm",
                "--network",
                "soaknet",
                "busybox",
                "ping",
                "-c",
                "1",
                "-W",
                "2",
                &name,
            ]);
            peer.ok();
            d.docker(&["rm", "-f", &name]).ok();
        }
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
    // A container running throughout, so that every count (its mount,
    // shim and process, veth, port rules, cgroup) is seen to count.
    let witness = ["run", "-d", "--name", "soakwitness", "-p", "127.0.0.1::80"];
    let o = d.docker(&[&witness[..], &["busybox", "sleep", "600"]].concat());
    let witness_id = o.ok().stdout.trim().to_string();
    let before = counts(&d, std::slice::from_ref(&witness_id));
    let seen = ["processes", "container processes", "bridge ports", "mounts"];
    assert!(seen.iter().all(|k| before[k] > 0), "{before:?}");
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
        (d.docker(&["ps", "-aq"]).stdout.trim().lines().count() == 1).then_some(())
    });
    assert!(
        settled.is_some(),
        "containers left: {}",
        d.docker(&["ps", "-a"])
    );
    let mut cids = cids.into_inner().expect("cids");
    cids.insert(0, witness_id);
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
            // dockerd's Go runtime keeps a few idle connections (to
            // containerd, its shims) open or not from one moment to the
            // next; a leak would be one or more per lifecycle.
            "daemon fds" if d.is_dockerd() => assert!(
                a <= v + 8,
                "daemon fds: {v} before, {a} after {n} lifecycles"
            ),
            _ => assert_eq!(a, *v, "{k}: {v} before, {a} after {n} lifecycles"),
        }
    }
    assert_eq!(after["cgroups of the containers run"], 0);
    d.docker(&["rm", "-f", "soakwitness"]).ok();
    let vols = d.docker(&["volume", "ls", "-q"]);
    assert_eq!(vols.ok().stdout, "", "volumes left");
}
