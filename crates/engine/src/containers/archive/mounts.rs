//! A stopped container's volumes and bind mounts, mounted over its rootfs
//! for one `docker cp`, as dockerd does (`daemon.mountVolumes`): without
//! them a path under a mount point would be the empty directory of the
//! image, and a copy in would land in the rootfs, hidden at the next start.
//! A running container needs none of this: its `/proc/<pid>/root` already
//! shows its mounts.

use std::path::{Path, PathBuf};

use berth_api::{Error, Result};
use nix::mount::{mount, umount2, MntFlags, MsFlags};

use crate::containers::container::{Record, Status};
use crate::containers::mounts::{resolve_in_root, Kind, MountPoint};

/// Mounts made over a rootfs for one operation, undone (deepest first) on
/// drop.
#[derive(Default)]
pub struct OpMounts {
    targets: Vec<PathBuf>,
    /// Run last: releases the device volumes mounted for the copy.
    pub(super) after: Option<Box<dyn FnOnce() + Send>>,
}

impl Drop for OpMounts {
    fn drop(&mut self) {
        for t in self.targets.drain(..).rev() {
            if let Err(e) = umount2(&t, MntFlags::MNT_DETACH) {
                tracing::warn!(target = %t.display(), "unmounting after cp: {e}");
            }
        }
        if let Some(f) = self.after.take() {
            f();
        }
    }
}

impl OpMounts {
    /// Binds each of `points` (their host paths from `source_of`) at its
    /// destination under `rootfs`, parents before children, read-only
    /// where the mount is. tmpfs mounts are skipped: a stopped container's
    /// tmpfs holds nothing.
    pub fn bind_over(
        rootfs: &Path,
        points: &[MountPoint],
        source_of: impl Fn(&MountPoint) -> Result<String>,
    ) -> Result<OpMounts> {
        let mut made = OpMounts::default();
        let mut points: Vec<&MountPoint> =
            points.iter().filter(|m| m.kind != Kind::Tmpfs).collect();
        points.sort_by_key(|m| m.destination.split('/').filter(|s| !s.is_empty()).count());
        for m in points {
            let source = source_of(m)?;
            let Ok(meta) = std::fs::metadata(&source) else {
                // A bind source removed since: dockerd fails the start, not a cp.
                continue;
            };
            let target = resolve_in_root(rootfs, &m.destination)?;
            if target == rootfs {
                continue;
            }
            if meta.is_dir() {
                std::fs::create_dir_all(&target)?;
            } else if std::fs::symlink_metadata(&target).is_err() {
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::File::create(&target)?;
            }
            let fail = |e: nix::errno::Errno| {
                Error::internal(format!("mounting {} for the copy: {e}", m.destination))
            };
            mount(
                Some(source.as_str()),
                &target,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
            .map_err(fail)?;
            made.targets.push(target.clone());
            // Private, so nothing mounted under it reaches the host's tree.
            mount(
                None::<&str>,
                &target,
                None::<&str>,
                MsFlags::MS_PRIVATE | MsFlags::MS_REC,
                None::<&str>,
            )
            .map_err(fail)?;
            if !m.rw {
                mount(
                    None::<&str>,
                    &target,
                    None::<&str>,
                    MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
                    None::<&str>,
                )
                .map_err(fail)?;
            }
        }
        Ok(made)
    }
}

/// dockerd's check before a copy in (`checkIfPathIsInAVolume`): a path under
/// a read-only mount is refused, and a read-only rootfs refuses only paths
/// under no mount.
pub fn check_writable(r: &Record, path: &str) -> Result<()> {
    let abs = clean_abs(path);
    let under = r
        .mount_points
        .iter()
        .find(|m| abs.starts_with(clean_abs(&m.destination)));
    match under {
        Some(m) if !m.rw => Err(Error::internal("mounted volume is marked read-only")),
        Some(_) => Ok(()),
        None if r.host_config.readonly_rootfs => Err(Error::new(
            berth_api::ErrorKind::Forbidden,
            "container rootfs is marked read-only",
        )),
        None => Ok(()),
    }
}

/// Whether the container's mounts must be made for a cp (it is not running).
pub fn needs_op_mounts(r: &Record) -> bool {
    let running = r.state.status == Status::Running && r.state.pid > 0;
    !running && !r.mount_points.is_empty()
}

fn clean_abs(p: &str) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in Path::new(p).components() {
        match c {
            std::path::Component::Normal(n) => out.push(n),
            std::path::Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_abs_is_lexical() {
        assert_eq!(clean_abs("data/../ro/x/"), PathBuf::from("/ro/x"));
        assert!(clean_abs("/ro/x").starts_with(clean_abs("/ro")));
        assert!(!clean_abs("/rox").starts_with(clean_abs("/ro")));
    }
}
