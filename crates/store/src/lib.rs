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
mod blobs;
mod cache_from;
pub mod config;
pub mod crash;
pub mod diff;
mod images;
mod import;
mod layers;
mod lookup;
mod open;
pub use layers::StagedLayer;
pub mod driver;
mod rwlayer;
mod unpack;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use berth_api::{Error, Result};
use rusqlite::Connection;
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

impl ImageStore {
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
