//! `docker cp`: `HEAD/GET/PUT /containers/{id}/archive?path=`.
//!
//! Every path is resolved by the kernel inside the container's root:
//! `openat2(RESOLVE_IN_ROOT)` on a directory fd of the root (the running
//! container's `/proc/<pid>/root`, which also shows its volumes; for a
//! stopped one its rootfs, mounted for the operation), so `..` and absolute
//! or relative symlinks are clamped at the container's `/` and nothing
//! outside it is ever read or written. Below the resolved start, the tree
//! is walked with `*at` calls on directory fds and `O_NOFOLLOW`, so a
//! symlink in the tree is archived as a link, never followed. Written by
//! hand over `tar` and `openat2` because no crate resolves scoped paths
//! through the kernel (Go's `securejoin` does it in user space).

use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use berth_api::views::ContainerPathStat;
use berth_api::{Error, Result};
use nix::fcntl::{openat, openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstatat, FileStat, Mode, SFlag};

use crate::containers::container::Status;
use crate::containers::mounts::Kind;

const GO_MODE_DIR: u32 = 1 << 31;
const GO_MODE_SYMLINK: u32 = 1 << 27;
const GO_MODE_DEVICE: u32 = 1 << 26;
const GO_MODE_PIPE: u32 = 1 << 25;
const GO_MODE_SOCKET: u32 = 1 << 24;
const GO_MODE_SETUID: u32 = 1 << 23;
const GO_MODE_SETGID: u32 = 1 << 22;
const GO_MODE_CHARDEV: u32 = 1 << 21;
const GO_MODE_STICKY: u32 = 1 << 20;

fn go_mode(st: &FileStat) -> u32 {
    let mut m = st.st_mode & 0o777;
    let kind = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
    m |= match kind {
        SFlag::S_IFDIR => GO_MODE_DIR,
        SFlag::S_IFLNK => GO_MODE_SYMLINK,
        SFlag::S_IFBLK => GO_MODE_DEVICE,
        SFlag::S_IFCHR => GO_MODE_DEVICE | GO_MODE_CHARDEV,
        SFlag::S_IFIFO => GO_MODE_PIPE,
        SFlag::S_IFSOCK => GO_MODE_SOCKET,
        _ => 0,
    };
    if st.st_mode & 0o4000 != 0 {
        m |= GO_MODE_SETUID;
    }
    if st.st_mode & 0o2000 != 0 {
        m |= GO_MODE_SETGID;
    }
    if st.st_mode & 0o1000 != 0 {
        m |= GO_MODE_STICKY;
    }
    m
}

fn kind(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}

fn errno(e: nix::errno::Errno, what: &str) -> Error {
    Error::internal(format!("{what}: {e}"))
}

fn own(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful open call and is owned
    // by nobody else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// The container's root directory, held open for one operation.
pub struct Root {
    fd: OwnedFd,
    /// A stopped container's volumes and binds, mounted over its rootfs for
    /// the operation; undone before the rootfs.
    mounts: Option<OpMounts>,
    /// Unmount the rootfs when done (a stopped container's, mounted here).
    unmount: Option<berth_store::RwLayer>,
}

impl Drop for Root {
    fn drop(&mut self) {
        drop(self.mounts.take());
        if let Some(l) = self.unmount.take() {
            let _ = l.unmount();
        }
    }
}

/// Splits a container path into its cleaned parent and last component
/// (`None` for `/`, `.` kept when the path ends with `/.`). `..` stays: the
/// kernel clamps it at the root.
fn split(path: &str) -> (PathBuf, Option<String>) {
    let trimmed = path.trim_end_matches('/');
    let p = Path::new(if trimmed.is_empty() { "/" } else { trimmed });
    let mut comps: Vec<Component> = p.components().collect();
    let last = match comps.last() {
        Some(Component::Normal(n)) => Some(n.to_string_lossy().into_owned()),
        Some(Component::CurDir) => Some(".".to_string()),
        Some(Component::ParentDir) => Some("..".to_string()),
        _ => None,
    };
    if let Some(dir) = path.strip_prefix("").and_then(|p| p.strip_suffix("/.")) {
        // `Path::components` drops a trailing `.`.
        let dir = if dir.is_empty() { "/" } else { dir };
        return (PathBuf::from(dir), Some(".".into()));
    }
    if last.is_some() {
        comps.pop();
    }
    let parent: PathBuf = comps.iter().collect();
    (
        if parent.as_os_str().is_empty() {
            PathBuf::from("/")
        } else {
            parent
        },
        last,
    )
}

impl Root {
    /// A root over a plain directory (the property tests' temp roots).
    #[cfg(test)]
    pub(crate) fn for_dir(dir: &Path) -> Root {
        let fd = std::fs::File::open(dir).expect("open the root");
        Root {
            fd: fd.into(),
            mounts: None,
            unmount: None,
        }
    }

    /// Opens `path` inside the root, following symlinks (clamped), as `flags`.
    fn open(&self, path: &Path, flags: OFlag) -> nix::Result<OwnedFd> {
        let rel = path.strip_prefix("/").unwrap_or(path);
        let rel = if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            rel
        };
        let how = OpenHow::new()
            .flags(flags | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        openat2(self.fd.as_raw_fd(), rel, how).map(own)
    }

    /// The parent directory of `path` (resolved in the root) and the last
    /// component, not followed.
    fn parent_of(&self, path: &str) -> Result<(OwnedFd, Option<String>, PathBuf)> {
        let (parent, last) = split(path);
        let dir = self
            .open(&parent, OFlag::O_PATH | OFlag::O_DIRECTORY)
            .map_err(|_| not_found_err(path))?;
        match last.as_deref() {
            // `..` as the last component: resolve it too and name the result.
            Some("..") => {
                let full = parent.join("..");
                let fd = self
                    .open(&full, OFlag::O_PATH | OFlag::O_DIRECTORY)
                    .map_err(|_| not_found_err(path))?;
                Ok((fd, None, full))
            }
            Some(".") => Ok((dir, None, parent)),
            _ => Ok((dir, last, parent)),
        }
    }

    /// `lstat` of `path`'s last component inside the root.
    pub fn stat(&self, path: &str) -> Result<(ContainerPathStat, FileStat)> {
        let (dir, last, parent) = self.parent_of(path)?;
        let st = match &last {
            Some(n) => fstatat(
                Some(dir.as_raw_fd()),
                n.as_str(),
                nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
            ),
            None => nix::sys::stat::fstat(dir.as_raw_fd()),
        }
        .map_err(|_| not_found_err(path))?;
        // `file/` names a directory: a file there is an error (ENOTDIR), a
        // symlink must lead to a directory.
        if path.ends_with('/') && kind(&st) != SFlag::S_IFDIR {
            let is_dir_link = kind(&st) == SFlag::S_IFLNK
                && self
                    .open(Path::new(path), OFlag::O_PATH | OFlag::O_DIRECTORY)
                    .is_ok();
            if !is_dir_link {
                return Err(Error::invalid(format!("{path}: not a directory")));
            }
        }
        let name = match &last {
            Some(n) => n.clone(),
            None if path.ends_with("/.") => ".".into(),
            None => parent
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "/".into()),
        };
        let link_target = if kind(&st) == SFlag::S_IFLNK {
            self.link_target(&parent, last.as_deref().unwrap_or(""))
        } else {
            String::new()
        };
        let mtime = chrono::DateTime::from_timestamp(st.st_mtime, st.st_mtime_nsec as u32)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
            .unwrap_or_default();
        Ok((
            ContainerPathStat {
                name,
                size: st.st_size,
                mode: go_mode(&st),
                mtime,
                link_target,
            },
            st,
        ))
    }

    /// Where a symlink leads, as a container path (the chain followed
    /// lexically, at most 40 links as the kernel allows).
    fn link_target(&self, parent: &Path, name: &str) -> String {
        let mut cur = parent.join(name);
        for _ in 0..40 {
            let (p, last) = split(&cur.to_string_lossy());
            let Some(last) = last else { break };
            let Ok(dir) = self.open(&p, OFlag::O_PATH | OFlag::O_DIRECTORY) else {
                break;
            };
            let Ok(target) = nix::fcntl::readlinkat(Some(dir.as_raw_fd()), last.as_str()) else {
                break;
            };
            let t = Path::new(&target);
            cur = clean(&if t.is_absolute() {
                t.to_path_buf()
            } else {
                p.join(t)
            });
        }
        cur.to_string_lossy().into_owned()
    }
}

/// Lexical clean of an absolute container path (`..` stops at `/`).
fn clean(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

fn not_found_err(path: &str) -> Error {
    Error::not_found(format!("Could not find the file {path} in container"))
}

/// Streams `path` of the root as a tar to `out`, its top entry named `name`.
pub fn write_tar(root: &Root, path: &str, name: &str, out: impl Write) -> Result<()> {
    let (dir, last, _) = root.parent_of(path)?;
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(false);
    let top_name = if name == "/" { "." } else { name };
    match last {
        Some(n) => add_entry(&mut b, dir.as_fd().as_raw_fd(), &n, Path::new(top_name))?,
        None => {
            // The directory itself (`/`, `dir/.`, `..`): reopen it readable.
            let fd = openat(
                Some(dir.as_raw_fd()),
                ".",
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map(own)
            .map_err(|e| errno(e, "opening directory"))?;
            let st = nix::sys::stat::fstat(fd.as_raw_fd()).map_err(|e| errno(e, "stat"))?;
            append_dir(&mut b, fd, &st, Path::new(top_name))?;
        }
    }
    b.finish()
        .map_err(|e| Error::internal(format!("writing tar: {e}")))
}

fn header_for(st: &FileStat) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(st.st_uid as u64);
    h.set_gid(st.st_gid as u64);
    h.set_mtime(st.st_mtime.max(0) as u64);
    h.set_size(0);
    h
}

fn add_entry<W: Write>(
    b: &mut tar::Builder<W>,
    dir: RawFd,
    name: &str,
    as_path: &Path,
) -> Result<()> {
    let st = fstatat(Some(dir), name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
        .map_err(|e| errno(e, "stat"))?;
    let terr = |e: std::io::Error| Error::internal(format!("writing tar: {e}"));
    match kind(&st) {
        SFlag::S_IFDIR => {
            let fd = openat(
                Some(dir),
                name,
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map(own)
            .map_err(|e| errno(e, "opening directory"))?;
            append_dir(b, fd, &st, as_path)
        }
        SFlag::S_IFREG => {
            let fd = openat(
                Some(dir),
                name,
                OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map(own)
            .map_err(|e| errno(e, "opening file"))?;
            let mut h = header_for(&st);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(st.st_size as u64);
            // Read at most the stat'ed size, so a growing file cannot
            // corrupt the stream.
            let f = File::from(fd).take(st.st_size as u64);
            b.append_data(&mut h, as_path, f).map_err(terr)
        }
        SFlag::S_IFLNK => {
            let target =
                nix::fcntl::readlinkat(Some(dir), name).map_err(|e| errno(e, "readlink"))?;
            let mut h = header_for(&st);
            h.set_entry_type(tar::EntryType::Symlink);
            b.append_link(&mut h, as_path, Path::new(&target))
                .map_err(terr)
        }
        SFlag::S_IFIFO | SFlag::S_IFCHR | SFlag::S_IFBLK => {
            let mut h = header_for(&st);
            h.set_entry_type(match kind(&st) {
                SFlag::S_IFIFO => tar::EntryType::Fifo,
                SFlag::S_IFCHR => tar::EntryType::Char,
                _ => tar::EntryType::Block,
            });
            let _ = h.set_device_major(nix::sys::stat::major(st.st_rdev) as u32);
            let _ = h.set_device_minor(nix::sys::stat::minor(st.st_rdev) as u32);
            b.append_data(&mut h, as_path, std::io::empty())
                .map_err(terr)
        }
        // Sockets are not archived (as Go's archive/tar).
        _ => Ok(()),
    }
}

fn append_dir<W: Write>(
    b: &mut tar::Builder<W>,
    fd: OwnedFd,
    st: &FileStat,
    as_path: &Path,
) -> Result<()> {
    let mut h = header_for(st);
    h.set_entry_type(tar::EntryType::Directory);
    b.append_data(&mut h, as_path, std::io::empty())
        .map_err(|e| Error::internal(format!("writing tar: {e}")))?;
    let raw = fd.as_raw_fd();
    let mut d = nix::dir::Dir::from_fd(nix::unistd::dup(raw).map_err(|e| errno(e, "dup"))?)
        .map_err(|e| errno(e, "reading directory"))?;
    let mut names: Vec<Vec<u8>> = d
        .iter()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_bytes().to_vec())
        .filter(|n| n != b"." && n != b"..")
        .collect();
    names.sort();
    for n in names {
        let name = OsStr::from_bytes(&n);
        add_entry(b, raw, &name.to_string_lossy(), &as_path.join(name))?;
    }
    Ok(())
}

mod extract;
mod mounts;

pub use extract::extract;
use mounts::{check_writable, needs_op_mounts, OpMounts};

/// Options of `PUT .../archive`.
#[derive(Debug, Clone, Copy, Default)]
pub struct PutOptions {
    pub no_overwrite_dir_non_dir: bool,
    pub copy_uid_gid: bool,
    /// Owner for every entry (set by the engine from the container's user
    /// when `copy_uid_gid`).
    pub chown: Option<(u32, u32)>,
}

impl super::Containers<'_> {
    /// Opens the container's root: its live `/proc/<pid>/root` while it
    /// runs, else its rootfs, mounted for the operation.
    pub fn archive_root(&self, key: &str) -> Result<(Root, String)> {
        let h = self.lookup(key)?;
        let r = h.snapshot();
        if r.state.status == Status::Running && r.state.pid > 0 {
            let p = format!("/proc/{}/root", r.state.pid);
            if let Ok(fd) = openat(
                None,
                p.as_str(),
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            ) {
                return Ok((
                    Root {
                        fd: own(fd),
                        mounts: None,
                        unmount: None,
                    },
                    r.id,
                ));
            }
        }
        let layer = self.images.rw_layer(&r.id)?;
        let was = layer.is_mounted();
        layer.mount()?;
        let unmount_layer = |layer: berth_store::RwLayer| {
            if !was {
                let _ = layer.unmount();
            }
        };
        let mounts = if needs_op_mounts(&r) {
            match self.op_mounts(&r, &layer.merged) {
                Ok(m) => Some(m),
                Err(e) => {
                    unmount_layer(layer);
                    return Err(e);
                }
            }
        } else {
            None
        };
        let fd = openat(
            None,
            layer.merged.as_path(),
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map(own)
        .map_err(|e| errno(e, "opening the container rootfs"));
        let root = Root {
            fd: match fd {
                Ok(fd) => fd,
                Err(e) => {
                    drop(mounts);
                    unmount_layer(layer);
                    return Err(e);
                }
            },
            mounts,
            unmount: if was { None } else { Some(layer) },
        };
        Ok((root, r.id))
    }

    /// A stopped container's volumes (device ones mounted first) and binds
    /// over its mounted rootfs; device volumes no running container uses
    /// are unmounted again after the operation.
    fn op_mounts(
        &self,
        r: &crate::containers::container::Record,
        rootfs: &Path,
    ) -> Result<OpMounts> {
        let mut mounts = OpMounts::bind_over(rootfs, &r.mount_points, |m| match m.kind {
            Kind::Volume => {
                self.volumes.mount(&m.name)?;
                Ok(self.volumes.data_path(&m.name).display().to_string())
            }
            _ => Ok(m.source.clone()),
        })?;
        let engine = self.arc();
        let volumes: Vec<String> = r
            .mount_points
            .iter()
            .filter(|m| m.kind == Kind::Volume)
            .map(|m| m.name.clone())
            .collect();
        mounts.after = Some(Box::new(move || {
            let running = engine.all();
            for name in volumes {
                let used = running.iter().any(|h| {
                    h.with(|o| {
                        o.state.status == Status::Running
                            && o.mount_points.iter().any(|p| p.name == name)
                    })
                });
                if !used {
                    engine.volumes.unmount(&name);
                }
            }
        }));
        Ok(mounts)
    }

    /// The uid and gid of the container's `--user` (numbers, or names
    /// looked up in its rootfs's passwd and group files).
    fn archive_user(&self, key: &str, user: &str) -> Result<(u32, u32)> {
        let (u, g) = user.split_once(':').unwrap_or((user, ""));
        if let Ok(uid) = u.parse::<u32>() {
            if g.is_empty() {
                return Ok((uid, uid));
            }
            if let Ok(gid) = g.parse::<u32>() {
                return Ok((uid, gid));
            }
        }
        let h = self.lookup(key)?;
        let layer = self.images.rw_layer(&h.id)?;
        let was = layer.is_mounted();
        layer.mount()?;
        let r = crate::containers::resolve::user(&layer.merged, user);
        if !was {
            let _ = layer.unmount();
        }
        let (uid, gid, _) = r?;
        Ok((uid, gid))
    }

    /// `HEAD .../archive`.
    pub fn archive_stat(&self, key: &str, path: &str) -> Result<ContainerPathStat> {
        let (root, _) = self.archive_root(key)?;
        root.stat(path)
            .map(|(s, _)| s)
            .map_err(|e| with_container(e, key))
    }

    /// `GET .../archive`: the stat, then the tar streamed to `out`.
    pub fn archive_get(
        &self,
        key: &str,
        path: &str,
        before: impl FnOnce(&ContainerPathStat) -> bool,
        out: impl Write,
    ) -> Result<()> {
        let (root, _) = self.archive_root(key)?;
        let (st, _) = root.stat(path).map_err(|e| with_container(e, key))?;
        if !before(&st) {
            return Ok(());
        }
        let name = st.name.clone();
        write_tar(&root, path, &name, out)
    }

    /// `PUT .../archive`.
    pub fn archive_put(
        &self,
        key: &str,
        path: &str,
        input: impl Read,
        opts: PutOptions,
    ) -> Result<()> {
        let h = self.lookup(key)?;
        let record = h.snapshot();
        check_writable(&record, path)?;
        let user = record.config.user;
        let (root, _) = self.archive_root(key)?;
        let mut opts = opts;
        if opts.copy_uid_gid && !user.is_empty() {
            opts.chown = Some(self.archive_user(key, &user)?);
        }
        extract(&root, path, input, opts).map_err(|e| with_container(e, key))
    }
}

fn with_container(mut e: Error, key: &str) -> Error {
    if e.kind == berth_api::ErrorKind::NotFound && e.message.ends_with("in container") {
        e.message = format!("{} {key}", e.message);
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_trailing_dot_and_root() {
        assert_eq!(split("/a/b"), (PathBuf::from("/a"), Some("b".into())));
        assert_eq!(split("/a/b/"), (PathBuf::from("/a"), Some("b".into())));
        assert_eq!(split("/a/."), (PathBuf::from("/a"), Some(".".into())));
        assert_eq!(split("/"), (PathBuf::from("/"), None));
        assert_eq!(split("b"), (PathBuf::from("/"), Some("b".into())));
    }

    #[test]
    fn clean_stops_at_root() {
        assert_eq!(clean(Path::new("/a/../../etc")), PathBuf::from("/etc"));
    }
}
