//! Writing a `COPY`/`ADD` step's sources into the step's rootfs: trees,
//! files, links, archives, with owner, mode and mtime as docker sets them.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use super::copy::CopyJob;
use super::{BuildError, R};
use crate::dockerignore::Ignore;

/// Copies the items into the rootfs at `dest` (absolute in the image;
/// ending in `/` means a directory), as docker's COPY does.
pub(super) fn copy_items(root: &Path, job: &CopyJob) -> R<()> {
    let (items, dest, owner, chmod) = (&job.items, job.dest.as_str(), job.owner, job.chmod);
    let dest_is_dir = dest.ends_with('/');
    let target =
        berth_engine::containers::mounts::resolve_in_root(root, dest.trim_end_matches('/'))?;
    for item in items {
        let md = fs::symlink_metadata(&item.src)?;
        if item.extract {
            fs::create_dir_all(&target)?;
            let f = fs::File::open(&item.src)?;
            let mut buf = std::io::BufReader::new(f);
            let gz = {
                use std::io::BufRead;
                let b = buf.fill_buf()?;
                b.len() >= 2 && b[0] == 0x1f && b[1] == 0x8b
            };
            let reader: Box<dyn Read> = if gz {
                Box::new(flate2::read::GzDecoder::new(buf))
            } else {
                Box::new(buf)
            };
            let mut ar = tar::Archive::new(reader);
            ar.set_preserve_permissions(true);
            ar.set_preserve_ownerships(true);
            ar.set_overwrite(true);
            // `unpack` refuses entries that would land outside `target`.
            ar.unpack(&target)
                .map_err(|e| BuildError::new(format!("extracting {}: {e}", item.rel)))?;
            continue;
        }
        if md.is_dir() {
            fs::create_dir_all(&target)?;
            let ig = job.ignore.as_ref().map(|i| (i, item.rel.as_str()));
            copy_tree(&item.src, &target, owner, chmod, ig)?;
        } else {
            let to = if dest_is_dir || target.is_dir() {
                fs::create_dir_all(&target)?;
                target.join(item.src.file_name().unwrap_or_default())
            } else {
                if let Some(p) = target.parent() {
                    fs::create_dir_all(p)?;
                }
                target.clone()
            };
            copy_one(&item.src, &to, owner, chmod)?;
        }
    }
    Ok(())
}

pub(super) fn copy_tree(
    from: &Path,
    to: &Path,
    owner: Option<(u32, u32)>,
    chmod: Option<u32>,
    ignore: Option<(&Ignore, &str)>,
) -> R<()> {
    let mut entries: Vec<_> = fs::read_dir(from)?.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let t = to.join(e.file_name());
        let rel = ignore.map(|(_, r)| {
            let n = e.file_name().to_string_lossy().into_owned();
            if r == "." || r.is_empty() {
                n
            } else {
                format!("{r}/{n}")
            }
        });
        if let (Some((ig, _)), Some(rel)) = (ignore, &rel) {
            if ig.is_ignored(rel) && !(e.path().is_dir() && ig.has_exclusions()) {
                continue;
            }
        }
        let md = fs::symlink_metadata(e.path())?;
        if md.is_dir() {
            if !t.is_dir() {
                let _ = fs::remove_file(&t);
                fs::create_dir(&t)?;
            }
            let sub = ignore.zip(rel.as_deref()).map(|((ig, _), r)| (ig, r));
            copy_tree(&e.path(), &t, owner, chmod, sub)?;
            set_meta(&t, &md, owner, chmod)?;
        } else {
            copy_one(&e.path(), &t, owner, chmod)?;
        }
    }
    Ok(())
}

pub(super) fn copy_one(
    from: &Path,
    to: &Path,
    owner: Option<(u32, u32)>,
    chmod: Option<u32>,
) -> R<()> {
    let md = fs::symlink_metadata(from)?;
    if fs::symlink_metadata(to).is_ok_and(|m| !m.is_dir()) {
        fs::remove_file(to)?;
    }
    if md.file_type().is_symlink() {
        std::os::unix::fs::symlink(fs::read_link(from)?, to)?;
        let (u, g) = owner.unwrap_or((0, 0));
        let _ = std::os::unix::fs::lchown(to, Some(u), Some(g));
        return Ok(());
    }
    if !md.is_file() {
        // Devices, fifos and sockets in a context are skipped, as docker does.
        return Ok(());
    }
    fs::copy(from, to)?;
    set_meta(to, &md, owner, chmod)
}

pub(super) fn set_meta(
    to: &Path,
    md: &fs::Metadata,
    owner: Option<(u32, u32)>,
    chmod: Option<u32>,
) -> R<()> {
    let (u, g) = owner.unwrap_or((0, 0));
    std::os::unix::fs::chown(to, Some(u), Some(g))?;
    let mode = chmod.unwrap_or(md.mode() & 0o7777);
    fs::set_permissions(to, fs::Permissions::from_mode(mode))?;
    let mtime = filetime_of(md);
    let _ = set_mtime(to, mtime);
    Ok(())
}

pub(super) fn filetime_of(md: &fs::Metadata) -> (i64, i64) {
    (md.mtime(), md.mtime_nsec())
}

pub(super) fn set_mtime(p: &Path, (s, ns): (i64, i64)) -> std::io::Result<()> {
    let t = nix::sys::time::TimeSpec::new(s, ns);
    nix::sys::stat::utimensat(
        None,
        p,
        &t,
        &t,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .map_err(std::io::Error::from)
}
