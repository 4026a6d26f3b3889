//! Storage drivers. `overlay2` (the default where the kernel has overlayfs)
//! mounts the image's layers under the container's own upper dir. `vfs`
//! (`storage-driver: vfs`, or when overlayfs is missing) mounts nothing: a
//! container's rootfs is a plain directory, `vfs/dir/<container-id>`,
//! made at create by copying the image's layers bottom-up and applying
//! their whiteouts, as dockerd's vfs driver copies its parent layer.
//!
//! The image layers themselves stay unpacked once under `overlay2/` in
//! overlay's format (whiteouts as 0/0 character devices, opaque dirs by
//! the `trusted.overlay.opaque` attribute) with either driver, so one store
//! serves both and switching drivers keeps the images. Written by hand: no
//! crate applies overlay-format diffs onto a directory.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use berth_api::{Error, Result};

/// Which driver makes containers' root filesystems.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    Overlay2,
    Vfs,
}

impl Driver {
    /// The driver named (`overlay2`, `vfs`), or the best one this kernel
    /// has when none is named.
    pub fn choose(name: Option<&str>) -> Result<Driver> {
        match name.filter(|n| !n.is_empty()) {
            Some("overlay2") => Ok(Driver::Overlay2),
            Some("vfs") => Ok(Driver::Vfs),
            Some(other) => Err(Error::invalid(format!(
                "storage driver {other:?} is not supported (supported: overlay2, vfs)"
            ))),
            None if overlay_supported() => Ok(Driver::Overlay2),
            None => Ok(Driver::Vfs),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Driver::Overlay2 => "overlay2",
            Driver::Vfs => "vfs",
        }
    }
}

/// Whether the kernel knows overlayfs (`/proc/filesystems`).
pub fn overlay_supported() -> bool {
    fs::read_to_string("/proc/filesystems")
        .map(|s| {
            s.lines()
                .any(|l| l.split_whitespace().last() == Some("overlay"))
        })
        .unwrap_or(false)
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

    #[test]
    fn drivers_by_name() {
        assert_eq!(Driver::choose(Some("vfs")).unwrap(), Driver::Vfs);
        assert_eq!(Driver::choose(Some("overlay2")).unwrap(), Driver::Overlay2);
        assert!(Driver::choose(Some("aufs")).is_err());
        let auto = Driver::choose(None).unwrap();
        assert_eq!(auto == Driver::Overlay2, overlay_supported());
    }
}
