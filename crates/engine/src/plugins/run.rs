//! Running a plugin as dockerd runs it: in a container of its own (its
//! rootfs, mounts, env, args, network, capabilities from its config and
//! settings), through a `berth-shim` like any container, with the socket
//! directory `<exec-root>/plugins/<id>` bound at `/run/docker/plugins`;
//! then `/Plugin.Activate` over the socket, bounded by the enable timeout.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use berth_api::views::Plugin;
use berth_api::{Error, Result};
use berth_runtime::client::{spawn_shim, ShimClient, ShimError};
use berth_runtime::proto::{LogSpec, ShimConfig};
use berth_runtime::spec::{
    build_spec, BindMount, NetNs, SpecMount, SpecParams, DEFAULT_CAPABILITIES,
};
use serde::Deserialize;

use super::client::PluginClient;
use super::Plugins;

/// Where a plugin's socket appears inside its container.
const SOCKET_DIR_IN_PLUGIN: &str = "/run/docker/plugins";

/// The `PATH` a plugin's process starts with (moby's `DefaultPathEnv`).
const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// How long a disable waits for the plugin to end on SIGTERM before
/// SIGKILL (dockerd's `shutdownTimeout`).
const STOP_GRACE: Duration = Duration::from_secs(10);

/// `/Plugin.Activate`'s answer.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Activation {
    #[serde(rename = "Implements")]
    pub implements: Vec<String>,
}

impl Plugins<'_> {
    /// `<exec-root>/plugins/<id>`: the plugin's socket directory.
    pub(crate) fn socket_dir(&self, id: &str) -> PathBuf {
        self.config.exec_root.join("plugins").join(id)
    }

    /// The shim's state (bundle, `shim.sock`, `exit.json`), apart from the
    /// socket directory the plugin sees.
    fn shim_dir(&self, id: &str) -> PathBuf {
        self.config.exec_root.join("plugins").join("shim").join(id)
    }

    /// A client on an enabled plugin's socket, calls bounded by `timeout`.
    pub(crate) fn client(&self, p: &Plugin, timeout: Duration) -> PluginClient {
        PluginClient::new(&self.socket_dir(&p.id), &p.config.interface.socket, timeout)
    }

    /// Starts the plugin's container and activates it; on any failure the
    /// container is gone again and the error says why.
    pub(crate) async fn run(&self, p: &Plugin, timeout: Duration) -> Result<()> {
        let shim_dir = self.shim_dir(&p.id);
        let socket_dir = self.socket_dir(&p.id);
        for d in [&shim_dir, &socket_dir] {
            let _ = std::fs::remove_dir_all(d);
            std::fs::create_dir_all(d)?;
        }
        let started = self.start_container(p, &shim_dir, &socket_dir).await;
        let result = match started {
            Ok(()) => self.activate(p, &shim_dir, timeout).await,
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            self.stop(p).await;
            return Err(e);
        }
        Ok(())
    }

    async fn start_container(&self, p: &Plugin, shim_dir: &Path, socket_dir: &Path) -> Result<()> {
        let rootfs = self.plugins.store.rootfs(&p.id);
        let mut mounts = Vec::new();
        if !p.config.propagated_mount.is_empty() {
            mounts.push(self.propagated_mount(p, &rootfs)?);
        }
        for m in p.settings.mounts.iter().flatten() {
            if m.source.is_empty() || m.destination.is_empty() {
                continue;
            }
            let mut options = m.options.clone().unwrap_or_default();
            let kind = if m.r#type.is_empty() {
                "bind"
            } else {
                m.r#type.as_str()
            };
            if kind == "bind" && !options.iter().any(|o| o == "bind" || o == "rbind") {
                options.push("rbind".into());
            }
            let target = rootfs.join(m.destination.trim_start_matches('/'));
            std::fs::create_dir_all(&target)?;
            mounts.push(SpecMount {
                destination: m.destination.clone(),
                kind: kind.into(),
                source: m.source.clone(),
                options,
            });
        }
        let host_net = p.config.network.r#type == "host";
        let mut caps: Vec<String> = DEFAULT_CAPABILITIES.iter().map(|c| c.to_string()).collect();
        for c in p.config.linux.capabilities.iter().flatten() {
            if !caps.contains(c) {
                caps.push(c.clone());
            }
        }
        let hc = berth_api::HostConfig {
            privileged: p.config.linux.allow_all_devices,
            ..Default::default()
        };
        let (devices, device_rules) = crate::containers::devices::for_container(&hc)?;
        let args: Vec<String> = p
            .config
            .entrypoint
            .iter()
            .flatten()
            .chain(p.settings.args.iter().flatten())
            .cloned()
            .collect();
        let spec = build_spec(&SpecParams {
            rootfs,
            readonly_rootfs: false,
            args,
            // As dockerd: a default PATH first, then the plugin's settings.
            env: std::iter::once(DEFAULT_PATH.to_string())
                .chain(p.settings.env.iter().flatten().cloned())
                .collect(),
            cwd: p.config.work_dir.clone(),
            uid: p.config.user.uid,
            gid: p.config.user.gid,
            additional_gids: vec![],
            hostname: String::new(),
            terminal: false,
            netns: if host_net {
                NetNs::Host
            } else {
                NetNs::Path(ShimConfig::netns_path(shim_dir))
            },
            binds: vec![BindMount {
                source: socket_dir.to_path_buf(),
                destination: SOCKET_DIR_IN_PLUGIN.into(),
                read_only: false,
            }],
            mounts,
            cgroups_path: format!(
                "{}/plugin-{}",
                self.config.cgroup_parent.trim_end_matches('/'),
                p.id
            ),
            privileged: p.config.linux.allow_all_devices,
            host_capabilities: crate::containers::start::host_capabilities(),
            capabilities: Some(caps),
            shm_size: 0,
            seccomp: None,
            no_new_privileges: false,
            devices,
            device_rules,
            sysctl: vec![],
            resources: Default::default(),
        });
        std::fs::write(
            shim_dir.join("config.json"),
            serde_json::to_vec(&spec).map_err(|e| Error::internal(e.to_string()))?,
        )?;
        let (runtime, runtime_root) = self
            .containers()
            .runtime_for(self.config.runtimes.default_name())?;
        let cfg = ShimConfig {
            id: format!("plugin-{}", p.id),
            bundle: shim_dir.to_path_buf(),
            state_dir: shim_dir.to_path_buf(),
            runtime_root,
            runtime,
            seccomp_cache: None,
            log_path: Some(shim_dir.join("plugin.log")),
            tty: false,
            open_stdin: false,
            stdin_once: false,
            new_netns: !host_net,
            log: LogSpec::default(),
        };
        let failed =
            |e: ShimError| Error::internal(format!("error starting plugin {}: {e}", p.name));
        spawn_shim(&self.config.shim_binary, &cfg)
            .await
            .map_err(failed)?;
        ShimClient::new(shim_dir).start().await.map_err(failed)?;
        Ok(())
    }

    /// dockerd's propagated mount: `<plugin-dir>/propagated-mount`, a
    /// shared mount of its own, bound at the config's path in the rootfs
    /// on the host side too, so what the plugin mounts there (a volume it
    /// serves) is seen by the host and by containers.
    fn propagated_mount(&self, p: &Plugin, rootfs: &Path) -> Result<SpecMount> {
        use nix::mount::{mount, MsFlags};
        let source = self.plugins.store.propagated_mount(&p.id);
        let target = rootfs.join(p.config.propagated_mount.trim_start_matches('/'));
        std::fs::create_dir_all(&source)?;
        std::fs::create_dir_all(&target)?;
        let fail = |what: &str, e: nix::Error| {
            Error::internal(format!(
                "propagated mount {}: {what}: {e}",
                source.display()
            ))
        };
        if !crate::volumes::is_mountpoint(&source) {
            mount(
                Some(&source),
                &source,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(|e| fail("bind", e))?;
        }
        mount(
            None::<&str>,
            &source,
            None::<&str>,
            MsFlags::MS_SHARED | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(|e| fail("make rshared", e))?;
        if !crate::volumes::is_mountpoint(&target) {
            mount(
                Some(&source),
                &target,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
            .map_err(|e| fail("bind into the rootfs", e))?;
        }
        Ok(SpecMount {
            destination: p.config.propagated_mount.clone(),
            kind: "bind".into(),
            source: source.display().to_string(),
            options: vec!["rbind".into(), "rshared".into()],
        })
    }

    /// Waits for the socket, then `/Plugin.Activate`, retrying until the
    /// deadline (the plugin may still be starting); fails at once when the
    /// plugin's process has ended.
    async fn activate(&self, p: &Plugin, shim_dir: &Path, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let mut last = String::from("no answer");
        loop {
            if let Some(exit) = berth_runtime::client::read_exit(shim_dir) {
                let log = std::fs::read_to_string(shim_dir.join("plugin.log")).unwrap_or_default();
                return Err(Error::internal(format!(
                    "error starting plugin {}: the plugin exited with code {} before it was activated{}",
                    p.name,
                    exit.exit_code,
                    last_line(&log)
                )));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::internal(format!(
                    "error starting plugin {}: not activated within {}s: {last}",
                    p.name,
                    timeout.as_secs()
                )));
            }
            let client = self.client(p, left);
            match client
                .call::<_, Activation>("Plugin.Activate", &serde_json::json!({}))
                .await
            {
                Ok(a) => {
                    tracing::info!(plugin = %p.name, implements = ?a.implements, "plugin activated");
                    return Ok(());
                }
                Err(e) => last = e.message,
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Ends the plugin's container (SIGTERM, then SIGKILL after the grace
    /// time) and undoes its mounts and directories.
    pub(crate) async fn stop(&self, p: &Plugin) {
        let shim_dir = self.shim_dir(&p.id);
        let client = ShimClient::new(&shim_dir);
        if client.kill(libc::SIGTERM, true).await.is_ok() {
            let waited = tokio::time::timeout(STOP_GRACE, client.wait(&shim_dir)).await;
            if waited.is_err() {
                let _ = client.kill(libc::SIGKILL, true).await;
                let _ = tokio::time::timeout(Duration::from_secs(5), client.wait(&shim_dir)).await;
            }
        }
        if !p.config.propagated_mount.is_empty() {
            let target = self
                .plugins
                .store
                .rootfs(&p.id)
                .join(p.config.propagated_mount.trim_start_matches('/'));
            // The plugin's own mount at its propagated path comes back to
            // the host through the shared mount, stacked on the engine's:
            // unmount until nothing is left (bounded, in case one cannot go).
            for m in [target, self.plugins.store.propagated_mount(&p.id)] {
                for _ in 0..16 {
                    if !crate::volumes::is_mountpoint(&m)
                        || nix::mount::umount2(&m, nix::mount::MntFlags::MNT_DETACH).is_err()
                    {
                        break;
                    }
                }
            }
        }
        let _ = std::fs::remove_dir_all(&shim_dir);
        let _ = std::fs::remove_dir_all(self.socket_dir(&p.id));
    }

    /// Whether the plugin's container still runs.
    pub(crate) async fn is_running(&self, id: &str) -> bool {
        ShimClient::new(&self.shim_dir(id)).state().await.is_ok()
    }

    /// Watches an enabled plugin: when its process ends without a
    /// disable, it is started again, as dockerd restarts a plugin that
    /// dies; one that cannot be started again is marked disabled (its
    /// socket is gone, so every call to it would fail).
    pub(crate) fn monitor(&self, id: String) {
        let engine = self.arc();
        tokio::spawn(async move {
            let plugins = engine.plugins();
            let shim_dir = plugins.shim_dir(&id);
            let exit = ShimClient::new(&shim_dir).wait(&shim_dir).await;
            let _op = plugins.plugins.ops.lock().await;
            let Ok(p) = plugins.plugins.store.get(&id) else {
                return;
            };
            if !p.enabled || plugins.is_stopping(&id) {
                return;
            }
            let code = exit.ok().map(|e| e.exit_code);
            tracing::warn!(plugin = %p.name, exit = ?code, "plugin exited; starting it again");
            plugins.stop(&p).await;
            // A plugin that dies at once would otherwise spin.
            tokio::time::sleep(Duration::from_secs(1)).await;
            match plugins.run(&p, super::DEFAULT_TIMEOUT).await {
                Ok(()) => plugins.monitor(id),
                Err(e) => {
                    tracing::error!(plugin = %p.name, "restarting the plugin: {}; disabling it", e.message);
                    let _ = plugins.plugins.store.update(&id, |p| p.enabled = false);
                }
            }
        });
    }
}

/// `: <the last line the plugin printed>`, or nothing.
fn last_line(log: &str) -> String {
    #[derive(Deserialize)]
    struct Line {
        log: String,
    }
    log.lines()
        .rev()
        .find_map(|l| serde_json::from_str::<Line>(l).ok())
        .map(|l| format!(": {}", l.log.trim()))
        .unwrap_or_default()
}
