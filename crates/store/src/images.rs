//! What the engine asks of images: delete, history, inspect, the list
//! entry, and the sizes `/system/df` reports.

use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;

use berth_api::model::{ImageInspectMetadata, ImageInspectRootFS};
use berth_api::types::{HistoryItem, ImageDeleteItem, ImageSummary};
use berth_api::views::{ImageGraphDriver, ImageInspect};
use berth_api::Result;
use indexmap::IndexMap;
use rusqlite::{params, OptionalExtension};

use crate::*;

impl ImageStore {
    /// Removes the image, its remaining tags and every layer nothing else
    /// uses, as dockerd lists it: `Untagged` entries, then `Deleted` for
    /// the image id and for each removed layer's chain id (top first).
    /// Policy (containers using it, force) is the engine's.
    pub fn delete(&self, id: &str) -> Result<Vec<ImageDeleteItem>> {
        let img = self.get(id)?;
        let mut out: Vec<ImageDeleteItem> = img
            .repo_tags
            .iter()
            .chain(&img.repo_digests)
            .map(|t| ImageDeleteItem {
                untagged: Some(t.clone()),
                deleted: None,
            })
            .collect();
        let held = self.holds();
        {
            let mut conn = self.conn();
            let tx = conn.transaction().map_err(db_err)?;
            tx.execute("DELETE FROM tags WHERE image_id = ?1", params![img.id])
                .map_err(db_err)?;
            tx.execute("DELETE FROM images WHERE id = ?1", params![img.id])
                .map_err(db_err)?;
            // The engine refuses to delete a parent (dockerd's hard
            // conflict); this only keeps forced paths from leaving a
            // child pointing at nothing.
            tx.execute(
                "UPDATE images SET parent = NULL WHERE parent = ?1",
                params![img.id],
            )
            .map_err(db_err)?;
            tx.commit().map_err(db_err)?;
        }
        let _ = fs::remove_file(self.blob_path(&img.id));
        out.push(ImageDeleteItem {
            untagged: None,
            deleted: Some(img.id.clone()),
        });
        let removed = self.gc_layers_locked(&held)?;
        drop(held);
        for c in chain_ids(&img.diff_ids).iter().rev() {
            if removed.contains(c) {
                out.push(ImageDeleteItem {
                    untagged: None,
                    deleted: Some(c.clone()),
                });
            }
        }
        Ok(out)
    }

    /// `docker history`: newest first, the top entry with the image's id
    /// and tags, the others `<missing>` as dockerd shows layers of images
    /// it did not build.
    pub fn history(&self, name_or_id: &str) -> Result<Vec<HistoryItem>> {
        let img = self.get(name_or_id)?;
        let mut sizes = Vec::new();
        {
            let conn = self.conn();
            for c in chain_ids(&img.diff_ids) {
                sizes.push(
                    conn.query_row(
                        "SELECT size FROM layers WHERE chain_id = ?1",
                        params![c],
                        |r| r.get::<_, i64>(0),
                    )
                    .optional()
                    .map_err(db_err)?
                    .unwrap_or(0),
                );
            }
        }
        let mut items = Vec::new();
        let mut layer = 0;
        for h in &img.config.history {
            let size = if h.empty_layer {
                0
            } else {
                layer += 1;
                sizes.get(layer - 1).copied().unwrap_or(0)
            };
            items.push(HistoryItem {
                id: "<missing>".into(),
                created: h
                    .created
                    .as_deref()
                    .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
                    .map(|t| t.timestamp())
                    .unwrap_or(0),
                created_by: h.created_by.clone().unwrap_or_default(),
                tags: None,
                size,
                comment: h.comment.clone().unwrap_or_default(),
            });
        }
        items.reverse();
        // As dockerd: the entries, newest first, are named by the image
        // and then its ancestors for as long as the parent chain is here
        // (a build's step images), the rest `<missing>`.
        let mut cur = Some(img);
        for item in items.iter_mut() {
            let Some(i) = cur.take() else { break };
            item.id = i.id.clone();
            item.tags = Some(i.repo_tags.clone()).filter(|t| !t.is_empty());
            cur = i.parent.as_deref().and_then(|p| self.load_image(p).ok());
        }
        Ok(items)
    }

    /// `GET /images/{name}/json` as dockerd answers at API 1.47.
    pub fn inspect(&self, img: &Image) -> ImageInspect {
        let cfg = &img.config;
        ImageInspect {
            id: img.id.clone(),
            repo_tags: img.repo_tags.clone(),
            repo_digests: img.repo_digests.clone(),
            parent: img.parent.clone().unwrap_or_default(),
            comment: cfg.comment.clone().unwrap_or_default(),
            created: cfg.created.clone(),
            docker_version: cfg.docker_version.clone().unwrap_or_default(),
            author: cfg.author.clone().unwrap_or_default(),
            config: cfg.config.as_ref().map(config::legacy_config),
            architecture: cfg.architecture.clone(),
            variant: cfg.variant.clone().filter(|v| !v.is_empty()),
            os: cfg.os.clone(),
            os_version: cfg
                .extra
                .get("os.version")
                .and_then(|v| v.as_str())
                .map(str::to_string),
            size: img.size,
            graph_driver: ImageGraphDriver {
                data: self.image_graph_data(img),
                name: self.driver.name().to_string(),
            },
            root_fs: ImageInspectRootFS {
                r#type: "layers".into(),
                layers: Some(img.diff_ids.clone()),
            },
            metadata: ImageInspectMetadata {
                // Go's zero time when the image was never tagged.
                last_tag_time: Some(
                    img.last_tag_time
                        .clone()
                        .unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
                ),
            },
        }
    }

    /// `GraphDriver.Data` of an image, from its layers' dirs (the
    /// driver's words).
    fn image_graph_data(&self, img: &Image) -> Option<IndexMap<String, String>> {
        let top = chain_ids(&img.diff_ids).pop()?;
        let layers = self.chain_layers(&top).ok()?;
        let dirs: Vec<PathBuf> = layers
            .iter()
            .map(|(_, cache, _)| self.overlay().join(cache))
            .collect();
        self.driver.image_data(&dirs)
    }

    /// One `GET /images/json` entry.
    pub fn summary(&self, img: &Image, containers: i64) -> ImageSummary {
        ImageSummary {
            containers,
            created: img.created_unix(),
            id: img.id.clone(),
            labels: img.config.config.as_ref().and_then(|c| c.labels.clone()),
            parent_id: img.parent.clone().unwrap_or_default(),
            repo_digests: img.repo_digests.clone(),
            repo_tags: img.repo_tags.clone(),
            shared_size: -1,
            size: img.size,
        }
    }

    /// Every layer's own size by chain id (what deleting it frees).
    pub fn layer_sizes(&self) -> Result<HashMap<String, i64>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT chain_id, size FROM layers")
            .map_err(db_err)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(db_err)?;
        Ok(rows.flatten().collect())
    }

    /// Per image, the size of its layers that other images share too
    /// (`/system/df`'s `SharedSize`).
    pub fn shared_sizes(&self) -> Result<HashMap<String, i64>> {
        let images = self.list()?;
        let sizes = self.layer_sizes()?;
        let mut uses: HashMap<String, usize> = HashMap::new();
        for img in &images {
            for c in chain_ids(&img.diff_ids) {
                *uses.entry(c).or_default() += 1;
            }
        }
        Ok(images
            .iter()
            .map(|img| {
                let shared = chain_ids(&img.diff_ids)
                    .iter()
                    .filter(|c| uses.get(*c).copied().unwrap_or(0) > 1)
                    .map(|c| sizes.get(c).copied().unwrap_or(0))
                    .sum();
                (img.id.clone(), shared)
            })
            .collect())
    }

    /// Total size of the read-only layers (`/system/df`'s `LayersSize`).
    pub fn layers_size(&self) -> Result<i64> {
        self.conn()
            .query_row("SELECT COALESCE(SUM(size), 0) FROM layers", [], |r| {
                r.get(0)
            })
            .map_err(db_err)
    }
}
