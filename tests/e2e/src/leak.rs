//! Finding (and, after reporting, removing) what a daemon left behind:
//! mounts, processes, network namespaces, links and nftables tables that
//! carry the test prefix.

use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

/// Mount points at or under `root`, deepest last in mount order.
pub fn mounts_under(root: &Path) -> Vec<String> {
    let r = root.to_string_lossy().into_owned();
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape)
        .filter(|mp| under(mp, &r))
        .collect()
}

fn under(p: &str, root: &str) -> bool {
    p == root || p.starts_with(&format!("{root}/"))
}

fn unescape(s: &str) -> String {
    // mountinfo escapes space, tab, newline and backslash as \ooo.
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            if let Some(Ok(v)) = s.get(i + 1..i + 4).map(|o| u8::from_str_radix(o, 8)) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Processes (other than us) whose command line, root or cwd is under `root`.
pub fn processes_under(root: &Path) -> Vec<(i32, String)> {
    let r = root.to_string_lossy().into_owned();
    let me = std::process::id() as i32;
    let mut v = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return v;
    };
    for e in rd.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        let base = e.path();
        let cmdline = std::fs::read(base.join("cmdline"))
            .map(|b| {
                String::from_utf8_lossy(&b)
                    .replace('\0', " ")
                    .trim()
                    .to_string()
            })
            .unwrap_or_default();
        let link = |n: &str| {
            std::fs::read_link(base.join(n))
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let hit = cmdline.split(' ').any(|a| {
            let a = a.trim_start_matches("unix://");
            let a = a.split_once('=').map(|(_, v)| v).unwrap_or(a);
            under(a, &r)
        }) || under(&link("root"), &r)
            || under(&link("cwd"), &r);
        if hit {
            v.push((
                pid,
                if cmdline.is_empty() {
                    link("exe")
                } else {
                    cmdline
                },
            ));
        }
    }
    v
}

/// Network namespaces in /run/netns whose name starts with `prefix`.
pub fn netns_named(prefix: &str) -> Vec<String> {
    names_in("/run/netns", prefix)
}

/// Network links in the host namespace whose name starts with `prefix`.
pub fn links_named(prefix: &str) -> Vec<String> {
    names_in("/sys/class/net", prefix)
}

fn names_in(dir: &str, prefix: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(prefix))
                .collect()
        })
        .unwrap_or_default()
}

/// nftables tables (`family name`) whose name contains `needle`.
pub fn nft_tables_containing(needle: &str) -> Vec<String> {
    let Ok(o) = Command::new("nft").args(["list", "tables"]).output() else {
        return Vec::new();
    };
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("table "))
        .filter(|t| t.split(' ').nth(1).is_some_and(|n| n.contains(needle)))
        .map(str::to_string)
        .collect()
}

/// Everything left under `root` or named with one of `names` (exact link /
/// netns names). Empty means clean.
pub fn scan(root: &Path, names: &[&str]) -> Vec<String> {
    let mut v = Vec::new();
    for m in mounts_under(root) {
        v.push(format!("mount {m}"));
    }
    for (pid, cmd) in processes_under(root) {
        v.push(format!("process {pid}: {cmd}"));
    }
    for n in names {
        for ns in netns_named(n).into_iter().filter(|x| x == n) {
            v.push(format!("netns {ns}"));
        }
        for l in links_named(n).into_iter().filter(|x| x == n) {
            v.push(format!("link {l}"));
        }
    }
    v
}

/// Waits up to `timeout` for processes under `root` to go away by themselves.
pub fn wait_processes_gone(root: &Path, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while !processes_under(root).is_empty() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(100));
    }
}

/// Kills, unmounts and deletes everything under `root` and with `names`.
pub fn force_clean(root: &Path, names: &[&str]) {
    for _ in 0..3 {
        let procs = processes_under(root);
        if procs.is_empty() {
            break;
        }
        for (pid, _) in procs {
            // SAFETY: plain kill(2) on a pid we found under our own prefix.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        thread::sleep(Duration::from_millis(300));
    }
    for _ in 0..3 {
        let mut ms = mounts_under(root);
        if ms.is_empty() {
            break;
        }
        ms.reverse();
        for m in ms {
            let _ = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
    }
    for n in names {
        if Path::new("/run/netns").join(n).exists() {
            let _ = Command::new("ip").args(["netns", "del", n]).status();
        }
        if Path::new("/sys/class/net").join(n).exists() {
            let _ = Command::new("ip").args(["link", "del", n]).status();
        }
    }
    if root.exists() {
        if let Err(e) = std::fs::remove_dir_all(root) {
            eprintln!("berth-e2e: cannot remove {}: {e}", root.display());
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn unescapes_mountinfo() {
        assert_eq!(super::unescape("/a\\040b"), "/a b");
        assert_eq!(super::unescape("/plain"), "/plain");
    }
}
