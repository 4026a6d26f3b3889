//! `PUT .../archive`: a tar extracted into the container's root, each
//! entry checked to stay below the extraction point and each parent
//! resolved in the root.

use super::*;

/// Extracts the tar `input` into directory `path` of the root. Entry names
/// are cleaned (`..` refused, as moby's breakout check); each entry's
/// parent is resolved in the root, so symlinks in the container lead only
/// within it.
pub fn extract(root: &Root, path: &str, input: impl Read, opts: PutOptions) -> Result<()> {
    let dest = root
        .open(Path::new(path), OFlag::O_PATH)
        .map_err(|_| not_found_err(path))?;
    let st = nix::sys::stat::fstat(dest.as_raw_fd()).map_err(|e| errno(e, "stat"))?;
    if kind(&st) != SFlag::S_IFDIR {
        return Err(Error::invalid("extraction point is not a directory"));
    }
    drop(dest);
    let dest_path = PathBuf::from(path);
    let mut ar = tar::Archive::new(input);
    let entries = ar
        .entries()
        .map_err(|e| Error::invalid(format!("reading tar: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| Error::invalid(format!("reading tar: {e}")))?;
        let raw_path = entry
            .path()
            .map_err(|e| Error::invalid(format!("reading tar: {e}")))?
            .into_owned();
        let rel = contained(&dest_path, &raw_path)?;
        let Some(name) = rel.file_name().map(|n| n.to_os_string()) else {
            continue; // `./`: the extraction point itself
        };
        let pdir = ensure_dirs(root, &dest_path, rel.parent().unwrap_or(Path::new("")))?;
        let parent = dest_path.join(rel.parent().unwrap_or(Path::new("")));
        let pfd = pdir.as_raw_fd();
        let header = entry.header().clone();
        let et = header.entry_type();
        let existing = fstatat(
            Some(pfd),
            name.as_os_str(),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .ok();
        let is_dir_entry = et == tar::EntryType::Directory;
        if let Some(ex) = &existing {
            let target = parent.join(&name);
            make_room(pfd, &name, ex, is_dir_entry, &opts, &target, &rel)?;
        }
        let mode = Mode::from_bits_truncate(header.mode().unwrap_or(0o644) & 0o7777);
        let name_os = name.as_os_str();
        match et {
            tar::EntryType::Directory => {
                if existing.is_none() {
                    nix::sys::stat::mkdirat(Some(pfd), name_os, mode)
                        .map_err(|e| errno(e, "mkdir"))?;
                }
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let fd = openat(
                    Some(pfd),
                    name_os,
                    OFlag::O_WRONLY
                        | OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_CLOEXEC,
                    mode,
                )
                .map(own)
                .map_err(|e| errno(e, "creating file"))?;
                let mut f = File::from(fd);
                std::io::copy(&mut entry, &mut f)
                    .map_err(|e| Error::internal(format!("writing {}: {e}", rel.display())))?;
            }
            tar::EntryType::Symlink => {
                let target = header
                    .link_name()
                    .ok()
                    .flatten()
                    .ok_or_else(|| Error::invalid("a symlink entry without a target"))?;
                nix::unistd::symlinkat(target.as_ref(), Some(pfd), name_os)
                    .map_err(|e| errno(e, "symlink"))?;
            }
            tar::EntryType::Link => {
                hard_link(root, &dest_path, &header, pfd, name_os)?;
                continue;
            }
            tar::EntryType::Fifo => {
                nix::sys::stat::mknodat(Some(pfd), name_os, SFlag::S_IFIFO, mode, 0)
                    .map_err(|e| errno(e, "mkfifo"))?;
            }
            // Devices and others are not created (as dockerd in a
            // container without CAP_MKNOD would fail anyway).
            _ => continue,
        }
        set_attrs(pfd, name_os, &header, mode, opts.chown)?;
    }
    Ok(())
}

/// moby's rule: the entry joined to the extraction point and cleaned
/// lexically must stay below it (a `../` that climbs and comes back is
/// fine; one that leaves is a breakout). The entry's path below the
/// extraction point.
fn contained(dest_path: &Path, raw_path: &Path) -> Result<PathBuf> {
    let mut joined: Vec<std::ffi::OsString> = Vec::new();
    let dest_comps: Vec<std::ffi::OsString> = clean(dest_path)
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            _ => None,
        })
        .collect();
    joined.extend(dest_comps.iter().cloned());
    for c in raw_path.components() {
        match c {
            Component::Normal(n) => joined.push(n.to_os_string()),
            Component::ParentDir => {
                joined.pop();
            }
            _ => {}
        }
    }
    if joined.len() < dest_comps.len() || joined[..dest_comps.len()] != dest_comps[..] {
        return Err(Error::invalid(format!(
            "invalid tar entry {}: it would escape the extraction point",
            raw_path.display()
        )));
    }
    Ok(joined[dest_comps.len()..].iter().collect())
}

/// An entry already at the name: with `noOverwriteDirNonDir`, a directory
/// and a non-directory never replace each other (dockerd's words); else
/// anything but a directory over a directory is removed first.
fn make_room(
    pfd: std::os::fd::RawFd,
    name: &OsStr,
    ex: &nix::sys::stat::FileStat,
    is_dir_entry: bool,
    opts: &PutOptions,
    target: &Path,
    rel: &Path,
) -> Result<()> {
    let ex_dir = kind(ex) == SFlag::S_IFDIR;
    if opts.no_overwrite_dir_non_dir && ex_dir != is_dir_entry {
        return Err(Error::invalid(if ex_dir {
            format!(
                "cannot overwrite directory \"{}\" with non-directory \"{}\"",
                target.display(),
                rel.display()
            )
        } else {
            format!(
                "cannot overwrite non-directory \"{}\" with directory \"{}\"",
                target.display(),
                rel.display()
            )
        }));
    }
    if !(ex_dir && is_dir_entry) {
        let flag = if ex_dir {
            nix::unistd::UnlinkatFlags::RemoveDir
        } else {
            nix::unistd::UnlinkatFlags::NoRemoveDir
        };
        nix::unistd::unlinkat(Some(pfd), name, flag).map_err(|e| errno(e, "replacing an entry"))?;
    }
    Ok(())
}

/// A hard link entry: its target, below the extraction point, resolved in
/// the root.
fn hard_link(
    root: &Root,
    dest_path: &Path,
    header: &tar::Header,
    pfd: std::os::fd::RawFd,
    name: &OsStr,
) -> Result<()> {
    let target = header
        .link_name()
        .ok()
        .flatten()
        .ok_or_else(|| Error::invalid("a link entry without a target"))?;
    let mut trel = PathBuf::new();
    for c in target.components() {
        match c {
            Component::Normal(n) => trel.push(n),
            Component::CurDir | Component::RootDir => {}
            _ => return Err(Error::invalid("invalid hard link target")),
        }
    }
    let (tp, tl) = split(&dest_path.join(&trel).to_string_lossy());
    let tdir = root
        .open(&tp, OFlag::O_PATH | OFlag::O_DIRECTORY)
        .map_err(|e| errno(e, "hard link target"))?;
    nix::unistd::linkat(
        Some(tdir.as_raw_fd()),
        OsStr::new(&tl.unwrap_or_default()),
        Some(pfd),
        name,
        nix::fcntl::AtFlags::empty(),
    )
    .map_err(|e| errno(e, "hard link"))
}

/// Owner, mode and mtime of an extracted entry. As dockerd: the tar's
/// owners are kept; with `copyUIDGID` and a container user, everything
/// belongs to that user.
fn set_attrs(
    pfd: std::os::fd::RawFd,
    name: &OsStr,
    header: &tar::Header,
    mode: Mode,
    chown: Option<(u32, u32)>,
) -> Result<()> {
    let (uid, gid) = chown.unwrap_or((
        header.uid().unwrap_or(0) as u32,
        header.gid().unwrap_or(0) as u32,
    ));
    nix::unistd::fchownat(
        Some(pfd),
        name,
        Some(nix::unistd::Uid::from_raw(uid)),
        Some(nix::unistd::Gid::from_raw(gid)),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(|e| errno(e, "chown"))?;
    if header.entry_type() != tar::EntryType::Symlink {
        // chown clears set-id bits: set the mode after it.
        nix::sys::stat::fchmodat(
            Some(pfd),
            name,
            mode,
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        )
        .map_err(|e| errno(e, "chmod"))?;
    }
    let mtime = header.mtime().unwrap_or(0) as i64;
    let ts = nix::sys::time::TimeSpec::new(mtime, 0);
    let _ = nix::sys::stat::utimensat(
        Some(pfd),
        name,
        &ts,
        &ts,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    );
    Ok(())
}

/// Opens `dest/rel` inside the root as a directory, making the missing
/// directories on the way (0755, as moby's untar), each resolved in the root.
fn ensure_dirs(root: &Root, dest: &Path, rel: &Path) -> Result<OwnedFd> {
    let mut cur = dest.to_path_buf();
    let mut fd = root
        .open(&cur, OFlag::O_PATH | OFlag::O_DIRECTORY)
        .map_err(|e| errno(e, "opening the extraction point"))?;
    for c in rel.components() {
        let Component::Normal(n) = c else { continue };
        cur.push(n);
        fd = match root.open(&cur, OFlag::O_PATH | OFlag::O_DIRECTORY) {
            Ok(f) => f,
            Err(nix::errno::Errno::ENOENT) => {
                nix::sys::stat::mkdirat(Some(fd.as_raw_fd()), n, Mode::from_bits_truncate(0o755))
                    .map_err(|e| errno(e, "mkdir"))?;
                root.open(&cur, OFlag::O_PATH | OFlag::O_DIRECTORY)
                    .map_err(|e| errno(e, "opening a new directory"))?
            }
            Err(e) => return Err(errno(e, &format!("opening {}", cur.display()))),
        };
    }
    Ok(fd)
}
