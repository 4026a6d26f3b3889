//! Volumes a plugin serves (the `VolumeDriver` protocol): made, listed,
//! inspected and removed through `/volumes` like the `local` driver's,
//! and mounted into containers at their start. The engine records each
//! such volume (name, driver, labels, options) so it knows which plugin
//! holds it; the data and the paths are the plugin's. Every call is
//! bounded by [`super::DEFAULT_TIMEOUT`]: a plugin that hangs fails the
//! request with dockerd's "context deadline exceeded", never the daemon.

use std::collections::BTreeMap;
use std::path::PathBuf;

use berth_api::views::Volume;
use berth_api::{Error, Result};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::volumes::{VolumeRecord, Volumes};

#[derive(Serialize)]
struct NameRequest<'a> {
    #[serde(rename = "Name")]
    name: &'a str,
}

#[derive(Serialize)]
struct CreateRequest<'a> {
    #[serde(rename = "Name")]
    name: &'a str,
    #[serde(rename = "Opts")]
    opts: &'a IndexMap<String, String>,
}

/// `Mount` and `Unmount`: the caller's id lets a plugin count its users.
#[derive(Serialize)]
struct MountRequest<'a> {
    #[serde(rename = "Name")]
    name: &'a str,
    #[serde(rename = "ID")]
    id: &'a str,
}

/// Every answer's `Err`; a non-empty one is the plugin refusing.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ErrAnswer {
    #[serde(rename = "Err")]
    err: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MountAnswer {
    #[serde(rename = "Mountpoint")]
    mountpoint: String,
    #[serde(rename = "Err")]
    err: String,
}

/// A volume as a plugin describes it (`Get`, `List`). `Status` is
/// free-form in the protocol.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
struct PluginVolume {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Mountpoint")]
    mountpoint: String,
    #[serde(rename = "CreatedAt")]
    created_at: String,
    #[serde(rename = "Status")]
    status: Option<BTreeMap<String, serde_json::Value>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GetAnswer {
    #[serde(rename = "Volume")]
    volume: Option<PluginVolume>,
    #[serde(rename = "Err")]
    err: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ListAnswer {
    #[serde(rename = "Volumes")]
    volumes: Vec<PluginVolume>,
    #[serde(rename = "Err")]
    err: String,
}

/// Go's zero time: what dockerd shows as `CreatedAt` when the plugin
/// tells none.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Runs a plugin call from the volume service's synchronous code: it runs
/// on the daemon's blocking threads (or moves off an async worker first).
fn wait<F: std::future::Future>(f: F) -> F::Output {
    let handle = tokio::runtime::Handle::current();
    tokio::task::block_in_place(|| handle.block_on(f))
}

/// A volume driver the engine can call: an enabled managed plugin, or a
/// legacy plugin found by name.
pub(crate) struct Driver {
    /// The name volumes record (`bvp:latest` for a managed plugin).
    name: String,
    client: super::client::PluginClient,
    /// A managed plugin's rootfs: the paths it answers are inside it. A
    /// legacy plugin answers host paths.
    rootfs: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Activation {
    #[serde(rename = "Implements")]
    implements: Vec<String>,
}

impl Volumes<'_> {
    /// The volume driver called `driver`: an enabled managed plugin, else
    /// a legacy plugin that says it implements `VolumeDriver`; dockerd's
    /// words for a missing or disabled one.
    pub(crate) fn driver_plugin(&self, driver: &str) -> Result<Driver> {
        let lookup = |why: String| {
            Error::not_found(format!("error looking up volume plugin {driver}: {why}"))
        };
        let p = match self.plugins.store.get(driver) {
            Ok(p) => p,
            Err(_) => return self.legacy_driver(driver, lookup),
        };
        if !p.config.interface.has_capability("volumedriver") {
            return Err(lookup(format!(
                "plugin {driver:?} found, but does not implement VolumeDriver"
            )));
        }
        if !p.enabled {
            return Err(lookup(format!("plugin {driver} found but disabled")));
        }
        Ok(Driver {
            name: p.name.clone(),
            client: self.plugins().client(&p, super::DEFAULT_TIMEOUT),
            rootfs: Some(self.plugins.store.rootfs(&p.id)),
        })
    }

    fn legacy_driver(&self, driver: &str, lookup: impl Fn(String) -> Error) -> Result<Driver> {
        let Some(sock) = super::legacy::find(driver)? else {
            return Err(lookup(format!("plugin {driver:?} not found")));
        };
        let client =
            super::client::PluginClient::new(&sock.dir, &sock.file, super::DEFAULT_TIMEOUT);
        let a: Activation = wait(client.call("Plugin.Activate", &serde_json::json!({})))
            .map_err(|e| lookup(e.message))?;
        if !a.implements.iter().any(|i| i == "VolumeDriver") {
            return Err(lookup(format!(
                "plugin {driver:?} found, but does not implement VolumeDriver"
            )));
        }
        Ok(Driver {
            name: driver.to_string(),
            client,
            rootfs: None,
        })
    }

    fn call<A: serde::de::DeserializeOwned>(
        &self,
        d: &Driver,
        method: &str,
        body: &impl Serialize,
    ) -> Result<A> {
        wait(d.client.call(method, body))
    }

    /// `POST /volumes/create` with a plugin's driver: the plugin makes the
    /// volume, then the engine records it. An existing volume of that
    /// name is answered as it is, as dockerd does.
    pub(crate) fn create_on_plugin(
        &self,
        name: Option<&str>,
        driver: &str,
        labels: IndexMap<String, String>,
        options: IndexMap<String, String>,
    ) -> Result<VolumeRecord> {
        let name = match name.filter(|n| !n.is_empty()) {
            Some(n) => n.to_string(),
            None => crate::new_id(),
        };
        crate::volumes::check_name(&name)?;
        let in_op = |e: Error| Error::new(e.kind(), format!("create {name}: {}", e.message));
        let p = self.driver_plugin(driver).map_err(in_op)?;
        if let Ok(v) = self.volumes.get(&name) {
            return Ok(v);
        }
        let answer: ErrAnswer = self
            .call(
                &p,
                "VolumeDriver.Create",
                &CreateRequest {
                    name: &name,
                    opts: &options,
                },
            )
            .map_err(in_op)?;
        if !answer.err.is_empty() {
            return Err(Error::internal(format!("create {name}: {}", answer.err)));
        }
        let v = VolumeRecord {
            name: name.clone(),
            driver: p.name.clone(),
            created_at: String::new(),
            labels,
            options,
        };
        self.volumes.insert_record(&v)?;
        self.publish(&v, "create");
        Ok(v)
    }

    fn publish(&self, v: &VolumeRecord, action: &str) {
        self.events.publish(
            "volume",
            action,
            &v.name,
            IndexMap::from([("driver".to_string(), v.driver.clone())]),
        );
    }

    /// The plugin behind a recorded volume, with dockerd's words when it
    /// cannot be reached.
    fn plugin_of(&self, v: &VolumeRecord, op: &str) -> Result<Driver> {
        self.driver_plugin(&v.driver).map_err(|e| {
            Error::new(
                e.kind(),
                format!(
                    "{op} {}: error while checking if volume {:?} exists in driver {:?}: {}",
                    v.name, v.name, v.driver, e.message
                ),
            )
        })
    }

    /// `GET /volumes/{name}` of a plugin's volume: the plugin's `Get`.
    pub(crate) fn inspect_on_plugin(&self, v: &VolumeRecord) -> Result<Volume> {
        let p = self.plugin_of(v, "get")?;
        let answer: GetAnswer = self
            .call(&p, "VolumeDriver.Get", &NameRequest { name: &v.name })
            .map_err(|e| Error::internal(format!("get {}: {}", v.name, e.message)))?;
        if !answer.err.is_empty() {
            return Err(Error::not_found(format!("get {}: {}", v.name, answer.err)));
        }
        Ok(plugin_view(v, answer.volume.unwrap_or_default()))
    }

    /// The volumes of enabled plugins for `GET /volumes`, each plugin
    /// asked once (`List`); a plugin that fails is left out with a
    /// warning, as dockerd leaves out what it cannot reach.
    pub(crate) fn list_on_plugins(&self, records: &[VolumeRecord]) -> (Vec<Volume>, Vec<String>) {
        let mut by_driver: BTreeMap<&str, Vec<&VolumeRecord>> = BTreeMap::new();
        for v in records.iter().filter(|v| v.driver != "local") {
            by_driver.entry(v.driver.as_str()).or_default().push(v);
        }
        let (mut out, mut warnings) = (Vec::new(), Vec::new());
        for (driver, vols) in by_driver {
            let Ok(p) = self.driver_plugin(driver) else {
                continue;
            };
            let listed = self
                .call::<ListAnswer>(&p, "VolumeDriver.List", &serde_json::json!({}))
                .and_then(|a| {
                    if a.err.is_empty() {
                        Ok(a.volumes)
                    } else {
                        Err(Error::internal(a.err))
                    }
                });
            match listed {
                Ok(listed) => {
                    for v in vols {
                        let pv = listed.iter().find(|l| l.name == v.name).cloned();
                        out.push(plugin_view(v, pv.unwrap_or_default()));
                    }
                }
                Err(e) => warnings.push(format!("{driver}: {}", e.message)),
            }
        }
        (out, warnings)
    }

    /// `DELETE /volumes/{name}` of a plugin's volume (not in use: checked
    /// by the caller): the plugin's `Remove`, then the record.
    pub(crate) fn remove_on_plugin(&self, v: &VolumeRecord) -> Result<()> {
        let p = self.plugin_of(v, "get")?;
        let answer: ErrAnswer = self
            .call(&p, "VolumeDriver.Remove", &NameRequest { name: &v.name })
            .map_err(|e| Error::internal(format!("remove {}: {}", v.name, e.message)))?;
        if !answer.err.is_empty() {
            return Err(Error::internal(format!(
                "remove {}: {}",
                v.name, answer.err
            )));
        }
        self.volumes.delete_record(&v.name)?;
        self.publish(v, "destroy");
        Ok(())
    }

    /// At a container's start: the plugin mounts the volume and says
    /// where, inside its rootfs; the host path is that under the plugin's
    /// rootfs (its propagated mount is bound there).
    pub(crate) fn mount_on_plugin(&self, name: &str, container_id: &str) -> Result<PathBuf> {
        let v = self.volumes.get(name)?;
        let p = self.plugin_of(&v, "get")?;
        let fail =
            |m: String| Error::internal(format!("error while mounting volume '{name}': {m}"));
        let answer: MountAnswer = self
            .call(
                &p,
                "VolumeDriver.Mount",
                &MountRequest {
                    name,
                    id: container_id,
                },
            )
            .map_err(|e| fail(e.message))?;
        if !answer.err.is_empty() {
            return Err(fail(answer.err));
        }
        if answer.mountpoint.is_empty() {
            return Err(fail(
                "VolumeDriver.Mount: the plugin answered no Mountpoint".into(),
            ));
        }
        let Some(rootfs) = &p.rootfs else {
            // A legacy plugin runs on the host: its path is a host path.
            return Ok(PathBuf::from(answer.mountpoint));
        };
        let host = rootfs.join(answer.mountpoint.trim_start_matches('/'));
        // The plugin's path must stay inside its rootfs.
        let resolved =
            std::fs::canonicalize(&host).map_err(|e| fail(format!("{}: {e}", host.display())))?;
        if !resolved.starts_with(std::fs::canonicalize(rootfs)?) {
            return Err(fail(format!(
                "the plugin's mountpoint {} is outside its rootfs",
                answer.mountpoint
            )));
        }
        Ok(resolved)
    }

    /// At a container's exit: the plugin's `Unmount` (failures logged).
    pub(crate) fn unmount_on_plugin(&self, name: &str, container_id: &str) {
        let Ok(v) = self.volumes.get(name) else {
            return;
        };
        let Ok(p) = self.driver_plugin(&v.driver) else {
            return;
        };
        let r = self.call::<ErrAnswer>(
            &p,
            "VolumeDriver.Unmount",
            &MountRequest {
                name,
                id: container_id,
            },
        );
        match r {
            Ok(a) if a.err.is_empty() => {}
            Ok(a) => tracing::warn!(volume = %name, "unmounting: {}", a.err),
            Err(e) => tracing::warn!(volume = %name, "unmounting: {}", e.message),
        }
    }
}

/// The API's `Volume` of a plugin's volume: the engine's record with what
/// the plugin said of it (its path inside the plugin, its status).
fn plugin_view(v: &VolumeRecord, pv: PluginVolume) -> Volume {
    let sorted = |m: &IndexMap<String, String>| {
        (!m.is_empty()).then(|| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    };
    Volume {
        created_at: if pv.created_at.is_empty() {
            ZERO_TIME.into()
        } else {
            pv.created_at
        },
        driver: v.driver.clone(),
        labels: sorted(&v.labels),
        mountpoint: pv.mountpoint,
        name: v.name.clone(),
        options: sorted(&v.options),
        scope: "local".into(),
        status: pv.status,
        usage_data: None,
    }
}
