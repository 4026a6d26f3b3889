//! Finding images (by id, prefix or reference) and moving their tags.

use std::fs;

use berth_api::{Error, Reference, Result};
use rusqlite::{params, OptionalExtension};

use crate::*;

impl ImageStore {
    /// The image id a name resolves to: a full id (`sha256:<hex>` or bare
    /// hex), a reference (`busybox`, `busybox:latest`,
    /// `docker.io/library/busybox:latest`, `busybox@sha256:..`), or a
    /// unique id prefix (with or without `sha256:`), as dockerd resolves.
    pub fn resolve_id(&self, name_or_id: &str) -> Result<String> {
        let hex = name_or_id.strip_prefix("sha256:").unwrap_or(name_or_id);
        let conn = self.conn();
        let exact = |id: &str| -> Result<Option<String>> {
            conn.query_row("SELECT id FROM images WHERE id = ?1", params![id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(db_err)
        };
        if is_hex64(hex) {
            return exact(&format!("sha256:{hex}"))?
                .ok_or_else(|| Error::not_found(format!("No such image: sha256:{hex}")));
        }
        let looks_hex = !hex.is_empty()
            && hex.len() < 64
            && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        let reference = Reference::parse_with_default_tag(name_or_id);
        if let Ok(r) = &reference {
            let id: Option<String> = conn
                .query_row(
                    "SELECT image_id FROM tags WHERE reference = ?1",
                    params![r.to_string()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db_err)?;
            if let Some(id) = id {
                return Ok(id);
            }
        }
        if looks_hex {
            let mut stmt = conn
                .prepare("SELECT id FROM images WHERE substr(id, 8, ?2) = ?1 LIMIT 2")
                .map_err(db_err)?;
            let ids: Vec<String> = stmt
                .query_map(params![hex, hex.len() as i64], |r| r.get(0))
                .map_err(db_err)?
                .collect::<std::result::Result<_, _>>()
                .map_err(db_err)?;
            if ids.len() == 1 {
                return Ok(ids.into_iter().next().unwrap_or_default());
            }
        }
        match reference {
            Ok(r) => Err(Error::not_found(format!(
                "No such image: {}",
                r.familiar_string()
            ))),
            Err(_) if looks_hex => Err(Error::not_found(format!("No such image: {name_or_id}"))),
            Err(e) => Err(e),
        }
    }

    /// By reference, full or short id (see [`ImageStore::resolve_id`]).
    /// NotFound: `No such image: <name>`.
    pub fn get(&self, name_or_id: &str) -> Result<Image> {
        let id = self.resolve_id(name_or_id)?;
        self.load_image(&id)
    }

    pub(crate) fn load_image(&self, id: &str) -> Result<Image> {
        let raw = fs::read(self.blob_path(id))
            .map_err(|e| Error::internal(format!("image config {id}: {e}")))?;
        let config: ImageConfig = serde_json::from_slice(&raw)
            .map_err(|e| Error::internal(format!("image config {id}: {e}")))?;
        let conn = self.conn();
        let (created, last_tag, parent): (String, Option<String>, Option<String>) = conn
            .query_row(
                "SELECT created, last_tag_time, parent FROM images WHERE id = ?1",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(db_err)?
            .ok_or_else(|| Error::not_found(format!("No such image: {id}")))?;
        let mut stmt = conn
            .prepare("SELECT reference FROM tags WHERE image_id = ?1")
            .map_err(db_err)?;
        let refs: Vec<String> = stmt
            .query_map(params![id], |r| r.get(0))
            .map_err(db_err)?
            .collect::<std::result::Result<_, _>>()
            .map_err(db_err)?;
        let mut repo_tags: Vec<String> = Vec::new();
        let mut repo_digests: Vec<String> = Vec::new();
        for r in refs.iter().filter_map(|r| Reference::parse(r).ok()) {
            if r.digest.is_some() {
                repo_digests.push(r.familiar_string());
            } else {
                repo_tags.push(r.familiar_string());
            }
        }
        repo_tags.sort();
        repo_digests.sort();
        let mut size = 0;
        for chain in chain_ids(&config.rootfs.diff_ids) {
            size += conn
                .query_row(
                    "SELECT size FROM layers WHERE chain_id = ?1",
                    params![chain],
                    |r| r.get::<_, i64>(0),
                )
                .optional()
                .map_err(db_err)?
                .unwrap_or(0);
        }
        Ok(Image {
            id: id.to_string(),
            diff_ids: config.rootfs.diff_ids.clone(),
            config,
            raw_config: raw,
            repo_tags,
            repo_digests,
            size,
            created,
            last_tag_time: last_tag,
            parent,
        })
    }

    /// Every image (unordered; the engine sorts and filters with
    /// [`Image::is_dangling`], [`Image::labels`], [`Image::created_unix`]
    /// and `repo_tags`).
    pub fn list(&self) -> Result<Vec<Image>> {
        let ids = self.column("SELECT id FROM images")?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            match self.load_image(&id) {
                Ok(img) => out.push(img),
                // Deleted meanwhile.
                Err(e) if e.kind == berth_api::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Full references (`docker.io/library/busybox:latest`) of one
    /// repository's tags, with their image ids, sorted.
    pub(crate) fn tags_of_repo(&self, repo: &Reference) -> Result<Vec<(Reference, String)>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT reference, image_id FROM tags ORDER BY reference")
            .map_err(db_err)?;
        let rows: Vec<(String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(db_err)?
            .collect::<std::result::Result<_, _>>()
            .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .filter_map(|(r, id)| Reference::parse(&r).ok().map(|r| (r, id)))
            .filter(|(r, _)| r.domain == repo.domain && r.path == repo.path && r.tag.is_some())
            .collect())
    }

    /// The image a full reference points to, if any.
    pub fn tag_target(&self, reference: &Reference) -> Result<Option<String>> {
        self.conn()
            .query_row(
                "SELECT image_id FROM tags WHERE reference = ?1",
                params![reference.to_string()],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)
    }

    /// Points `target` (without tag: `:latest`) at `source`, moving it from
    /// any image it pointed to before.
    pub fn tag(&self, source: &str, target: &Reference) -> Result<()> {
        let id = self.resolve_id(source)?;
        let target = if target.tag.is_none() && target.digest.is_none() {
            target.with_tag("latest")
        } else {
            target.clone()
        };
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db_err)?;
        tx.execute(
            "INSERT OR REPLACE INTO tags (reference, image_id) VALUES (?1, ?2)",
            params![target.to_string(), id],
        )
        .map_err(db_err)?;
        tx.execute(
            "UPDATE images SET last_tag_time = ?2 WHERE id = ?1",
            params![id, now()],
        )
        .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        Ok(())
    }

    /// The images made from `id` (see [`Image::parent`]).
    pub fn children(&self, id: &str) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT id FROM images WHERE parent = ?1")
            .map_err(db_err)?;
        let ids = stmt
            .query_map(params![id], |r| r.get(0))
            .map_err(db_err)?
            .collect::<std::result::Result<_, _>>()
            .map_err(db_err)?;
        Ok(ids)
    }

    /// The ids of the images with children, for listing and pruning.
    pub fn parents(&self) -> Result<std::collections::HashSet<String>> {
        Ok(self
            .column("SELECT DISTINCT parent FROM images WHERE parent IS NOT NULL")?
            .into_iter()
            .collect())
    }

    /// Removes a tag (without tag: `:latest`); false when it did not exist.
    pub fn untag(&self, reference: &Reference) -> Result<bool> {
        let reference = if reference.tag.is_none() && reference.digest.is_none() {
            reference.with_tag("latest")
        } else {
            reference.clone()
        };
        let n = self
            .conn()
            .execute(
                "DELETE FROM tags WHERE reference = ?1",
                params![reference.to_string()],
            )
            .map_err(db_err)?;
        Ok(n > 0)
    }
}
