//! `POST /plugins/create?name=`: a plugin from a tar of a directory with
//! `config.json` and `rootfs/` (what `docker plugin create` sends).

use std::io::Read;
use std::path::Path;

use berth_api::views::plugin::PluginConfigRootfs;
use berth_api::views::Plugin;
use berth_api::{Error, Result};
use sha2::{Digest, Sha256};

use super::{config, store, Plugins};

impl Plugins<'_> {
    /// Unpacks into a scratch directory, then moves it into the store
    /// under a new id: a failed create leaves nothing behind.
    pub async fn create(&self, name: &str, tar: bytes::Bytes) -> Result<()> {
        let name = store::normalize_name(name)?;
        let _op = self.plugins.ops.lock().await;
        if self.plugins.store.name_taken(&name) {
            return Err(Error::conflict(format!("plugin {name} already exists")));
        }
        let scratch = self.plugins.store.scratch()?;
        let unpacked = {
            let scratch = scratch.clone();
            tokio::task::spawn_blocking(move || unpack(&tar, &scratch))
                .await
                .map_err(|e| Error::internal(e.to_string()))?
        };
        let (mut cfg, diff_id) = match unpacked {
            Ok(u) => u,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&scratch);
                return Err(e);
            }
        };
        cfg.docker_version = crate::system::VERSION.to_string();
        cfg.rootfs = Some(PluginConfigRootfs {
            r#type: "layers".into(),
            diff_ids: Some(vec![diff_id]),
        });
        let p = Plugin {
            id: crate::new_id(),
            name: name.clone(),
            enabled: false,
            settings: config::initial_settings(&cfg),
            plugin_reference: name,
            config: cfg,
        };
        let dir = self.plugins.store.dir(&p.id);
        let moved = std::fs::rename(&scratch, &dir)
            .map_err(|e| Error::internal(format!("storing the plugin: {e}")))
            .and_then(|()| self.plugins.store.put(&p));
        if let Err(e) = moved {
            let _ = std::fs::remove_dir_all(&scratch);
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
        self.event("create", &p);
        Ok(())
    }
}

/// Reads `config.json` and unpacks `rootfs/` into `dir`; returns the
/// config and the rootfs layer's diff id (the digest of a tar of it, the
/// layer a push would send).
fn unpack(body: &[u8], dir: &Path) -> Result<(berth_api::views::PluginConfig, String)> {
    let read_err = |e: std::io::Error| Error::invalid(format!("failed to read from tar: {e}"));
    // The docker CLI sends the directory uncompressed; a gzip one is taken too.
    let reader: Box<dyn Read + '_> = if body.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(body))
    } else {
        Box::new(body)
    };
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    let mut config = None;
    let mut has_rootfs = false;
    for entry in archive.entries().map_err(read_err)? {
        let mut entry = entry.map_err(read_err)?;
        let path = entry.path().map_err(read_err)?.into_owned();
        let path = path.strip_prefix(".").unwrap_or(&path).to_path_buf();
        if path == Path::new("config.json") {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).map_err(read_err)?;
            config = Some(bytes);
        } else if path.starts_with("rootfs") {
            has_rootfs = true;
            // `unpack_in` refuses names that climb out of `dir`.
            entry
                .unpack_in(dir)
                .map_err(|e| Error::invalid(format!("unpacking {}: {e}", path.display())))?;
        }
    }
    let bytes = config.ok_or_else(|| Error::invalid("config not found: EOF"))?;
    let cfg = config::parse(&bytes)?;
    if !has_rootfs {
        return Err(Error::internal("no rootfs found: EOF"));
    }
    let rootfs = dir.join("rootfs");
    std::fs::create_dir_all(&rootfs)?;
    Ok((cfg, diff_id(&rootfs)?))
}

/// `sha256:` of an uncompressed tar of `rootfs`.
fn diff_id(rootfs: &Path) -> Result<String> {
    struct Hashing(Sha256);
    impl std::io::Write for Hashing {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.update(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut b = tar::Builder::new(Hashing(Sha256::new()));
    b.follow_symlinks(false);
    b.append_dir_all(".", rootfs)
        .map_err(|e| Error::internal(format!("hashing the rootfs: {e}")))?;
    let h = b
        .into_inner()
        .map_err(|e| Error::internal(format!("hashing the rootfs: {e}")))?;
    Ok(format!("sha256:{}", hex::encode(h.0.finalize())))
}
