//! A container's changes: `docker diff` (moby's `archive.OverlayChanges`),
//! the rw layer as a layer tar with docker whiteouts (`docker commit`), and
//! the merged rootfs as a tar (`docker export`).
//!
//! overlayfs marks a deleted file with a 0/0 character device and a
//! directory that hides its lower content with `trusted.overlay.opaque=y`;
//! a layer tar says the same with `.wh.NAME` and `.wh..wh..opq` entries.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use berth_api::{Error, Result};

use crate::RwLayer;

/// What a path went through, with dockerd's numbers (`Kind` in the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Modified = 0,
    Added = 1,
    Deleted = 2,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Absolute in the container: `/etc/passwd`.
    pub path: String,
    pub kind: ChangeKind,
}

/// Files the daemon itself puts in every container (dockerd keeps them in
/// the `-init` layer, so they never show in a diff or a commit).
const INIT_PATHS: &[&str] = &[
    "/.dockerenv",
    "/etc/hosts",
    "/etc/hostname",
    "/etc/resolv.conf",
    "/etc/mtab",
    "/dev",
    "/proc",
    "/sys",
];

fn is_init_path(p: &str) -> bool {
    INIT_PATHS.iter().any(|i| {
        p == *i || (matches!(*i, "/dev" | "/proc" | "/sys") && p.starts_with(&format!("{i}/")))
    })
}

fn is_whiteout(md: &fs::Metadata) -> bool {
    md.file_type().is_char_device() && md.rdev() == 0
}

fn is_opaque(path: &Path) -> bool {
    matches!(
        xattr_get(path, "trusted.overlay.opaque").as_deref(),
        Some(b"y")
    )
}

/// `lgetxattr` (std has no xattr call; nix 0.29 neither).
fn xattr_get(path: &Path, name: &str) -> Option<Vec<u8>> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let p = CString::new(path.as_os_str().as_bytes()).ok()?;
    let n = CString::new(name).ok()?;
    let mut buf = vec![0u8; 256];
    // SAFETY: both strings are NUL-terminated and live for the call; the
    // buffer is valid for `buf.len()` bytes.
    let r = unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if r < 0 {
        return None;
    }
    buf.truncate(r as usize);
    Some(buf)
}

/// Sorted entries of a directory (Go's `filepath.Walk` order).
fn sorted_entries(dir: &Path) -> Result<Vec<fs::DirEntry>> {
    let mut v: Vec<fs::DirEntry> = fs::read_dir(dir)?.collect::<std::io::Result<_>>()?;
    v.sort_by_key(|e| e.file_name());
    Ok(v)
}

impl RwLayer {
    fn lower_stat(&self, rel: &str) -> Option<fs::Metadata> {
        // lowerdirs are top first; the topmost existing entry is what the
        // container saw.
        for l in &self.lowerdirs {
            if let Ok(md) = fs::symlink_metadata(l.join(rel.trim_start_matches('/'))) {
                return Some(md);
            }
        }
        None
    }

    /// `GET /containers/{id}/changes`, as dockerd's overlay2 driver lists
    /// them (moby's `ChangesDirs` over the layers): an upper-dir entry the
    /// lower layers lack is added, one they have is modified (directories
    /// only when their mode or owner differ), a whiteout is a deletion, an
    /// opaque directory deletes what the lower layers had in it, and a
    /// directory with any change inside is modified. Paths come in sorted
    /// order (dockerd's order is Go's random map order). The daemon's own
    /// files (`/etc/hosts`, ...) are not changes.
    /// The storage driver decides how (vfs keeps no record of changes).
    pub fn changes(&self) -> Result<Vec<Change>> {
        self.driver.changes(self)
    }

    /// [`RwLayer::changes`] read from an overlay upper dir.
    pub(crate) fn upper_changes(&self) -> Result<Vec<Change>> {
        let mut out = Vec::new();
        self.walk_changes(&self.upperdir.clone(), "", &mut out)?;
        Ok(out)
    }

    fn walk_changes(&self, dir: &Path, rel: &str, out: &mut Vec<Change>) -> Result<()> {
        let entries = sorted_entries(dir)?;
        if !rel.is_empty() && is_opaque(dir) {
            // Everything the lower layers had here and the upper lacks is gone.
            let mut gone = std::collections::BTreeSet::new();
            for l in &self.lowerdirs {
                if let Ok(rd) = fs::read_dir(l.join(rel.trim_start_matches('/'))) {
                    for e in rd.flatten() {
                        gone.insert(e.file_name().to_string_lossy().into_owned());
                    }
                }
            }
            for e in &entries {
                gone.remove(e.file_name().to_string_lossy().as_ref());
            }
            for name in gone {
                out.push(Change {
                    path: format!("{rel}/{name}"),
                    kind: ChangeKind::Deleted,
                });
            }
        }
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = format!("{rel}/{name}");
            if is_init_path(&path) {
                continue;
            }
            let full = e.path();
            let md = fs::symlink_metadata(&full)?;
            if is_whiteout(&md) {
                out.push(Change {
                    path,
                    kind: ChangeKind::Deleted,
                });
                continue;
            }
            let lower = self.lower_stat(&path);
            if md.is_dir() {
                let mut sub = Vec::new();
                self.walk_changes(&full, &path, &mut sub)?;
                let own = match &lower {
                    None => Some(ChangeKind::Added),
                    Some(l) if !l.is_dir() => Some(ChangeKind::Modified),
                    Some(l) => {
                        (l.mode() != md.mode() || l.uid() != md.uid() || l.gid() != md.gid())
                            .then_some(ChangeKind::Modified)
                    }
                };
                let kind = own.or((!sub.is_empty()).then_some(ChangeKind::Modified));
                if let Some(kind) = kind {
                    out.push(Change { path, kind });
                }
                out.extend(sub);
            } else {
                out.push(Change {
                    path,
                    kind: if lower.is_some() {
                        ChangeKind::Modified
                    } else {
                        ChangeKind::Added
                    },
                });
            }
        }
        Ok(())
    }

    /// The rw layer as a layer tar (`docker commit`): upper-dir entries as
    /// they are, whiteouts as `.wh.NAME`, opaque directories with
    /// `.wh..wh..opq`. The daemon's own files are left out.
    /// Returns the number of entries written (0: nothing changed).
    pub fn write_layer_diff(&self, dst: &mut dyn Write) -> Result<usize> {
        self.driver.write_diff(self, dst)
    }

    /// [`RwLayer::write_layer_diff`] from an overlay upper dir.
    pub(crate) fn upper_diff_tar(&self, dst: &mut dyn Write) -> Result<usize> {
        let mut b = tar::Builder::new(dst);
        b.follow_symlinks(false);
        b.mode(tar::HeaderMode::Complete);
        let mut n = 0;
        self.tar_upper(&mut b, &self.upperdir.clone(), "", &mut n)?;
        b.finish()?;
        Ok(n)
    }

    fn tar_upper(
        &self,
        b: &mut tar::Builder<&mut dyn Write>,
        dir: &Path,
        rel: &str,
        n: &mut usize,
    ) -> Result<()> {
        for e in sorted_entries(dir)? {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = format!("{rel}/{name}");
            if is_init_path(&path) {
                continue;
            }
            let full = e.path();
            let md = fs::symlink_metadata(&full)?;
            let in_tar = path.trim_start_matches('/');
            if is_whiteout(&md) {
                let wh = match in_tar.rsplit_once('/') {
                    Some((d, n)) => format!("{d}/.wh.{n}"),
                    None => format!(".wh.{in_tar}"),
                };
                empty_file(b, &wh, &md)?;
                *n += 1;
                continue;
            }
            b.append_path_with_name(&full, in_tar)?;
            *n += 1;
            if md.is_dir() {
                if is_opaque(&full) {
                    empty_file(b, &format!("{in_tar}/.wh..wh..opq"), &md)?;
                }
                self.tar_upper(b, &full, &path, n)?;
            }
        }
        Ok(())
    }
}

fn empty_file(b: &mut tar::Builder<&mut dyn Write>, name: &str, md: &fs::Metadata) -> Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(0);
    h.set_mode(0o644);
    h.set_mtime(md.mtime().max(0) as u64);
    h.set_uid(0);
    h.set_gid(0);
    b.append_data(&mut h, name, std::io::empty())?;
    Ok(())
}

/// The whole tree at `root` as a tar (`docker export` of a mounted
/// rootfs): owners, modes, links and device nodes kept; symlinks not
/// followed; other mounts under it (proc, bind mounts of a running
/// container) not crossed.
pub fn export_tree(root: &Path, dst: &mut dyn Write) -> Result<()> {
    let dev = fs::symlink_metadata(root)?.dev();
    let mut b = tar::Builder::new(dst);
    b.follow_symlinks(false);
    b.mode(tar::HeaderMode::Complete);
    export_dir(&mut b, root, PathBuf::new(), dev)?;
    b.finish()?;
    Ok(())
}

fn export_dir(
    b: &mut tar::Builder<&mut dyn Write>,
    dir: &Path,
    rel: PathBuf,
    dev: u64,
) -> Result<()> {
    for e in sorted_entries(dir)? {
        let full = e.path();
        let name = rel.join(e.file_name());
        let md = fs::symlink_metadata(&full)?;
        b.append_path_with_name(&full, &name)?;
        if md.is_dir() && md.dev() == dev {
            export_dir(b, &full, name, dev)?;
        }
    }
    Ok(())
}

/// What `docker commit` puts in the new image besides the layer.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// The container's config with the `--change`s applied.
    pub config: crate::RunConfig,
    pub author: String,
    pub comment: String,
    /// The history entry's `created_by` (dockerd: the container's command).
    pub created_by: String,
    pub tags: Vec<berth_api::reference::Reference>,
}

impl crate::ImageStore {
    /// `POST /commit`: the container's rw layer becomes a new layer on top
    /// of its image's, with a config made from `opts`. The image id is the
    /// config's digest. All or nothing.
    pub fn commit_container(
        &self,
        container_id: &str,
        opts: CommitOptions,
    ) -> Result<crate::Image> {
        use rusqlite::params;
        let layer = self.rw_layer(container_id)?;
        let (image_id, top): (Option<String>, Option<String>) = self
            .conn()
            .query_row(
                "SELECT image_id, top_chain FROM rw_layers WHERE container_id = ?1",
                params![container_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(crate::db_err)?;
        let parent = image_id.as_deref().map(|id| self.get(id)).transpose()?;
        for t in &opts.tags {
            if t.digest.is_some() {
                return Err(Error::invalid(
                    "refusing to create a tag with a digest reference",
                ));
            }
        }
        let tmp = self
            .root()
            .join("image/tmp")
            .join(format!("commit-{:016x}", rand::random::<u64>()));
        let mut holds = self.new_holds();
        let result = (|| {
            let entries = {
                let f = fs::File::create(&tmp)?;
                let mut w = std::io::BufWriter::with_capacity(256 * 1024, f);
                let n = layer.write_layer_diff(&mut w)?;
                w.flush()?;
                n
            };
            // Nothing changed: an empty layer in history, no new layer (as
            // moby's `NewChildImage` does for the empty tar).
            let diff_id = if entries == 0 {
                None
            } else {
                let mut f = fs::File::open(&tmp)?;
                let spooled = self.spool_layer(&mut f)?;
                let diff_id = spooled.diff_id.clone();
                self.register_layer(spooled, top.as_deref(), &mut holds)?;
                Some(diff_id)
            };
            let created = crate::now();
            let mut history = parent
                .as_ref()
                .map(|p| p.config.history.clone())
                .unwrap_or_default();
            history.push(crate::History {
                created: Some(created.clone()),
                created_by: Some(opts.created_by.clone()).filter(|s| !s.is_empty()),
                author: Some(opts.author.clone()).filter(|s| !s.is_empty()),
                comment: Some(opts.comment.clone()).filter(|s| !s.is_empty()),
                empty_layer: diff_id.is_none(),
            });
            let mut diff_ids = parent
                .as_ref()
                .map(|p| p.config.rootfs.diff_ids.clone())
                .unwrap_or_default();
            diff_ids.extend(diff_id);
            let config = crate::ImageConfig {
                architecture: parent
                    .as_ref()
                    .map(|p| p.config.architecture.clone())
                    .filter(|a| !a.is_empty())
                    .unwrap_or_else(|| crate::arch().into()),
                author: Some(opts.author.clone()).filter(|s| !s.is_empty()),
                comment: Some(opts.comment.clone()).filter(|s| !s.is_empty()),
                config: Some(opts.config.clone()),
                created: Some(created),
                history,
                os: "linux".into(),
                variant: parent.as_ref().and_then(|p| p.config.variant.clone()),
                rootfs: crate::RootFs {
                    r#type: "layers".into(),
                    diff_ids,
                },
                ..Default::default()
            };
            let raw = serde_json::to_vec(&config).map_err(|e| Error::internal(e.to_string()))?;
            self.commit_child_image(&raw, &opts.tags, image_id.as_deref())
        })();
        let _ = fs::remove_file(&tmp);
        drop(holds);
        if result.is_err() {
            let _ = self.gc_layers();
        }
        result
    }
}

impl crate::ImageStore {
    /// A config-only child of `parent` (the builder's `ENV`, `CMD`, ...
    /// steps): the parent's layers, one more (empty-layer) history entry.
    /// `None` as parent: an image with no layers (`FROM scratch`).
    pub fn child_image(
        &self,
        parent: Option<&str>,
        _layer: Option<()>,
        config: crate::RunConfig,
        created_by: &str,
    ) -> Result<String> {
        let parent = parent.map(|p| self.get(p)).transpose()?;
        let created = crate::now();
        let mut history = parent
            .as_ref()
            .map(|p| p.config.history.clone())
            .unwrap_or_default();
        if !created_by.is_empty() {
            history.push(crate::History {
                created: Some(created.clone()),
                created_by: Some(created_by.to_string()),
                empty_layer: true,
                ..Default::default()
            });
        }
        let image = crate::ImageConfig {
            architecture: parent
                .as_ref()
                .map(|p| p.config.architecture.clone())
                .filter(|a| !a.is_empty())
                .unwrap_or_else(|| crate::arch().into()),
            config: Some(config),
            created: Some(created),
            history,
            os: "linux".into(),
            variant: parent.as_ref().and_then(|p| p.config.variant.clone()),
            rootfs: crate::RootFs {
                r#type: "layers".into(),
                diff_ids: parent
                    .as_ref()
                    .map(|p| p.config.rootfs.diff_ids.clone())
                    .unwrap_or_default(),
            },
            ..Default::default()
        };
        let raw = serde_json::to_vec(&image).map_err(|e| Error::internal(e.to_string()))?;
        // The parent's layers are held by the parent image itself.
        let parent_id = parent.as_ref().map(|p| p.id.as_str());
        Ok(self.commit_child_image(&raw, &[], parent_id)?.id)
    }
}
