//! Blobs kept beside the layers: compressed layer blobs and where a
//! registry has them (for push), and the archives of `load` and `save`.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use berth_api::Result;
use rusqlite::{params, OptionalExtension};

use crate::*;

impl ImageStore {
    /// Keeps the compressed blob `digest` of the layer `diff_id` (pulled,
    /// or made by a push; the caller hashed it), so a later push sends
    /// the very same bytes without compressing again. Best effort; fsyncs
    /// the blob, so meant to run off a pull's or push's path; removes
    /// `path` when it is not kept.
    pub fn keep_compressed_blob(&self, path: &Path, digest: &str, media: &str, diff_id: &str) {
        self.keep_compressed(path, digest, media, diff_id);
        let _ = fs::remove_file(path);
    }

    /// Keeps a downloaded compressed layer blob (best effort: a push
    /// compresses again without it). It is fsynced before it is recorded,
    /// so a record never names a blob a power cut could tear.
    fn keep_compressed(&self, path: &Path, digest: &str, media: &str, diff_id: &str) {
        if !digest.starts_with("sha256:") || !is_hex64(hex_of(digest)) {
            return;
        }
        let Ok(meta) = fs::metadata(path) else {
            return;
        };
        let dst = self.blob_path(digest);
        if !dst.exists() {
            if fs::File::open(path).and_then(|f| f.sync_all()).is_err() {
                return;
            }
            if fs::rename(path, &dst).is_err() {
                return;
            }
        }
        fsync_dir(&self.root.join("image/blobs/sha256"));
        let _ = self.conn().execute(
            "INSERT OR IGNORE INTO compressed (digest, diff_id, size, media) VALUES (?1, ?2, ?3, ?4)",
            params![digest, diff_id, meta.len() as i64, media],
        );
    }

    /// A compressed blob of the layer `diff_id` kept from a pull:
    /// `(path, digest, size, media type)`.
    pub fn compressed_for(&self, diff_id: &str) -> Option<(PathBuf, String, u64, String)> {
        let row: Option<(String, i64, String)> = self
            .conn()
            .query_row(
                "SELECT digest, size, media FROM compressed WHERE diff_id = ?1 LIMIT 1",
                params![diff_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .ok()
            .flatten();
        let (digest, size, media) = row?;
        let path = self.blob_path(&digest);
        path.exists()
            .then(|| (path, digest, size.max(0) as u64, media))
    }

    /// Remembers that the compressed blob `digest` (of the layer
    /// `diff_id`) is in `repo` on `registry`, as dockerd's v2 metadata
    /// service does, so a later push to another repository of that
    /// registry can mount it instead of uploading it. Best effort.
    pub fn add_blob_source(
        &self,
        diff_id: &str,
        digest: &str,
        size: u64,
        registry: &str,
        repo: &str,
    ) {
        let _ = self.conn().execute(
            "INSERT OR REPLACE INTO blob_sources (diff_id, digest, size, registry, repo) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![diff_id, digest, size as i64, registry, repo],
        );
    }

    /// Where the layer `diff_id` is known to be on `registry`:
    /// `(digest, size, repo)`, most recently recorded first.
    pub fn blob_sources(&self, diff_id: &str, registry: &str) -> Vec<(String, u64, String)> {
        let conn = self.conn();
        let Ok(mut stmt) = conn.prepare(
            "SELECT digest, size, repo FROM blob_sources WHERE diff_id = ?1 AND registry = ?2 ORDER BY rowid DESC",
        ) else {
            return Vec::new();
        };
        stmt.query_map(params![diff_id, registry], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?.max(0) as u64,
                r.get(2)?,
            ))
        })
        .map(|rows| rows.flatten().collect())
        .unwrap_or_default()
    }

    /// `POST /images/load`: docker-archive (classic and docker 25+) and
    /// OCI image layouts, several images per archive. `progress` gets each
    /// line dockerd prints (`Loaded image: busybox:latest`, without the
    /// newline). All or nothing: a failed load leaves no image behind.
    pub fn load(&self, src: &mut dyn Read, progress: &mut dyn FnMut(String)) -> Result<()> {
        let mut holds = self.new_holds();
        let result = archive::load(self, src, progress, &mut holds);
        drop(holds);
        if result.is_err() {
            let _ = self.gc_layers();
        }
        result
    }

    /// `GET /images/get`: the archive docker 25+ writes (OCI layout plus
    /// `manifest.json` and `repositories`). A repository name without a
    /// tag saves all its tags; an id saves the image without tags.
    pub fn save(&self, names: &[String], dst: &mut dyn Write) -> Result<()> {
        archive::save(self, names, dst)
    }

    /// The uncompressed tar of a layer (named by its diff id), for push.
    pub fn layer_tar(&self, diff_id: &str) -> PathBuf {
        self.blob_path(diff_id)
    }

    pub(crate) fn layer_blob(&self, diff_id: &str) -> PathBuf {
        self.blob_path(diff_id)
    }
}
