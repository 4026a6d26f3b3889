//! Fault injection (berthd only): starting the daemon with
//! `BERTH_TEST_CRASH_AT=<point>` (see `crates/store/src/crash.rs`), waiting
//! for it to kill itself there, and checking what it left once restarted.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::{leak, Daemon};

/// The variable berthd's debug builds read (`berth_store::crash`).
pub const CRASH_AT: &str = "BERTH_TEST_CRASH_AT";

impl Daemon {
    /// Restarts the daemon (it must not run) with `BERTH_TEST_CRASH_AT`
    /// set to `point` (`None`: unset) for this and later starts.
    #[track_caller]
    pub fn restart_crashing_at(&mut self, point: Option<&str>) {
        self.extra_env.retain(|(k, _)| k != CRASH_AT);
        if let Some(p) = point {
            self.extra_env.push((CRASH_AT.into(), p.into()));
        }
        self.restart();
    }

    /// Waits up to `timeout` for the daemon to end by itself (a crash
    /// point); true if it did, and it is then treated as crashed.
    pub fn wait_crashed(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let Some(ch) = self.child.as_mut() else {
                return true;
            };
            if let Ok(Some(_)) = ch.try_wait() {
                self.child = None;
                self.crashed = true;
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

fn names(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// What berthd holds that is half-made or belongs to nothing it lists:
/// temp files of pulls and loads, staged layers, images whose layers
/// cannot be read back (`docker save`), containers without a record or an
/// rw layer, and mounts, processes, cgroups or bridge ports of containers
/// that do not run. Empty means consistent.
///
/// Asked again for up to 10 s until it is empty: a container that just
/// ended is let go in steps (its shim exits after answering the daemon,
/// its cgroup goes after that), so a moment after `run --rm` returns can
/// still show them; what is really left over stays and is reported.
pub fn half_made(d: &Daemon) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let bad = half_made_now(d);
        if bad.is_empty() || std::time::Instant::now() > deadline {
            return bad;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

fn half_made_now(d: &Daemon) -> Vec<String> {
    let mut bad = Vec::new();
    let tmp = d.data_root.join("image/tmp");
    for n in names(&tmp) {
        bad.push(format!("temp file image/tmp/{n}"));
    }
    let overlay = d.data_root.join("overlay2");
    for n in names(&overlay)
        .into_iter()
        .filter(|n| n.starts_with("tmp-"))
    {
        bad.push(format!("staged layer overlay2/{n}"));
    }
    for img in d
        .get("/images/json?all=1")
        .json()
        .as_array()
        .into_iter()
        .flatten()
    {
        let id = img["Id"].as_str().unwrap_or_default();
        let r = d.get(&format!("/images/{id}/get"));
        if r.status != 200 || r.body.len() < 1024 {
            bad.push(format!("image {id} cannot be saved: {}", r.status));
        }
    }
    let all = d.get("/containers/json?all=1").json();
    let mut known = HashSet::new();
    let mut running = HashSet::new();
    for c in all.as_array().into_iter().flatten() {
        let id = c["Id"].as_str().unwrap_or_default().to_string();
        if c["State"] == "running" {
            running.insert(id.clone());
        }
        if !overlay.join(&id).join("diff").is_dir() {
            bad.push(format!("container {id} without its rw layer"));
        }
        if !d.data_root.join("containers").join(&id).is_dir() {
            bad.push(format!("container {id} without its directory"));
        }
        known.insert(id);
    }
    // A dir with `merged` is a container's rw layer (image layers have none).
    for n in names(&overlay) {
        if overlay.join(&n).join("merged").is_dir() && !known.contains(&n) {
            bad.push(format!("rw layer overlay2/{n} of no container"));
        }
    }
    for n in names(&d.data_root.join("containers")) {
        if !known.contains(&n) {
            bad.push(format!("directory containers/{n} of no container"));
        }
    }
    for n in names(&d.exec_root.join("containers")) {
        if !known.contains(&n) {
            bad.push(format!("state dir {n} of no container"));
        }
    }
    let of_running = |s: &str| running.iter().any(|id| s.contains(id.as_str()));
    for m in leak::mounts_under(&d.dir) {
        if !of_running(&m) {
            bad.push(format!("mount {m}"));
        }
    }
    let me = d.pid();
    // The test's own helpers (registries) keep their files in `tmp()`.
    let helpers = d.tmp().display().to_string();
    for (pid, cmd) in leak::processes_under(&d.dir) {
        if cmd.contains(&helpers) {
            continue;
        }
        let root = std::fs::read_link(format!("/proc/{pid}/root"))
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        if Some(pid) != me && !of_running(&cmd) && !of_running(&root) {
            bad.push(format!("process {pid}: {cmd}"));
        }
    }
    for id in &known {
        if !running.contains(id) && has_cgroup(id) {
            bad.push(format!("cgroup of {id}, which does not run"));
        }
    }
    let ports = bridge_ports(d);
    if ports > running.len() {
        bad.push(format!(
            "{ports} ports on {} for {} running containers",
            d.net_name,
            running.len()
        ));
    }
    bad
}

/// Whether a cgroup of container `id` exists: cgroup v1 controllers or
/// the v2 tree, under berthd's `/berth` or dockerd's `/docker` parent.
pub fn has_cgroup(id: &str) -> bool {
    let roots = [
        "", "memory/", "pids/", "cpu/", "devices/", "freezer/", "unified/",
    ];
    roots.iter().any(|r| {
        ["berth", "docker"]
            .iter()
            .any(|p| Path::new(&format!("/sys/fs/cgroup/{r}{p}/{id}")).exists())
    })
}

/// Links enslaved to the daemon's default bridge (the host ends of veths).
pub fn bridge_ports(d: &Daemon) -> usize {
    let o = d.host_sh(&format!("ip -o link show master {}", d.net_name));
    o.stdout.lines().filter(|l| !l.trim().is_empty()).count()
}
