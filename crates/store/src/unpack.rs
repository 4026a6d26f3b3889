//! Unpacking an untrusted layer tar into a layer directory.
//!
//! Entries that climb out (`..`), absolute paths, hard links to outside,
//! and writes through a symlink (`evil -> /etc`, then `evil/passwd`) are
//! refused with an error naming the entry; nothing is written outside
//! `dest`. Symlinks themselves may point anywhere: they are only data here.
//! AUFS-style whiteouts become overlayfs whiteouts. Hand-written around the
//! `tar` crate's reader because `unpack_in` silently skips `..` entries and
//! knows nothing of whiteouts.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use berth_api::{Error, Result};
use nix::sys::stat::{mknod, Mode, SFlag};

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_MARKER: &str = ".wh..wh..opq";

fn bad(entry: &str, why: &str) -> Error {
    Error::invalid(format!("invalid layer archive: entry {entry:?} {why}"))
}

/// The entry's path as clean relative components, or an error when it
/// would leave the layer.
pub fn clean_path(raw: &Path) -> Result<PathBuf> {
    let shown = raw.display().to_string();
    let mut out = PathBuf::new();
    for c in raw.components() {
        match c {
            Component::CurDir => {}
            Component::Normal(p) => out.push(p),
            Component::ParentDir => {
                return Err(bad(&shown, "climbs out of the archive root with '..'"))
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(bad(&shown, "has an absolute path"));
            }
        }
    }
    Ok(out)
}

/// Refuses a path whose parents inside `dest` include a symlink (a write
/// through it could land anywhere).
fn check_parents(dest: &Path, rel: &Path, shown: &str) -> Result<()> {
    let mut cur = dest.to_path_buf();
    if let Some(parent) = rel.parent() {
        for c in parent.components() {
            cur.push(c);
            match fs::symlink_metadata(&cur) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(bad(shown, "would be written through a symlink"));
                }
                Ok(m) if !m.is_dir() => {
                    return Err(bad(shown, "has a parent that is not a directory"))
                }
                Ok(_) => {}
                Err(_) => {
                    fs::create_dir_all(&cur)?;
                }
            }
        }
    }
    Ok(())
}

/// Unpacks `src` into `dest` (which must exist and be empty); returns the
/// layer's size as dockerd counts it ([`tree_size`]).
pub fn unpack_layer(src: impl Read, dest: &Path) -> Result<i64> {
    let mut archive = tar::Archive::new(src);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_preserve_mtime(true);
    archive.set_unpack_xattrs(true);
    archive.set_overwrite(true);
    let mut dirs: Vec<(PathBuf, tar::Header)> = Vec::new();
    let entries = archive
        .entries()
        .map_err(|e| Error::invalid(format!("invalid layer archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| Error::invalid(format!("invalid layer archive: {e}")))?;
        let raw = entry
            .path()
            .map_err(|e| Error::invalid(format!("invalid layer archive: {e}")))?
            .into_owned();
        let shown = raw.display().to_string();
        let rel = clean_path(&raw)?;
        if rel.as_os_str().is_empty() {
            continue; // the root itself
        }
        check_parents(dest, &rel, &shown)?;
        let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let parent = dest.join(rel.parent().unwrap_or(Path::new("")));
        if name == OPAQUE_MARKER {
            xattr_set(&parent, "trusted.overlay.opaque", b"y")?;
            continue;
        }
        if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
            if hidden.starts_with(WHITEOUT_PREFIX) {
                // Other AUFS metadata (`.wh..wh.plnk`, `.wh..wh.aufs`): not content.
                continue;
            }
            if hidden.is_empty() || hidden == "." || hidden == ".." {
                return Err(bad(&shown, "is a whiteout of nothing"));
            }
            // A later entry wins (tar order): whatever this layer already
            // put at the name goes, a directory too.
            let target = parent.join(hidden);
            if let Ok(m) = fs::symlink_metadata(&target) {
                remove_existing(&target, &m)?;
            }
            mknod(&target, SFlag::S_IFCHR, Mode::empty(), 0)
                .map_err(|e| Error::internal(format!("whiteout {}: {e}", target.display())))?;
            continue;
        }
        let full = dest.join(&rel);
        let kind = entry.header().entry_type();
        // An existing non-directory is replaced; an existing directory is kept for a directory.
        if let Ok(m) = fs::symlink_metadata(&full) {
            if !(m.is_dir() && kind.is_dir()) {
                remove_existing(&full, &m)?;
            }
        }
        match kind {
            tar::EntryType::Link => {
                let target_raw = entry
                    .link_name()
                    .map_err(|e| Error::invalid(format!("invalid layer archive: {e}")))?
                    .ok_or_else(|| bad(&shown, "is a hard link without a target"))?
                    .into_owned();
                let target_rel = clean_path(&target_raw)
                    .map_err(|_| bad(&shown, "is a hard link to outside the archive root"))?;
                check_parents(dest, &target_rel, &shown)?;
                let target = dest.join(&target_rel);
                if fs::symlink_metadata(&target).is_err() {
                    return Err(bad(&shown, "is a hard link to a missing file"));
                }
                fs::hard_link(&target, &full).map_err(|e| {
                    Error::invalid(format!("invalid layer archive: hard link {shown}: {e}"))
                })?;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let h = entry.header().clone();
                let mode = h.mode().unwrap_or(0o644);
                let major = h.device_major().ok().flatten().unwrap_or(0) as u64;
                let minor = h.device_minor().ok().flatten().unwrap_or(0) as u64;
                let sflag = match kind {
                    tar::EntryType::Char => SFlag::S_IFCHR,
                    tar::EntryType::Block => SFlag::S_IFBLK,
                    _ => SFlag::S_IFIFO,
                };
                mknod(
                    &full,
                    sflag,
                    Mode::from_bits_truncate(mode),
                    nix::sys::stat::makedev(major, minor),
                )
                .map_err(|e| Error::internal(format!("creating {shown}: {e}")))?;
                let uid = h.uid().unwrap_or(0) as u32;
                let gid = h.gid().unwrap_or(0) as u32;
                std::os::unix::fs::lchown(&full, Some(uid), Some(gid))?;
                // mknod applies the umask: set the mode the archive says.
                fs::set_permissions(&full, fs::Permissions::from_mode(mode & 0o7777))?;
                apply_pax_xattrs(&mut entry, &full)?;
                set_mtime(&full, h.mtime().unwrap_or(0));
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(|e| Error::invalid(format!("invalid layer archive: {e}")))?
                    .ok_or_else(|| bad(&shown, "is a symlink without a target"))?
                    .into_owned();
                if target.as_os_str().is_empty() {
                    return Err(bad(&shown, "is a symlink without a target"));
                }
                symlink(&target, &full)?;
                let h = entry.header().clone();
                std::os::unix::fs::lchown(
                    &full,
                    Some(h.uid().unwrap_or(0) as u32),
                    Some(h.gid().unwrap_or(0) as u32),
                )?;
                apply_pax_xattrs(&mut entry, &full)?;
                set_mtime(&full, h.mtime().unwrap_or(0));
            }
            tar::EntryType::Directory => {
                fs::create_dir_all(&full)?;
                entry
                    .unpack(&full)
                    .map_err(|e| Error::internal(format!("unpacking {shown}: {e}")))?;
                // The tar crate sets no xattrs on directories.
                apply_pax_xattrs(&mut entry, &full)?;
                dirs.push((full, entry.header().clone()));
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                entry
                    .unpack(&full)
                    .map_err(|e| Error::internal(format!("unpacking {shown}: {e}")))?;
            }
            // Pax and GNU long-name headers are consumed by the reader; others carry no file.
            _ => {}
        }
    }
    // Directory modes and times last: writing their children changed the
    // times, and a read-only mode would have refused the children.
    for (path, header) in dirs.into_iter().rev() {
        if let Ok(mode) = header.mode() {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode & 0o7777))?;
        }
        set_mtime(&path, header.mtime().unwrap_or(0));
    }
    Ok(tree_size(dest))
}

/// What dockerd counts as a layer's size: the apparent size of everything
/// but directories (files, symlinks), each hard-linked inode once.
pub fn tree_size(root: &Path) -> i64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0i64;
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
                continue;
            }
            if m.nlink() > 1 && !seen.insert((m.dev(), m.ino())) {
                continue;
            }
            total += m.size() as i64;
        }
    }
    total
}

/// Sets an entry's time without following a symlink (best effort: a
/// filesystem without lutimes support keeps the current time).
fn set_mtime(path: &Path, mtime: u64) {
    let t = nix::sys::time::TimeSpec::new(mtime as i64, 0);
    let _ = nix::sys::stat::utimensat(
        None,
        path,
        &t,
        &t,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    );
}

/// The `SCHILY.xattr.*` records of an entry's PAX header, set on `path`
/// (not following a symlink). The tar crate does this for regular files
/// only.
fn apply_pax_xattrs<R: Read>(entry: &mut tar::Entry<'_, R>, path: &Path) -> Result<()> {
    let Ok(Some(exts)) = entry.pax_extensions() else {
        return Ok(());
    };
    let mut attrs = Vec::new();
    for ext in exts.flatten() {
        if let Ok(key) = ext.key() {
            if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
                attrs.push((name.to_string(), ext.value_bytes().to_vec()));
            }
        }
    }
    for (name, value) in attrs {
        xattr_set(path, &name, &value)?;
    }
    Ok(())
}

fn xattr_set(path: &Path, name: &str, value: &[u8]) -> Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let p =
        CString::new(path.as_os_str().as_bytes()).map_err(|e| Error::internal(e.to_string()))?;
    let n = CString::new(name).map_err(|e| Error::internal(e.to_string()))?;
    // SAFETY: both strings are NUL-terminated and live for the call; value is a valid slice.
    let r = unsafe {
        libc::lsetxattr(
            p.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if r != 0 {
        return Err(Error::internal(format!(
            "setting {name} on {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}

/// Removes what a layer's earlier entry left at `path` (`m` is its
/// metadata), so the later entry takes its place.
fn remove_existing(path: &Path, m: &fs::Metadata) -> std::io::Result<()> {
    if m.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, tar::EntryType, &str)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, kind, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_mode(0o755);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(1);
            match kind {
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    h.set_size(0);
                    b.append_link(&mut h, name, data).unwrap();
                }
                _ => {
                    h.set_size(data.len() as u64);
                    // Bypass the builder's path checks to write hostile names as they are.
                    let bytes = name.as_bytes();
                    h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
                    h.set_cksum();
                    b.append(&h, data.as_bytes()).unwrap();
                }
            }
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn unpacks_files_links_and_whiteouts() {
        let dir = tempfile::tempdir().unwrap();
        let t = tar_of(&[
            ("bin/", tar::EntryType::Directory, ""),
            ("bin/busybox", tar::EntryType::Regular, "elf"),
            ("bin/sh", tar::EntryType::Symlink, "/bin/busybox"),
            ("bin/ash", tar::EntryType::Link, "bin/busybox"),
            ("etc/.wh.gone", tar::EntryType::Regular, ""),
        ]);
        let size = unpack_layer(&t[..], dir.path()).unwrap();
        // "elf" once (the hard link shares it) plus the symlink's 12 bytes.
        assert_eq!(size, 3 + 12);
        assert_eq!(
            fs::read_to_string(dir.path().join("bin/busybox")).unwrap(),
            "elf"
        );
        assert_eq!(
            fs::read_link(dir.path().join("bin/sh")).unwrap(),
            Path::new("/bin/busybox")
        );
        assert_eq!(
            fs::read_to_string(dir.path().join("bin/ash")).unwrap(),
            "elf"
        );
        use std::os::unix::fs::FileTypeExt;
        assert!(fs::symlink_metadata(dir.path().join("etc/gone"))
            .unwrap()
            .file_type()
            .is_char_device());
    }

    /// Found by the store's property tests: a whiteout of a directory the
    /// same layer made was a 500 (`EEXIST`); the later entry wins.
    #[test]
    fn a_whiteout_replaces_a_directory_of_the_same_layer() {
        let dir = tempfile::tempdir().unwrap();
        let t = tar_of(&[
            ("a/", tar::EntryType::Directory, ""),
            ("a/f", tar::EntryType::Regular, "x"),
            (".wh.a", tar::EntryType::Regular, ""),
        ]);
        unpack_layer(&t[..], dir.path()).unwrap();
        use std::os::unix::fs::FileTypeExt;
        assert!(fs::symlink_metadata(dir.path().join("a"))
            .unwrap()
            .file_type()
            .is_char_device());
    }

    #[test]
    fn refuses_escapes() {
        let outside = tempfile::tempdir().unwrap();
        let cases: Vec<Vec<u8>> = vec![
            tar_of(&[("../evil", tar::EntryType::Regular, "x")]),
            tar_of(&[("/abs", tar::EntryType::Regular, "x")]),
            tar_of(&[
                (
                    "evil",
                    tar::EntryType::Symlink,
                    outside.path().to_str().unwrap(),
                ),
                ("evil/passwd", tar::EntryType::Regular, "x"),
            ]),
            tar_of(&[("hl", tar::EntryType::Link, "../../etc/passwd")]),
        ];
        for t in cases {
            let dir = tempfile::tempdir().unwrap();
            let e = unpack_layer(&t[..], dir.path()).unwrap_err();
            assert_eq!(e.kind, berth_api::ErrorKind::InvalidArgument, "{e}");
            assert!(e.message.contains("invalid layer archive"), "{e}");
        }
        assert_eq!(
            fs::read_dir(outside.path()).unwrap().count(),
            0,
            "nothing written outside"
        );
    }
}
