//! `docker diff`, `docker export` and `docker commit`: the container's
//! rw layer read through the store (`berth_store::diff`).

use std::io::Write;

use berth_api::reference::Reference;
use berth_api::{Error, Result};
use berth_runtime::client::ShimClient;
use berth_store::{Change, CommitOptions, RunConfig};

use crate::containers::container::Status;
use crate::containers::Containers;

/// `POST /commit`'s query, parsed.
#[derive(Debug, Clone, Default)]
pub struct CommitRequest {
    pub container: String,
    /// `repo[:tag]`, or none for an untagged image.
    pub reference: Option<Reference>,
    pub comment: String,
    pub author: String,
    /// Pause a running container while its layer is read (default true).
    pub pause: bool,
    /// Dockerfile instructions applied to the config (`-c`).
    pub changes: Vec<String>,
}

impl Containers<'_> {
    /// `GET /containers/{id}/changes`.
    pub fn changes(&self, key: &str) -> Result<Vec<Change>> {
        let h = self.lookup(key)?;
        let layer = self.images.rw_layer(&h.id)?;
        layer.changes()
    }

    /// `GET /containers/{id}/export`: the merged rootfs as a tar, written to
    /// `dst` (blocking; run it off the async threads). A stopped
    /// container's rootfs is mounted for the copy and unmounted after.
    pub fn export(&self, key: &str, dst: &mut dyn Write) -> Result<()> {
        let h = self.lookup(key)?;
        let layer = self.images.rw_layer(&h.id)?;
        let was_mounted = layer.is_mounted();
        layer.mount()?;
        let result = berth_store::diff::export_tree(&layer.merged, dst);
        if !was_mounted && h.snapshot().state.status != Status::Running {
            let _ = layer.unmount();
        }
        if result.is_ok() {
            self.record_event("export", &h.snapshot(), &[]);
        }
        result
    }

    /// `POST /commit`: a new image from the container's changes, its config
    /// the container's with `changes` applied. Returns the image id.
    pub async fn commit(&self, req: CommitRequest) -> Result<String> {
        let h = self.lookup(&req.container)?;
        let r = h.snapshot();
        // The config first: bad `changes` change nothing.
        let mut config: RunConfig = serde_json::to_value(&r.config)
            .and_then(serde_json::from_value)
            .map_err(|e| Error::internal(format!("container config: {e}")))?;
        config.extra.clear();
        berth_store::config::apply_changes(&mut config, &req.changes)?;
        let tags: Vec<Reference> = req
            .reference
            .iter()
            .map(|t| {
                if t.tag.is_none() && t.digest.is_none() {
                    t.with_tag("latest")
                } else {
                    t.clone()
                }
            })
            .collect();
        let mut created_by = vec![r.path.clone()];
        created_by.extend(r.args.iter().cloned());
        let opts = CommitOptions {
            config,
            author: req.author.clone(),
            comment: req.comment.clone(),
            created_by: created_by.join(" ").trim().to_string(),
            tags,
        };
        // Pause (as dockerd does) so the layer is read in one state.
        let paused_here = req.pause
            && r.state.status == Status::Running
            && !r.state.paused
            && ShimClient::new(&self.state_dir(&h.id))
                .pause()
                .await
                .is_ok();
        let engine = self.arc();
        let id = h.id.clone();
        let result = tokio::task::spawn_blocking(move || engine.images.commit_container(&id, opts))
            .await
            .map_err(|e| Error::internal(e.to_string()));
        if paused_here {
            let _ = ShimClient::new(&self.state_dir(&h.id)).resume().await;
        }
        let img = result??;
        self.record_event(
            "commit",
            &h.snapshot(),
            &[
                ("comment", req.comment.clone()),
                ("imageID", img.id.clone()),
                (
                    "imageRef",
                    req.reference
                        .as_ref()
                        .map(|r| r.to_string())
                        .unwrap_or_default(),
                ),
            ],
        );
        if let Some(name) = img.repo_tags.first() {
            self.images().event("tag", &img.id, name);
        }
        Ok(img.id)
    }
}
