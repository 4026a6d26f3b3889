//! The image store: content-addressed blobs, image and layer metadata in
//! SQLite, layers unpacked once into overlay2 directories shared by every
//! image and container that uses them, and containers' read-write layers.
//!
//! Layout under the data root (mirroring dockerd's overlay2):
//! - `image/metadata.db`: images, tags, layers, rw layers (transactions)
//! - `image/blobs/sha256/<hex>`: image configs and uncompressed layer tars
//!   (kept so `save` reproduces the exact diff ids)
//! - `overlay2/<cache-id>/{diff,link,lower,work}` and `overlay2/l/<short>`
//!   symlinks, so long lowerdir lists fit the mount options page.
//!
//! Crash safety: blobs and layer dirs are written under temporary names and
//! renamed into place before the transaction that references them commits;
//! `open` removes whatever a crash left unreferenced.

mod archive;
pub mod config;
mod unpack;

use std::fs;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use berth_api::types::{HistoryItem, ImageDeleteItem, ImageSummary};
use berth_api::{Error, Reference, Result};
use indexmap::IndexMap;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::json;
use sha2::{Digest, Sha256};

pub use config::{ImageConfig, RunConfig};

const DRIVER: &str = "overlay2";

fn db_err(e: rusqlite::Error) -> Error {
    Error::internal(format!("image metadata: {e}"))
}

pub struct ImageStore {
    root: PathBuf,
    db: Mutex<Connection>,
}

/// An image as the engine sees it.
#[derive(Debug, Clone)]
pub struct Image {
    /// `sha256:<hex>` of the config bytes.
    pub id: String,
    pub config: ImageConfig,
    pub raw_config: Vec<u8>,
    /// Familiar form: `busybox:latest`.
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    /// Sum of the layers' sizes.
    pub size: i64,
    pub diff_ids: Vec<String>,
    /// RFC 3339.
    pub created: String,
    pub last_tag_time: Option<String>,
}

/// A container's read-write layer over its image's layers.
#[derive(Debug, Clone)]
pub struct RwLayer {
    pub lowerdirs: Vec<PathBuf>,
    pub upperdir: PathBuf,
    pub workdir: PathBuf,
    pub merged: PathBuf,
}

impl RwLayer {
    /// overlayfs mount options (absolute `l/` short links: the daemon is
    /// multi-threaded, so no chdir trick for relative ones).
    pub fn mount_data(&self) -> String {
        let lower: Vec<String> = self
            .lowerdirs
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        format!(
            "lowerdir={},upperdir={},workdir={}",
            lower.join(":"),
            self.upperdir.display(),
            self.workdir.display()
        )
    }

    pub fn is_mounted(&self) -> bool {
        let target = self.merged.display().to_string();
        fs::read_to_string("/proc/self/mountinfo")
            .map(|m| {
                m.lines()
                    .any(|l| l.split(' ').nth(4) == Some(target.as_str()))
            })
            .unwrap_or(false)
    }

    pub fn mount(&self) -> Result<()> {
        if self.is_mounted() {
            return Ok(());
        }
        fs::create_dir_all(&self.merged)?;
        nix::mount::mount(
            Some("overlay"),
            &self.merged,
            Some("overlay"),
            nix::mount::MsFlags::empty(),
            Some(self.mount_data().as_str()),
        )
        .map_err(|e| {
            Error::internal(format!(
                "mounting the container rootfs at {}: {e}",
                self.merged.display()
            ))
        })
    }

    pub fn unmount(&self) -> Result<()> {
        if !self.is_mounted() {
            return Ok(());
        }
        nix::mount::umount2(&self.merged, nix::mount::MntFlags::MNT_DETACH)
            .map_err(|e| Error::internal(format!("unmounting {}: {e}", self.merged.display())))
    }

    pub fn graph_driver_data(&self) -> IndexMap<String, String> {
        let lower: Vec<String> = self
            .lowerdirs
            .iter()
            .map(|p| {
                fs::canonicalize(p)
                    .unwrap_or_else(|_| p.clone())
                    .display()
                    .to_string()
            })
            .collect();
        IndexMap::from([
            ("LowerDir".to_string(), lower.join(":")),
            ("MergedDir".to_string(), self.merged.display().to_string()),
            ("UpperDir".to_string(), self.upperdir.display().to_string()),
            ("WorkDir".to_string(), self.workdir.display().to_string()),
        ])
    }

    pub fn size_rw(&self) -> Result<i64> {
        Ok(dir_size(&self.upperdir))
    }
}

fn dir_size(p: &Path) -> i64 {
    let mut total = 0;
    let mut stack = vec![p.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            } else if m.is_file() {
                total += m.len() as i64;
            }
        }
    }
    total
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

fn short_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    (0..26)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect()
}

fn chain_id(parent: Option<&str>, diff_id: &str) -> String {
    match parent {
        None => diff_id.to_string(),
        Some(p) => format!("sha256:{}", sha256_hex(format!("{p} {diff_id}").as_bytes())),
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// Writes `data` under `path` atomically (temp file, fsync, rename).
fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", rand::random::<u32>()));
    let mut f = fs::File::create(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    fs::rename(&tmp, path)?;
    Ok(())
}

/// A layer's uncompressed tar streamed to a temp file, with its digest.
pub(crate) struct SpooledLayer {
    pub path: PathBuf,
    pub diff_id: String,
}

impl ImageStore {
    pub fn open(root: &Path) -> Result<ImageStore> {
        let root = root.to_path_buf();
        for d in ["image/blobs/sha256", "image/tmp", "overlay2/l"] {
            fs::create_dir_all(root.join(d))?;
        }
        // Whatever an interrupted write left behind.
        for tmp in [root.join("image/tmp")] {
            for e in fs::read_dir(&tmp)?.flatten() {
                let _ = fs::remove_dir_all(e.path()).or_else(|_| fs::remove_file(e.path()));
            }
        }
        for e in fs::read_dir(root.join("overlay2"))?.flatten() {
            if e.file_name().to_string_lossy().starts_with("tmp-") {
                let _ = fs::remove_dir_all(e.path());
            }
        }
        let conn = Connection::open(root.join("image/metadata.db")).map_err(db_err)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=NORMAL;
             CREATE TABLE IF NOT EXISTS images (id TEXT PRIMARY KEY, created TEXT NOT NULL, last_tag_time TEXT);
             CREATE TABLE IF NOT EXISTS tags (reference TEXT PRIMARY KEY, image_id TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS layers (chain_id TEXT PRIMARY KEY, diff_id TEXT NOT NULL, parent TEXT, cache_id TEXT NOT NULL, link TEXT NOT NULL, size INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS rw_layers (container_id TEXT PRIMARY KEY, image_id TEXT);",
        )
        .map_err(db_err)?;
        Ok(ImageStore {
            root,
            db: Mutex::new(conn),
        })
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

    pub fn driver_name(&self) -> &'static str {
        DRIVER
    }

    pub fn driver_status(&self) -> Vec<[String; 2]> {
        let backing = match nix::sys::statfs::statfs(&self.root).map(|s| s.filesystem_type()) {
            Ok(t) if t == nix::sys::statfs::EXT4_SUPER_MAGIC => "extfs",
            Ok(t) if t == nix::sys::statfs::XFS_SUPER_MAGIC => "xfs",
            Ok(t) if t == nix::sys::statfs::BTRFS_SUPER_MAGIC => "btrfs",
            Ok(t) if t == nix::sys::statfs::TMPFS_MAGIC => "tmpfs",
            Ok(t) if t == nix::sys::statfs::OVERLAYFS_SUPER_MAGIC => "overlayfs",
            _ => "<unknown>",
        };
        [
            ("Backing Filesystem", backing),
            ("Supports d_type", "true"),
            ("Using metacopy", "false"),
            ("Native Overlay Diff", "true"),
            ("userxattr", "false"),
        ]
        .iter()
        .map(|(k, v)| [k.to_string(), v.to_string()])
        .collect()
    }

    /// Streams a layer tar (gzip detected by its magic) into a temp file,
    /// hashing the uncompressed bytes.
    pub(crate) fn spool_layer(&self, src: &mut dyn Read) -> Result<SpooledLayer> {
        let mut src = BufReader::with_capacity(256 * 1024, src);
        let magic = {
            use std::io::BufRead;
            let buf = src.fill_buf()?;
            buf.len() >= 2 && buf[0] == 0x1f && buf[1] == 0x8b
        };
        let mut reader: Box<dyn Read> = if magic {
            Box::new(flate2::read::GzDecoder::new(src))
        } else {
            Box::new(src)
        };
        let path = self
            .root
            .join("image/tmp")
            .join(format!("layer-{}", rand::random::<u64>()));
        let mut out = std::io::BufWriter::new(fs::File::create(&path)?);
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    let _ = fs::remove_file(&path);
                    return Err(Error::invalid(format!("reading the layer: {e}")));
                }
            };
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n])?;
        }
        out.flush()?;
        Ok(SpooledLayer {
            path,
            diff_id: format!("sha256:{}", hex::encode(hasher.finalize())),
        })
    }

    /// Registers a spooled layer on top of `parent` (a chain id), unpacking
    /// it unless that chain is already present. Returns the chain id.
    pub(crate) fn register_layer(
        &self,
        spooled: SpooledLayer,
        parent: Option<&str>,
    ) -> Result<String> {
        let chain = chain_id(parent, &spooled.diff_id);
        let exists: Option<String> = self
            .conn()
            .query_row(
                "SELECT chain_id FROM layers WHERE chain_id = ?1",
                params![chain],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)?;
        if exists.is_some() {
            let _ = fs::remove_file(&spooled.path);
            return Ok(chain);
        }
        let cache_id = hex::encode(rand::random::<[u8; 32]>());
        let tmp_dir = self.overlay().join(format!("tmp-{cache_id}"));
        fs::create_dir_all(tmp_dir.join("diff"))?;
        let unpacked = fs::File::open(&spooled.path)
            .map_err(Error::from)
            .and_then(|f| {
                unpack::unpack_layer(
                    BufReader::with_capacity(256 * 1024, f),
                    &tmp_dir.join("diff"),
                )
            });
        let size = match unpacked {
            Ok(s) => s,
            Err(e) => {
                let _ = fs::remove_dir_all(&tmp_dir);
                let _ = fs::remove_file(&spooled.path);
                return Err(e);
            }
        };
        let link = short_id();
        let parent_lower = match parent {
            Some(p) => {
                let (plink, plower): (String, String) = self
                    .conn()
                    .query_row(
                        "SELECT link, cache_id FROM layers WHERE chain_id = ?1",
                        params![p],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .map_err(db_err)?;
                let grand = fs::read_to_string(self.overlay().join(&plower).join("lower"))
                    .unwrap_or_default();
                if grand.is_empty() {
                    format!("l/{plink}")
                } else {
                    format!("l/{plink}:{grand}")
                }
            }
            None => String::new(),
        };
        fs::write(tmp_dir.join("link"), &link)?;
        if !parent_lower.is_empty() {
            fs::write(tmp_dir.join("lower"), &parent_lower)?;
        }
        fs::create_dir_all(tmp_dir.join("work"))?;
        let final_dir = self.overlay().join(&cache_id);
        fs::rename(&tmp_dir, &final_dir)?;
        let _ = std::os::unix::fs::symlink(
            format!("../{cache_id}/diff"),
            self.overlay().join("l").join(&link),
        );
        let blob = self.blob_path(&spooled.diff_id);
        fs::rename(&spooled.path, &blob)?;
        self.conn()
            .execute(
                "INSERT OR IGNORE INTO layers (chain_id, diff_id, parent, cache_id, link, size) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![chain, spooled.diff_id, parent, cache_id, link, size],
            )
            .map_err(db_err)?;
        Ok(chain)
    }

    /// Stores an image config whose layers are registered; tags it.
    pub(crate) fn commit_image(&self, raw_config: &[u8], tags: &[Reference]) -> Result<Image> {
        let config: ImageConfig = serde_json::from_slice(raw_config)
            .map_err(|e| Error::invalid(format!("invalid image config: {e}")))?;
        let id = format!("sha256:{}", sha256_hex(raw_config));
        let blob = self.blob_path(&id);
        if !blob.exists() {
            write_atomic(&blob, raw_config)?;
        }
        let created = config.created.clone().unwrap_or_else(now);
        {
            let mut conn = self.conn();
            let tx = conn.transaction().map_err(db_err)?;
            tx.execute(
                "INSERT OR IGNORE INTO images (id, created) VALUES (?1, ?2)",
                params![id, created],
            )
            .map_err(db_err)?;
            for t in tags {
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
            tx.commit().map_err(db_err)?;
        }
        self.get(&id)
    }

    pub fn import(
        &self,
        src: &mut dyn Read,
        repo_tag: Option<&Reference>,
        message: &str,
        changes: &[String],
    ) -> Result<Image> {
        let mut run = RunConfig::default();
        config::apply_changes(&mut run, changes)?;
        let spooled = self.spool_layer(src)?;
        let diff_id = spooled.diff_id.clone();
        self.register_layer(spooled, None)?;
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
        let tags: Vec<Reference> = repo_tag.cloned().into_iter().collect();
        self.commit_image(&raw, &tags)
    }

    pub fn load(&self, src: &mut dyn Read, progress: &mut dyn FnMut(String)) -> Result<()> {
        archive::load(self, src, progress)
    }

    pub fn save(&self, names: &[String], dst: &mut dyn Write) -> Result<()> {
        archive::save(self, names, dst)
    }

    pub(crate) fn layer_blob(&self, diff_id: &str) -> PathBuf {
        self.blob_path(diff_id)
    }

    /// By reference, full or short id.
    pub fn get(&self, name_or_id: &str) -> Result<Image> {
        let not_found = || {
            let shown = Reference::parse_with_default_tag(name_or_id)
                .map(|r| r.familiar_string())
                .unwrap_or_else(|_| name_or_id.to_string());
            Error::not_found(format!("No such image: {shown}"))
        };
        let conn = self.conn();
        let hex = name_or_id.strip_prefix("sha256:").unwrap_or(name_or_id);
        let looks_hex =
            !hex.is_empty() && hex.len() <= 64 && hex.bytes().all(|b| b.is_ascii_hexdigit());
        let mut id: Option<String> = None;
        if looks_hex && (hex.len() == 64 || name_or_id.starts_with("sha256:")) {
            id = conn
                .query_row(
                    "SELECT id FROM images WHERE id LIKE ?1",
                    params![format!("sha256:{hex}%")],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db_err)?;
        }
        if id.is_none() {
            if let Ok(r) = Reference::parse_with_default_tag(name_or_id) {
                id = conn
                    .query_row(
                        "SELECT image_id FROM tags WHERE reference = ?1",
                        params![r.to_string()],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(db_err)?;
            }
        }
        if id.is_none() && looks_hex {
            let mut stmt = conn
                .prepare("SELECT id FROM images WHERE id LIKE ?1")
                .map_err(db_err)?;
            let ids: Vec<String> = stmt
                .query_map(params![format!("sha256:{hex}%")], |r| r.get(0))
                .map_err(db_err)?
                .collect::<std::result::Result<_, _>>()
                .map_err(db_err)?;
            if ids.len() == 1 {
                id = ids.into_iter().next();
            }
        }
        let id = id.ok_or_else(not_found)?;
        drop(conn);
        self.load_image(&id)
    }

    fn load_image(&self, id: &str) -> Result<Image> {
        let raw = fs::read(self.blob_path(id))
            .map_err(|e| Error::internal(format!("image config {id}: {e}")))?;
        let config: ImageConfig = serde_json::from_slice(&raw)
            .map_err(|e| Error::internal(format!("image config {id}: {e}")))?;
        let conn = self.conn();
        let (created, last_tag): (String, Option<String>) = conn
            .query_row(
                "SELECT created, last_tag_time FROM images WHERE id = ?1",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(db_err)?;
        let mut stmt = conn
            .prepare("SELECT reference FROM tags WHERE image_id = ?1 ORDER BY reference")
            .map_err(db_err)?;
        let refs: Vec<String> = stmt
            .query_map(params![id], |r| r.get(0))
            .map_err(db_err)?
            .collect::<std::result::Result<_, _>>()
            .map_err(db_err)?;
        let repo_tags = refs
            .iter()
            .filter_map(|r| Reference::parse(r).ok())
            .map(|r| r.familiar_string())
            .collect();
        let mut size = 0;
        let mut parent: Option<String> = None;
        for d in &config.rootfs.diff_ids {
            let chain = chain_id(parent.as_deref(), d);
            size += conn
                .query_row(
                    "SELECT size FROM layers WHERE chain_id = ?1",
                    params![chain],
                    |r| r.get::<_, i64>(0),
                )
                .optional()
                .map_err(db_err)?
                .unwrap_or(0);
            parent = Some(chain);
        }
        Ok(Image {
            id: id.to_string(),
            diff_ids: config.rootfs.diff_ids.clone(),
            config,
            raw_config: raw,
            repo_tags,
            repo_digests: vec![],
            size,
            created,
            last_tag_time: last_tag,
        })
    }

    pub fn list(&self) -> Result<Vec<Image>> {
        let ids: Vec<String> = {
            let conn = self.conn();
            let mut stmt = conn.prepare("SELECT id FROM images").map_err(db_err)?;
            let ids = stmt
                .query_map([], |r| r.get(0))
                .map_err(db_err)?
                .collect::<std::result::Result<_, _>>()
                .map_err(db_err)?;
            ids
        };
        ids.iter().map(|id| self.load_image(id)).collect()
    }

    pub fn tag(&self, source: &str, target: &Reference) -> Result<()> {
        let img = self.get(source)?;
        let target = if target.tag.is_none() && target.digest.is_none() {
            target.with_tag("latest")
        } else {
            target.clone()
        };
        let conn = self.conn();
        conn.execute(
            "INSERT OR REPLACE INTO tags (reference, image_id) VALUES (?1, ?2)",
            params![target.to_string(), img.id],
        )
        .map_err(db_err)?;
        conn.execute(
            "UPDATE images SET last_tag_time = ?2 WHERE id = ?1",
            params![img.id, now()],
        )
        .map_err(db_err)?;
        Ok(())
    }

    pub fn untag(&self, reference: &Reference) -> Result<bool> {
        let n = self
            .conn()
            .execute(
                "DELETE FROM tags WHERE reference = ?1",
                params![reference.to_string()],
            )
            .map_err(db_err)?;
        Ok(n > 0)
    }

    /// Removes the image and every layer no other image or container uses.
    pub fn delete(&self, id: &str) -> Result<Vec<ImageDeleteItem>> {
        let img = self.get(id)?;
        let mut out = Vec::new();
        let mut chains = Vec::new();
        let mut parent: Option<String> = None;
        for d in &img.diff_ids {
            let c = chain_id(parent.as_deref(), d);
            chains.push(c.clone());
            parent = Some(c);
        }
        {
            let mut conn = self.conn();
            let tx = conn.transaction().map_err(db_err)?;
            tx.execute("DELETE FROM tags WHERE image_id = ?1", params![img.id])
                .map_err(db_err)?;
            tx.execute("DELETE FROM images WHERE id = ?1", params![img.id])
                .map_err(db_err)?;
            tx.commit().map_err(db_err)?;
        }
        out.push(ImageDeleteItem {
            untagged: None,
            deleted: Some(img.id.clone()),
        });
        let still_used = self.chains_in_use()?;
        for c in chains.iter().rev() {
            if still_used.contains(c) {
                break;
            }
            let row: Option<(String, String, String)> = self
                .conn()
                .query_row(
                    "SELECT cache_id, link, diff_id FROM layers WHERE chain_id = ?1",
                    params![c],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()
                .map_err(db_err)?;
            let Some((cache_id, link, diff_id)) = row else {
                continue;
            };
            self.conn()
                .execute("DELETE FROM layers WHERE chain_id = ?1", params![c])
                .map_err(db_err)?;
            let _ = fs::remove_file(self.overlay().join("l").join(link));
            let _ = fs::remove_dir_all(self.overlay().join(cache_id));
            let diff_still_used: i64 = self
                .conn()
                .query_row(
                    "SELECT COUNT(*) FROM layers WHERE diff_id = ?1",
                    params![diff_id],
                    |r| r.get(0),
                )
                .map_err(db_err)?;
            if diff_still_used == 0 {
                let _ = fs::remove_file(self.blob_path(&diff_id));
            }
            out.push(ImageDeleteItem {
                untagged: None,
                deleted: Some(c.clone()),
            });
        }
        let _ = fs::remove_file(self.blob_path(&img.id));
        Ok(out)
    }

    /// Removes layers no image or container uses (after a failed load).
    pub(crate) fn remove_orphan_layers(&self) {
        let Ok(used) = self.chains_in_use() else {
            return;
        };
        let rows: Vec<(String, String, String, String)> = {
            let conn = self.conn();
            let Ok(mut stmt) = conn.prepare("SELECT chain_id, cache_id, link, diff_id FROM layers")
            else {
                return;
            };
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .map(|it| it.flatten().collect())
                .unwrap_or_default();
            rows
        };
        for (chain, cache_id, link, diff_id) in rows {
            if used.contains(&chain) {
                continue;
            }
            let _ = self
                .conn()
                .execute("DELETE FROM layers WHERE chain_id = ?1", params![chain]);
            let _ = fs::remove_file(self.overlay().join("l").join(link));
            let _ = fs::remove_dir_all(self.overlay().join(cache_id));
            let _ = fs::remove_file(self.blob_path(&diff_id));
        }
    }

    /// Chain ids used by any image or container rw layer.
    fn chains_in_use(&self) -> Result<std::collections::HashSet<String>> {
        let mut used = std::collections::HashSet::new();
        let rw_images: Vec<String> = {
            let conn = self.conn();
            let mut stmt = conn
                .prepare("SELECT image_id FROM rw_layers WHERE image_id IS NOT NULL")
                .map_err(db_err)?;
            let v = stmt
                .query_map([], |r| r.get(0))
                .map_err(db_err)?
                .collect::<std::result::Result<_, _>>()
                .map_err(db_err)?;
            v
        };
        let mut diff_lists: Vec<Vec<String>> =
            self.list()?.into_iter().map(|i| i.diff_ids).collect();
        for id in rw_images {
            if let Ok(raw) = fs::read(self.blob_path(&id)) {
                if let Ok(c) = serde_json::from_slice::<ImageConfig>(&raw) {
                    diff_lists.push(c.rootfs.diff_ids);
                }
            }
        }
        for diffs in diff_lists {
            let mut parent: Option<String> = None;
            for d in diffs {
                let c = chain_id(parent.as_deref(), &d);
                used.insert(c.clone());
                parent = Some(c);
            }
        }
        Ok(used)
    }

    pub fn history(&self, name_or_id: &str) -> Result<Vec<HistoryItem>> {
        let img = self.get(name_or_id)?;
        let mut sizes = Vec::new();
        {
            let conn = self.conn();
            let mut parent: Option<String> = None;
            for d in &img.diff_ids {
                let c = chain_id(parent.as_deref(), d);
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
                parent = Some(c);
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
        if let Some(top) = items.first_mut() {
            top.id = img.id.clone();
            top.tags = if img.repo_tags.is_empty() {
                None
            } else {
                Some(img.repo_tags.clone())
            };
        }
        Ok(items)
    }

    pub fn inspect(&self, img: &Image) -> serde_json::Value {
        let top = self.top_layer_dirs(img);
        json!({
            "Id": img.id,
            "RepoTags": img.repo_tags,
            "RepoDigests": img.repo_digests,
            "Parent": "",
            "Comment": img.config.comment.clone().unwrap_or_default(),
            "Created": img.config.created.clone().unwrap_or_else(|| img.created.clone()),
            "DockerVersion": img.config.docker_version.clone().unwrap_or_default(),
            "Author": img.config.author.clone().unwrap_or_default(),
            "Config": img.config.config.clone().unwrap_or_default(),
            "Architecture": img.config.architecture,
            "Variant": img.config.variant,
            "Os": img.config.os,
            "Size": img.size,
            "GraphDriver": {"Data": top, "Name": DRIVER},
            "RootFS": {"Type": "layers", "Layers": img.diff_ids},
            "Metadata": {"LastTagTime": img.last_tag_time.clone().unwrap_or_else(|| "0001-01-01T00:00:00Z".into())},
        })
    }

    /// `GraphDriver.Data` of an image: its top layer's dirs.
    fn top_layer_dirs(&self, img: &Image) -> serde_json::Value {
        let dirs = self.image_layer_dirs(&img.id).unwrap_or_default();
        match dirs.split_first() {
            Some((top, lower)) => {
                let mut data = json!({
                    "MergedDir": top.parent().map(|p| p.join("merged")).unwrap_or_default(),
                    "UpperDir": top,
                    "WorkDir": top.parent().map(|p| p.join("work")).unwrap_or_default(),
                });
                if !lower.is_empty() {
                    data["LowerDir"] = json!(lower
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(":"));
                }
                data
            }
            None => json!(null),
        }
    }

    /// An image's layers as `(cache id, short link)`, top first.
    fn image_layers(&self, image_id: &str) -> Result<Vec<(String, String)>> {
        let raw = fs::read(self.blob_path(image_id))?;
        let config: ImageConfig =
            serde_json::from_slice(&raw).map_err(|e| Error::internal(e.to_string()))?;
        let conn = self.conn();
        let mut layers = Vec::new();
        let mut parent: Option<String> = None;
        for d in &config.rootfs.diff_ids {
            let c = chain_id(parent.as_deref(), d);
            let row: (String, String) = conn
                .query_row(
                    "SELECT cache_id, link FROM layers WHERE chain_id = ?1",
                    params![c],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .map_err(|_| {
                    Error::internal(format!("layer {c} of image {image_id} is missing"))
                })?;
            layers.push(row);
            parent = Some(c);
        }
        layers.reverse();
        Ok(layers)
    }

    /// An image's layer `diff` dirs, top first.
    fn image_layer_dirs(&self, image_id: &str) -> Result<Vec<PathBuf>> {
        Ok(self
            .image_layers(image_id)?
            .into_iter()
            .map(|(cache, _)| self.overlay().join(cache).join("diff"))
            .collect())
    }

    /// An image's layer short links (`overlay2/l/X`), top first, for mounts.
    fn image_lowers(&self, image_id: &str) -> Result<Vec<PathBuf>> {
        Ok(self
            .image_layers(image_id)?
            .into_iter()
            .map(|(_, link)| self.overlay().join("l").join(link))
            .collect())
    }

    pub fn summary(&self, img: &Image, containers: i64) -> ImageSummary {
        let labels = img.config.config.as_ref().and_then(|c| c.labels.clone());
        ImageSummary {
            containers,
            created: chrono::DateTime::parse_from_rfc3339(
                img.config.created.as_deref().unwrap_or(&img.created),
            )
            .map(|t| t.timestamp())
            .unwrap_or(0),
            id: img.id.clone(),
            labels,
            parent_id: String::new(),
            repo_digests: img.repo_digests.clone(),
            repo_tags: img.repo_tags.clone(),
            shared_size: -1,
            size: img.size,
        }
    }

    /// Per image, the size of its layers that other images share too (`/system/df`'s `SharedSize`).
    pub fn shared_sizes(&self) -> Result<std::collections::HashMap<String, i64>> {
        let images = self.list()?;
        let sizes: std::collections::HashMap<String, i64> = {
            let conn = self.conn();
            let mut stmt = conn
                .prepare("SELECT chain_id, size FROM layers")
                .map_err(db_err)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
                .map_err(db_err)?;
            rows.flatten().collect()
        };
        let chains_of = |img: &Image| {
            let mut parent: Option<String> = None;
            img.diff_ids
                .iter()
                .map(|d| {
                    let c = chain_id(parent.as_deref(), d);
                    parent = Some(c.clone());
                    c
                })
                .collect::<Vec<_>>()
        };
        let mut uses: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for img in &images {
            for c in chains_of(img) {
                *uses.entry(c).or_default() += 1;
            }
        }
        Ok(images
            .iter()
            .map(|img| {
                let shared = chains_of(img)
                    .iter()
                    .filter(|c| uses.get(*c).copied().unwrap_or(0) > 1)
                    .map(|c| sizes.get(c).copied().unwrap_or(0))
                    .sum();
                (img.id.clone(), shared)
            })
            .collect())
    }

    pub fn layers_size(&self) -> Result<i64> {
        self.conn()
            .query_row("SELECT COALESCE(SUM(size), 0) FROM layers", [], |r| {
                r.get(0)
            })
            .map_err(db_err)
    }

    pub fn create_rw_layer(&self, container_id: &str, image_id: Option<&str>) -> Result<RwLayer> {
        let dir = self.overlay().join(container_id);
        fs::create_dir_all(dir.join("diff"))?;
        fs::create_dir_all(dir.join("work"))?;
        fs::create_dir_all(dir.join("merged"))?;
        let result = (|| {
            let lowers = match image_id {
                Some(id) => self.image_lowers(id)?,
                None => vec![],
            };
            let lower: Vec<String> = lowers
                .iter()
                .map(|p| format!("l/{}", p.file_name().unwrap_or_default().to_string_lossy()))
                .collect();
            fs::write(dir.join("lower"), lower.join(":"))?;
            self.conn()
                .execute(
                    "INSERT OR REPLACE INTO rw_layers (container_id, image_id) VALUES (?1, ?2)",
                    params![container_id, image_id],
                )
                .map_err(db_err)?;
            self.rw_layer(container_id)
        })();
        if result.is_err() {
            let _ = fs::remove_dir_all(&dir);
        }
        result
    }

    pub fn rw_layer(&self, container_id: &str) -> Result<RwLayer> {
        let dir = self.overlay().join(container_id);
        let lower = fs::read_to_string(dir.join("lower")).map_err(|_| {
            Error::not_found(format!("no read-write layer for container {container_id}"))
        })?;
        let mut lowerdirs: Vec<PathBuf> = lower
            .split(':')
            .filter(|s| !s.is_empty())
            .map(|s| self.overlay().join(s))
            .collect();
        if lowerdirs.is_empty() {
            // overlayfs needs a lower layer; an empty one stands for `scratch`.
            let empty = self.overlay().join("empty");
            fs::create_dir_all(&empty)?;
            lowerdirs.push(empty);
        }
        Ok(RwLayer {
            lowerdirs,
            upperdir: dir.join("diff"),
            workdir: dir.join("work"),
            merged: dir.join("merged"),
        })
    }

    pub fn remove_rw_layer(&self, container_id: &str) -> Result<()> {
        if let Ok(l) = self.rw_layer(container_id) {
            l.unmount()?;
        }
        let dir = self.overlay().join(container_id);
        if dir.exists() {
            fs::remove_dir_all(&dir)
                .map_err(|e| Error::internal(format!("removing {}: {e}", dir.display())))?;
        }
        self.conn()
            .execute(
                "DELETE FROM rw_layers WHERE container_id = ?1",
                params![container_id],
            )
            .map_err(db_err)?;
        Ok(())
    }
}

pub fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}
