//! Host resources several daemons may share: a bridge that more than one
//! berthd names (the default `berth0` when each keeps the default), and the
//! gateway address a daemon put on it.
//!
//! Each user holds a shared `flock` on a file named after the resource,
//! under `/run/berth/shared/net-<netns inode>/` (a bridge is per network
//! namespace, so is its lock). Whoever drops its hold and then gets the lock
//! exclusively is the last user and removes the resource while still
//! holding it, so a daemon starting meanwhile waits and then makes it anew.
//! The kernel drops the locks of a killed daemon, so a `kill -9` never leaves
//! a stale count behind (which a counter in a file would).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

/// Where the lock files live; one directory per network namespace.
const ROOT: &str = "/run/berth/shared";

/// The lock directory of the network namespace the daemon runs in.
fn netns_dir() -> std::io::Result<PathBuf> {
    let ino = std::fs::metadata("/proc/self/ns/net")?.ino();
    Ok(Path::new(ROOT).join(format!("net-{ino}")))
}

/// A lock file's name for a resource key (`bridge-berth0`, ...): anything
/// but `[A-Za-z0-9._-]` becomes `_`.
fn file_name(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// One daemon's hold on a shared resource. Dropping it releases the hold
/// without asking whether it was the last one.
pub struct Share {
    lock: Flock<File>,
    path: PathBuf,
}

/// The exclusive lock of the last user, held while it removes the resource.
/// Dropping it deletes the lock file and unlocks.
pub struct LastUser {
    _lock: Flock<File>,
    path: PathBuf,
}

impl Drop for LastUser {
    fn drop(&mut self) {
        // Unlinked while locked: a waiter that opened this file sees, once it
        // has the lock, that the path no longer names it and opens anew.
        let _ = std::fs::remove_file(&self.path);
        if let Some(dir) = self.path.parent() {
            // Fails while other resources of this netns are held: fine.
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// Takes a shared hold on `key` (blocks while a last user is removing it).
pub fn hold(key: &str) -> std::io::Result<Share> {
    loop {
        let dir = netns_dir()?;
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(file_name(key));
        let file = match OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
        {
            Ok(f) => f,
            // The directory went between the mkdir and the open (a last
            // user of another resource removed it): again.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let lock = Flock::lock(file, FlockArg::LockShared).map_err(|(_, e)| e)?;
        // The file may have been unlinked by a last user between our open
        // and our lock: then it is a dead inode, and the resource may be gone.
        let same = std::fs::metadata(&path)
            .ok()
            .zip(lock.metadata().ok())
            .is_some_and(|(p, f)| p.ino() == f.ino() && p.dev() == f.dev());
        if same {
            return Ok(Share { lock, path });
        }
    }
}

/// Whether another daemon holds `key` now: a look, not a hold (the answer
/// can change right after).
pub fn held_elsewhere(key: &str) -> bool {
    let Ok(dir) = netns_dir() else {
        return false;
    };
    let Ok(file) = File::open(dir.join(file_name(key))) else {
        return false;
    };
    Flock::lock(file, FlockArg::LockExclusiveNonblock).is_err()
}

impl Share {
    /// Drops this hold; `Some` when no other daemon holds the resource, and
    /// then nobody can take it until the returned guard is dropped.
    pub fn release(self) -> Option<LastUser> {
        let Share { lock, path } = self;
        let file = match lock.unlock() {
            Ok(f) => f,
            Err((_, e)) => {
                tracing::warn!("unlocking {}: {e}", path.display());
                return None;
            }
        };
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(l) => Some(LastUser { _lock: l, path }),
            Err(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_of_two_holders_is_told_so() {
        let key = format!("test-{:x}", rand::random::<u64>());
        let (a, b) = match (hold(&key), hold(&key)) {
            (Ok(a), Ok(b)) => (a, b),
            // Not root (no /run/berth): nothing to test here.
            _ => return,
        };
        assert!(held_elsewhere(&key));
        assert!(a.release().is_none(), "b still holds it");
        let last = b.release();
        assert!(last.is_some(), "b was the last holder");
        let path = last.as_ref().map(|l| l.path.clone()).unwrap_or_default();
        drop(last);
        assert!(!path.exists(), "the last user removes the lock file");
        assert!(!held_elsewhere(&key));
        // Taken again after the last user left: a fresh file.
        let c = hold(&key).expect("hold again");
        assert!(c.release().is_some());
    }

    #[test]
    fn names_are_safe() {
        assert_eq!(
            file_name("addr-berth0-172.17.0.1/16"),
            "addr-berth0-172.17.0.1_16"
        );
    }
}
