//! The `overlay2` driver: a container's rootfs is an overlay mount at
//! `overlay2/<container-id>/merged`, the image's layers (through the short
//! `overlay2/l/<link>` names) as lower dirs and the container's `diff` as
//! the upper dir, as dockerd's overlay2 lays it out.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use berth_api::{Error, Result};
use indexmap::IndexMap;

use super::{is_mount_point, StorageDriver};
use crate::{unpack, Change, RwLayer};

#[derive(Debug, Clone, Copy)]
pub struct Overlay2;

/// Whether the kernel knows overlayfs (`/proc/filesystems`).
pub fn overlay_supported() -> bool {
    fs::read_to_string("/proc/filesystems")
        .map(|s| {
            s.lines()
                .any(|l| l.split_whitespace().last() == Some("overlay"))
        })
        .unwrap_or(false)
}

/// The filesystem under the data root, as dockerd names it in
/// `Backing Filesystem`.
fn backing_filesystem(root: &Path) -> &'static str {
    use nix::sys::statfs;
    match statfs::statfs(root).map(|s| s.filesystem_type()) {
        Ok(t) if t == statfs::EXT4_SUPER_MAGIC => "extfs",
        Ok(t) if t == statfs::XFS_SUPER_MAGIC => "xfs",
        Ok(t) if t == statfs::BTRFS_SUPER_MAGIC => "btrfs",
        Ok(t) if t == statfs::TMPFS_MAGIC => "tmpfs",
        Ok(t) if t == statfs::OVERLAYFS_SUPER_MAGIC => "overlayfs",
        Ok(t) if t.0 == 0x2fc1_2fc1 => "zfs",
        _ => "<unknown>",
    }
}

impl StorageDriver for Overlay2 {
    fn name(&self) -> &'static str {
        "overlay2"
    }

    /// As dockerd's overlay2 reports it.
    fn status(&self, root: &Path) -> Vec<[String; 2]> {
        let metacopy = fs::read_to_string("/sys/module/overlay/parameters/metacopy")
            .map(|s| s.trim() == "Y")
            .unwrap_or(false);
        [
            ("Backing Filesystem", backing_filesystem(root)),
            ("Supports d_type", "true"),
            ("Using metacopy", if metacopy { "true" } else { "false" }),
            ("Native Overlay Diff", "true"),
            ("userxattr", "false"),
        ]
        .iter()
        .map(|(k, v)| [k.to_string(), v.to_string()])
        .collect()
    }

    fn rootfs_dir(&self, _root: &Path, layer_dir: &Path, _container_id: &str) -> PathBuf {
        layer_dir.join("merged")
    }

    /// Nothing to make: the record dir's `diff`, `work` and `merged` are
    /// all an overlay needs, and it is mounted at start.
    fn prepare(&self, _layer: &RwLayer) -> Result<()> {
        Ok(())
    }

    fn mount(&self, layer: &RwLayer) -> Result<()> {
        if self.is_mounted(layer) {
            return Ok(());
        }
        fs::create_dir_all(&layer.merged)?;
        nix::mount::mount(
            Some("overlay"),
            &layer.merged,
            Some("overlay"),
            nix::mount::MsFlags::empty(),
            Some(layer.mount_data().as_str()),
        )
        .map_err(|e| {
            Error::internal(format!(
                "mounting the container rootfs at {}: {e}",
                layer.merged.display()
            ))
        })
    }

    /// Detaches lazily: a process that still has a file open inside (a
    /// `docker cp` racing a stop) must not make the unmount fail.
    fn unmount(&self, layer: &RwLayer) -> Result<()> {
        if !self.is_mounted(layer) {
            return Ok(());
        }
        nix::mount::umount2(&layer.merged, nix::mount::MntFlags::MNT_DETACH)
            .map_err(|e| Error::internal(format!("unmounting {}: {e}", layer.merged.display())))
    }

    fn is_mounted(&self, layer: &RwLayer) -> bool {
        is_mount_point(&layer.merged)
    }

    /// The upper dir holds exactly the container's changes.
    fn size_rw(&self, layer: &RwLayer) -> Result<i64> {
        Ok(unpack::tree_size(&layer.upperdir))
    }

    fn changes(&self, layer: &RwLayer) -> Result<Vec<Change>> {
        layer.upper_changes()
    }

    fn write_diff(&self, layer: &RwLayer, dst: &mut dyn Write) -> Result<usize> {
        layer.upper_diff_tar(dst)
    }

    /// The lower layers' `diff` dirs (resolved), and the container's own
    /// dirs.
    fn container_data(&self, layer: &RwLayer) -> IndexMap<String, String> {
        let lower: Vec<String> = layer
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
        data.insert("MergedDir".to_string(), layer.merged.display().to_string());
        data.insert("UpperDir".to_string(), layer.upperdir.display().to_string());
        data.insert("WorkDir".to_string(), layer.workdir.display().to_string());
        data
    }

    /// The top layer's dirs, the others as `LowerDir` (keys sorted, as Go
    /// prints a map).
    fn image_data(&self, layer_dirs: &[PathBuf]) -> Option<IndexMap<String, String>> {
        let (top, lower) = layer_dirs.split_first()?;
        let mut data = IndexMap::new();
        if !lower.is_empty() {
            let lower: Vec<String> = lower
                .iter()
                .map(|d| d.join("diff").display().to_string())
                .collect();
            data.insert("LowerDir".to_string(), lower.join(":"));
        }
        for (key, dir) in [
            ("MergedDir", "merged"),
            ("UpperDir", "diff"),
            ("WorkDir", "work"),
        ] {
            data.insert(key.to_string(), top.join(dir).display().to_string());
        }
        Some(data)
    }

    /// The mount, if a crash or a kill left it; the dirs are the store's.
    fn remove(&self, _root: &Path, layer_dir: &Path, _container_id: &str) -> Result<()> {
        let merged = layer_dir.join("merged");
        if is_mount_point(&merged) {
            nix::mount::umount2(&merged, nix::mount::MntFlags::MNT_DETACH)
                .map_err(|e| Error::internal(format!("unmounting {}: {e}", merged.display())))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::test_layer;
    use crate::ChangeKind;

    /// A real overlay mount: the container sees the image's files, its
    /// writes land in the upper dir only, and diff, commit, size and
    /// removal read them from there.
    #[test]
    fn mounts_an_overlay_whose_writes_land_in_the_upper_dir() {
        if !berth_testkit::is_root() || !overlay_supported() {
            eprintln!("SKIPPED: mounting an overlay needs root and overlayfs");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let layer = test_layer(tmp.path(), &Overlay2);
        let dir = tmp.path().join("overlay2/c1");
        assert_eq!(layer.merged, dir.join("merged"));
        assert_eq!(Overlay2.status(tmp.path()).len(), 5);
        Overlay2.prepare(&layer).unwrap();
        assert!(!Overlay2.is_mounted(&layer), "prepare mounts nothing");

        Overlay2.mount(&layer).unwrap();
        Overlay2.mount(&layer).unwrap(); // already mounted: a no-op
        let unmount_on_panic = scopeguard(&layer.merged);
        assert!(Overlay2.is_mounted(&layer));
        let root = &layer.merged;
        assert_eq!(
            fs::read_to_string(root.join("etc/image-file")).unwrap(),
            "from the image\n"
        );
        fs::write(root.join("new"), vec![1u8; 3000]).unwrap();
        fs::remove_file(root.join("keep")).unwrap();
        assert!(layer.upperdir.join("new").is_file());
        assert!(!tmp.path().join("overlay2/img/diff/new").exists());
        assert!(Overlay2.size_rw(&layer).unwrap() >= 3000);

        let changes = Overlay2.changes(&layer).unwrap();
        let kinds: Vec<(&str, ChangeKind)> =
            changes.iter().map(|c| (c.path.as_str(), c.kind)).collect();
        assert_eq!(
            kinds,
            [("/keep", ChangeKind::Deleted), ("/new", ChangeKind::Added)]
        );
        let mut tar_bytes = Vec::new();
        assert_eq!(Overlay2.write_diff(&layer, &mut tar_bytes).unwrap(), 2);
        let mut names: Vec<String> = tar::Archive::new(tar_bytes.as_slice())
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        names.sort();
        assert_eq!(names, [".wh.keep", "new"]);

        let data = Overlay2.container_data(&layer);
        assert_eq!(data["UpperDir"], layer.upperdir.display().to_string());
        assert_eq!(data["MergedDir"], root.display().to_string());

        Overlay2.unmount(&layer).unwrap();
        assert!(!Overlay2.is_mounted(&layer));
        Overlay2.unmount(&layer).unwrap(); // not mounted: a no-op
                                           // Removal detaches a mount a crash left behind.
        Overlay2.mount(&layer).unwrap();
        Overlay2.remove(tmp.path(), &dir, "c1").unwrap();
        assert!(!Overlay2.is_mounted(&layer));
        drop(unmount_on_panic);
    }

    #[test]
    fn image_data_names_the_top_layer_and_the_lower_ones() {
        let dirs = [
            PathBuf::from("/d/overlay2/top"),
            PathBuf::from("/d/overlay2/base"),
        ];
        let data = Overlay2.image_data(&dirs).unwrap();
        let keys: Vec<&str> = data.keys().map(String::as_str).collect();
        assert_eq!(keys, ["LowerDir", "MergedDir", "UpperDir", "WorkDir"]);
        assert_eq!(data["LowerDir"], "/d/overlay2/base/diff");
        assert_eq!(data["UpperDir"], "/d/overlay2/top/diff");
        let one = Overlay2.image_data(&dirs[..1]).unwrap();
        assert!(!one.contains_key("LowerDir"));
        assert!(Overlay2.image_data(&[]).is_none());
    }

    /// Detaches the mount at `merged` when a failed assertion unwinds, so a
    /// red test leaves no mount behind.
    fn scopeguard(merged: &Path) -> impl Drop + '_ {
        struct Guard<'a>(&'a Path);
        impl Drop for Guard<'_> {
            fn drop(&mut self) {
                if is_mount_point(self.0) {
                    let _ = nix::mount::umount2(self.0, nix::mount::MntFlags::MNT_DETACH);
                }
            }
        }
        Guard(merged)
    }
}
