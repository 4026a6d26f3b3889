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
use std::sync::Arc;
use std::time::Duration;

use berth_runtime::client::ShimClient;

use crate::container::Status;
use crate::Engine;

impl Engine {
    pub(crate) async fn recover_interrupted(self: &Arc<Self>) {
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
        for h in self.all() {
            if self.images.rw_layer(&h.id).is_err() {
                tracing::info!(container_id = %h.id, "finishing an interrupted removal");
                if let Err(e) = self.remove(&h.id, true, false).await {
                    tracing::warn!(container_id = %h.id, "{}", e.message);
                }
                continue;
            }
            if h.snapshot().state.status != Status::Running {
                self.undo_interrupted_start(&h).await;
            }
        }
    }

    /// A container not recorded as running whose start was cut short:
    /// its shim (if any) killed, its interfaces, ports and mounts let go.
    async fn undo_interrupted_start(self: &Arc<Self>, h: &Arc<crate::container::Handle>) {
        let r = h.snapshot();
        let state_dir = self.state_dir(&h.id);
        let client = ShimClient::new(&state_dir);
        let shim = client.state().await.is_ok();
        let mounted = self
            .images
            .rw_layer(&h.id)
            .map(|l| !l.vfs && l.is_mounted())
            .unwrap_or(false);
        let plugged =
            !r.published.is_empty() || r.endpoints.values().any(|e| !e.host_ifname.is_empty());
        if !(shim || mounted || plugged) {
            return;
        }
        tracing::info!(container_id = %h.id, shim, mounted, plugged, "undoing an interrupted start");
        if shim {
            let _ = client.kill(libc::SIGKILL, true).await;
            let _ = tokio::time::timeout(Duration::from_secs(10), client.wait(&state_dir)).await;
        }
        self.release_endpoints(h).await;
        if let Ok(layer) = self.images.rw_layer(&h.id) {
            if let Err(e) = layer.unmount() {
                tracing::warn!(container_id = %h.id, "unmounting the rootfs: {e}");
            }
        }
        self.release_mounts(&r);
    }
}
