//! Images entering the store: a commit's or build step's config, an
//! imported tar, a pulled image whose layers were staged.

use std::fs;
use std::io::Read;
use std::path::PathBuf;

use berth_api::{Error, Reference, Result};
use rusqlite::{params, OptionalExtension};

use crate::*;

impl ImageStore {
    /// Stores an image config whose layers are registered (and held by
    /// the caller) and points `tags` at it, in one transaction.
    pub(crate) fn commit_image(&self, raw_config: &[u8], tags: &[Reference]) -> Result<Image> {
        self.commit_child_image(raw_config, tags, None)
    }

    /// [`ImageStore::commit_image`] recording `parent` as the image it was
    /// made from (an image that already existed keeps its own parent).
    pub(crate) fn commit_child_image(
        &self,
        raw_config: &[u8],
        tags: &[Reference],
        parent: Option<&str>,
    ) -> Result<Image> {
        let mut prepared = Vec::new();
        let mut written = Vec::new();
        let images = [(raw_config.to_vec(), tags.to_vec())];
        let result = self.commit_images_inner(&images, parent, &mut prepared, &mut written);
        if result.is_err() {
            for blob in written {
                let _ = fs::remove_file(blob);
            }
        }
        self.load_image(&result?[0])
    }

    /// Stores several images (config bytes and tags) in one transaction:
    /// all of them or none. Their layers must be registered and held.
    pub(crate) fn commit_images(
        &self,
        images: &[(Vec<u8>, Vec<Reference>)],
    ) -> Result<Vec<String>> {
        let mut prepared = Vec::new();
        let mut written = Vec::new();
        let result = self.commit_images_inner(images, None, &mut prepared, &mut written);
        if result.is_err() {
            for blob in written {
                let _ = fs::remove_file(blob);
            }
        }
        result
    }

    #[allow(clippy::type_complexity)]
    fn commit_images_inner<'t>(
        &self,
        images: &'t [(Vec<u8>, Vec<Reference>)],
        parent: Option<&str>,
        prepared: &mut Vec<(String, String, Vec<String>, &'t Vec<Reference>)>,
        written: &mut Vec<PathBuf>,
    ) -> Result<Vec<String>> {
        for (raw, tags) in images {
            let config: ImageConfig = serde_json::from_slice(raw)
                .map_err(|e| Error::invalid(format!("invalid image config: {e}")))?;
            let id = format!("sha256:{}", sha256_hex(raw));
            let blob = self.blob_path(&id);
            if !blob.exists() {
                write_atomic(&blob, raw)?;
                written.push(blob);
            }
            let created = config.created.clone().unwrap_or_else(now);
            prepared.push((id, created, chain_ids(&config.rootfs.diff_ids), tags));
        }
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db_err)?;
        for (id, created, chains, tags) in prepared.iter() {
            for c in chains {
                let present: Option<i64> = tx
                    .query_row(
                        "SELECT 1 FROM layers WHERE chain_id = ?1",
                        params![c],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(db_err)?;
                if present.is_none() {
                    return Err(Error::internal(format!(
                        "image {id}: layer {c} is not registered"
                    )));
                }
            }
            tx.execute(
                "INSERT OR IGNORE INTO images (id, created, top_chain, parent) VALUES (?1, ?2, ?3, ?4)",
                params![id, created, chains.last(), parent],
            )
            .map_err(db_err)?;
            for t in tags.iter() {
                tx.execute(
                    "INSERT OR REPLACE INTO tags (reference, image_id) VALUES (?1, ?2)",
                    params![t.to_string(), id],
                )
                .map_err(db_err)?;
                tx.execute(
                    "UPDATE images SET last_tag_time = ?2 WHERE id = ?1",
                    params![id, now()],
                )
                .map_err(db_err)?;
            }
        }
        tx.commit().map_err(db_err)?;
        Ok(prepared.iter().map(|p| p.0.clone()).collect())
    }

    /// `POST /images/create?fromSrc=-`: a tar (plain or gzip) becomes a
    /// one-layer image, `changes` (Dockerfile instructions, as `docker
    /// import -c`) applied to its config. History and config comment are
    /// `message`, else dockerd's `Imported from -`.
    pub fn import(
        &self,
        src: &mut dyn Read,
        repo_tag: Option<&Reference>,
        message: &str,
        changes: &[String],
    ) -> Result<Image> {
        let mut run = RunConfig::default();
        config::apply_changes(&mut run, changes)?;
        let tags: Vec<Reference> = repo_tag
            .map(|r| {
                if r.digest.is_some() {
                    return Err(Error::invalid(
                        "refusing to create a tag with a digest reference",
                    ));
                }
                Ok(if r.tag.is_none() {
                    r.with_tag("latest")
                } else {
                    r.clone()
                })
            })
            .transpose()?
            .into_iter()
            .collect();
        let mut holds = self.new_holds();
        let result = (|| {
            let spooled = self.spool_layer(src)?;
            let diff_id = spooled.diff_id.clone();
            self.register_layer(spooled, None, &mut holds)?;
            let created = now();
            let comment = if message.is_empty() {
                "Imported from -".to_string()
            } else {
                message.to_string()
            };
            let config = ImageConfig {
                architecture: arch().into(),
                comment: Some(comment.clone()),
                config: Some(run),
                created: Some(created.clone()),
                history: vec![config::History {
                    created: Some(created),
                    comment: Some(comment),
                    ..Default::default()
                }],
                os: "linux".into(),
                rootfs: config::RootFs {
                    r#type: "layers".into(),
                    diff_ids: vec![diff_id],
                },
                ..Default::default()
            };
            let raw = serde_json::to_vec(&config).map_err(|e| Error::internal(e.to_string()))?;
            self.commit_image(&raw, &tags)
        })();
        drop(holds);
        if result.is_err() {
            let _ = self.gc_layers();
        }
        result
    }

    /// Whether the layer chain `chain` is present (a pull skips its blob).
    pub fn has_layer(&self, chain: &str) -> Result<bool> {
        self.layer_exists(chain)
    }

    /// A pulled image whose missing layers were staged while they
    /// downloaded ([`ImageStore::stage_layer`]; `None` where the chain is
    /// already present), in `rootfs.diff_ids` order: each diff id is
    /// checked against the config, the layers are placed in order, the
    /// config stored and `tags` pointed at it, all or nothing.
    /// `placed(i)` is called after layer `i` is in place. The compressed
    /// blobs are not kept here: see [`ImageStore::keep_compressed_blob`].
    pub fn add_pulled_staged(
        &self,
        raw_config: &[u8],
        layers: Vec<Option<layers::StagedLayer>>,
        tags: &[Reference],
        placed: &mut dyn FnMut(usize),
    ) -> Result<Image> {
        let config: ImageConfig = serde_json::from_slice(raw_config)
            .map_err(|e| Error::invalid(format!("invalid image config: {e}")))?;
        let diff_ids = config.rootfs.diff_ids.clone();
        if diff_ids.len() != layers.len() {
            return Err(Error::invalid(format!(
                "the manifest has {} layers but the image config lists {} diff ids",
                layers.len(),
                diff_ids.len()
            )));
        }
        let mut holds = self.new_holds();
        let result = (|| {
            let mut parent: Option<String> = None;
            for (i, (layer, want)) in layers.into_iter().zip(&diff_ids).enumerate() {
                let chain = chain_id(parent.as_deref(), want);
                let have = {
                    let mut held = self.holds();
                    let have = self.layer_exists(&chain)?;
                    if have {
                        self.hold_chain(&mut held, &mut holds, &chain);
                    }
                    have
                };
                if !have {
                    let Some(staged) = layer else {
                        return Err(Error::internal(format!("layer {chain} is missing")));
                    };
                    if &staged.diff_id != want {
                        return Err(Error::invalid(format!(
                            "layer {i}: diff id {} does not match the image config's {want}",
                            staged.diff_id
                        )));
                    }
                    self.register_staged(staged, parent.as_deref(), &mut holds)?;
                }
                placed(i);
                if !have {
                    crash::point("pull.layer-registered");
                }
                parent = Some(chain);
            }
            self.commit_image(raw_config, tags)
        })();
        drop(holds);
        if result.is_err() {
            let _ = self.gc_layers();
        }
        result
    }
}
