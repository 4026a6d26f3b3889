//! The `vfs` driver (`storage-driver: vfs`, or when overlayfs is missing)
//! mounts nothing: a container's rootfs is a plain directory,
//! `vfs/dir/<container-id>`, made at create by copying the image's layers
//! bottom-up and applying their whiteouts, as dockerd's vfs driver copies
//! its parent layer. Written by hand: no crate applies overlay-format
//! diffs onto a directory.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use berth_api::{Error, Result};
use indexmap::IndexMap;

use super::{remove_tree, StorageDriver};
use crate::{unpack, Change, RwLayer};

#[derive(Debug, Clone, Copy)]
pub struct Vfs;

/// Where the vfs driver keeps the size of a fresh copy (in the record
/// dir), so `SizeRw` is the copy's growth.
fn base_size_file(layer: &RwLayer) -> PathBuf {
    layer.upperdir.with_file_name("vfs-base-size")
}

impl StorageDriver for Vfs {
    fn name(&self) -> &'static str {
        "vfs"
    }

    /// dockerd's vfs driver reports no status lines.
    fn status(&self, _root: &Path) -> Vec<[String; 2]> {
        vec![]
    }

    fn rootfs_dir(&self, root: &Path, _layer_dir: &Path, container_id: &str) -> PathBuf {
        root.join("vfs").join("dir").join(container_id)
    }

    /// Copies the layers (without the empty stand-in for `scratch`) and
    /// records the copy's size.
    fn prepare(&self, layer: &RwLayer) -> Result<()> {
        let lowers: Vec<PathBuf> = layer
            .lowerdirs
            .iter()
            .filter(|l| !l.ends_with("empty"))
            .cloned()
            .collect();
        if let Some(dir) = layer.merged.parent() {
            fs::create_dir_all(dir)?;
        }
        build_rootfs(&lowers, &layer.merged)?;
        let base = unpack::tree_size(&layer.merged);
        fs::write(base_size_file(layer), base.to_string())?;
        Ok(())
    }

    /// The copy is made at create; a missing one (a crash between
    /// create's steps) is made again from the layers.
    fn mount(&self, layer: &RwLayer) -> Result<()> {
        if !layer.merged.is_dir() {
            build_rootfs(&layer.lowerdirs, &layer.merged)?;
        }
        Ok(())
    }

    /// Nothing is mounted.
    fn unmount(&self, _layer: &RwLayer) -> Result<()> {
        Ok(())
    }

    fn is_mounted(&self, layer: &RwLayer) -> bool {
        layer.merged.is_dir()
    }

    /// A copy has no upper dir: its growth over the size it had when made.
    fn size_rw(&self, layer: &RwLayer) -> Result<i64> {
        let base: i64 = fs::read_to_string(base_size_file(layer))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        Ok((unpack::tree_size(&layer.merged) - base).max(0))
    }

    /// A copy keeps no record of what changed.
    fn changes(&self, _layer: &RwLayer) -> Result<Vec<Change>> {
        Err(Error::internal(
            "docker diff is not supported with the vfs storage driver",
        ))
    }

    fn write_diff(&self, _layer: &RwLayer, _dst: &mut dyn Write) -> Result<usize> {
        Err(Error::internal(
            "docker commit is not supported with the vfs storage driver",
        ))
    }

    /// dockerd's vfs driver prints no data.
    fn container_data(&self, _layer: &RwLayer) -> IndexMap<String, String> {
        IndexMap::new()
    }

    fn image_data(&self, _layer_dirs: &[PathBuf]) -> Option<IndexMap<String, String>> {
        None
    }

    /// The copy.
    fn remove(&self, root: &Path, layer_dir: &Path, container_id: &str) -> Result<()> {
        remove_tree(&self.rootfs_dir(root, layer_dir, container_id))
    }
}

/// Makes `dst` the union of `lowers` (top first, overlay-format diffs):
/// copied into a temporary sibling, then renamed, so a crash never leaves
/// a half-made rootfs under the final name.
pub(crate) fn build_rootfs(lowers: &[PathBuf], dst: &Path) -> Result<()> {
    let tmp = dst.with_extension("tmp");
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp)?;
    let made = (|| -> Result<()> {
        for layer in lowers.iter().rev() {
            apply(layer, &tmp)?;
        }
        if let Some(top) = lowers.first() {
            copy_meta(&fs::symlink_metadata(top)?, &tmp)?;
        } else {
            fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755))?;
        }
        Ok(())
    })();
    if let Err(e) = made {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }
    let _ = fs::remove_dir_all(dst);
    fs::rename(&tmp, dst)?;
    Ok(())
}

fn io(path: &Path, e: std::io::Error) -> Error {
    Error::internal(format!("vfs: {}: {e}", path.display()))
}

fn remove_any(p: &Path) -> Result<()> {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(p).map_err(|e| io(p, e)),
        Ok(_) => fs::remove_file(p).map_err(|e| io(p, e)),
        Err(_) => Ok(()),
    }
}

fn is_opaque(dir: &Path) -> bool {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let (Ok(p), Ok(n)) = (
        CString::new(dir.as_os_str().as_bytes()),
        CString::new("trusted.overlay.opaque"),
    ) else {
        return false;
    };
    let mut buf = [0u8; 4];
    // SAFETY: both strings are NUL-terminated and live for the call; buf is
    // a valid writable buffer of the length given.
    let r = unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    r == 1 && buf[0] == b'y'
}

/// Owner, then mode (a chown clears set-id bits), of `dst` from `md`.
fn copy_meta(md: &fs::Metadata, dst: &Path) -> Result<()> {
    std::os::unix::fs::lchown(dst, Some(md.uid()), Some(md.gid())).map_err(|e| io(dst, e))?;
    if !md.file_type().is_symlink() {
        fs::set_permissions(dst, fs::Permissions::from_mode(md.mode() & 0o7777))
            .map_err(|e| io(dst, e))?;
    }
    Ok(())
}

/// Applies one overlay-format diff `src` onto the tree `dst`.
fn apply(src: &Path, dst: &Path) -> Result<()> {
    for entry in fs::read_dir(src).map_err(|e| io(src, e))? {
        let entry = entry.map_err(|e| io(src, e))?;
        let from = entry.path();
        let to = dst.join(entry.file_name());
        let md = fs::symlink_metadata(&from).map_err(|e| io(&from, e))?;
        let ft = md.file_type();
        if ft.is_char_device() && md.rdev() == 0 {
            // A whiteout: the lower layers' entry is deleted.
            remove_any(&to)?;
            continue;
        }
        if ft.is_dir() {
            let keep = fs::symlink_metadata(&to).is_ok_and(|m| m.is_dir()) && !is_opaque(&from);
            if !keep {
                remove_any(&to)?;
                fs::create_dir(&to).map_err(|e| io(&to, e))?;
            }
            apply(&from, &to)?;
            copy_meta(&md, &to)?;
            continue;
        }
        remove_any(&to)?;
        if ft.is_symlink() {
            let target = fs::read_link(&from).map_err(|e| io(&from, e))?;
            std::os::unix::fs::symlink(target, &to).map_err(|e| io(&to, e))?;
        } else if ft.is_file() {
            fs::copy(&from, &to).map_err(|e| io(&to, e))?;
        } else {
            let kind = if ft.is_char_device() {
                nix::sys::stat::SFlag::S_IFCHR
            } else if ft.is_block_device() {
                nix::sys::stat::SFlag::S_IFBLK
            } else if ft.is_fifo() {
                nix::sys::stat::SFlag::S_IFIFO
            } else {
                continue; // sockets are not content
            };
            nix::sys::stat::mknod(
                &to,
                kind,
                nix::sys::stat::Mode::from_bits_truncate(md.mode() & 0o7777),
                md.rdev(),
            )
            .map_err(|e| Error::internal(format!("vfs: mknod {}: {e}", to.display())))?;
        }
        copy_meta(&md, &to)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_apply_bottom_up_with_whiteouts() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().join("base");
        let top = tmp.path().join("top");
        fs::create_dir_all(base.join("etc/keep")).unwrap();
        fs::create_dir_all(base.join("opq")).unwrap();
        fs::write(base.join("etc/keep/a"), "a").unwrap();
        fs::write(base.join("etc/gone"), "x").unwrap();
        fs::write(base.join("opq/old"), "o").unwrap();
        fs::write(base.join("file"), "v1").unwrap();
        fs::create_dir_all(top.join("etc")).unwrap();
        fs::create_dir_all(top.join("opq")).unwrap();
        nix::sys::stat::mknod(
            &top.join("etc/gone"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::empty(),
            0,
        )
        .unwrap();
        {
            use std::ffi::CString;
            use std::os::unix::ffi::OsStrExt;
            let p = CString::new(top.join("opq").as_os_str().as_bytes()).unwrap();
            let n = CString::new("trusted.overlay.opaque").unwrap();
            // SAFETY: NUL-terminated strings and a one-byte value.
            let r = unsafe { libc::lsetxattr(p.as_ptr(), n.as_ptr(), b"y".as_ptr().cast(), 1, 0) };
            assert_eq!(r, 0, "setting trusted.* needs root");
        }
        fs::write(top.join("opq/new"), "n").unwrap();
        fs::write(top.join("file"), "v2").unwrap();
        fs::set_permissions(top.join("file"), fs::Permissions::from_mode(0o4755)).unwrap();
        std::os::unix::fs::symlink("file", top.join("link")).unwrap();

        let dst = tmp.path().join("rootfs");
        build_rootfs(&[top.clone(), base.clone()], &dst).unwrap();
        assert_eq!(fs::read_to_string(dst.join("etc/keep/a")).unwrap(), "a");
        assert!(!dst.join("etc/gone").exists());
        assert!(!dst.join("opq/old").exists());
        assert_eq!(fs::read_to_string(dst.join("opq/new")).unwrap(), "n");
        assert_eq!(fs::read_to_string(dst.join("file")).unwrap(), "v2");
        assert_eq!(
            fs::metadata(dst.join("file")).unwrap().mode() & 0o7777,
            0o4755
        );
        assert_eq!(fs::read_link(dst.join("link")).unwrap(), Path::new("file"));
        assert!(!dst.with_extension("tmp").exists());
    }

    /// A real copy: nothing is mounted, writes stay in the copy and count
    /// as its size, a lost copy is made again, diff and commit are
    /// refused, and removal deletes the copy.
    #[test]
    fn copies_the_layers_and_mounts_nothing() {
        if !berth_testkit::is_root() {
            eprintln!("SKIPPED: copying layers keeps owners only as root");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let layer = crate::driver::test_layer(tmp.path(), &Vfs);
        let dir = tmp.path().join("overlay2/c1");
        assert_eq!(layer.merged, tmp.path().join("vfs/dir/c1"));
        assert!(Vfs.status(tmp.path()).is_empty());
        assert!(!Vfs.is_mounted(&layer));

        Vfs.prepare(&layer).unwrap();
        assert!(Vfs.is_mounted(&layer));
        Vfs.mount(&layer).unwrap();
        let root = &layer.merged;
        assert_eq!(
            fs::read_to_string(root.join("etc/image-file")).unwrap(),
            "from the image\n"
        );
        assert!(!fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .contains(&tmp.path().display().to_string()));
        assert_eq!(Vfs.size_rw(&layer).unwrap(), 0);
        fs::write(root.join("new"), vec![1u8; 3000]).unwrap();
        assert!(Vfs.size_rw(&layer).unwrap() >= 3000);
        assert!(!tmp.path().join("overlay2/img/diff/new").exists());

        assert!(Vfs.changes(&layer).is_err());
        assert!(Vfs.write_diff(&layer, &mut Vec::new()).is_err());
        assert!(Vfs.container_data(&layer).is_empty());
        assert!(Vfs.image_data(std::slice::from_ref(&dir)).is_none());

        // A copy a crash lost is made again from the layers at mount.
        fs::remove_dir_all(root).unwrap();
        Vfs.mount(&layer).unwrap();
        assert!(root.join("keep").is_file());
        Vfs.unmount(&layer).unwrap();
        assert!(root.is_dir(), "unmount keeps the copy");

        Vfs.remove(tmp.path(), &dir, "c1").unwrap();
        assert!(!root.exists());
        Vfs.remove(tmp.path(), &dir, "c1").unwrap(); // gone: not an error
    }
}
