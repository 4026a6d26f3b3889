//! The plugins service: dockerd's managed plugins (`/plugins`). A plugin
//! is a rootfs and a config (`config.rs`) kept in the store (`store.rs`);
//! enabled, it runs in a container of its own and answers the plugin
//! protocol on its socket (`run.rs`, `client.rs`); volume plugins serve
//! `docker volume create -d PLUGIN` and the mounts of their volumes
//! (`volume.rs`).

pub mod authz;
pub mod client;
pub mod config;
mod create;
pub mod install;
pub mod legacy;
mod run;
pub mod store;
pub mod volume;

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use berth_api::views::Plugin;
use berth_api::{Error, Result};
use indexmap::IndexMap;

use crate::Filters;
pub use store::PluginStore;

/// How long an enable waits for `/Plugin.Activate` when the request names
/// no timeout, and how long a call to a plugin may take (dockerd's
/// default `--timeout` of `plugin enable`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The engine's plugin state: the store, and what is in flight.
pub struct PluginState {
    pub(crate) store: PluginStore,
    /// Plugins being disabled or removed: their exit is expected.
    stopping: Mutex<HashSet<String>>,
    /// One lifecycle change (enable, disable, set, remove) at a time.
    ops: tokio::sync::Mutex<()>,
    /// `--authorization-plugin`s, in order.
    authz: std::sync::RwLock<Vec<String>>,
}

impl PluginState {
    pub fn open(data_root: &std::path::Path) -> Result<PluginState> {
        Ok(PluginState {
            store: PluginStore::open(&data_root.join("plugins"))?,
            stopping: Mutex::new(HashSet::new()),
            ops: tokio::sync::Mutex::new(()),
            authz: std::sync::RwLock::new(Vec::new()),
        })
    }
}

service! {
    /// `engine.plugins()`: managed plugins.
    Plugins
}

impl Plugins<'_> {
    /// `GET /plugins?filters=`: `capability`, `enabled`.
    pub fn list(&self, filters: &Filters) -> Result<Vec<Plugin>> {
        filters
            .validate(&["capability", "enabled"])
            .map_err(|e| Error::invalid(e.message.replace("invalid filter", "Invalid filter")))?;
        let enabled = filters.get("enabled");
        let want_enabled = match enabled {
            [] => None,
            [v] if v == "true" => Some(true),
            [v] if v == "false" => Some(false),
            values => {
                return Err(Error::invalid(format!(
                    "Invalid filter 'enabled=[{}]'",
                    values.join(" ")
                )))
            }
        };
        let caps = filters.get("capability");
        Ok(self
            .plugins
            .store
            .list()
            .into_iter()
            .filter(|p| want_enabled.is_none_or(|e| p.enabled == e))
            .filter(|p| caps.iter().all(|c| p.config.interface.has_capability(c)))
            .collect())
    }

    /// `GET /plugins/{name}/json`.
    pub fn inspect(&self, name: &str) -> Result<Plugin> {
        self.plugins.store.get(name)
    }

    /// `POST /plugins/{name}/enable?timeout=SECONDS`.
    pub async fn enable(&self, name: &str, timeout: Duration) -> Result<()> {
        let _op = self.plugins.ops.lock().await;
        let p = self.plugins.store.get(name)?;
        if p.enabled {
            return Err(Error::conflict(format!(
                "plugin already enabled: plugin {} is enabled",
                p.name
            )));
        }
        config::check_runnable(&p.name, &p.config)?;
        self.run(&p, timeout).await?;
        self.plugins.store.update(&p.id, |p| p.enabled = true)?;
        self.monitor(p.id.clone());
        self.event("enable", &p);
        Ok(())
    }

    /// `POST /plugins/{name}/disable?force=`: refused while a volume uses
    /// the plugin, unless forced.
    pub async fn disable(&self, name: &str, force: bool) -> Result<()> {
        let _op = self.plugins.ops.lock().await;
        let p = self.plugins.store.get(name)?;
        if !p.enabled {
            return Err(Error::conflict(format!(
                "plugin is already disabled: plugin {} found but disabled",
                p.name
            )));
        }
        if !force && !self.users(&p).is_empty() {
            return Err(Error::conflict(format!("plugin {} is in use", p.name)));
        }
        self.stop_expected(&p).await;
        self.plugins.store.update(&p.id, |p| p.enabled = false)?;
        self.event("disable", &p);
        Ok(())
    }

    /// `POST /plugins/{name}/set`: only while disabled, only what the
    /// config declares settable; a refused set changes nothing.
    pub async fn set(&self, name: &str, args: &[String]) -> Result<()> {
        let _op = self.plugins.ops.lock().await;
        let mut p = self.plugins.store.get(name)?;
        if p.enabled {
            return Err(Error::internal(
                "cannot set on an active plugin, disable plugin before setting",
            ));
        }
        config::apply_set(&p.config, &mut p.settings, args)?;
        self.plugins.store.put(&p)
    }

    /// `DELETE /plugins/{name}?force=`: refused while in use or enabled,
    /// unless forced (then the plugin is stopped first).
    pub async fn remove(&self, name: &str, force: bool) -> Result<()> {
        let _op = self.plugins.ops.lock().await;
        let p = self.plugins.store.get(name)?;
        if !force {
            if !self.users(&p).is_empty() {
                return Err(Error::conflict(format!("plugin {} is in use", p.name)));
            }
            if p.enabled {
                return Err(Error::conflict(format!("plugin {} is enabled", p.name)));
            }
        }
        if p.enabled {
            self.stop_expected(&p).await;
        }
        self.plugins.store.remove(&p.id)?;
        self.event("remove", &p);
        Ok(())
    }

    /// At daemon start: plugins left enabled run again (one whose
    /// container survived is adopted); one that cannot start is marked
    /// disabled, with the reason in the log.
    pub async fn restore(&self) {
        for p in self.plugins.store.list().into_iter().filter(|p| p.enabled) {
            if self.is_running(&p.id).await {
                self.monitor(p.id.clone());
                continue;
            }
            self.stop(&p).await;
            if let Err(e) = self.run(&p, DEFAULT_TIMEOUT).await {
                tracing::error!(plugin = %p.name, "restarting the plugin: {}", e.message);
                let _ = self.plugins.store.update(&p.id, |p| p.enabled = false);
                continue;
            }
            self.monitor(p.id.clone());
        }
    }

    /// Stops a plugin whose exit its monitor must not take for a crash.
    async fn stop_expected(&self, p: &Plugin) {
        self.stopping_set().insert(p.id.clone());
        self.stop(p).await;
        self.stopping_set().remove(&p.id);
    }

    fn stopping_set(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.plugins
            .stopping
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn is_stopping(&self, id: &str) -> bool {
        self.stopping_set().contains(id)
    }

    /// What holds the plugin: the volumes made through it.
    pub fn users(&self, p: &Plugin) -> Vec<String> {
        self.volumes
            .list()
            .unwrap_or_default()
            .into_iter()
            .filter(|v| v.driver == p.name)
            .map(|v| v.name)
            .collect()
    }

    pub(crate) fn event(&self, action: &str, p: &Plugin) {
        self.events.publish(
            "plugin",
            action,
            &p.id,
            IndexMap::from([("name".to_string(), p.name.clone())]),
        );
    }
}
