//! The image store: content-addressed blobs, image and layer metadata in
//! SQLite, layers unpacked once into overlay2 directories shared by every
//! image and container that uses them, and containers' read-write layers.
//!
//! Layout under the data root (mirroring dockerd's overlay2):
//! - `image/metadata.db`: images, tags, layers, rw layers (transactions)
//! - `image/blobs/sha256/<hex>`: image configs and uncompressed layer tars
//!   (kept so `save` reproduces the exact diff ids)
//! - `image/tmp/`: spooled uploads, emptied on open
//! - `overlay2/<cache-id>/{diff,link,lower,work}` and `overlay2/l/<short>`
//!   symlinks, so long lowerdir lists fit the mount options page;
//!   `overlay2/<container-id>/{diff,work,merged,lower}` for rw layers.
//!
//! Crash safety: blobs and layer dirs are written under temporary names and
//! renamed into place before the transaction that references them commits
//! (a layer row before any image row that needs it); `open` removes
//! whatever a crash left unreferenced: temp files, layer dirs and blobs no
//! row names, layers no image or container uses.

mod archive;
pub mod config;
pub mod crash;
pub mod diff;
mod layers;
pub use layers::StagedLayer;
pub mod driver;
mod rwlayer;
mod unpack;

use std::collections::HashMap;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use berth_api::types::{HistoryItem, ImageDeleteItem, ImageSummary};
use berth_api::{Error, Reference, Result};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::json;
use sha2::{Digest, Sha256};

pub use config::{History, ImageConfig, RootFs, RunConfig};
pub use diff::{Change, ChangeKind, CommitOptions};
pub use rwlayer::RwLayer;

fn db_err(e: rusqlite::Error) -> Error {
    Error::internal(format!("image metadata: {e}"))
}

/// The image store of one data root. `Send + Sync`: share it in an `Arc`.
pub struct ImageStore {
    root: PathBuf,
    db: Mutex<Connection>,
    /// Chains held by in-flight imports and loads (see `layers`).
    holds: Mutex<layers::HeldMap>,
    /// How containers' root filesystems are made (`driver/`).
    driver: &'static dyn driver::StorageDriver,
}

/// An image as the engine sees it.
#[derive(Debug, Clone)]
pub struct Image {
    /// `sha256:<hex>` of the config bytes.
    pub id: String,
    pub config: ImageConfig,
    /// The config exactly as stored (its digest is the id).
    pub raw_config: Vec<u8>,
    /// Familiar form, sorted: `busybox:latest`.
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    /// Sum of the layers' sizes.
    pub size: i64,
    pub diff_ids: Vec<String>,
    /// RFC 3339 (the config's `created`, else when it was stored).
    pub created: String,
    /// RFC 3339 nano, when a tag last moved to this image.
    pub last_tag_time: Option<String>,
    /// The image this one was made from by `commit` or a build step
    /// (dockerd's image metadata `parent`; none for pulled, loaded or
    /// imported images). Images with children are kept by prune and
    /// hidden from `images` without `-a`, as dockerd does.
    pub parent: Option<String>,
}

impl Image {
    /// An image without tags (`<none>:<none>`), for the `dangling` filter.
    pub fn is_dangling(&self) -> bool {
        self.repo_tags.is_empty() && self.repo_digests.is_empty()
    }

    /// The image's labels (`config.Labels`), for the `label` filter.
    pub fn labels(&self) -> indexmap::IndexMap<String, String> {
        self.config
            .config
            .as_ref()
            .and_then(|c| c.labels.clone())
            .unwrap_or_default()
    }

    /// Unix seconds of `created`, for `before`/`since`/`until`.
    pub fn created_unix(&self) -> i64 {
        chrono::DateTime::parse_from_rfc3339(&self.created)
            .map(|t| t.timestamp())
            .unwrap_or(0)
    }
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn short_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    (0..26)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The OCI chain id of `diff_id` over `parent`'s chain.
pub fn chain_id(parent: Option<&str>, diff_id: &str) -> String {
    match parent {
        None => diff_id.to_string(),
        Some(p) => format!("sha256:{}", sha256_hex(format!("{p} {diff_id}").as_bytes())),
    }
}

/// Chain ids of a list of diff ids, bottom first.
pub fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    let mut parent: Option<String> = None;
    diff_ids
        .iter()
        .map(|d| {
            let c = chain_id(parent.as_deref(), d);
            parent = Some(c.clone());
            c
        })
        .collect()
}

fn now() -> String {
    berth_api::units::go_rfc3339_nano(
        &chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
    )
}

/// Best-effort fsync of a directory, so renames into it survive a crash.
pub(crate) fn fsync_dir(dir: &Path) {
    if let Ok(f) = fs::File::open(dir) {
        let _ = f.sync_all();
    }
}

/// Writes `data` under `path` atomically (temp file, fsync, rename).
fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".tmp-{name}-{:08x}", rand::random::<u32>()));
    let res = (|| -> Result<()> {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            fsync_dir(dir);
        }
        Ok(())
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res
}

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS images (id TEXT PRIMARY KEY, created TEXT NOT NULL, last_tag_time TEXT, top_chain TEXT, parent TEXT);
    CREATE TABLE IF NOT EXISTS tags (reference TEXT PRIMARY KEY, image_id TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS tags_by_image ON tags (image_id);
    CREATE TABLE IF NOT EXISTS layers (chain_id TEXT PRIMARY KEY, diff_id TEXT NOT NULL, parent TEXT, cache_id TEXT NOT NULL, link TEXT NOT NULL, size INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS layers_by_diff ON layers (diff_id);
    CREATE TABLE IF NOT EXISTS rw_layers (container_id TEXT PRIMARY KEY, image_id TEXT, top_chain TEXT);
    CREATE TABLE IF NOT EXISTS compressed (digest TEXT PRIMARY KEY, diff_id TEXT NOT NULL, size INTEGER NOT NULL, media TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS compressed_by_diff ON compressed (diff_id);
    CREATE TABLE IF NOT EXISTS blob_sources (diff_id TEXT NOT NULL, digest TEXT NOT NULL, size INTEGER NOT NULL, registry TEXT NOT NULL, repo TEXT NOT NULL, PRIMARY KEY (diff_id, digest, registry, repo));
";

fn has_column(conn: &Connection, table: &str, column: &str) -> Result<bool> {
    let mut stmt = conn
        .prepare(&format!("PRAGMA table_info({table})"))
        .map_err(db_err)?;
    let names: Vec<String> = stmt
        .query_map([], |r| r.get(1))
        .map_err(db_err)?
        .collect::<std::result::Result<_, _>>()
        .map_err(db_err)?;
    Ok(names.iter().any(|n| n == column))
}

impl ImageStore {
    /// Opens (creating) the store under `root` and reconciles it with what
    /// a crash may have left: temp files, unreferenced dirs and blobs.
    pub fn open(root: &Path) -> Result<ImageStore> {
        Self::open_with_driver(root, None)
    }

    /// [`ImageStore::open`] with a storage driver by name (`overlay2`,
    /// `vfs`); `None` picks overlay2 where the kernel has overlayfs.
    pub fn open_with_driver(root: &Path, driver: Option<&str>) -> Result<ImageStore> {
        let driver = driver::choose(driver)?;
        let root = root.to_path_buf();
        for d in ["image/blobs/sha256", "image/tmp", "overlay2/l"] {
            fs::create_dir_all(root.join(d))?;
        }
        let conn = Connection::open(root.join("image/metadata.db")).map_err(db_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(db_err)?;
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
            .map_err(db_err)?;
        conn.execute_batch(SCHEMA).map_err(db_err)?;
        // Stores made before the top_chain columns.
        let migrate_images = !has_column(&conn, "images", "top_chain")?;
        if migrate_images {
            conn.execute_batch("ALTER TABLE images ADD COLUMN top_chain TEXT")
                .map_err(db_err)?;
        }
        // Stores made before images had parents.
        if !has_column(&conn, "images", "parent")? {
            conn.execute_batch("ALTER TABLE images ADD COLUMN parent TEXT")
                .map_err(db_err)?;
        }
        conn.execute_batch("CREATE INDEX IF NOT EXISTS images_by_parent ON images (parent)")
            .map_err(db_err)?;
        if !has_column(&conn, "rw_layers", "top_chain")? {
            conn.execute_batch("ALTER TABLE rw_layers ADD COLUMN top_chain TEXT")
                .map_err(db_err)?;
        }
        let store = ImageStore {
            root,
            db: Mutex::new(conn),
            holds: Mutex::new(HashMap::new()),
            driver,
        };
        if migrate_images {
            store.fill_top_chains()?;
        }
        store.reconcile()?;
        Ok(store)
    }

    fn fill_top_chains(&self) -> Result<()> {
        let ids: Vec<String> = {
            let conn = self.conn();
            let mut stmt = conn.prepare("SELECT id FROM images").map_err(db_err)?;
            let v = stmt
                .query_map([], |r| r.get(0))
                .map_err(db_err)?
                .collect::<std::result::Result<_, _>>()
                .map_err(db_err)?;
            v
        };
        for id in ids {
            let Ok(raw) = fs::read(self.blob_path(&id)) else {
                continue;
            };
            let Ok(c) = serde_json::from_slice::<ImageConfig>(&raw) else {
                continue;
            };
            let top = chain_ids(&c.rootfs.diff_ids).pop();
            self.conn()
                .execute(
                    "UPDATE images SET top_chain = ?2 WHERE id = ?1",
                    params![id, top],
                )
                .map_err(db_err)?;
        }
        Ok(())
    }

    /// Removes what no row references (see the module docs).
    fn reconcile(&self) -> Result<()> {
        for e in fs::read_dir(self.root.join("image/tmp"))?.flatten() {
            let _ = fs::remove_dir_all(e.path()).or_else(|_| fs::remove_file(e.path()));
        }
        // Images whose config blob is gone cannot be used: drop them.
        let images: Vec<String> = self.column("SELECT id FROM images")?;
        for id in &images {
            if !self.blob_path(id).exists() {
                tracing::warn!(image = %id, "image config missing, removing the image record");
                let mut conn = self.conn();
                let tx = conn.transaction().map_err(db_err)?;
                tx.execute("DELETE FROM tags WHERE image_id = ?1", params![id])
                    .map_err(db_err)?;
                tx.execute("DELETE FROM images WHERE id = ?1", params![id])
                    .map_err(db_err)?;
                tx.commit().map_err(db_err)?;
            }
        }
        self.gc_layers()?;
        let cache_ids: std::collections::HashSet<String> = self
            .column("SELECT cache_id FROM layers")?
            .into_iter()
            .chain(self.column("SELECT container_id FROM rw_layers")?)
            .collect();
        for e in fs::read_dir(self.overlay())?.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name == "l" || name == "empty" || cache_ids.contains(&name) {
                continue;
            }
            let merged = e.path().join("merged");
            if driver::is_mount_point(&merged) {
                let _ = nix::mount::umount2(&merged, nix::mount::MntFlags::MNT_DETACH);
            }
            tracing::info!(dir = %name, "removing unreferenced layer dir");
            let _ = fs::remove_dir_all(e.path());
        }
        for e in fs::read_dir(self.overlay().join("l"))?.flatten() {
            if fs::metadata(e.path()).is_err() {
                let _ = fs::remove_file(e.path());
            }
        }
        self.conn()
            .execute(
                "DELETE FROM compressed WHERE diff_id NOT IN (SELECT diff_id FROM layers)",
                [],
            )
            .map_err(db_err)?;
        self.conn()
            .execute(
                "DELETE FROM blob_sources WHERE diff_id NOT IN (SELECT diff_id FROM layers)",
                [],
            )
            .map_err(db_err)?;
        let blobs: std::collections::HashSet<String> = self
            .column("SELECT id FROM images")?
            .into_iter()
            .chain(self.column("SELECT diff_id FROM layers")?)
            .chain(self.column("SELECT digest FROM compressed")?)
            .map(|d| hex_of(&d).to_string())
            .collect();
        for e in fs::read_dir(self.root.join("image/blobs/sha256"))?.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !blobs.contains(&name) {
                let _ = fs::remove_file(e.path());
            }
        }
        Ok(())
    }

    fn column(&self, sql: &str) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(sql).map_err(db_err)?;
        let v = stmt
            .query_map([], |r| r.get(0))
            .map_err(db_err)?
            .collect::<std::result::Result<_, _>>()
            .map_err(db_err)?;
        Ok(v)
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn blob_path(&self, digest: &str) -> PathBuf {
        self.root.join("image/blobs/sha256").join(hex_of(digest))
    }

    fn overlay(&self) -> PathBuf {
        self.root.join("overlay2")
    }

    /// The data root this store lives under.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn driver_name(&self) -> &'static str {
        self.driver.name()
    }

    /// `DriverStatus` for `/info`, as dockerd's driver of that name
    /// reports it.
    pub fn driver_status(&self) -> Vec<[String; 2]> {
        self.driver.status(&self.root)
    }

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

    fn load_image(&self, id: &str) -> Result<Image> {
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
    pub fn inspect(&self, img: &Image) -> serde_json::Value {
        let mut v = json!({
            "Id": img.id,
            "RepoTags": img.repo_tags,
            "RepoDigests": img.repo_digests,
            "Parent": img.parent.clone().unwrap_or_default(),
            "Comment": img.config.comment.clone().unwrap_or_default(),
        });
        let obj = v.as_object_mut().expect("an object");
        if let Some(created) = &img.config.created {
            obj.insert("Created".into(), json!(created));
        }
        obj.insert(
            "DockerVersion".into(),
            json!(img.config.docker_version.clone().unwrap_or_default()),
        );
        obj.insert(
            "Author".into(),
            json!(img.config.author.clone().unwrap_or_default()),
        );
        obj.insert(
            "Config".into(),
            img.config
                .config
                .as_ref()
                .map(config::legacy_config_json)
                .unwrap_or(serde_json::Value::Null),
        );
        obj.insert("Architecture".into(), json!(img.config.architecture));
        if let Some(variant) = img.config.variant.as_deref().filter(|v| !v.is_empty()) {
            obj.insert("Variant".into(), json!(variant));
        }
        obj.insert("Os".into(), json!(img.config.os));
        if let Some(osv) = img.config.extra.get("os.version").filter(|v| !v.is_null()) {
            obj.insert("OsVersion".into(), osv.clone());
        }
        obj.insert("Size".into(), json!(img.size));
        obj.insert(
            "GraphDriver".into(),
            json!({"Data": self.image_graph_data(img), "Name": self.driver.name()}),
        );
        obj.insert(
            "RootFS".into(),
            json!({"Type": "layers", "Layers": img.diff_ids}),
        );
        obj.insert(
            "Metadata".into(),
            json!({"LastTagTime": img
                .last_tag_time
                .clone()
                .unwrap_or_else(|| "0001-01-01T00:00:00Z".into())}),
        );
        v
    }

    /// `GraphDriver.Data` of an image, from its layers' dirs (the
    /// driver's words).
    fn image_graph_data(&self, img: &Image) -> serde_json::Value {
        let Some(top) = chain_ids(&img.diff_ids).pop() else {
            return serde_json::Value::Null;
        };
        let Ok(layers) = self.chain_layers(&top) else {
            return serde_json::Value::Null;
        };
        let dirs: Vec<PathBuf> = layers
            .iter()
            .map(|(_, cache, _)| self.overlay().join(cache))
            .collect();
        json!(self.driver.image_data(&dirs))
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

/// The host's architecture as Go names it (`amd64`, `arm64`).
pub fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "arm" => "arm",
        other => other,
    }
}
