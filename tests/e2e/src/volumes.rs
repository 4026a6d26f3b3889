//! Helpers shared by the `volumes*` tests.

use crate::Daemon;

/// The names `docker volume ls -q` lists, sorted.
pub fn volume_names(d: &Daemon) -> Vec<String> {
    let o = d.docker(&["volume", "ls", "-q"]);
    o.ok();
    let mut v: Vec<String> = o.lines().iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}
