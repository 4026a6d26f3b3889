//! What a daemon killed in the middle of an operation leaves, made whole
//! at the next start (before the API serves): the reliability suite's
//! fault points (`tests/e2e/tests/faults.rs`) crash berthd at each of the
//! states handled here.
//!
//! - a create killed after the rw layer was made and before the record:
//!   the layer and the container's directory belong to nothing;
//! - a removal killed after the rw layer went and before the record: the
//!   removal is finished;
//! - a start killed before the container ran (the rootfs mounted, the
//!   shim made and its network plugged, the record not yet `running`):
//!   the shim is killed, the network and mounts released, so the
//!   container is `created` (or `exited`) again and starts when asked.
//!
//! Image-side temp files and staged layers are the store's to sweep
//! (`ImageStore::open`).

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_runtime::client::ShimClient;
use berth_runtime::proto::ShimConfig;

use crate::containers::container::Status;
use crate::containers::Containers;

impl Containers<'_> {
    pub(crate) async fn recover_interrupted(&self) {
        let known: HashSet<String> = self.all().iter().map(|h| h.id.clone()).collect();
        match self.images.rw_layer_ids() {
            Ok(ids) => {
                for id in ids.into_iter().filter(|id| !known.contains(id)) {
                    tracing::info!(container_id = %id, "removing the rw layer of a container never recorded");
                    if let Err(e) = self.images.remove_rw_layer(&id) {
                        tracing::warn!(container_id = %id, "{}", e.message);
                    }
                }
            }
            Err(e) => tracing::warn!("listing rw layers: {}", e.message),
        }
        for dir in [
            self.config.data_root.join("containers"),
            self.config.exec_root.join("containers"),
        ] {
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if !known.contains(&name) && e.path().is_dir() {
                    tracing::info!(dir = %e.path().display(), "removing the directory of no container");
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        // One look at /proc for every container's shim, not one per container.
        let shims = shim_configs();
        for h in self.all() {
            if self.images.rw_layer(&h.id).is_err() {
                tracing::info!(container_id = %h.id, "finishing an interrupted removal");
                if let Err(e) = self.remove(&h.id, true, false).await {
                    tracing::warn!(container_id = %h.id, "{}", e.message);
                }
                continue;
            }
            if h.snapshot().state.status != Status::Running {
                self.undo_interrupted_start(&h, &shims).await;
            }
        }
    }

    /// A container not recorded as running whose start was cut short:
    /// its shim (if any) made to end, its interfaces, ports and mounts let
    /// go.
    async fn undo_interrupted_start(
        &self,
        h: &Arc<crate::containers::container::Handle>,
        shims: &HashSet<Vec<u8>>,
    ) {
        let r = h.snapshot();
        let state_dir = self.state_dir(&h.id);
        let netns = state_dir.join("netns");
        let config = ShimConfig::config_path(&state_dir);
        let shim = shims.contains(config.as_os_str().as_encoded_bytes());
        let mounted = self
            .images
            .rw_layer(&h.id)
            .map(|l| !l.vfs && l.is_mounted())
            .unwrap_or(false);
        let plugged =
            !r.published.is_empty() || r.endpoints.values().any(|e| !e.host_ifname.is_empty());
        let cgroup = berth_runtime::cgroups::Cgroup::new(&format!(
            "{}/{}",
            self.config.cgroup_parent.trim_end_matches('/'),
            h.id
        ));
        if !(shim || mounted || plugged || netns.exists() || cgroup.exists()) {
            return;
        }
        tracing::info!(container_id = %h.id, shim, mounted, plugged, "undoing an interrupted start");
        if shim {
            self.end_shim(&state_dir).await;
        }
        self.networks().release_endpoints(h).await;
        if let Ok(layer) = self.images.rw_layer(&h.id) {
            if let Err(e) = layer.unmount() {
                tracing::warn!(container_id = %h.id, "unmounting the rootfs: {e}");
            }
        }
        // What a shim that could not clean up leaves of its netns.
        if netns.exists() {
            let _ = nix::mount::umount2(&netns, nix::mount::MntFlags::MNT_DETACH);
            let _ = std::fs::remove_file(&netns);
        }
        // A shim killed above (or dead before) left the runtime's cgroup.
        if cgroup.exists() {
            let cg = cgroup.clone();
            let _ = tokio::task::spawn_blocking(move || cg.kill_and_remove()).await;
        }
        self.release_mounts(&r);
    }

    /// Ends the shim of a container that never ran. A shim still creating
    /// the container answers only once it has; then it either serves (and
    /// is told to kill the container, which it reaps and cleans up after)
    /// or, finding the daemon that spawned it gone, undoes the container
    /// and ends by itself. One that does neither in time is killed.
    async fn end_shim(&self, state_dir: &Path) {
        let client = ShimClient::new(state_dir);
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut told = false;
        while !shim_pids(state_dir).is_empty() && Instant::now() < deadline {
            if !told && client.state().await.is_ok() {
                let _ = client.kill(libc::SIGKILL, true).await;
                let _ = tokio::time::timeout(Duration::from_secs(10), client.wait(state_dir)).await;
                told = true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for pid in shim_pids(state_dir) {
            tracing::warn!(pid, "killing a shim that does not answer");
            // SAFETY: kill(2) of a process whose command line names this
            // container's shim config.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

/// Every process's first argument, with its pid (a shim's is its config).
fn first_args() -> Vec<(i32, Vec<u8>)> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let c = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            Some((pid, c.split(|b| *b == 0).nth(1)?.to_vec()))
        })
        .collect()
}

/// The configs (`shim.json` paths) of the shims that run.
fn shim_configs() -> HashSet<Vec<u8>> {
    first_args()
        .into_iter()
        .map(|(_, a)| a)
        .filter(|a| a.ends_with(b"/shim.json"))
        .collect()
}

/// Pids of the shims of `state_dir`: their command line names its config.
fn shim_pids(state_dir: &Path) -> Vec<i32> {
    let cfg = ShimConfig::config_path(state_dir);
    let want = cfg.as_os_str().as_encoded_bytes();
    first_args()
        .into_iter()
        .filter(|(_, a)| a.as_slice() == want)
        .map(|(pid, _)| pid)
        .collect()
}
