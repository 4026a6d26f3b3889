//! The engine core: containers and images as objects with state machines,
//! events, and the typed operations the API serves. It knows no HTTP: the
//! daemon turns requests into calls here and errors' kinds into status codes.
//!
//! [`Engine`] is the root: it holds the shared state (configuration, image
//! store, container table and records, volume store, networking, exec
//! table, event bus), private to this crate, and hands out one service per
//! kind of object, each in its folder: [`Engine::containers`],
//! [`Engine::exec`], [`Engine::images`], [`Engine::distribution`],
//! [`Engine::networks`], [`Engine::volumes`], [`Engine::system`]. A service
//! is a view (a borrowed `&Engine` that derefs to it, see `service!`), not
//! an owner: most operations cross objects (a start touches the image
//! store, mounts, volumes, networks and events), so the state stays in one
//! place and services call one another (`self.networks()`).

#![recursion_limit = "256"]

/// Declares a service: a named view of the engine for one kind of object.
/// It borrows the engine and derefs to it, so a service's methods reach the
/// shared state (`self.images`, `self.config`, `self.lookup(..)`) as
/// `Engine`'s own methods do, and a sibling service as `self.networks()`.
/// Making one costs a pointer copy; any `&Engine` can make one.
macro_rules! service {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, Copy)]
        pub struct $name<'e>(&'e $crate::Engine);

        impl<'e> $name<'e> {
            pub(crate) fn new(engine: &'e $crate::Engine) -> Self {
                $name(engine)
            }
        }

        impl std::ops::Deref for $name<'_> {
            type Target = $crate::Engine;
            fn deref(&self) -> &Self::Target {
                self.0
            }
        }
    };
}

pub mod containers;
mod db;
pub mod distribution;
pub mod exec;
pub mod filters;
pub mod images;
pub mod networks;
pub mod plugins;
pub mod system;
pub mod volumes;

pub use filters::{parse_time, Filters};

#[cfg(test)]
mod props;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use berth_api::{Error, Result};
use berth_store::ImageStore;

use crate::containers::container::{Handle, Record, Status};
use crate::system::events::EventBus;

/// Where things live and how containers run; from flags and `daemon.json`.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub data_root: PathBuf,
    pub exec_root: PathBuf,
    /// The `berth-shim` binary.
    pub shim_binary: PathBuf,
    /// Parent of every container's cgroup (`/berth`).
    pub cgroup_parent: String,
    pub labels: Vec<String>,
    pub network: networks::NetConfig,
    /// `log-driver` and `log-opts`: what a container that names none gets.
    pub log_driver: String,
    pub log_opts: std::collections::BTreeMap<String, String>,
    /// `storage-driver`: `overlay2`, `vfs`, or `None` for the best the kernel has.
    pub storage_driver: Option<String>,
    /// `insecure-registries`, `registry-mirrors`, certs.d dirs.
    pub registry: berth_distribution::RegistryOptions,
    /// `runtimes` and `default-runtime`: the OCI runtimes containers may choose.
    pub runtimes: berth_runtime::runtimes::Runtimes,
}

impl berth_distribution::HasStore for Engine {
    fn image_store(&self) -> &ImageStore {
        &self.images
    }
}

pub struct Engine {
    /// The engine's own `Arc`, for the operations that hand an owned engine
    /// to a task they spawn (a container's monitor, a pull) while called
    /// through a service that only borrows it.
    me: std::sync::Weak<Engine>,
    pub(crate) config: EngineConfig,
    pub(crate) images: ImageStore,
    pub(crate) events: EventBus,
    pub(crate) net: networks::Networking,
    db: db::Db,
    pub(crate) volumes: volumes::VolumeStore,
    /// Managed plugins: the store and what is in flight.
    pub(crate) plugins: plugins::PluginState,
    /// Every container by id.
    table: RwLock<HashMap<String, Arc<Handle>>>,
    execs: exec::Execs,
    /// Names held by creates in flight.
    names: containers::names::Reservations,
    /// The daemon's own id, as `/info` shows it.
    pub(crate) id: String,
}

impl Engine {
    pub fn open(config: EngineConfig) -> Result<Arc<Engine>> {
        for dir in [
            config.data_root.clone(),
            config.data_root.join("containers"),
            config.exec_root.clone(),
            config.exec_root.join("containers"),
            config.exec_root.join("runtime"),
        ] {
            std::fs::create_dir_all(&dir)
                .map_err(|e| Error::internal(format!("creating {}: {e}", dir.display())))?;
        }
        let images =
            ImageStore::open_with_driver(&config.data_root, config.storage_driver.as_deref())?;
        let db = db::Db::open(&config.data_root.join("containers.db"))?;
        let id = engine_id(&config.data_root)?;
        let volumes = volumes::VolumeStore::open(
            &config.data_root.join("containers.db"),
            &config.data_root.join("volumes"),
        )?;
        let mut map = HashMap::new();
        let mut in_use = Vec::new();
        for mut r in db.load_all()? {
            containers::runtimes::name_builtin_runtime(&mut r);
            if r.state.status == Status::Running {
                in_use.extend(r.mount_points.iter().map(|m| m.name.clone()));
            }
            map.insert(r.id.clone(), Handle::new(r));
        }
        volumes.unmount_all_unused(&in_use);
        let plugins = plugins::PluginState::open(&config.data_root)?;
        Ok(Arc::new_cyclic(|me| Engine {
            me: me.clone(),
            net: networks::Networking::new(config.network.clone(), &config.data_root),
            config,
            images,
            events: EventBus::default(),
            db,
            volumes,
            plugins,
            table: RwLock::new(map),
            execs: Default::default(),
            names: Default::default(),
            id,
        }))
    }

    /// An owned handle on this engine (see `me`).
    pub(crate) fn arc(&self) -> Arc<Engine> {
        // An `&Engine` is only ever reached through its `Arc`, which
        // therefore still holds it.
        self.me
            .upgrade()
            .expect("the engine is alive while borrowed")
    }

    /// `/containers`.
    pub fn containers(&self) -> containers::Containers<'_> {
        containers::Containers::new(self)
    }

    /// `/images`.
    pub fn images(&self) -> images::Images<'_> {
        images::Images::new(self)
    }

    /// Pull and push.
    pub fn distribution(&self) -> distribution::Distribution<'_> {
        distribution::Distribution::new(self)
    }

    /// `/info`, `/version`, `/system/df`, `/events`.
    pub fn system(&self) -> system::System<'_> {
        system::System::new(self)
    }

    /// `/containers/{id}/exec` and `/exec`.
    pub fn exec(&self) -> exec::Exec<'_> {
        exec::Exec::new(self)
    }

    /// `/networks`, and containers' endpoints.
    pub fn networks(&self) -> networks::Networks<'_> {
        networks::Networks::new(self)
    }

    /// `/volumes`.
    pub fn volumes(&self) -> volumes::Volumes<'_> {
        volumes::Volumes::new(self)
    }

    /// `/plugins`: managed plugins.
    pub fn plugins(&self) -> plugins::Plugins<'_> {
        plugins::Plugins::new(self)
    }

    /// The daemon's data root, where other parts (the builder's cache) keep
    /// their own files.
    pub fn data_root(&self) -> &std::path::Path {
        &self.config.data_root
    }

    pub(crate) fn container_dir(&self, id: &str) -> PathBuf {
        self.config.data_root.join("containers").join(id)
    }

    pub(crate) fn state_dir(&self, id: &str) -> PathBuf {
        self.config.exec_root.join("containers").join(id)
    }

    pub(crate) fn log_path(&self, id: &str) -> PathBuf {
        self.container_dir(id).join(format!("{id}-json.log"))
    }

    pub(crate) fn save(&self, h: &Handle) -> Result<()> {
        self.db.put(&h.snapshot())
    }

    pub(crate) fn all(&self) -> Vec<Arc<Handle>> {
        self.table
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Finds a container by full id, name (with or without `/`), or unique id prefix.
    pub fn lookup(&self, key: &str) -> Result<Arc<Handle>> {
        let map = self.table.read().unwrap_or_else(|e| e.into_inner());
        if key.is_empty() {
            return Err(Error::not_found("No such container: "));
        }
        if let Some(h) = map.get(key) {
            return Ok(h.clone());
        }
        let name = format!("/{}", key.trim_start_matches('/'));
        if let Some(h) = map.values().find(|h| h.with(|r| r.name == name)) {
            return Ok(h.clone());
        }
        let matches: Vec<_> = map.values().filter(|h| h.id.starts_with(key)).collect();
        match matches.len() {
            1 => Ok(matches[0].clone()),
            0 => Err(Error::not_found(format!("No such container: {key}"))),
            _ => Err(Error::invalid(format!(
                "multiple IDs found with provided prefix: {key}"
            ))),
        }
    }

    pub(crate) fn insert(&self, h: Arc<Handle>) {
        self.table
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(h.id.clone(), h);
    }

    pub(crate) fn forget(&self, id: &str) {
        self.table
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }

    pub(crate) fn name_owner(&self, name: &str) -> Option<String> {
        let map = self.table.read().unwrap_or_else(|e| e.into_inner());
        map.values()
            .find(|h| h.with(|r| r.name == name))
            .map(|h| h.id.clone())
    }

    /// Containers whose image is `image_id`: (id, running).
    pub fn users_of_image(&self, image_id: &str) -> Vec<(String, bool)> {
        self.all()
            .iter()
            .filter_map(|h| {
                h.with(|r| {
                    (r.image_id == image_id)
                        .then(|| (r.id.clone(), r.state.status == Status::Running))
                })
            })
            .collect()
    }

    /// Reconciles after a start: containers whose shim still runs are adopted
    /// (live restore); the others are marked exited with what their shim left.
    pub async fn restore(self: &Arc<Self>) -> Result<()> {
        self.networks().init().await?;
        // Plugins first: containers restarted below may mount their volumes.
        self.plugins().restore().await;
        for h in self.all() {
            let r = h.snapshot();
            if r.state.status != Status::Running {
                continue;
            }
            containers::lifecycle::adopt(self.clone(), h.clone(), r).await;
        }
        self.containers().recover_interrupted().await;
        self.sweep_build_containers().await;
        for h in self.all() {
            containers::lifecycle::start_by_policy(self, h).await;
        }
        Ok(())
    }

    /// Build step containers of builds the daemon died in: nobody waits for
    /// them any more (the client's stream went with the daemon), so they go,
    /// killed first if their step still runs.
    async fn sweep_build_containers(self: &Arc<Self>) {
        for h in self.all() {
            if !h.with(|r| r.building) {
                continue;
            }
            if let Err(e) = self.containers().remove(&h.id, true, true).await {
                tracing::warn!(container_id = %h.id, "removing a dead build's container: {}", e.message);
            }
        }
    }
}

fn engine_id(root: &std::path::Path) -> Result<String> {
    let path = root.join("engine-id");
    if let Ok(s) = std::fs::read_to_string(&path) {
        if !s.trim().is_empty() {
            return Ok(s.trim().to_string());
        }
    }
    let id = new_id();
    let uuid = format!(
        "{}-{}-{}-{}-{}",
        &id[0..8],
        &id[8..12],
        &id[12..16],
        &id[16..20],
        &id[20..32]
    );
    std::fs::write(&path, &uuid)?;
    Ok(uuid)
}

/// A random 64-hex-digit id, as dockerd makes for containers.
pub fn new_id() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

pub(crate) fn record_name(r: &Record) -> String {
    r.name.trim_start_matches('/').to_string()
}
