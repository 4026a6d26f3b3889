//! Containers' read-write layers: `overlay2/<container-id>/{diff,work,merged,lower}`
//! over the image's read-only layers.

use std::fs;
use std::path::{Path, PathBuf};

use berth_api::{Error, Result};
use indexmap::IndexMap;
use rusqlite::{params, OptionalExtension};

use crate::{db_err, unpack, ImageStore};

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
    /// Made by the vfs driver (a copy, nothing to mount).
    pub vfs: bool,
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

    pub fn is_mounted(&self) -> bool {
        if self.vfs {
            return self.merged.is_dir();
        }
        is_mount_point(&self.merged)
    }

    /// Mounts the overlay at `merged`; does nothing when already mounted.
    pub fn mount(&self) -> Result<()> {
        if self.vfs {
            // The copy is made at create; a missing one (a crash between
            // create's steps) is made again from the layers.
            if !self.merged.is_dir() {
                crate::vfs::build_rootfs(&self.lowerdirs, &self.merged)?;
            }
            return Ok(());
        }
        if self.is_mounted() {
            return Ok(());
        }
        fs::create_dir_all(&self.merged)?;
        nix::mount::mount(
            Some("overlay"),
            &self.merged,
            Some("overlay"),
            nix::mount::MsFlags::empty(),
            Some(self.mount_data().as_str()),
        )
        .map_err(|e| {
            Error::internal(format!(
                "mounting the container rootfs at {}: {e}",
                self.merged.display()
            ))
        })
    }

    /// Detaches the overlay at `merged`; does nothing when not mounted.
    pub fn unmount(&self) -> Result<()> {
        if self.vfs || !self.is_mounted() {
            return Ok(());
        }
        nix::mount::umount2(&self.merged, nix::mount::MntFlags::MNT_DETACH)
            .map_err(|e| Error::internal(format!("unmounting {}: {e}", self.merged.display())))
    }

    /// `GraphDriver.Data` as dockerd prints it: the lower layers' `diff`
    /// dirs (resolved), and the container's own dirs.
    pub fn graph_driver_data(&self) -> IndexMap<String, String> {
        if self.vfs {
            return IndexMap::new();
        }
        let lower: Vec<String> = self
            .lowerdirs
            .iter()
            .map(|p| {
                fs::canonicalize(p)
                    .unwrap_or_else(|_| p.clone())
                    .display()
                    .to_string()
            })
            .collect();
        let mut data = IndexMap::new();
        // dockerd lists the rw layer's `-init` layer first; berth has none.
        data.insert("LowerDir".to_string(), lower.join(":"));
        data.insert("MergedDir".to_string(), self.merged.display().to_string());
        data.insert("UpperDir".to_string(), self.upperdir.display().to_string());
        data.insert("WorkDir".to_string(), self.workdir.display().to_string());
        data
    }

    /// Where the vfs driver keeps the size of a fresh copy.
    fn vfs_base_file(&self) -> PathBuf {
        self.upperdir.with_file_name("vfs-base-size")
    }

    /// The size of the container's changes (dockerd's `SizeRw`).
    pub fn size_rw(&self) -> Result<i64> {
        if self.vfs {
            // A copy has no upper dir: its growth over the size it had when made.
            let base: i64 = fs::read_to_string(self.vfs_base_file())
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0);
            return Ok((unpack::tree_size(&self.merged) - base).max(0));
        }
        Ok(unpack::tree_size(&self.upperdir))
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
        let result = result.and_then(|()| {
            if self.driver != crate::vfs::Driver::Vfs {
                return Ok(());
            }
            let layer = self.rw_layer(container_id)?;
            let lowers: Vec<PathBuf> = layer
                .lowerdirs
                .iter()
                .filter(|l| !l.ends_with("empty"))
                .cloned()
                .collect();
            fs::create_dir_all(self.vfs_dir())?;
            crate::vfs::build_rootfs(&lowers, &layer.merged)?;
            let base = unpack::tree_size(&layer.merged);
            fs::write(layer.vfs_base_file(), base.to_string())?;
            Ok(())
        });
        match result {
            Ok(()) => self.rw_layer(container_id),
            Err(e) => {
                let _ = fs::remove_dir_all(&dir);
                let _ = fs::remove_dir_all(self.vfs_dir().join(container_id));
                let _ = self.conn().execute(
                    "DELETE FROM rw_layers WHERE container_id = ?1",
                    params![container_id],
                );
                Err(e)
            }
        }
    }

    /// `vfs/dir`: the vfs driver's container root filesystems.
    fn vfs_dir(&self) -> PathBuf {
        self.root().join("vfs").join("dir")
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
        let vfs = self.driver == crate::vfs::Driver::Vfs;
        Ok(RwLayer {
            lowerdirs,
            upperdir: dir.join("diff"),
            workdir: dir.join("work"),
            merged: if vfs {
                self.vfs_dir().join(container_id)
            } else {
                dir.join("merged")
            },
            vfs,
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
        let merged = dir.join("merged");
        if is_mount_point(&merged) {
            nix::mount::umount2(&merged, nix::mount::MntFlags::MNT_DETACH)
                .map_err(|e| Error::internal(format!("unmounting {}: {e}", merged.display())))?;
        }
        let copy = self.vfs_dir().join(container_id);
        if let Err(e) = fs::remove_dir_all(&copy) {
            if e.kind() != std::io::ErrorKind::NotFound {
                return Err(Error::internal(format!("removing {}: {e}", copy.display())));
            }
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
