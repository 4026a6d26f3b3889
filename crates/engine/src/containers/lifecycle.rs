//! Container lifecycle: create, start, stop, kill, restart, wait, remove,
//! rename, prune, and the monitor that learns of every exit from the shim.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use berth_api::types::{ContainerInspect, ContainerSummary, GraphDriver, WaitResponse};
use berth_api::{Error, Result};
use berth_runtime::client::{read_exit, ShimClient, ShimError};
use indexmap::IndexMap;

use crate::containers::attach::Hub;
use crate::containers::container::{self, now_rfc3339, Handle, Record, Status};
use crate::containers::Containers;
use crate::{record_name, Engine};

pub(crate) use crate::containers::start::{container_seccomp, host_capabilities};
pub use crate::{parse_time, Filters};

pub(crate) fn shim_err(e: ShimError) -> Error {
    Error::internal(e.to_string())
}

impl Containers<'_> {
    /// Publishes a container event (`attach`, `detach`, ...) by key.
    pub fn event(&self, key: &str, action: &str) {
        if let Ok(h) = self.lookup(key) {
            self.record_event(action, &h.snapshot(), &[]);
        }
    }

    pub(crate) fn record_event(&self, action: &str, r: &Record, extra: &[(&str, String)]) {
        let mut attrs = IndexMap::new();
        attrs.insert("image".to_string(), r.config.image.clone());
        attrs.insert("name".to_string(), record_name(r));
        for (k, v) in r.config.labels.clone().unwrap_or_default() {
            attrs.insert(k, v);
        }
        for (k, v) in extra {
            attrs.insert(k.to_string(), v.clone());
        }
        self.events.publish("container", action, &r.id, attrs);
    }

    pub(crate) fn spawn_monitor(&self, h: Arc<Handle>, client: ShimClient) {
        crate::containers::health::spawn(self.arc(), h.clone());
        let engine = self.arc();
        tokio::spawn(async move {
            let state_dir = engine.state_dir(&h.id);
            let exit = loop {
                match client.wait(&state_dir).await {
                    Ok(info) => break Some(info),
                    Err(ShimError::Gone(_)) => break read_exit(&state_dir),
                    Err(e) => {
                        tracing::warn!(container_id = %h.id, "waiting on the shim: {e}");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            };
            engine.containers().on_exit(&h, exit).await;
        });
    }

    /// Records an exit, ends the run's attach streams, and applies `--rm`.
    async fn on_exit(&self, h: &Arc<Handle>, exit: Option<berth_runtime::proto::ExitInfo>) {
        let (code, finished, oom) = match exit {
            Some(e) => (e.exit_code as i64, e.finished_at, e.oom_killed),
            None => (255, now_rfc3339(), false),
        };
        self.networks().release_endpoints(h).await;
        if let Ok(layer) = self.images.rw_layer(&h.id) {
            if let Err(e) = layer.unmount() {
                tracing::warn!(container_id = %h.id, "unmounting the rootfs: {e}");
            }
        }
        self.release_mounts(&h.snapshot());
        // As moby's SetRestarting: a container its policy restarts is
        // `restarting` from the moment it exits, before its `die` event.
        h.with(|r| {
            r.state.status = Status::Exited;
            r.state.paused = false;
            r.state.pid = 0;
            r.state.exit_code = code;
            r.state.finished_at = finished;
            r.state.oom_killed = oom;
            r.state.restarting = !r.host_config.auto_remove && should_restart(r, code);
        });
        let _ = self.save(h);
        // Give subscribers the rest of the output, then a fresh hub for the next run.
        let old = std::mem::replace(
            &mut *h.hub.lock().unwrap_or_else(|e| e.into_inner()),
            Arc::new(Hub::new()),
        );
        old.close();
        let r = h.snapshot();
        self.record_event("die", &r, &[("exitCode", code.to_string())]);
        h.watch.send_modify(|w| {
            w.running = false;
            w.exits += 1;
            w.exit_code = code;
        });
        if r.host_config.auto_remove {
            let _ = self.remove(&h.id, true, false).await;
        } else if should_restart(&r, code) {
            self.schedule_restart(h.clone(), &r);
        }
    }

    /// Restarts a container after docker's back-off: 100 ms doubling per
    /// restart, back to 100 ms once a run lasted 10 s, at most a minute.
    fn schedule_restart(&self, h: Arc<Handle>, r: &Record) {
        let ran = match (
            chrono::DateTime::parse_from_rfc3339(&r.state.started_at),
            chrono::DateTime::parse_from_rfc3339(&r.state.finished_at),
        ) {
            (Ok(a), Ok(b)) => (b - a).num_seconds(),
            _ => 0,
        };
        let step = if ran >= 10 {
            0
        } else {
            r.restart_count.min(10) as u32
        };
        let delay =
            Duration::from_millis(100u64.saturating_mul(1 << step)).min(Duration::from_secs(60));
        h.with(|r| r.state.restarting = true);
        let engine = self.arc();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _op = h.op.lock().await;
            let r = h.snapshot();
            let gone = !engine
                .table
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .contains_key(&h.id);
            if gone || r.stopped_by_user || r.state.status == Status::Running {
                h.with(|r| r.state.restarting = false);
                return;
            }
            // The new count is recorded together with the new running state
            // (start_locked takes it from the snapshot), so a client that sees
            // the count also sees the new StartedAt.
            let mut next = h.snapshot();
            next.restart_count += 1;
            if let Err(e) = engine.containers().start_locked(&h, &next).await {
                h.with(|r| {
                    r.restart_count = next.restart_count;
                    r.state.restarting = false;
                });
                let _ = engine.save(&h);
                tracing::warn!(container_id = %h.id, "restart by policy failed: {e}");
            }
        });
    }

    /// `POST /containers/{id}/stop`: the stop signal, then SIGKILL after the timeout.
    pub async fn stop(&self, key: &str, timeout: Option<i64>, signal: Option<&str>) -> Result<()> {
        self.stop_inner(key, timeout, signal, true).await
    }

    /// The daemon's own shutdown stop: not a user's stop, so `unless-stopped`
    /// containers start again with the daemon, as with dockerd.
    pub async fn stop_for_shutdown(&self, key: &str) -> Result<()> {
        self.stop_inner(key, None, None, false).await
    }

    async fn stop_inner(
        &self,
        key: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
        by_user: bool,
    ) -> Result<()> {
        let h = self.lookup(key)?;
        // Serialised with start (and a policy restart) on this container.
        let _op = h.op.lock().await;
        let r = h.snapshot();
        if r.state.status != Status::Running {
            if r.state.restarting {
                // A stop during the restart back-off cancels the restart.
                h.with(|r| {
                    r.stopped_by_user = true;
                    r.state.restarting = false;
                });
                self.save(&h)?;
                self.record_event("stop", &h.snapshot(), &[]);
                return Ok(());
            }
            return Err(Error::not_modified());
        }
        let sig = match signal.filter(|s| !s.is_empty()) {
            Some(s) => parse_signal(s)?,
            None if !r.config.stop_signal.is_empty() => parse_signal(&r.config.stop_signal)?,
            None => libc::SIGTERM,
        };
        let timeout = timeout.or(r.config.stop_timeout).unwrap_or(10);
        // A user's stop keeps the restart policy from restarting it; the
        // daemon's shutdown stop must not (the exit still needs no restart).
        h.with(|r| {
            r.stopped_by_user = true;
            r.shutdown_stop = !by_user;
        });
        self.thaw(&h).await;
        let client = ShimClient::new(&self.state_dir(&h.id));
        let mut rx = h.watch.subscribe();
        let _ = client.kill(sig, false).await;
        let stopped = async {
            while rx.borrow_and_update().running {
                if rx.changed().await.is_err() {
                    break;
                }
            }
        };
        if timeout < 0 {
            stopped.await;
        } else if tokio::time::timeout(Duration::from_secs(timeout as u64), stopped)
            .await
            .is_err()
        {
            let _ = client.kill(libc::SIGKILL, false).await;
            let mut rx = h.watch.subscribe();
            while rx.borrow_and_update().running {
                if rx.changed().await.is_err() {
                    break;
                }
            }
        }
        self.record_event("stop", &h.snapshot(), &[]);
        Ok(())
    }

    /// `POST /containers/{id}/pause` and `/unpause`: the cgroup freezer.
    pub async fn set_paused(&self, key: &str, pause: bool) -> Result<()> {
        let h = self.lookup(key)?;
        let _op = h.op.lock().await;
        let r = h.snapshot();
        if r.state.status != Status::Running {
            return Err(Error::conflict(format!(
                "Container {} is not running",
                r.id
            )));
        }
        if pause && r.state.paused {
            return Err(Error::conflict(format!(
                "Container {} is already paused",
                r.id
            )));
        }
        if !pause && !r.state.paused {
            return Err(Error::conflict(format!("Container {} is not paused", r.id)));
        }
        let client = ShimClient::new(&self.state_dir(&h.id));
        let done = if pause {
            client.pause().await
        } else {
            client.resume().await
        };
        done.map_err(shim_err)?;
        h.with(|r| r.state.paused = pause);
        self.save(&h)?;
        self.record_event(if pause { "pause" } else { "unpause" }, &h.snapshot(), &[]);
        Ok(())
    }

    /// Thaws a paused container so a signal can reach it (stop, kill, rm -f).
    async fn thaw(&self, h: &Handle) {
        if h.snapshot().state.paused {
            let _ = ShimClient::new(&self.state_dir(&h.id)).resume().await;
            h.with(|r| r.state.paused = false);
            let _ = self.save(h);
        }
    }

    /// `POST /containers/{id}/kill`.
    pub async fn kill(&self, key: &str, signal: Option<&str>) -> Result<()> {
        let h = self.lookup(key)?;
        let r = h.snapshot();
        let sig = parse_signal(signal.filter(|s| !s.is_empty()).unwrap_or("SIGKILL"))?;
        if r.state.status != Status::Running {
            return Err(Error::conflict(format!(
                "Cannot kill container: {key}: container {} is not running",
                r.id
            )));
        }
        if sig == libc::SIGKILL {
            self.thaw(&h).await;
        }
        let mut rx = h.watch.subscribe();
        ShimClient::new(&self.state_dir(&h.id))
            .kill(sig, false)
            .await
            .map_err(shim_err)?;
        self.record_event("kill", &r, &[("signal", sig.to_string())]);
        if sig == libc::SIGKILL {
            // As dockerd: a SIGKILL answers once the container has exited.
            let _ = tokio::time::timeout(Duration::from_secs(10), async {
                while rx.borrow_and_update().running {
                    if rx.changed().await.is_err() {
                        break;
                    }
                }
            })
            .await;
        }
        Ok(())
    }

    /// `POST /containers/{id}/restart`.
    pub async fn restart(
        &self,
        key: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<()> {
        match self.stop(key, timeout, signal).await {
            Ok(()) => {}
            Err(e) if e.kind == berth_api::ErrorKind::NotModified => {}
            Err(e) => return Err(e),
        }
        match self.start(key).await {
            Ok(()) => {}
            Err(e) if e.kind == berth_api::ErrorKind::NotModified => {}
            Err(e) => return Err(e),
        }
        self.record_event("restart", &self.lookup(key)?.snapshot(), &[]);
        Ok(())
    }

    /// `POST /containers/{id}/wait?condition=`.
    pub async fn wait(&self, key: &str, condition: &str) -> Result<WaitResponse> {
        let h = self.lookup(key)?;
        let mut rx = h.watch.subscribe();
        let start = rx.borrow_and_update().clone();
        let done = |w: &container::Watch| match condition {
            "next-exit" => w.exits > start.exits || w.removed,
            "removed" => w.removed,
            _ => !w.running,
        };
        match condition {
            "" | "not-running" | "next-exit" | "removed" => {}
            other => return Err(Error::invalid(format!("invalid condition: \"{other}\""))),
        }
        drop(h);
        loop {
            let w = rx.borrow_and_update().clone();
            if done(&w) {
                return Ok(WaitResponse {
                    status_code: w.exit_code,
                    error: None,
                });
            }
            if rx.changed().await.is_err() {
                let w = rx.borrow().clone();
                return Ok(WaitResponse {
                    status_code: w.exit_code,
                    error: None,
                });
            }
        }
    }

    /// `DELETE /containers/{id}?force=&v=`.
    pub async fn remove(&self, key: &str, force: bool, volumes: bool) -> Result<()> {
        let h = self.lookup(key)?;
        let snap = h.snapshot();
        if !force && (snap.state.status == Status::Running || snap.state.restarting) {
            let state = if snap.state.restarting {
                "restarting"
            } else {
                "running"
            };
            return Err(Error::conflict(format!(
                "cannot remove container \"{}\": container is {state}: stop the container before removing or force remove",
                snap.name
            )));
        }
        if snap.state.status == Status::Running {
            self.thaw(&h).await;
            let client = ShimClient::new(&self.state_dir(&h.id));
            let mut rx = h.watch.subscribe();
            h.with(|r| r.stopped_by_user = true);
            let _ = client.kill(libc::SIGKILL, false).await;
            let _ = tokio::time::timeout(Duration::from_secs(10), async {
                while rx.borrow_and_update().running {
                    if rx.changed().await.is_err() {
                        break;
                    }
                }
            })
            .await;
        }
        let _op = h.op.lock().await;
        if !self
            .table
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&h.id)
        {
            return Ok(()); // removed meanwhile (--rm)
        }
        let r = h.snapshot();
        self.images.remove_rw_layer(&h.id)?;
        berth_store::crash::point("rm.rw-layer-removed");
        let _ = std::fs::remove_dir_all(self.container_dir(&h.id));
        let _ = std::fs::remove_dir_all(self.state_dir(&h.id));
        self.db.delete(&h.id)?;
        self.forget(&h.id);
        self.exec().forget(&h.id);
        if volumes || r.host_config.auto_remove {
            self.remove_anonymous_volumes(&r);
        }
        self.record_event("destroy", &r, &[]);
        h.watch.send_modify(|w| w.removed = true);
        Ok(())
    }

    /// `POST /containers/{id}/rename?name=`.
    pub fn rename(&self, key: &str, new_name: &str) -> Result<()> {
        let h = self.lookup(key)?;
        if !container::valid_name(new_name) {
            return Err(Error::invalid(format!(
                "Invalid container name ({new_name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        let name = format!("/{}", new_name.trim_start_matches('/'));
        let old = h.snapshot().name;
        if old == name {
            return Err(Error::invalid(
                "Renaming a container with the same name as its current name",
            ));
        }
        self.take_name_for_rename(&name, &h)?;
        self.save(&h)?;
        self.networks().dns_refresh();
        self.record_event("rename", &h.snapshot(), &[("oldName", old)]);
        Ok(())
    }

    /// `POST /containers/prune`: removes every stopped container.
    pub async fn prune(&self, filters: &Filters) -> Result<(Vec<String>, i64)> {
        let mut deleted = Vec::new();
        let mut reclaimed = 0;
        for h in self.all() {
            let r = h.snapshot();
            if r.state.status == Status::Running || !filters.matches_prune(&r) {
                continue;
            }
            reclaimed += self
                .images
                .rw_layer(&r.id)
                .and_then(|l| l.size_rw())
                .unwrap_or(0);
            self.remove(&r.id, false, false).await?;
            deleted.push(r.id);
        }
        self.events.publish(
            "container",
            "prune",
            "",
            IndexMap::from([("reclaimed".to_string(), reclaimed.to_string())]),
        );
        Ok((deleted, reclaimed))
    }

    /// `GET /containers/json`.
    pub fn list(
        &self,
        all: bool,
        limit: Option<usize>,
        size: bool,
        filters: &Filters,
    ) -> Result<Vec<ContainerSummary>> {
        let mut records: Vec<Record> = self.all().iter().map(|h| h.snapshot()).collect();
        records.sort_by(|a, b| b.created.cmp(&a.created));
        let mut out = Vec::new();
        for r in records {
            let all = all || limit.is_some() || filters.has("status") || filters.has("exited");
            if !all && r.state.status != Status::Running {
                continue;
            }
            if !filters.matches(&r, self) {
                continue;
            }
            let mut s = container::summary(&r, self.image_display_name(&r));
            s.ports = self.networks().ports_summary(&r);
            s.network_settings = self.networks().summary(&r);
            s.mounts = crate::containers::mounts::inspect_view(&r.mount_points);
            if size {
                let layer = self.images.rw_layer(&r.id).ok();
                s.size_rw = Some(layer.as_ref().and_then(|l| l.size_rw().ok()).unwrap_or(0));
                s.size_root_fs = Some(
                    self.images.get(&r.image_id).map(|i| i.size).unwrap_or(0)
                        + s.size_rw.unwrap_or(0),
                );
            }
            out.push(s);
            if limit.is_some_and(|l| out.len() >= l) {
                break;
            }
        }
        Ok(out)
    }

    /// The image column of `docker ps`: the name given, or the id when the
    /// name now points elsewhere.
    fn image_display_name(&self, r: &Record) -> String {
        match self.images.get(&r.config.image) {
            Ok(img) if img.id == r.image_id => r.config.image.clone(),
            _ => r.image_id.clone(),
        }
    }

    /// `GET /containers/{id}/json`.
    pub fn inspect(&self, key: &str, size: bool) -> Result<ContainerInspect> {
        let h = self.lookup(key)?;
        let r = h.snapshot();
        let dir = self.container_dir(&r.id);
        let layer = self.images.rw_layer(&r.id).ok();
        let mut hc = r.host_config.clone();
        if hc.network_mode.is_empty() || hc.network_mode == "default" {
            hc.network_mode = "bridge".into();
        }
        let (size_rw, size_root) = if size {
            let rw = layer.as_ref().and_then(|l| l.size_rw().ok()).unwrap_or(0);
            (
                Some(rw),
                Some(rw + self.images.get(&r.image_id).map(|i| i.size).unwrap_or(0)),
            )
        } else {
            (None, None)
        };
        Ok(ContainerInspect {
            id: r.id.clone(),
            created: r.created.clone(),
            path: r.path.clone(),
            args: r.args.clone(),
            state: container::state_view(&r),
            image: r.image_id.clone(),
            resolv_conf_path: dir.join("resolv.conf").display().to_string(),
            hostname_path: dir.join("hostname").display().to_string(),
            hosts_path: dir.join("hosts").display().to_string(),
            log_path: self.log_path(&r.id).display().to_string(),
            name: r.name.clone(),
            restart_count: r.restart_count,
            driver: self.images.driver_name().to_string(),
            platform: "linux".into(),
            mount_label: String::new(),
            process_label: String::new(),
            app_armor_profile: String::new(),
            exec_ids: self.exec().ids(&r.id),
            host_config: hc,
            graph_driver: GraphDriver {
                data: layer.map(|l| l.graph_driver_data()).unwrap_or_default(),
                name: self.images.driver_name().to_string(),
            },
            size_rw,
            size_root_fs: size_root,
            mounts: crate::containers::mounts::inspect_view(&r.mount_points),
            config: r.config.clone(),
            network_settings: self.networks().settings(&r),
        })
    }

    /// `POST /containers/{id}/resize`.
    pub async fn resize(&self, key: &str, height: u16, width: u16) -> Result<()> {
        let h = self.lookup(key)?;
        let r = h.snapshot();
        if r.state.status != Status::Running {
            return Err(Error::conflict(format!(
                "Container {} is not running",
                r.id
            )));
        }
        ShimClient::new(&self.state_dir(&h.id))
            .resize(height, width)
            .await
            .map_err(shim_err)
    }
}

/// On daemon start: containers whose policy is `always` (or
/// `unless-stopped` and not stopped by hand) start again, as with dockerd.
pub(crate) async fn start_by_policy(engine: &Arc<Engine>, h: Arc<Handle>) {
    let r = h.snapshot();
    let wanted = match r.host_config.restart_policy.name.as_str() {
        "always" => true,
        "unless-stopped" => !r.stopped_by_user || r.shutdown_stop,
        _ => false,
    };
    if wanted && r.state.status != Status::Running {
        if let Err(e) = engine.containers().start(&r.id).await {
            tracing::warn!(container_id = %r.id, "start by restart policy: {e}");
        }
    }
}

/// Live restore of one container recorded as running.
pub(crate) async fn adopt(engine: Arc<Engine>, h: Arc<Handle>, r: Record) {
    let state_dir = engine.state_dir(&r.id);
    let client = ShimClient::new(&state_dir);
    match client.state().await {
        Ok(state) if state.status.as_deref() == Some("running") => {
            if let Ok(stream) = client.attach(r.config.open_stdin).await {
                h.hub()
                    .connect(stream, r.config.stdin_once && !r.config.tty);
            }
            tracing::info!(container_id = %r.id, "restored running container");
            engine.containers().spawn_monitor(h, client);
        }
        _ => {
            let exit = read_exit(&state_dir);
            engine.containers().on_exit(&h, exit).await;
        }
    }
}

/// What dockerd fills in at create when the client left it empty; clients
/// read some of it back (docker-py reads logs only when `LogConfig.Type` is
/// `json-file`).
pub(crate) fn apply_host_defaults(hc: &mut berth_api::HostConfig) {
    if hc.log_config.r#type.is_empty() {
        hc.log_config.r#type = "json-file".into();
    }
    if hc.restart_policy.name.is_empty() {
        hc.restart_policy.name = "no".into();
    }
    if hc.shm_size == 0 {
        hc.shm_size = 64 * 1024 * 1024;
    }
    if hc.ipc_mode.is_empty() {
        hc.ipc_mode = "private".into();
    }
    if hc.cgroupns_mode.is_empty() {
        hc.cgroupns_mode = if crate::system::cgroup_version() == "2" {
            "private"
        } else {
            "host"
        }
        .into();
    }
}

/// Whether the restart policy brings the container back after this exit.
fn should_restart(r: &Record, exit_code: i64) -> bool {
    if r.stopped_by_user {
        return false;
    }
    let p = &r.host_config.restart_policy;
    match p.name.as_str() {
        "always" | "unless-stopped" => true,
        "on-failure" => {
            exit_code != 0
                && (p.maximum_retry_count == 0 || r.restart_count < p.maximum_retry_count)
        }
        _ => false,
    }
}

/// dockerd's checks of `--restart`.
pub(crate) fn validate_restart_policy(p: &berth_api::types::RestartPolicy) -> Result<()> {
    match p.name.as_str() {
        "" | "no" | "always" | "unless-stopped" if p.maximum_retry_count != 0 => {
            Err(Error::invalid(
                "invalid restart policy: maximum retry count can only be used with 'on-failure'",
            ))
        }
        "" | "no" | "always" | "unless-stopped" => Ok(()),
        "on-failure" if p.maximum_retry_count < 0 => {
            Err(Error::invalid("invalid restart policy: maximum retry count cannot be negative"))
        }
        "on-failure" => Ok(()),
        other => Err(Error::invalid(format!("invalid restart policy: unknown policy '{other}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"))),
    }
}

/// Docker's words for a process that could not be executed, so the CLI
/// picks exit code 127 or 126 as it does with dockerd.
pub(crate) fn exec_message(m: &str) -> String {
    if let Some(rest) = m.split("executable '").nth(1) {
        let name = rest.split('\'').next().unwrap_or("");
        return format!(
            "failed to create task for container: exec: \"{name}\": executable file not found in $PATH: unknown"
        );
    }
    if m.contains("Permission denied") || m.contains("EACCES") {
        return format!("failed to create task for container: {m}: permission denied: unknown");
    }
    // An external runtime's cause (runc's `exec: "nope": executable file
    // not found in $PATH`), already in dockerd's words.
    if m.starts_with("exec: ") {
        return format!("failed to create task for container: {m}: unknown");
    }
    m.to_string()
}

pub(crate) fn familiar(name: &str) -> String {
    berth_api::Reference::parse_with_default_tag(name)
        .map(|r| r.familiar_string())
        .unwrap_or_else(|_| name.to_string())
}

/// `/etc/hosts`, `/etc/hostname`, `/etc/resolv.conf` for the container, as
/// dockerd writes them; with the host's network, the host's own files.
pub(crate) fn write_etc_files(
    dir: &Path,
    hostname: &str,
    domainname: &str,
    host_mode: bool,
    resolv: &str,
) -> Result<()> {
    let hosts = if host_mode {
        std::fs::read_to_string("/etc/hosts").unwrap_or_default()
    } else {
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n".to_string()
    };
    std::fs::write(dir.join("hosts"), hosts)?;
    let full = if domainname.is_empty() {
        hostname.to_string()
    } else {
        format!("{hostname}.{domainname}")
    };
    std::fs::write(dir.join("hostname"), format!("{full}\n"))?;
    std::fs::write(dir.join("resolv.conf"), resolv)?;
    Ok(())
}

/// `SIGTERM`, `TERM`, `15` -> 15.
pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
        return Err(Error::invalid(format!("Invalid signal: {s}")));
    }
    let name = s.to_ascii_uppercase();
    let name = name.strip_prefix("SIG").unwrap_or(&name);
    let full = format!("SIG{name}");
    full.parse::<nix::sys::signal::Signal>()
        .map(|sig| sig as i32)
        .map_err(|_| Error::invalid(format!("Invalid signal: {s}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals() {
        assert_eq!(parse_signal("SIGKILL").unwrap(), 9);
        assert_eq!(parse_signal("term").unwrap(), 15);
        assert_eq!(parse_signal("1").unwrap(), 1);
        assert!(parse_signal("SIGNOPE").is_err());
        assert!(parse_signal("0").is_err());
    }

    #[test]
    fn filters_both_forms() {
        let f = Filters::parse(Some(r#"{"status":["running"],"name":{"web":true}}"#)).unwrap();
        assert_eq!(f.get("status"), ["running"]);
        assert_eq!(f.get("name"), ["web"]);
        assert!(Filters::parse(Some("{bad")).is_err());
    }

    #[test]
    fn exec_errors_read_like_docker() {
        let m = exec_message("failed to create container: exec process failed with error error in executing process : executable 'nope' not found in $PATH");
        assert!(
            m.contains("exec: \"nope\": executable file not found in $PATH"),
            "{m}"
        );
        // runc's cause, as the shim passes it on.
        assert_eq!(
            exec_message("exec: \"nope\": executable file not found in $PATH"),
            "failed to create task for container: exec: \"nope\": executable file not found in $PATH: unknown"
        );
    }
}
