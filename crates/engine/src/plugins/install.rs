//! Plugins from and to a registry: `/plugins/privileges`,
//! `/plugins/pull` (what `docker plugin install` calls) and
//! `/plugins/{name}/push`. A pull is refused unless the privileges the
//! client granted are exactly those the plugin's config asks for.

use std::io::Write;
use std::path::Path;

use berth_api::views::plugin::{PluginConfigRootfs, PluginPrivilege};
use berth_api::views::{Plugin, PluginConfig};
use berth_api::{Error, Reference, Result};
use berth_distribution::plugin::{fetch_plugin, push_plugin};
use berth_distribution::progress::{self, Sink};
use berth_distribution::AuthConfig;
use sha2::{Digest, Sha256};

use super::{config, store, Plugins};

/// What a plugin's config asks of the host (moby's `computePrivileges`),
/// in its order.
pub fn privileges(c: &PluginConfig) -> Vec<PluginPrivilege> {
    let p = |name: &str, description: &str, value: Vec<String>| PluginPrivilege {
        name: name.into(),
        description: description.into(),
        value: Some(value),
    };
    let mut out = Vec::new();
    let net = c.network.r#type.as_str();
    if !net.is_empty() && net != "null" && net != "bridge" {
        out.push(p(
            "network",
            "permissions to access a network",
            vec![net.into()],
        ));
    }
    if c.ipc_host {
        out.push(p(
            "host ipc namespace",
            "allow access to host ipc namespace",
            vec!["true".into()],
        ));
    }
    if c.pid_host {
        out.push(p(
            "host pid namespace",
            "allow access to host pid namespace",
            vec!["true".into()],
        ));
    }
    for m in c.mounts.iter().flatten().filter(|m| !m.source.is_empty()) {
        out.push(p("mount", "host path to mount", vec![m.source.clone()]));
    }
    for d in c
        .linux
        .devices
        .iter()
        .flatten()
        .filter(|d| !d.path.is_empty())
    {
        out.push(p("device", "host device to access", vec![d.path.clone()]));
    }
    if c.linux.allow_all_devices {
        out.push(p(
            "allow-all-devices",
            "allow 'rwm' access to all devices",
            vec!["true".into()],
        ));
    }
    let caps = c.linux.capabilities.clone().unwrap_or_default();
    if !caps.is_empty() {
        out.push(p(
            "capabilities",
            "list of additional capabilities required",
            caps,
        ));
    }
    out
}

/// The same privileges, whatever the order (moby's `isEqual`).
fn same_privileges(a: &[PluginPrivilege], b: &[PluginPrivilege]) -> bool {
    let key = |p: &PluginPrivilege| {
        let mut v = p.value.clone().unwrap_or_default();
        v.sort();
        (p.name.clone(), v)
    };
    let mut a: Vec<_> = a.iter().map(key).collect();
    let mut b: Vec<_> = b.iter().map(key).collect();
    a.sort();
    b.sort();
    a == b
}

impl Plugins<'_> {
    /// `GET /plugins/privileges?remote=`.
    pub async fn privileges(&self, remote: &str, auth: AuthConfig) -> Result<Vec<PluginPrivilege>> {
        let r = Reference::parse_with_default_tag(remote)?;
        let art = fetch_plugin(&self.config.registry, &r, auth, false, None).await?;
        Ok(privileges(&config::parse(&art.config)?))
    }

    /// `POST /plugins/pull?remote=&name=`: fetches the plugin, checks the
    /// granted privileges, unpacks its layers and stores it disabled.
    pub async fn pull(
        &self,
        remote: &str,
        alias: &str,
        granted: &[PluginPrivilege],
        auth: AuthConfig,
        tx: &Sink,
    ) -> Result<()> {
        let r = Reference::parse_with_default_tag(remote)?;
        let name = store::normalize_name(if alias.is_empty() { remote } else { alias })?;
        if self.plugins.store.name_taken(&name) {
            return Err(Error::conflict(format!("plugin {name} already exists")));
        }
        let art = fetch_plugin(&self.config.registry, &r, auth, true, Some(tx)).await?;
        let cfg = config::parse(&art.config)?;
        if !same_privileges(&privileges(&cfg), granted) {
            return Err(Error::invalid("incorrect privileges"));
        }
        let _op = self.plugins.ops.lock().await;
        if self.plugins.store.name_taken(&name) {
            return Err(Error::conflict(format!("plugin {name} already exists")));
        }
        let scratch = self.plugins.store.scratch()?;
        let unpacked = {
            let (scratch, layers) = (scratch.clone(), art.layers);
            tokio::task::spawn_blocking(move || unpack_layers(&layers, &scratch.join("rootfs")))
                .await
                .map_err(|e| Error::internal(e.to_string()))?
        };
        let p = Plugin {
            id: crate::new_id(),
            name: name.clone(),
            enabled: false,
            settings: config::initial_settings(&cfg),
            plugin_reference: r.familiar_string(),
            config: cfg,
        };
        let stored = unpacked
            .and_then(|()| {
                std::fs::rename(&scratch, self.plugins.store.dir(&p.id))
                    .map_err(|e| Error::internal(format!("storing the plugin: {e}")))
            })
            .and_then(|()| self.plugins.store.put(&p));
        if let Err(e) = stored {
            let _ = std::fs::remove_dir_all(&scratch);
            let _ = std::fs::remove_dir_all(self.plugins.store.dir(&p.id));
            return Err(e);
        }
        progress::status(tx, &format!("Digest: {}", art.digest), None);
        progress::status(
            tx,
            &format!("Status: Downloaded newer image for {}", r.familiar_string()),
            None,
        );
        self.event("pull", &p);
        Ok(())
    }

    /// The plugin, if it may be upgraded now (it must be disabled).
    pub fn upgradable(&self, name: &str) -> Result<Plugin> {
        let p = self.plugins.store.get(name)?;
        if p.enabled {
            return Err(Error::conflict(format!(
                "plugin must be disabled before upgrading: plugin {} is enabled",
                p.name
            )));
        }
        Ok(p)
    }

    /// `POST /plugins/{name}/upgrade?remote=`: a disabled plugin gets the
    /// rootfs and config of `remote` (its privileges granted as for a
    /// pull); its id, name and settings stay.
    pub async fn upgrade(
        &self,
        name: &str,
        remote: &str,
        granted: &[PluginPrivilege],
        auth: AuthConfig,
        tx: &Sink,
    ) -> Result<()> {
        let p = self.upgradable(name)?;
        let r = Reference::parse_with_default_tag(if remote.is_empty() {
            &p.plugin_reference
        } else {
            remote
        })?;
        let art = fetch_plugin(&self.config.registry, &r, auth, true, Some(tx)).await?;
        let cfg = config::parse(&art.config)?;
        if !same_privileges(&privileges(&cfg), granted) {
            return Err(Error::invalid("incorrect privileges"));
        }
        let _op = self.plugins.ops.lock().await;
        let scratch = self.plugins.store.scratch()?;
        let unpacked = {
            let (scratch, layers) = (scratch.clone(), art.layers);
            tokio::task::spawn_blocking(move || unpack_layers(&layers, &scratch.join("rootfs")))
                .await
                .map_err(|e| Error::internal(e.to_string()))?
        };
        // The new rootfs replaces the old one by two renames; the old goes
        // with the scratch directory.
        let rootfs = self.plugins.store.rootfs(&p.id);
        let swapped = unpacked
            .and_then(|()| Ok(std::fs::rename(&rootfs, scratch.join("old"))?))
            .and_then(|()| Ok(std::fs::rename(scratch.join("rootfs"), &rootfs)?));
        let result = swapped.and_then(|()| {
            self.plugins
                .store
                .update(&p.id, |p| {
                    p.config = cfg;
                    p.plugin_reference = r.familiar_string();
                })
                .map(drop)
        });
        let _ = std::fs::remove_dir_all(&scratch);
        result?;
        progress::status(tx, &format!("Digest: {}", art.digest), None);
        progress::status(
            tx,
            &format!("Status: Downloaded newer image for {}", r.familiar_string()),
            None,
        );
        Ok(())
    }

    /// `POST /plugins/{name}/push`: the rootfs as one gzip layer and the
    /// config (its `rootfs.diff_ids` that layer's), under the plugin's name.
    pub async fn push(&self, name: &str, auth: AuthConfig, tx: &Sink) -> Result<()> {
        let mut p = self.plugins.store.get(name)?;
        let r = Reference::parse_with_default_tag(&p.name)?;
        let rootfs = self.plugins.store.rootfs(&p.id);
        let (layer, diff_id) = tokio::task::spawn_blocking(move || layer_of(&rootfs))
            .await
            .map_err(|e| Error::internal(e.to_string()))??;
        p.config.rootfs = Some(PluginConfigRootfs {
            r#type: "layers".into(),
            diff_ids: Some(vec![diff_id]),
        });
        let config = serde_json::to_vec(&p.config).map_err(|e| Error::internal(e.to_string()))?;
        push_plugin(&self.config.registry, &r, auth, config, layer, tx).await?;
        self.event("push", &p);
        Ok(())
    }
}

/// Applies the gzip tar layers in order into `rootfs`.
fn unpack_layers(layers: &[Vec<u8>], rootfs: &Path) -> Result<()> {
    std::fs::create_dir_all(rootfs)?;
    for l in layers {
        let mut a = tar::Archive::new(flate2::read::GzDecoder::new(l.as_slice()));
        a.set_preserve_permissions(true);
        a.set_preserve_ownerships(true);
        a.set_overwrite(true);
        a.unpack(rootfs)
            .map_err(|e| Error::internal(format!("unpacking the plugin's rootfs: {e}")))?;
    }
    Ok(())
}

/// The rootfs as a gzip tar, and the digest of the uncompressed tar.
fn layer_of(rootfs: &Path) -> Result<(Vec<u8>, String)> {
    let fail = |e: std::io::Error| Error::internal(format!("archiving the rootfs: {e}"));
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    b.append_dir_all(".", rootfs).map_err(fail)?;
    let tar = b.into_inner().map_err(fail)?;
    let diff_id = format!("sha256:{}", hex::encode(Sha256::digest(&tar)));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).map_err(fail)?;
    Ok((gz.finish().map_err(fail)?, diff_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privileges_as_moby_computes_them() {
        let c = config::parse(
            br#"{"Network":{"Type":"host"},"Linux":{"Capabilities":["CAP_SYS_ADMIN"]},
                "Mounts":[{"Source":"/var/lib/x","Destination":"/x"}]}"#,
        )
        .expect("valid");
        let p = privileges(&c);
        let names: Vec<&str> = p.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["network", "mount", "capabilities"]);
        let mut reordered = p.clone();
        reordered.reverse();
        assert!(same_privileges(&p, &reordered));
        assert!(!same_privileges(&p, &p[..2]));
        assert!(privileges(&config::parse(b"{}").expect("valid")).is_empty());
    }
}
