//! Containers' read-write layers: `overlay2/<container-id>/{diff,work,merged,lower}`
//! over the image's read-only layers.

use std::fs;
use std::path::PathBuf;

use berth_api::{Error, Result};
use indexmap::IndexMap;
use rusqlite::{params, OptionalExtension};

use crate::driver::{self, StorageDriver};
use crate::{db_err, ImageStore};

/// A container's read-write layer over its image's layers.
#[derive(Debug, Clone)]
pub struct RwLayer {
    /// Lower layers, top first, as absolute `overlay2/l/<short>` links.
    pub lowerdirs: Vec<PathBuf>,
    pub upperdir: PathBuf,
    pub workdir: PathBuf,
    /// The container's rootfs: the overlay's mount point, or with the vfs
    /// driver the plain directory `vfs/dir/<container-id>`.
    pub merged: PathBuf,
    /// Made by the vfs driver (a copy, nothing to mount). Kept for the
    /// engine's callers; [`RwLayer::driver_name`] says the same.
    pub vfs: bool,
    /// The driver that made it, which every driver-specific step below
    /// goes through.
    pub(crate) driver: &'static dyn StorageDriver,
}

impl RwLayer {
    /// overlayfs mount options with **absolute** paths: the short
    /// `overlay2/l/<26 chars>` links keep each lower entry near 40 bytes
    /// plus the data root, so about 90 layers fit the 4 KiB option page
    /// with a short data root. Absolute because the daemon is
    /// multi-threaded: the relative form would need a `chdir`.
    pub fn mount_data(&self) -> String {
        let lower: Vec<String> = self
            .lowerdirs
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        format!(
            "lowerdir={},upperdir={},workdir={}",
            lower.join(":"),
            self.upperdir.display(),
            self.workdir.display()
        )
    }

    /// The storage driver's name (`overlay2`, `vfs`).
    pub fn driver_name(&self) -> &'static str {
        self.driver.name()
    }

    pub fn is_mounted(&self) -> bool {
        self.driver.is_mounted(self)
    }

    /// Makes the rootfs at `merged` usable (overlay2 mounts it); does
    /// nothing when it already is.
    pub fn mount(&self) -> Result<()> {
        self.driver.mount(self)
    }

    /// Undoes [`RwLayer::mount`]; does nothing when not mounted.
    pub fn unmount(&self) -> Result<()> {
        self.driver.unmount(self)
    }

    /// `GraphDriver.Data` as dockerd prints it.
    pub fn graph_driver_data(&self) -> IndexMap<String, String> {
        self.driver.container_data(self)
    }

    /// The size of the container's changes (dockerd's `SizeRw`).
    pub fn size_rw(&self) -> Result<i64> {
        self.driver.size_rw(self)
    }
}

impl ImageStore {
    /// Creates a container's read-write layer over `image_id`'s layers
    /// (`None`: an empty rootfs, for `scratch`). Replaces a previous one of
    /// the same container id.
    pub fn create_rw_layer(&self, container_id: &str, image_id: Option<&str>) -> Result<RwLayer> {
        if container_id.is_empty()
            || container_id.len() > 128
            || !container_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            || container_id.starts_with("tmp-")
        {
            return Err(Error::invalid(format!(
                "invalid container id for a layer: {container_id:?}"
            )));
        }
        let dir = self.overlay().join(container_id);
        if self.rw_layer(container_id).is_ok() {
            self.remove_rw_layer(container_id)?;
        }
        let result = (|| {
            fs::create_dir_all(dir.join("diff"))?;
            fs::create_dir_all(dir.join("work"))?;
            fs::create_dir_all(dir.join("merged"))?;
            // Under the holds lock, so no GC runs between the lookup and the
            // row that keeps the image's layers alive.
            let _held = self.holds();
            let (image_id, top) = match image_id {
                Some(name) => {
                    let id = self.resolve_id(name)?;
                    let top: Option<String> = self
                        .conn()
                        .query_row(
                            "SELECT top_chain FROM images WHERE id = ?1",
                            params![id],
                            |r| r.get(0),
                        )
                        .map_err(db_err)?;
                    (Some(id), top)
                }
                None => (None, None),
            };
            let lower: Vec<String> = match &top {
                Some(t) => self
                    .chain_layers(t)?
                    .into_iter()
                    .map(|(_, _, link)| format!("l/{link}"))
                    .collect(),
                None => vec![],
            };
            fs::write(dir.join("lower"), lower.join(":"))?;
            self.conn()
                .execute(
                    "INSERT OR REPLACE INTO rw_layers (container_id, image_id, top_chain) \
                     VALUES (?1, ?2, ?3)",
                    params![container_id, image_id, top],
                )
                .map_err(db_err)?;
            Ok(())
        })();
        let result = result.and_then(|()| self.driver.prepare(&self.rw_layer(container_id)?));
        match result {
            Ok(()) => self.rw_layer(container_id),
            Err(e) => {
                let _ = self.driver.remove(self.root(), &dir, container_id);
                let _ = fs::remove_dir_all(&dir);
                let _ = self.conn().execute(
                    "DELETE FROM rw_layers WHERE container_id = ?1",
                    params![container_id],
                );
                Err(e)
            }
        }
    }

    /// The ids of every container that has a read-write layer (recorded
    /// or with a layer directory), so the engine can sweep those of
    /// containers a crash left without a record.
    pub fn rw_layer_ids(&self) -> Result<Vec<String>> {
        let mut ids = self.column("SELECT container_id FROM rw_layers")?;
        for e in fs::read_dir(self.overlay())?.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            // Only rw layers have `merged`; image layers never do.
            if e.path().join("merged").is_dir() && !ids.contains(&name) {
                ids.push(name);
            }
        }
        Ok(ids)
    }

    /// The read-write layer of a container.
    pub fn rw_layer(&self, container_id: &str) -> Result<RwLayer> {
        let known: Option<String> = self
            .conn()
            .query_row(
                "SELECT container_id FROM rw_layers WHERE container_id = ?1",
                params![container_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)?;
        let dir = self.overlay().join(container_id);
        let lower = known
            .and_then(|_| fs::read_to_string(dir.join("lower")).ok())
            .ok_or_else(|| {
                Error::not_found(format!("no read-write layer for container {container_id}"))
            })?;
        let mut lowerdirs: Vec<PathBuf> = lower
            .split(':')
            .filter(|s| !s.is_empty())
            .map(|s| self.overlay().join(s))
            .collect();
        if lowerdirs.is_empty() {
            // overlayfs needs a lower layer; an empty one stands for `scratch`.
            let empty = self.overlay().join("empty");
            fs::create_dir_all(&empty)?;
            lowerdirs.push(empty);
        }
        Ok(RwLayer {
            lowerdirs,
            upperdir: dir.join("diff"),
            workdir: dir.join("work"),
            merged: self.driver.rootfs_dir(self.root(), &dir, container_id),
            vfs: self.driver.name() == "vfs",
            driver: self.driver,
        })
    }

    /// Unmounts (if still mounted) and removes a container's layer, then
    /// the image layers nothing uses any more. Removing a missing layer is
    /// not an error.
    pub fn remove_rw_layer(&self, container_id: &str) -> Result<()> {
        let dir = self.overlay().join(container_id);
        if container_id.is_empty() || container_id.contains('/') || container_id.starts_with('.') {
            return Err(Error::invalid(format!(
                "invalid container id for a layer: {container_id:?}"
            )));
        }
        // Every driver's, not only the current one's: see
        // `StorageDriver::remove`.
        for driver in driver::all() {
            driver.remove(self.root(), &dir, container_id)?;
        }
        match fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Error::internal(format!("removing {}: {e}", dir.display())));
            }
        }
        self.conn()
            .execute(
                "DELETE FROM rw_layers WHERE container_id = ?1",
                params![container_id],
            )
            .map_err(db_err)?;
        self.gc_layers()?;
        Ok(())
    }
}
