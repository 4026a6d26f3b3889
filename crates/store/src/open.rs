//! Opening a store: the schema and its migrations, and reconciling what
//! a crash left (see the crate docs).

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::sync::Mutex;

use berth_api::Result;
use rusqlite::{params, Connection};

use crate::*;

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
}
