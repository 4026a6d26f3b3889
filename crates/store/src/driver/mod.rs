//! Storage drivers: how a container's root filesystem is made from its
//! image's layers. `overlay2` (the default where the kernel has overlayfs)
//! mounts the layers under the container's own upper dir; `vfs`
//! (`storage-driver: vfs`, or when overlayfs is missing) mounts nothing and
//! copies them.
//!
//! What stays the store's, whatever the driver: the image layers, unpacked
//! once under `overlay2/<cache-id>` in overlay's format (whiteouts as 0/0
//! character devices, opaque dirs by `trusted.overlay.opaque`), so one store
//! serves both drivers and switching drivers keeps the images; and each
//! container's record dir `overlay2/<container-id>` (its `lower` chain and
//! the `diff`/`work`/`merged` dirs), made and removed by the store. A
//! driver does what differs between the two: where the rootfs is, how it
//! is made, mounted, measured and diffed, and what `docker info` and
//! `inspect` say about it.
//!
//! The drivers hold no state (everything they touch is under paths the
//! [`RwLayer`] or the data root names), so they are `'static` values and
//! an `RwLayer` carries the one that made it.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use berth_api::{Error, Result};
use indexmap::IndexMap;

use crate::{Change, RwLayer};

pub mod overlay2;
pub mod vfs;

pub use overlay2::{overlay_supported, Overlay2};
pub use vfs::Vfs;

/// What the store needs from a storage driver. The store switches on
/// nothing else: every driver-specific step goes through one of these.
pub trait StorageDriver: Send + Sync + std::fmt::Debug {
    /// The name `daemon.json`'s `storage-driver` selects it by, and that
    /// `docker info` (`Driver`) and inspect (`GraphDriver.Name`) show.
    fn name(&self) -> &'static str;

    /// `docker info`'s `DriverStatus` lines for a store under `root`.
    fn status(&self, root: &Path) -> Vec<[String; 2]>;

    /// Where a container's root filesystem lives: the engine runs the
    /// container there and copies files in and out of it. `layer_dir` is
    /// the container's record dir, `overlay2/<container-id>`.
    fn rootfs_dir(&self, root: &Path, layer_dir: &Path, container_id: &str) -> PathBuf;

    /// Makes the root filesystem at create, once the record dir and its
    /// `lower` chain exist (vfs copies the layers here: a container's
    /// first start must not wait for a copy).
    fn prepare(&self, layer: &RwLayer) -> Result<()>;

    /// Makes the root filesystem usable before a start, a commit or a
    /// copy; does nothing when it already is.
    fn mount(&self, layer: &RwLayer) -> Result<()>;

    /// Undoes [`StorageDriver::mount`] once the container stopped; does
    /// nothing when not mounted.
    fn unmount(&self, layer: &RwLayer) -> Result<()>;

    /// Whether [`StorageDriver::mount`] is in effect (callers that mount
    /// for a moment unmount again only what they mounted themselves).
    fn is_mounted(&self, layer: &RwLayer) -> bool;

    /// The size of the container's own changes (dockerd's `SizeRw`).
    fn size_rw(&self, layer: &RwLayer) -> Result<i64>;

    /// `docker diff`: the container's changes over its image.
    fn changes(&self, layer: &RwLayer) -> Result<Vec<Change>>;

    /// `docker commit`: the container's changes as a layer tar with
    /// docker whiteouts; returns the number of entries written.
    fn write_diff(&self, layer: &RwLayer, dst: &mut dyn Write) -> Result<usize>;

    /// A container's `GraphDriver.Data`, as dockerd's driver of this name
    /// prints it.
    fn container_data(&self, layer: &RwLayer) -> IndexMap<String, String>;

    /// An image's `GraphDriver.Data` from its layers' dirs
    /// (`overlay2/<cache-id>`, top first); `None` prints as `null`.
    fn image_data(&self, layer_dirs: &[PathBuf]) -> Option<IndexMap<String, String>>;

    /// Removes what this driver made for a container besides its record
    /// dir (a mount, a copy). The store calls every driver's, so a
    /// container made under the other driver (the daemon restarted with
    /// another `--storage-driver`) leaves nothing behind.
    fn remove(&self, root: &Path, layer_dir: &Path, container_id: &str) -> Result<()>;
}

/// The drivers berth has, for removal (see [`StorageDriver::remove`]).
pub fn all() -> [&'static dyn StorageDriver; 2] {
    [&Overlay2, &Vfs]
}

/// The driver named (`overlay2`, `vfs`: `daemon.json` `storage-driver`,
/// `--storage-driver`), or the best one this kernel has when none is
/// named.
pub fn choose(name: Option<&str>) -> Result<&'static dyn StorageDriver> {
    match name.filter(|n| !n.is_empty()) {
        None if overlay_supported() => Ok(&Overlay2),
        None => Ok(&Vfs),
        Some(name) => all().into_iter().find(|d| d.name() == name).ok_or_else(|| {
            Error::invalid(format!(
                "storage driver {name:?} is not supported (supported: overlay2, vfs)"
            ))
        }),
    }
}

/// Whether `target` is a mount point (per `/proc/self/mountinfo`).
pub(crate) fn is_mount_point(target: &Path) -> bool {
    let target = target.display().to_string();
    fs::read_to_string("/proc/self/mountinfo")
        .map(|m| {
            m.lines()
                .any(|l| l.split(' ').nth(4) == Some(target.as_str()))
        })
        .unwrap_or(false)
}

/// Removes a directory tree; a missing one is not an error.
fn remove_tree(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::internal(format!("removing {}: {e}", dir.display()))),
    }
}

/// A container's layer laid out as the store lays it out, under a temp
/// dir: one image layer `lower/` (with `etc/hostname-of-image` and
/// `keep`), the record dir `overlay2/c1/{diff,work,merged}`.
#[cfg(test)]
pub(crate) fn test_layer(tmp: &Path, driver: &'static dyn StorageDriver) -> RwLayer {
    let lower = tmp.join("overlay2/img/diff");
    fs::create_dir_all(lower.join("etc")).unwrap();
    fs::write(lower.join("etc/image-file"), "from the image\n").unwrap();
    fs::write(lower.join("keep"), "keep\n").unwrap();
    let dir = tmp.join("overlay2/c1");
    for d in ["diff", "work", "merged"] {
        fs::create_dir_all(dir.join(d)).unwrap();
    }
    RwLayer {
        lowerdirs: vec![lower],
        upperdir: dir.join("diff"),
        workdir: dir.join("work"),
        merged: driver.rootfs_dir(tmp, &dir, "c1"),
        vfs: driver.name() == "vfs",
        driver,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drivers_by_name() {
        assert_eq!(choose(Some("vfs")).unwrap().name(), "vfs");
        assert_eq!(choose(Some("overlay2")).unwrap().name(), "overlay2");
        assert_eq!(
            choose(Some("")).unwrap().name(),
            choose(None).unwrap().name()
        );
        let e = choose(Some("aufs")).unwrap_err();
        assert_eq!(e.kind, berth_api::ErrorKind::InvalidArgument);
        let auto = choose(None).unwrap();
        assert_eq!(auto.name() == "overlay2", overlay_supported());
    }
}
