//! The classic builder's `--cache-from` (moby's `imageCache`): an image
//! named as a cache source stands for a build step when the image built so
//! far is a prefix of its history (same history entries, same layers) and
//! its next history entry was made by the same command. The step's image is
//! then made from the source's layer and that entry, with no rebuild.

use berth_api::{Error, Result};

use crate::{Image, ImageStore, RunConfig};

/// Whether `source`'s history and layers begin with `parent`'s, with at
/// least one entry more (moby's `isValidParent`).
fn extends(source: &Image, parent: Option<&Image>) -> bool {
    let h = &source.config.history;
    if h.is_empty() {
        return false;
    }
    let Some(p) = parent else { return true };
    let (ph, pd) = (&p.config.history, &p.config.rootfs.diff_ids);
    if ph.is_empty() && pd.is_empty() {
        return true;
    }
    ph.len() < h.len()
        && pd.len() <= source.config.rootfs.diff_ids.len()
        && ph.iter().zip(h).all(|(a, b)| a == b)
        && pd
            .iter()
            .zip(&source.config.rootfs.diff_ids)
            .all(|(a, b)| a == b)
}

impl ImageStore {
    /// The image standing for the step `created_by` on `parent` found in
    /// one of `sources` (images by name or id), made if it is a prefix of
    /// the source: its id, or `None` when no source has the step.
    pub fn cache_from(
        &self,
        sources: &[String],
        parent: Option<&str>,
        created_by: &str,
        config: &RunConfig,
    ) -> Result<Option<String>> {
        let parent = parent.map(|p| self.get(p)).transpose()?;
        let at = parent.as_ref().map_or(0, |p| p.config.history.len());
        for name in sources {
            let Ok(source) = self.get(name) else { continue };
            if !extends(&source, parent.as_ref()) {
                continue;
            }
            let Some(entry) = source.config.history.get(at) else {
                continue;
            };
            if entry.created_by.as_deref() != Some(created_by) {
                continue;
            }
            if source.config.history.len() == at + 1 {
                return Ok(Some(source.id));
            }
            return self.restore(parent.as_ref(), &source, at, config).map(Some);
        }
        Ok(None)
    }

    /// `parent` plus the source's history entry `at` (and its layer, unless
    /// the entry made none), with the step's `config` (moby's
    /// `restoreCachedImage`).
    fn restore(
        &self,
        parent: Option<&Image>,
        source: &Image,
        at: usize,
        config: &RunConfig,
    ) -> Result<String> {
        let entry = source.config.history[at].clone();
        let mut diff_ids = parent.map_or_else(Vec::new, |p| p.config.rootfs.diff_ids.clone());
        if !entry.empty_layer {
            let layer = source
                .config
                .rootfs
                .diff_ids
                .get(diff_ids.len())
                .ok_or_else(|| Error::internal("cache source has fewer layers than its history"))?;
            diff_ids.push(layer.clone());
        }
        let mut history = parent.map_or_else(Vec::new, |p| p.config.history.clone());
        history.push(entry.clone());
        let image = crate::ImageConfig {
            architecture: source.config.architecture.clone(),
            config: Some(config.clone()),
            created: entry.created.clone(),
            history,
            os: source.config.os.clone(),
            variant: source.config.variant.clone(),
            rootfs: crate::RootFs {
                r#type: "layers".into(),
                diff_ids,
            },
            ..Default::default()
        };
        let raw = serde_json::to_vec(&image).map_err(|e| Error::internal(e.to_string()))?;
        // The layers are held by the source image (and the parent).
        let parent_id = parent.map(|p| p.id.as_str());
        Ok(self.commit_child_image(&raw, &[], parent_id)?.id)
    }
}
