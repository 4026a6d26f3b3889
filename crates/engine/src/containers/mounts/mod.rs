//! A container's mounts: what `HostConfig.Binds`, `HostConfig.Mounts`,
//! `HostConfig.Tmpfs`, `HostConfig.VolumesFrom` and `Config.Volumes` (the
//! image's `VOLUME`s included) ask for, parsed and checked as dockerd does at
//! create, kept in the container's record as [`MountPoint`]s; empty volumes
//! are filled from the image at create (copy-up); at start they become OCI
//! mounts: targets resolved inside the rootfs, volumes with device options
//! mounted. Parsing and the create-time plan are in `parse.rs`.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use berth_api::{ContainerConfig, Error, HostConfig, Result};
use berth_runtime::spec::SpecMount;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::containers::container::{Record, Status};
use crate::containers::Containers;

mod parse;

pub use parse::*;

/// `bind`, `volume` or `tmpfs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    #[default]
    Bind,
    Volume,
    Tmpfs,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Bind => "bind",
            Kind::Volume => "volume",
            Kind::Tmpfs => "tmpfs",
        }
    }
}

/// One mount of a container, as its record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct MountPoint {
    pub kind: Kind,
    /// The volume's name (volumes only).
    #[serde(default)]
    pub name: String,
    /// The host path: a bind's source, a volume's `_data`.
    #[serde(default)]
    pub source: String,
    pub destination: String,
    #[serde(default)]
    pub driver: String,
    /// The mode as the user wrote it (`ro,nocopy`), as inspect shows it.
    #[serde(default)]
    pub mode: String,
    pub rw: bool,
    /// `rprivate`, `rslave`, ...; empty for volumes and tmpfs.
    #[serde(default)]
    pub propagation: String,
    #[serde(default)]
    pub nocopy: bool,
    /// A volume made for this container alone (`-v /path`, image `VOLUME`):
    /// removed with it by `rm -v` and `--rm`.
    #[serde(default)]
    pub anonymous: bool,
    /// tmpfs mount options (`size=65536k,mode=1777`).
    #[serde(default)]
    pub tmpfs_options: String,
    /// Shown in inspect's `Mounts` (a `HostConfig.Tmpfs` entry is not).
    #[serde(default = "yes")]
    pub listed: bool,
}

fn yes() -> bool {
    true
}

/// A volume the container needs: made (or found) at create.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VolumeWant {
    /// Empty: anonymous (a fresh 64-hex name).
    pub name: String,
    pub driver: String,
    pub labels: IndexMap<String, String>,
    pub options: IndexMap<String, String>,
}

/// What [`plan`] decides before anything is made.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Mount points; for a volume, `name` is empty when anonymous and
    /// `source` is filled in once the volume exists.
    pub points: Vec<MountPoint>,
    /// Per point index: the volume to make or find.
    pub volumes: Vec<(usize, VolumeWant)>,
    /// Missing bind sources of `Binds` to create, as dockerd does.
    pub mkdirs: Vec<PathBuf>,
}

/// Resolves `target` (absolute, inside the container) under `root` as the
/// container would see it: symlinks are followed but never leave `root`
/// (an absolute link restarts at `root`, `..` stops at it), like Go's
/// `securejoin`. Written by hand: the crates for this (`pathrs`) bring a C
/// library; this is thirty lines over `std`.
pub fn resolve_in_root(root: &Path, target: &str) -> Result<PathBuf> {
    let mut pending: Vec<String> = target
        .split('/')
        .filter(|p| !p.is_empty())
        .rev()
        .map(str::to_string)
        .collect();
    let mut current: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(part) = pending.pop() {
        match part.as_str() {
            "." => continue,
            ".." => {
                current.pop();
                continue;
            }
            _ => {}
        }
        let candidate = root.join(current.join("/")).join(&part);
        match std::fs::symlink_metadata(&candidate) {
            Ok(md) if md.file_type().is_symlink() => {
                links += 1;
                if links > 255 {
                    return Err(Error::invalid(format!(
                        "too many levels of symbolic links resolving {target}"
                    )));
                }
                let dest = std::fs::read_link(&candidate)?;
                let dest = dest.to_string_lossy().into_owned();
                if dest.starts_with('/') {
                    current.clear();
                }
                for p in dest.split('/').filter(|p| !p.is_empty()).rev() {
                    pending.push(p.to_string());
                }
            }
            _ => current.push(part),
        }
    }
    let mut out = root.to_path_buf();
    for c in &current {
        out.push(c);
    }
    debug_assert!(out.components().all(|c| c != Component::ParentDir));
    Ok(out)
}

/// Copies the image's content at a volume's target into the empty volume
/// (moby's copy-up): files, directories, symlinks with owners, modes and
/// times; then the directory's own owner and mode. Written by hand: the copy
/// crates (`fs_extra`, `copy_dir`) drop ownership.
pub fn copy_up(from: &Path, to: &Path) -> Result<()> {
    let md = match std::fs::symlink_metadata(from) {
        Ok(m) if m.is_dir() => m,
        _ => return Ok(()),
    };
    copy_tree(from, to)?;
    let _ = std::os::unix::fs::lchown(to, Some(md.uid()), Some(md.gid()));
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(md.mode() & 0o7777))?;
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let md = std::fs::symlink_metadata(&src)?;
        let ft = md.file_type();
        if ft.is_dir() {
            std::fs::create_dir(&dst)?;
            copy_tree(&src, &dst)?;
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src)?, &dst)?;
        } else if ft.is_file() {
            std::fs::copy(&src, &dst)?;
        } else {
            // Devices, fifos, sockets: not copied, as moby skips what it cannot read.
            continue;
        }
        let _ = std::os::unix::fs::lchown(&dst, Some(md.uid()), Some(md.gid()));
        if !ft.is_symlink() {
            std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(md.mode() & 0o7777))?;
        }
    }
    Ok(())
}

/// dockerd's rule for `shared`/`slave` binds: the mount holding the source
/// must itself be shared (for `[r]shared`) or shared or slave (for
/// `[r]slave`), or the propagation asked could never happen.
fn check_propagation(source: &str, propagation: &str) -> Result<()> {
    let need_shared = matches!(propagation, "shared" | "rshared");
    let need_slave = matches!(propagation, "slave" | "rslave");
    if !need_shared && !need_slave {
        return Ok(());
    }
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let source = std::fs::canonicalize(source)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| source.to_string());
    // The longest mount point that holds the source; its optional fields.
    let best = info
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let point = *f.get(4)?;
            let inside =
                source == point || point == "/" || source.starts_with(&format!("{point}/"));
            let sep = f.iter().position(|x| *x == "-")?;
            inside.then(|| (point.to_string(), f[6..sep].join(" ")))
        })
        .max_by_key(|(p, _)| p.len());
    let Some((point, optional)) = best else {
        return Ok(());
    };
    let shared = optional.contains("shared:");
    let slave = optional.contains("master:");
    if need_shared && !shared {
        return Err(Error::invalid(format!(
            "path {source} is mounted on {point} but it is not a shared mount"
        )));
    }
    if need_slave && !shared && !slave {
        return Err(Error::invalid(format!(
            "path {source} is mounted on {point} but it is not a shared or slave mount"
        )));
    }
    Ok(())
}

fn dir_is_empty(p: &Path) -> bool {
    std::fs::read_dir(p)
        .map(|mut d| d.next().is_none())
        .unwrap_or(false)
}

/// Inspect's `Mounts`, sorted by destination as dockerd prints them; the
/// name and driver are a volume's only.
pub fn inspect_view(points: &[MountPoint]) -> Vec<berth_api::views::MountPoint> {
    let mut v: Vec<&MountPoint> = points.iter().filter(|m| m.listed).collect();
    v.sort_by(|a, b| a.destination.cmp(&b.destination));
    v.into_iter()
        .map(|m| {
            let volume = m.kind == Kind::Volume;
            let only_volume = |s: &str| if volume { s.to_string() } else { String::new() };
            berth_api::views::MountPoint {
                r#type: m.kind.as_str().to_string(),
                name: only_volume(&m.name),
                source: m.source.clone(),
                destination: m.destination.clone(),
                driver: only_volume(&m.driver),
                mode: m.mode.clone(),
                rw: m.rw,
                propagation: m.propagation.clone(),
            }
        })
        .collect()
}

impl Containers<'_> {
    /// The mount points of a new container: checks everything first (a
    /// bad spec changes nothing), then makes the volumes and the missing
    /// bind sources. Returns the points and the anonymous volumes made, for
    /// [`Containers::undo_volumes`] if the create fails later.
    pub(crate) fn make_mounts(
        &self,
        config: &ContainerConfig,
        hc: &HostConfig,
    ) -> Result<(Vec<MountPoint>, Vec<String>)> {
        let from = |key: &str| -> Result<Vec<MountPoint>> {
            // dockerd answers 400 here: a 404 would make the CLI pull the image.
            let h = self.lookup(key).map_err(|e| Error::invalid(e.message))?;
            Ok(h.with(|r| r.mount_points.clone()))
        };
        let mut plan = plan(config, hc, &from)?;
        // A volume's driver: an existing volume's own, else the mount's,
        // else `--volume-driver` for one named without a driver.
        for (_, want) in plan.volumes.iter_mut() {
            match self.volumes.get(&want.name) {
                Ok(v) if !want.name.is_empty() => want.driver = v.driver,
                _ if want.driver == "local" && !hc.volume_driver.is_empty() => {
                    want.driver = hc.volume_driver.clone();
                }
                _ => {}
            }
        }
        for (_, want) in &plan.volumes {
            if !want.name.is_empty() {
                crate::volumes::check_name(&want.name)?;
            }
            if want.driver != "local" {
                self.volumes().driver_plugin(&want.driver).map_err(|e| {
                    Error::new(e.kind(), format!("create {}: {}", want.name, e.message))
                })?;
                continue;
            }
            crate::volumes::check_options(&want.name, &want.options)?;
        }
        let mut made = Vec::new();
        let mut result = Ok(());
        for (i, want) in &plan.volumes {
            let mut labels = want.labels.clone();
            let anonymous = want.name.is_empty();
            if anonymous {
                labels.insert(crate::volumes::ANONYMOUS_LABEL.into(), String::new());
            }
            let existed = !anonymous && self.volumes.get(&want.name).is_ok();
            let name = (!anonymous).then_some(want.name.as_str());
            let made_volume = if want.driver == "local" {
                self.volumes.create(name, labels, want.options.clone())
            } else {
                self.volumes()
                    .create_on_plugin(name, &want.driver, labels, want.options.clone())
            };
            match made_volume {
                Ok(v) => {
                    if !existed {
                        made.push(v.name.clone());
                    }
                    let mp = &mut plan.points[*i];
                    mp.name = v.name.clone();
                    mp.driver = v.driver.clone();
                    if v.driver == "local" {
                        // dockerd sends `create` for every volume a container names.
                        self.volumes().event("create", &v.name);
                        mp.source = self.volumes.data_path(&v.name).display().to_string();
                    }
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        if result.is_ok() {
            for d in &plan.mkdirs {
                if let Err(e) = std::fs::create_dir_all(d) {
                    result = Err(Error::invalid(format!(
                        "error while creating mount source path '{}': {e}",
                        d.display()
                    )));
                    break;
                }
            }
        }
        if let Err(e) = result {
            self.undo_volumes(&made);
            return Err(e);
        }
        Ok((plan.points, made))
    }

    /// Removes volumes made for a create that then failed.
    pub(crate) fn undo_volumes(&self, names: &[String]) {
        for n in names {
            match self.volumes.get(n) {
                Ok(v) if v.driver != "local" => {
                    let _ = self.volumes().remove(n, true);
                }
                _ => {
                    let _ = self.volumes.remove(n);
                }
            }
        }
    }

    /// Fills the container's empty volumes from its image (moby's
    /// `populateVolumes`): at create, with the rootfs mounted for the
    /// copy. Volumes with device options are skipped (their content lives
    /// on the device, mounted only while in use).
    pub(crate) fn populate_volumes(
        &self,
        layer: &berth_store::RwLayer,
        points: &[MountPoint],
    ) -> Result<()> {
        let wanted: Vec<&MountPoint> = points
            .iter()
            .filter(|m| m.kind == Kind::Volume && !m.nocopy)
            .filter(|m| {
                self.volumes
                    .get(&m.name)
                    .is_ok_and(|v| v.options.is_empty() && v.driver == "local")
            })
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        layer.mount()?;
        let copied = (|| -> Result<()> {
            for m in wanted {
                let data = self.volumes.data_path(&m.name);
                if !dir_is_empty(&data) {
                    continue;
                }
                let target = resolve_in_root(&layer.merged, &m.destination)?;
                if target != layer.merged {
                    copy_up(&target, &data)?;
                }
            }
            Ok(())
        })();
        let unmounted = layer.unmount();
        copied.and(unmounted)
    }

    /// The OCI mounts of a container about to start, in mount order
    /// (parents before children): volume devices mounted, targets resolved
    /// and made inside `rootfs`.
    pub(crate) fn setup_mounts(&self, r: &Record, rootfs: &Path) -> Result<Vec<SpecMount>> {
        let mut points = r.mount_points.clone();
        points.sort_by_key(|m| m.destination.split('/').filter(|s| !s.is_empty()).count());
        let mut out = Vec::new();
        for m in &points {
            let target = resolve_in_root(rootfs, &m.destination)?;
            if target == rootfs {
                // A symlink in the image aimed the target at `/` itself.
                return Err(Error::invalid(format!(
                    "invalid mount config: {} resolves to the container's root",
                    m.destination
                )));
            }
            let dest_in_root =
                Path::new("/").join(target.strip_prefix(rootfs).unwrap_or(Path::new("")));
            // A plugin's volume is where the plugin says at its `Mount`.
            let mut plugin_source = None;
            match m.kind {
                Kind::Volume if m.driver != "local" => {
                    plugin_source = Some(self.volumes().mount_on_plugin(&m.name, &r.id)?);
                    std::fs::create_dir_all(&target)?;
                }
                Kind::Volume => {
                    self.volumes.mount(&m.name)?;
                    std::fs::create_dir_all(&target)?;
                }
                Kind::Bind => {
                    check_propagation(&m.source, &m.propagation)?;
                    let is_dir = std::fs::metadata(&m.source).map(|md| md.is_dir()).map_err(
                        |_| {
                            Error::invalid(format!(
                                "invalid mount config for type \"bind\": bind source path does not exist: {}",
                                m.source
                            ))
                        },
                    )?;
                    if is_dir {
                        std::fs::create_dir_all(&target)?;
                    } else if std::fs::symlink_metadata(&target).is_err() {
                        if let Some(parent) = target.parent() {
                            std::fs::create_dir_all(parent)?;
                        }
                        std::fs::File::create(&target)?;
                    }
                }
                Kind::Tmpfs => {
                    std::fs::create_dir_all(&target)?;
                }
            }
            let mut options: Vec<String> = Vec::new();
            let (kind, source) = match m.kind {
                Kind::Tmpfs => {
                    options.extend(["nosuid", "nodev", "noexec"].map(String::from));
                    options.extend(
                        m.tmpfs_options
                            .split(',')
                            .filter(|o| !o.is_empty())
                            .map(String::from),
                    );
                    ("tmpfs", "tmpfs".to_string())
                }
                _ => {
                    options.push("rbind".into());
                    options.push(if m.propagation.is_empty() {
                        "rprivate".into()
                    } else {
                        m.propagation.clone()
                    });
                    let src = if let Some(p) = &plugin_source {
                        p.display().to_string()
                    } else if m.kind == Kind::Volume {
                        self.volumes.data_path(&m.name).display().to_string()
                    } else {
                        m.source.clone()
                    };
                    ("bind", src)
                }
            };
            if !m.rw {
                options.push("ro".into());
            }
            if m.kind == Kind::Volume {
                self.events.publish(
                    "volume",
                    "mount",
                    &m.name,
                    IndexMap::from([
                        ("container".to_string(), r.id.clone()),
                        ("destination".to_string(), m.destination.clone()),
                        ("driver".to_string(), m.driver.clone()),
                        ("propagation".to_string(), m.propagation.clone()),
                        ("read/write".to_string(), m.rw.to_string()),
                    ]),
                );
            }
            out.push(SpecMount {
                destination: dest_in_root.display().to_string(),
                kind: kind.into(),
                source,
                options,
            });
        }
        Ok(out)
    }

    /// After a container's exit: unmounts its device volumes (`-o type=`)
    /// that no running container still uses.
    pub(crate) fn release_mounts(&self, r: &Record) {
        for m in r.mount_points.iter().filter(|m| m.kind == Kind::Volume) {
            self.events.publish(
                "volume",
                "unmount",
                &m.name,
                IndexMap::from([
                    ("container".to_string(), r.id.clone()),
                    ("driver".to_string(), m.driver.clone()),
                ]),
            );
            if m.driver != "local" {
                self.volumes().unmount_on_plugin(&m.name, &r.id);
                continue;
            }
            let used = self.all().iter().any(|h| {
                h.id != r.id
                    && h.with(|o| {
                        o.state.status == Status::Running
                            && o.mount_points.iter().any(|p| p.name == m.name)
                    })
            });
            if !used {
                self.volumes.unmount(&m.name);
            }
        }
    }

    /// Removes the anonymous volumes of a removed container (`rm -v`,
    /// `--rm`) that no other container uses.
    pub(crate) fn remove_anonymous_volumes(&self, r: &Record) {
        for m in r
            .mount_points
            .iter()
            .filter(|m| m.anonymous && m.kind == Kind::Volume)
        {
            if self.volume_users(&m.name).is_empty() {
                let removed = if m.driver == "local" {
                    self.volumes.remove(&m.name)
                } else {
                    self.volumes().remove(&m.name, false)
                };
                if let Err(e) = removed {
                    tracing::warn!(volume = %m.name, "removing an anonymous volume: {e}");
                }
            }
        }
    }

    /// Ids of the containers that reference a volume.
    pub fn volume_users(&self, name: &str) -> Vec<String> {
        let mut ids: Vec<String> = self
            .all()
            .iter()
            .filter(|h| {
                h.with(|r| {
                    r.mount_points
                        .iter()
                        .any(|m| m.kind == Kind::Volume && m.name == name)
                })
            })
            .map(|h| h.id.clone())
            .collect();
        ids.sort();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_stay_inside_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::create_dir_all(root.join("real")).unwrap();
        std::os::unix::fs::symlink("/../../../etc", root.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../tmp", root.join("rel")).unwrap();
        std::os::unix::fs::symlink("real", root.join("inner")).unwrap();
        assert_eq!(resolve_in_root(root, "/abs/x").unwrap(), root.join("etc/x"));
        assert_eq!(resolve_in_root(root, "/rel").unwrap(), root.join("tmp"));
        assert_eq!(
            resolve_in_root(root, "/inner/y").unwrap(),
            root.join("real/y")
        );
        assert_eq!(resolve_in_root(root, "/../../x").unwrap(), root.join("x"));
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        assert!(resolve_in_root(root, "/loop").is_err());
    }

    #[test]
    fn copy_up_keeps_content_and_modes() {
        let tmp = tempfile::tempdir().unwrap();
        let from = tmp.path().join("from");
        let to = tmp.path().join("to");
        std::fs::create_dir_all(from.join("sub")).unwrap();
        std::fs::create_dir_all(&to).unwrap();
        std::fs::write(from.join("sub/f"), b"hello").unwrap();
        std::fs::set_permissions(from.join("sub/f"), std::fs::Permissions::from_mode(0o640))
            .unwrap();
        std::os::unix::fs::symlink("sub/f", from.join("l")).unwrap();
        std::fs::set_permissions(&from, std::fs::Permissions::from_mode(0o1777)).unwrap();
        copy_up(&from, &to).unwrap();
        assert_eq!(std::fs::read(to.join("sub/f")).unwrap(), b"hello");
        assert_eq!(
            std::fs::metadata(to.join("sub/f")).unwrap().mode() & 0o777,
            0o640
        );
        assert_eq!(
            std::fs::read_link(to.join("l")).unwrap(),
            Path::new("sub/f")
        );
        assert_eq!(std::fs::metadata(&to).unwrap().mode() & 0o7777, 0o1777);
    }
}
