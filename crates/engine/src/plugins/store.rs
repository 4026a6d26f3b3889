//! The plugin store: `<data-root>/plugins/<id>/` holds `config.json` (the
//! plugin object as the API shows it, settings and enabled state
//! included, as dockerd keeps it), `rootfs/` and `propagated-mount/`.
//! The table in memory is loaded from there at start.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use berth_api::reference::Reference;
use berth_api::views::Plugin;
use berth_api::{Error, Result};

pub struct PluginStore {
    root: PathBuf,
    table: RwLock<BTreeMap<String, Plugin>>,
}

/// A plugin's name as dockerd keeps it: the familiar reference with a
/// tag (`vieux/sshfs` is `vieux/sshfs:latest`).
pub fn normalize_name(name: &str) -> Result<String> {
    let r = Reference::parse_with_default_tag(name)?;
    if r.digest.is_some() {
        return Err(Error::invalid(format!(
            "invalid plugin name {name:?}: a digest cannot name a plugin"
        )));
    }
    Ok(r.familiar_string())
}

impl PluginStore {
    pub fn open(root: &Path) -> Result<PluginStore> {
        std::fs::create_dir_all(root)
            .map_err(|e| Error::internal(format!("creating {}: {e}", root.display())))?;
        let mut table = BTreeMap::new();
        for entry in std::fs::read_dir(root)?.flatten() {
            let path = entry.path().join("config.json");
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            match serde_json::from_slice::<Plugin>(&bytes) {
                Ok(p) => {
                    table.insert(p.id.clone(), p);
                }
                Err(e) => tracing::error!("skipping unreadable plugin {}: {e}", path.display()),
            }
        }
        Ok(PluginStore {
            root: root.to_path_buf(),
            table: RwLock::new(table),
        })
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    pub fn rootfs(&self, id: &str) -> PathBuf {
        self.dir(id).join("rootfs")
    }

    pub fn propagated_mount(&self, id: &str) -> PathBuf {
        self.dir(id).join("propagated-mount")
    }

    /// A scratch directory on the store's filesystem, for an unpack that
    /// is renamed into place when complete.
    pub fn scratch(&self) -> Result<PathBuf> {
        let dir = self.root.join("tmp").join(crate::new_id());
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    pub fn list(&self) -> Vec<Plugin> {
        let t = self.table.read().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<Plugin> = t.values().cloned().collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// By name (`bvp` is `bvp:latest`), full id, or unique id prefix;
    /// dockerd's 404 otherwise.
    pub fn get(&self, key: &str) -> Result<Plugin> {
        let not_found = || Error::not_found(format!("plugin {key:?} not found"));
        let t = self.table.read().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = t.get(key) {
            return Ok(p.clone());
        }
        if let Ok(name) = normalize_name(key) {
            if let Some(p) = t.values().find(|p| p.name == name) {
                return Ok(p.clone());
            }
        }
        let by_prefix: Vec<&Plugin> = t.values().filter(|p| p.id.starts_with(key)).collect();
        match by_prefix.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(not_found()),
            _ => Err(Error::invalid(format!(
                "multiple plugins found with provided prefix: {key}"
            ))),
        }
    }

    pub fn name_taken(&self, name: &str) -> bool {
        let t = self.table.read().unwrap_or_else(|e| e.into_inner());
        t.values().any(|p| p.name == name)
    }

    /// Writes the plugin's `config.json` (a temporary file renamed over
    /// it, so a crash leaves the old or the new) and its table entry.
    pub fn put(&self, p: &Plugin) -> Result<()> {
        let dir = self.dir(&p.id);
        let tmp = dir.join("config.json.tmp");
        let bytes = serde_json::to_vec(p).map_err(|e| Error::internal(e.to_string()))?;
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, dir.join("config.json"))?;
        let mut t = self.table.write().unwrap_or_else(|e| e.into_inner());
        t.insert(p.id.clone(), p.clone());
        Ok(())
    }

    /// Changes a stored plugin with `f` and saves it.
    pub fn update(&self, id: &str, f: impl FnOnce(&mut Plugin)) -> Result<Plugin> {
        let mut p = self.get(id)?;
        f(&mut p);
        self.put(&p)?;
        Ok(p)
    }

    /// Forgets the plugin, then deletes its directory.
    pub fn remove(&self, id: &str) -> Result<()> {
        {
            let mut t = self.table.write().unwrap_or_else(|e| e.into_inner());
            t.remove(id);
        }
        let dir = self.dir(id);
        // The record goes first: a crash mid-delete leaves no half plugin.
        let _ = std::fs::remove_file(dir.join("config.json"));
        std::fs::remove_dir_all(&dir)
            .map_err(|e| Error::internal(format!("removing {}: {e}", dir.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_familiar_and_tagged() {
        assert_eq!(normalize_name("bvp").unwrap(), "bvp:latest");
        assert_eq!(normalize_name("vieux/sshfs:v2").unwrap(), "vieux/sshfs:v2");
        assert_eq!(normalize_name("docker.io/library/x").unwrap(), "x:latest");
        assert_eq!(
            normalize_name("localhost:5000/p").unwrap(),
            "localhost:5000/p:latest"
        );
        assert!(normalize_name("Bad").is_err());
    }

    #[test]
    fn found_by_name_id_and_prefix_and_kept_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let s = PluginStore::open(dir.path()).unwrap();
        let p = Plugin {
            id: "abcdef".into(),
            name: "bvp:latest".into(),
            ..Default::default()
        };
        std::fs::create_dir_all(s.dir("abcdef")).unwrap();
        s.put(&p).unwrap();
        assert_eq!(s.get("bvp").unwrap().id, "abcdef");
        assert_eq!(s.get("abc").unwrap().id, "abcdef");
        assert_eq!(
            s.get("nope").unwrap_err().message,
            "plugin \"nope\" not found"
        );
        let again = PluginStore::open(dir.path()).unwrap();
        assert_eq!(again.get("abcdef").unwrap(), p);
        again.remove("abcdef").unwrap();
        assert!(again.get("abcdef").is_err());
        assert!(!again.dir("abcdef").exists());
    }
}
