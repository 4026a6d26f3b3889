//! `POST /containers/{id}/start`: the rootfs mounted, the user resolved,
//! the OCI spec written with the container's capabilities and seccomp
//! profile, the shim spawned and the network plugged while it creates the
//! container, then the monitor that hears its exit.

use crate::containers::container::{self, now_rfc3339, Handle, Record, StateRecord, Status};
use crate::containers::lifecycle::{exec_message, shim_err};
use crate::containers::resolve;
use crate::containers::Containers;
use berth_api::{Error, Result};
use berth_runtime::client::{spawn_shim_with, ShimClient, ShimError};
use berth_runtime::proto::ShimConfig;
use berth_runtime::spec::{build_spec, BindMount, NetNs, SpecParams};
use std::path::PathBuf;
use std::sync::Arc;

impl Containers<'_> {
    /// `POST /containers/{id}/start`.
    pub async fn start(&self, key: &str) -> Result<()> {
        let h = self.lookup(key)?;
        let _op = h.op.lock().await;
        let r = h.snapshot();
        if r.state.status == Status::Running {
            return Err(Error::not_modified());
        }
        match self.start_locked(&h, &r).await {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = self.images.rw_layer(&h.id).and_then(|l| l.unmount());
                self.networks().release_endpoints(&h).await;
                self.release_mounts(&h.snapshot());
                h.with(|r| {
                    r.state.error = e.message.clone();
                    r.state.exit_code = if e.message.contains("executable file not found")
                        || e.message.contains("no such file or directory")
                    {
                        127
                    } else {
                        128
                    };
                });
                let _ = self.save(&h);
                // dockerd removes an AutoRemove container whose start failed;
                // `docker run --rm` waits for that removal.
                if h.snapshot().host_config.auto_remove {
                    let engine = self.arc();
                    let id = h.id.clone();
                    tokio::spawn(async move {
                        let _ = engine.containers().remove(&id, true, false).await;
                    });
                }
                Err(e)
            }
        }
    }

    pub(crate) async fn start_locked(&self, h: &Arc<Handle>, r: &Record) -> Result<()> {
        crate::containers::logdriver::check_at_start(
            &r.host_config.log_config.r#type,
            &r.host_config.log_config.config,
        )?;
        let bundle = self.write_bundle(h, r).await?;
        let cfg = self.shim_config(h, r, &bundle)?;
        let (pid, client) = self.spawn_plugged(h, &cfg).await?;
        // The size the client's terminal had at create, before the process looks at it.
        if let Some([height, width]) = r
            .host_config
            .console_size
            .as_deref()
            .and_then(|s| <[u64; 2]>::try_from(s).ok())
        {
            if r.config.tty && height > 0 && width > 0 {
                let _ = client
                    .resize(
                        height.min(u16::MAX as u64) as u16,
                        width.min(u16::MAX as u64) as u16,
                    )
                    .await;
            }
        }
        berth_store::crash::point("start.created");
        let hub = h.hub();
        let stream = client.attach(r.config.open_stdin).await.map_err(shim_err)?;
        hub.clone()
            .connect(stream, r.config.stdin_once && !r.config.tty);
        if let Err(e) = client.start().await {
            let _ = client.kill(9, false).await;
            return Err(Error::invalid(exec_message(&e.to_string())));
        }
        let restart_count = r.restart_count;
        h.with(|r| {
            r.state = StateRecord {
                status: Status::Running,
                restarting: false,
                paused: false,
                pid: pid as i64,
                exit_code: 0,
                error: String::new(),
                oom_killed: false,
                started_at: now_rfc3339(),
                finished_at: r.state.finished_at.clone(),
                health: None,
            };
            r.restart_count = restart_count;
            r.stopped_by_user = false;
            r.shutdown_stop = false;
        });
        self.save(h)?;
        h.watch.send_modify(|w| w.running = true);
        self.record_event("start", &h.snapshot(), &[]);
        self.spawn_monitor(h.clone(), client);
        Ok(())
    }

    /// Mounts the rootfs and writes the OCI bundle (`config.json` in the
    /// container's state dir): the process, its user, mounts, devices,
    /// capabilities, seccomp and resources.
    async fn write_bundle(&self, h: &Arc<Handle>, r: &Record) -> Result<Bundle> {
        let layer = self.images.rw_layer(&h.id)?;
        layer.mount()?;
        let rootfs = layer.merged.clone();
        let (uid, gid, groups) = resolve::process_user(&rootfs, &r.config.user, &r.host_config)?;
        let state_dir = self.state_dir(&h.id);
        let _ = std::fs::remove_dir_all(&state_dir);
        std::fs::create_dir_all(&state_dir)?;
        let mode = container::network_mode(&r.host_config);
        let host_mode = mode == "host";
        let shared_netns = self.shared_netns(h, &mode)?;
        let with_init = r.host_config.init == Some(true);
        let binds = self.etc_binds(h, with_init)?;
        // Copy-up can be long: off the async workers.
        let mounts = {
            let (engine, r, rootfs) = (self.arc(), r.clone(), rootfs.clone());
            tokio::task::spawn_blocking(move || engine.containers().setup_mounts(&r, &rootfs))
                .await
                .map_err(|e| Error::internal(e.to_string()))??
        };
        let (devices, device_rules) = crate::containers::devices::for_container(&r.host_config)?;
        let spec = build_spec(&SpecParams {
            rootfs,
            readonly_rootfs: r.host_config.readonly_rootfs,
            args: {
                let args: Vec<String> = std::iter::once(r.path.clone())
                    .chain(r.args.iter().cloned())
                    .collect();
                if with_init {
                    crate::containers::init::wrap(args)
                } else {
                    args
                }
            },
            env: resolve::process_env(&r.config),
            cwd: r.config.working_dir.clone(),
            uid,
            gid,
            additional_gids: groups,
            hostname: r.config.hostname.clone(),
            terminal: r.config.tty,
            netns: if host_mode {
                NetNs::Host
            } else if let Some(p) = &shared_netns {
                NetNs::Path(p.clone())
            } else {
                NetNs::Path(ShimConfig::netns_path(&state_dir))
            },
            binds,
            mounts,
            cgroups_path: format!(
                "{}/{}",
                self.config.cgroup_parent.trim_end_matches('/'),
                h.id
            ),
            privileged: r.host_config.privileged,
            host_capabilities: host_capabilities(),
            capabilities: Some(capabilities(&r.host_config)?),
            shm_size: r.host_config.shm_size,
            seccomp: container_seccomp(&r.host_config)?,
            no_new_privileges: crate::containers::security::parse(&r.host_config)?
                .no_new_privileges,
            devices,
            device_rules,
            sysctl: crate::containers::security::validate_sysctls(&r.host_config)?,
            resources: crate::containers::resources::oci(&r.host_config)?,
        });
        std::fs::write(
            state_dir.join("config.json"),
            serde_json::to_vec(&spec).map_err(|e| Error::internal(e.to_string()))?,
        )?;
        Ok(Bundle {
            state_dir,
            new_netns: !host_mode && shared_netns.is_none(),
        })
    }

    /// `container:NAME` joins that container's netns, which must be live.
    fn shared_netns(&self, h: &Handle, mode: &str) -> Result<Option<PathBuf>> {
        let Some(other) = mode.strip_prefix("container:") else {
            return Ok(None);
        };
        let o = self.lookup(other)?;
        if o.id == h.id || o.snapshot().state.status != Status::Running {
            return Err(Error::conflict(format!(
                "cannot join network of a non running container: {other}"
            )));
        }
        Ok(Some(self.state_dir(&o.id).join("netns")))
    }

    /// The files the engine keeps for the container in `/etc`, and the
    /// init binary with `--init`.
    fn etc_binds(&self, h: &Handle, with_init: bool) -> Result<Vec<BindMount>> {
        let dir = self.container_dir(&h.id);
        let mut binds: Vec<BindMount> = ["hosts", "hostname", "resolv.conf"]
            .iter()
            .map(|f| BindMount {
                source: dir.join(f),
                destination: format!("/etc/{f}"),
                read_only: false,
            })
            .collect();
        if with_init {
            binds.push(BindMount {
                source: crate::containers::init::binary()?,
                destination: crate::containers::init::CONTAINER_PATH.into(),
                read_only: true,
            });
        }
        Ok(binds)
    }

    fn shim_config(&self, h: &Handle, r: &Record, bundle: &Bundle) -> Result<ShimConfig> {
        let log_path = self.log_file(r);
        let log = self.log_spec(r, &r.config.image);
        let (runtime, runtime_root) = self.runtime_for(&r.host_config.runtime)?;
        Ok(ShimConfig {
            id: h.id.clone(),
            bundle: bundle.state_dir.clone(),
            state_dir: bundle.state_dir.clone(),
            runtime_root,
            runtime,
            seccomp_cache: Some(self.config.exec_root.join("seccomp")),
            log_path,
            tty: r.config.tty,
            open_stdin: r.config.open_stdin,
            stdin_once: r.config.stdin_once,
            new_netns: bundle.new_netns,
            log,
        })
    }

    /// Spawns the shim, which creates the container. Interfaces go in
    /// before the process starts, as a prestart hook would put them: as
    /// soon as the shim has made the netns, while libcontainer still builds
    /// the container (the two take about the same time, so a start waits
    /// for one of them, not both).
    async fn spawn_plugged(&self, h: &Arc<Handle>, cfg: &ShimConfig) -> Result<(i32, ShimClient)> {
        let plug = cfg.new_netns;
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let netns = ShimConfig::netns_path(&cfg.state_dir);
        let attach = async {
            match ready_rx.await {
                Ok(()) if plug => {
                    berth_store::crash::point("start.netns-ready");
                    Some(self.networks().attach_endpoints(h, &netns).await)
                }
                _ => None,
            }
        };
        berth_store::crash::point("start.mounted");
        let spawn = spawn_shim_with(&self.config.shim_binary, cfg, plug.then_some(ready_tx));
        let (spawned, attached) = tokio::join!(spawn, attach);
        let client = ShimClient::new(&cfg.state_dir);
        let pid = match spawned {
            Ok(pid) => pid,
            Err(e) => {
                if let Some(Ok(())) = attached {
                    self.networks().release_endpoints(h).await;
                }
                return Err(match e {
                    ShimError::Failed(m) => Error::invalid(exec_message(&m)),
                    e => shim_err(e),
                });
            }
        };
        let attached = match attached {
            // A shim that made the netns without saying so (never: it
            // reports before `ok`); plug now rather than start unplugged.
            None if plug => Some(self.networks().attach_endpoints(h, &netns).await),
            a => a,
        };
        if let Some(Err(e)) = attached {
            let _ = client.kill(9, false).await;
            return Err(e);
        }
        Ok((pid, client))
    }
}

/// What `write_bundle` made: the state dir (the bundle), and whether the
/// shim makes the container a netns of its own.
struct Bundle {
    state_dir: PathBuf,
    new_netns: bool,
}

/// Docker's default set with `--cap-add` / `--cap-drop` applied (`ALL` too).
fn capabilities(hc: &berth_api::HostConfig) -> Result<Vec<String>> {
    let norm = |c: &str| -> Result<String> {
        let up = c.trim().to_ascii_uppercase();
        let name = if up == "ALL" || up.starts_with("CAP_") {
            up
        } else {
            format!("CAP_{up}")
        };
        if name != "ALL" && !ALL_CAPS.contains(&&name[4..]) {
            return Err(Error::invalid(format!("invalid capability: {c}")));
        }
        Ok(name)
    };
    let add: Vec<String> = hc
        .cap_add
        .clone()
        .unwrap_or_default()
        .iter()
        .map(|c| norm(c))
        .collect::<Result<_>>()?;
    let drop: Vec<String> = hc
        .cap_drop
        .clone()
        .unwrap_or_default()
        .iter()
        .map(|c| norm(c))
        .collect::<Result<_>>()?;
    let mut caps: Vec<String> = if add.iter().any(|c| c == "ALL") {
        host_capabilities()
    } else {
        berth_runtime::spec::DEFAULT_CAPABILITIES
            .iter()
            .map(|c| c.to_string())
            .collect()
    };
    if drop.iter().any(|c| c == "ALL") {
        caps.clear();
    }
    caps.retain(|c| !drop.contains(c));
    for c in add {
        if c != "ALL" && !caps.contains(&c) {
            caps.push(c);
        }
    }
    Ok(caps)
}

const ALL_CAPS: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// The container's OCI `linux.seccomp` from its `SecurityOpt`, privilege
/// and capabilities (the profile's rules depend on the bounding set).
pub(crate) fn container_seccomp(hc: &berth_api::HostConfig) -> Result<Option<serde_json::Value>> {
    let opts = crate::containers::security::parse(hc)?;
    let caps = if hc.privileged {
        host_capabilities()
    } else {
        capabilities(hc)?
    };
    crate::containers::security::seccomp_for(&opts, hc.privileged, &caps)
}

/// The capabilities in this process's bounding set, by OCI name.
pub(crate) fn host_capabilities() -> Vec<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let mask = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);

    ALL_CAPS
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, n)| format!("CAP_{n}"))
        .collect()
}
