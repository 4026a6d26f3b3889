//! A container's cgroup as files: where its controllers live on this host
//! (cgroup v1 or hybrid: one hierarchy per controller under
//! `/sys/fs/cgroup/<ctrl>`; pure cgroup2: one tree at `/sys/fs/cgroup`),
//! reading counters for `stats` and the OOM verdict, and writing new limits
//! for `update`. libcontainer's managers apply the limits at create; these
//! are the small reads and writes after it, kept behind our own type (youki
//! may drop v1: CRATES.md).

use std::path::{Path, PathBuf};

const ROOT: &str = "/sys/fs/cgroup";

/// The layout the host has, checked at each call (never assumed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// v1 controllers (possibly beside a cgroup2 at `/sys/fs/cgroup/unified`).
    V1,
    /// A pure cgroup2 host.
    V2,
}

impl Layout {
    pub fn detect() -> Layout {
        match nix::sys::statfs::statfs(ROOT) {
            Ok(s) if s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC => Layout::V2,
            _ => Layout::V1,
        }
    }
}

/// One container's cgroup (`cgroupsPath` of its spec, e.g. `/berth/<id>`).
#[derive(Debug, Clone)]
pub struct Cgroup {
    pub layout: Layout,
    rel: String,
}

impl Cgroup {
    pub fn new(cgroups_path: &str) -> Cgroup {
        Cgroup {
            layout: Layout::detect(),
            rel: cgroups_path.trim_start_matches('/').to_string(),
        }
    }

    /// The directory holding `controller`'s files (v1: its own hierarchy;
    /// v2: the one tree, whatever the controller).
    pub fn dir(&self, controller: &str) -> PathBuf {
        match self.layout {
            Layout::V1 => Path::new(ROOT).join(controller).join(&self.rel),
            Layout::V2 => Path::new(ROOT).join(&self.rel),
        }
    }

    pub fn read(&self, controller: &str, file: &str) -> Option<String> {
        std::fs::read_to_string(self.dir(controller).join(file)).ok()
    }

    pub fn read_u64(&self, controller: &str, file: &str) -> Option<u64> {
        self.read(controller, file)?.trim().parse().ok()
    }

    /// `key value` lines (`memory.stat`, `cpu.stat`, `memory.events`).
    pub fn read_kv(&self, controller: &str, file: &str) -> Vec<(String, u64)> {
        self.read(controller, file)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let mut it = l.split_whitespace();
                let k = it.next()?;
                let v = it.next()?.parse().ok()?;
                Some((k.to_string(), v))
            })
            .collect()
    }

    pub fn write(&self, controller: &str, file: &str, value: &str) -> std::io::Result<()> {
        let path = self.dir(controller).join(file);
        std::fs::write(&path, value).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("writing {value} to {}: {e}", path.display()),
            )
        })
    }

    pub fn exists(&self) -> bool {
        self.dir("memory").is_dir()
    }

    /// How many times the kernel's OOM killer killed a process of this
    /// cgroup: v1 `memory.oom_control` `oom_kill` (kernel 4.13+), v2
    /// `memory.events` `oom_kill`.
    pub fn oom_kills(&self) -> u64 {
        let file = match self.layout {
            Layout::V1 => "memory.oom_control",
            Layout::V2 => "memory.events",
        };
        self.read_kv("memory", file)
            .into_iter()
            .find(|(k, _)| k == "oom_kill")
            .map(|(_, v)| v)
            .unwrap_or(0)
    }

    /// Kills what is left in the cgroup and removes its directories (every
    /// v1 hierarchy, or the v2 one), for a container whose runtime never
    /// got to delete it (its shim was killed). Best effort.
    pub fn kill_and_remove(&self) {
        for pid in self.procs() {
            // SAFETY: kill(2) of a pid listed in this container's cgroup.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        let dirs: Vec<PathBuf> = match self.layout {
            Layout::V2 => vec![self.dir("")],
            Layout::V1 => std::fs::read_dir(ROOT)
                .map(|rd| rd.flatten().map(|e| e.path().join(&self.rel)).collect())
                .unwrap_or_default(),
        };
        for d in dirs.into_iter().filter(|d| d.is_dir()) {
            // A killed process leaves its cgroup a moment after the signal.
            for _ in 0..20 {
                if std::fs::remove_dir(&d).is_ok() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(25));
            }
        }
    }

    /// The pids in the cgroup (`cgroup.procs` of the pids controller).
    pub fn procs(&self) -> Vec<i32> {
        self.read("pids", "cgroup.procs")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_layout() {
        let v1 = Cgroup {
            layout: Layout::V1,
            rel: "berth/abc".into(),
        };
        assert_eq!(
            v1.dir("memory"),
            PathBuf::from("/sys/fs/cgroup/memory/berth/abc")
        );
        let v2 = Cgroup {
            layout: Layout::V2,
            rel: "berth/abc".into(),
        };
        assert_eq!(v2.dir("cpu"), PathBuf::from("/sys/fs/cgroup/berth/abc"));
    }
}
