//! Read-only layers: spooling a layer tar to disk while hashing it,
//! unpacking it once per chain id into `overlay2/<cache-id>`, and garbage
//! collection of layers no image or container uses.
//!
//! In-flight work (an import or load that registered layers but has not
//! committed its image yet) *holds* its chains, as containerd's leases do,
//! so a concurrent delete or GC never removes a layer about to be used.
//! Lock order: `holds`, then the database connection.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::MutexGuard;

use berth_api::{Error, Result};
use rusqlite::{params, OptionalExtension};
use sha2::{Digest, Sha256};

use crate::{chain_id, db_err, fsync_dir, unpack, ImageStore};

/// A layer's uncompressed tar streamed to a temp file, with its digest.
pub(crate) struct SpooledLayer {
    pub path: PathBuf,
    pub diff_id: String,
}

impl Drop for SpooledLayer {
    fn drop(&mut self) {
        // Gone already when it became a blob.
        let _ = fs::remove_file(&self.path);
    }
}

/// Chains held by one in-flight operation; released on drop.
pub(crate) struct Holds<'a> {
    store: &'a ImageStore,
    chains: Vec<String>,
}

impl Drop for Holds<'_> {
    fn drop(&mut self) {
        let mut held = self.store.holds();
        for c in self.chains.drain(..) {
            if let Some(n) = held.get_mut(&c) {
                *n -= 1;
                if *n == 0 {
                    held.remove(&c);
                }
            }
        }
    }
}

pub(crate) type HeldMap = HashMap<String, usize>;

/// A layer decompressed, hashed and unpacked in one pass while it streams
/// in (a pull), not yet registered: nothing of it is visible until
/// [`ImageStore::add_pulled_staged`] places it. Removed on drop.
pub struct StagedLayer {
    /// Digest of the uncompressed tar.
    pub diff_id: String,
    /// The uncompressed tar (kept as the layer's tar blob).
    spool: PathBuf,
    /// `overlay2/tmp-<cache id>` with the unpacked `diff/`.
    dir: PathBuf,
    cache_id: String,
    size: i64,
    placed: bool,
}

/// A filled layer directory and its tar, ready for [`ImageStore::place_layer`].
struct NewLayer<'a> {
    dir: &'a Path,
    cache_id: &'a str,
    link: &'a str,
    tar: &'a Path,
    diff_id: &'a str,
    size: i64,
}

impl Drop for StagedLayer {
    fn drop(&mut self) {
        if !self.placed {
            let _ = fs::remove_file(&self.spool);
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Passes what it reads on to a hasher and a file.
struct Tee<R: Read, W: Write> {
    inner: R,
    out: W,
    hasher: Sha256,
}

impl<R: Read, W: Write> Read for Tee<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.out.write_all(&buf[..n])?;
        Ok(n)
    }
}

struct LayerRow {
    chain: String,
    cache_id: String,
    link: String,
    diff_id: String,
}

impl ImageStore {
    pub(crate) fn holds(&self) -> MutexGuard<'_, HeldMap> {
        self.holds.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn new_holds(&self) -> Holds<'_> {
        Holds {
            store: self,
            chains: Vec::new(),
        }
    }

    pub(crate) fn hold_chain(&self, held: &mut HeldMap, holds: &mut Holds<'_>, chain: &str) {
        self.hold(held, holds, chain)
    }

    fn hold(&self, held: &mut HeldMap, holds: &mut Holds<'_>, chain: &str) {
        *held.entry(chain.to_string()).or_default() += 1;
        holds.chains.push(chain.to_string());
    }

    /// Streams a layer tar (gzip or zstd detected by its magic) into a temp file,
    /// hashing the uncompressed bytes.
    pub(crate) fn spool_layer(&self, src: &mut dyn Read) -> Result<SpooledLayer> {
        let mut reader = decompressed(BufReader::with_capacity(256 * 1024, src), false)?;
        // Owns the temp file from here on: any error below removes it.
        let mut spooled = SpooledLayer {
            path: self
                .root
                .join("image/tmp")
                .join(format!("layer-{:016x}", rand::random::<u64>())),
            diff_id: String::new(),
        };
        let file = fs::File::create(&spooled.path)?;
        let mut out = std::io::BufWriter::new(file);
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::invalid(format!("reading the layer: {e}"))),
            };
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n])?;
        }
        let file = out
            .into_inner()
            .map_err(|e| Error::internal(format!("writing the layer: {e}")))?;
        file.sync_all()?;
        spooled.diff_id = format!("sha256:{}", hex::encode(hasher.finalize()));
        Ok(spooled)
    }

    /// Stages one pulled layer from its (gzip, zstd or plain) stream:
    /// decompresses, hashes and unpacks it in a single pass, and spools
    /// the tar beside. Many may run at once; nothing is fsynced here (the
    /// unpacked files never are, as with every layer; the records made by
    /// [`ImageStore::add_pulled_staged`] are the commit point).
    pub fn stage_layer(&self, src: &mut dyn Read) -> Result<StagedLayer> {
        let reader = decompressed(BufReader::with_capacity(1 << 20, src), true)?;
        let cache_id = hex::encode(rand::random::<[u8; 32]>());
        let mut staged = StagedLayer {
            diff_id: String::new(),
            spool: self
                .root
                .join("image/tmp")
                .join(format!("layer-{:016x}", rand::random::<u64>())),
            dir: self.overlay().join(format!("tmp-{cache_id}")),
            cache_id,
            size: 0,
            placed: false,
        };
        fs::create_dir_all(staged.dir.join("diff"))?;
        let spool = std::io::BufWriter::with_capacity(1 << 20, fs::File::create(&staged.spool)?);
        let mut tee = Tee {
            inner: reader,
            out: spool,
            hasher: Sha256::new(),
        };
        {
            // Large reads through the decompressor and the tee, whatever
            // sizes the tar reader asks for.
            let mut rd = BufReader::with_capacity(1 << 20, &mut tee);
            staged.size = unpack::unpack_layer(&mut rd, &staged.dir.join("diff"))?;
            // The tar's end blocks and padding count in its digest too.
            std::io::copy(&mut rd, &mut std::io::sink())
                .map_err(|e| Error::invalid(format!("reading the layer: {e}")))?;
        }
        tee.out
            .flush()
            .map_err(|e| Error::internal(format!("writing the layer: {e}")))?;
        staged.diff_id = format!("sha256:{}", hex::encode(tee.hasher.finalize()));
        Ok(staged)
    }

    /// Places a staged layer on top of `parent` (a chain the caller
    /// holds), unless that chain is already present; holds the chain.
    pub(crate) fn register_staged(
        &self,
        mut staged: StagedLayer,
        parent: Option<&str>,
        holds: &mut Holds<'_>,
    ) -> Result<String> {
        let chain = chain_id(parent, &staged.diff_id);
        if self.hold_if_present(&chain, holds)? {
            return Ok(chain);
        }
        let link = self.write_layer_files(&staged.dir, parent)?;
        self.place_layer(
            NewLayer {
                dir: &staged.dir,
                cache_id: &staged.cache_id,
                link: &link,
                tar: &staged.spool,
                diff_id: &staged.diff_id,
                size: staged.size,
            },
            &chain,
            parent,
            holds,
        )?;
        staged.placed = true;
        Ok(chain)
    }

    /// Holds `chain` when it is registered already; true if it was.
    fn hold_if_present(&self, chain: &str, holds: &mut Holds<'_>) -> Result<bool> {
        let mut held = self.holds();
        let present = self.layer_exists(chain)?;
        if present {
            self.hold(&mut held, holds, chain);
        }
        Ok(present)
    }

    /// Writes a new layer dir's `link` (returned), `lower` (the chain of
    /// `parent`) and `work`.
    fn write_layer_files(&self, dir: &Path, parent: Option<&str>) -> Result<String> {
        let link = crate::short_id();
        fs::write(dir.join("link"), &link)?;
        if let Some(p) = parent {
            fs::write(dir.join("lower"), self.lower_of(p)?)?;
        }
        fs::create_dir_all(dir.join("work"))?;
        Ok(link)
    }

    /// Moves a filled layer dir and its tar into place, registers the
    /// chain and holds it. When another operation registered the same
    /// chain meanwhile, theirs is used and this copy removed.
    fn place_layer(
        &self,
        layer: NewLayer<'_>,
        chain: &str,
        parent: Option<&str>,
        holds: &mut Holds<'_>,
    ) -> Result<()> {
        let final_dir = self.overlay().join(layer.cache_id);
        let link_path = self.overlay().join("l").join(layer.link);
        let placed = (|| -> Result<()> {
            fs::rename(layer.dir, &final_dir)?;
            std::os::unix::fs::symlink(format!("../{}/diff", layer.cache_id), &link_path)?;
            fs::rename(layer.tar, self.blob_path(layer.diff_id))?;
            fsync_dir(&self.root.join("image/blobs/sha256"));
            fsync_dir(&self.overlay());
            Ok(())
        })();
        if let Err(e) = placed {
            let _ = fs::remove_file(&link_path);
            let _ = fs::remove_dir_all(layer.dir);
            let _ = fs::remove_dir_all(&final_dir);
            return Err(e);
        }
        let mut held = self.holds();
        let inserted = self
            .conn()
            .execute(
                "INSERT OR IGNORE INTO layers (chain_id, diff_id, parent, cache_id, link, size) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    chain,
                    layer.diff_id,
                    parent,
                    layer.cache_id,
                    layer.link,
                    layer.size
                ],
            )
            .map_err(db_err)?;
        if inserted == 0 {
            let _ = fs::remove_file(&link_path);
            let _ = fs::remove_dir_all(&final_dir);
        }
        self.hold(&mut held, holds, chain);
        Ok(())
    }

    pub(crate) fn layer_exists(&self, chain: &str) -> Result<bool> {
        Ok(self
            .conn()
            .query_row(
                "SELECT 1 FROM layers WHERE chain_id = ?1",
                params![chain],
                |_| Ok(()),
            )
            .optional()
            .map_err(db_err)?
            .is_some())
    }

    /// Registers a spooled layer on top of `parent` (a chain id the caller
    /// holds), unpacking it unless that chain is already present. The
    /// chain is held in `holds` until the caller drops them. Returns the
    /// chain id.
    pub(crate) fn register_layer(
        &self,
        spooled: SpooledLayer,
        parent: Option<&str>,
        holds: &mut Holds<'_>,
    ) -> Result<String> {
        let chain = chain_id(parent, &spooled.diff_id);
        if self.hold_if_present(&chain, holds)? {
            return Ok(chain);
        }
        let cache_id = hex::encode(rand::random::<[u8; 32]>());
        let tmp_dir = self.overlay().join(format!("tmp-{cache_id}"));
        let unpacked = (|| -> Result<(i64, String)> {
            fs::create_dir_all(tmp_dir.join("diff"))?;
            let f = fs::File::open(&spooled.path)?;
            let size = unpack::unpack_layer(
                BufReader::with_capacity(256 * 1024, f),
                &tmp_dir.join("diff"),
            )?;
            Ok((size, self.write_layer_files(&tmp_dir, parent)?))
        })();
        let (size, link) = match unpacked {
            Ok(v) => v,
            Err(e) => {
                let _ = fs::remove_dir_all(&tmp_dir);
                return Err(e);
            }
        };
        self.place_layer(
            NewLayer {
                dir: &tmp_dir,
                cache_id: &cache_id,
                link: &link,
                tar: &spooled.path,
                diff_id: &spooled.diff_id,
                size,
            },
            &chain,
            parent,
            holds,
        )?;
        Ok(chain)
    }

    /// The `lower` file content for a layer on top of `parent`:
    /// `l/PARENT:l/GRANDPARENT:...`.
    fn lower_of(&self, parent: &str) -> Result<String> {
        let (plink, pcache): (String, String) = self
            .conn()
            .query_row(
                "SELECT link, cache_id FROM layers WHERE chain_id = ?1",
                params![parent],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(db_err)?;
        let grand =
            fs::read_to_string(self.overlay().join(&pcache).join("lower")).unwrap_or_default();
        Ok(if grand.is_empty() {
            format!("l/{plink}")
        } else {
            format!("l/{plink}:{grand}")
        })
    }

    /// A chain and its parents, top first, as `(chain, cache id, link)`.
    pub(crate) fn chain_layers(&self, top: &str) -> Result<Vec<(String, String, String)>> {
        let conn = self.conn();
        let mut out = Vec::new();
        let mut cur = Some(top.to_string());
        while let Some(c) = cur {
            let (cache, link, parent): (String, String, Option<String>) = conn
                .query_row(
                    "SELECT cache_id, link, parent FROM layers WHERE chain_id = ?1",
                    params![c],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()
                .map_err(db_err)?
                .ok_or_else(|| Error::internal(format!("layer {c} is missing")))?;
            out.push((c, cache, link));
            cur = parent;
            if out.len() > 1000 {
                return Err(Error::internal("layer chain too long or cyclic"));
            }
        }
        Ok(out)
    }

    /// Removes every layer no image, container or in-flight operation
    /// uses; returns the removed chain ids.
    pub(crate) fn gc_layers(&self) -> Result<Vec<String>> {
        let held = self.holds();
        self.gc_layers_locked(&held)
    }

    pub(crate) fn gc_layers_locked(&self, held: &HeldMap) -> Result<Vec<String>> {
        let orphans: Vec<LayerRow> = {
            let mut conn = self.conn();
            let tx = conn.transaction().map_err(db_err)?;
            let mut protected: HashSet<String> = HashSet::new();
            for c in held.keys() {
                let mut cur = Some(c.clone());
                while let Some(x) = cur.take() {
                    if !protected.insert(x.clone()) {
                        break;
                    }
                    cur = tx
                        .query_row(
                            "SELECT parent FROM layers WHERE chain_id = ?1",
                            params![x],
                            |r| r.get::<_, Option<String>>(0),
                        )
                        .optional()
                        .map_err(db_err)?
                        .flatten();
                }
            }
            let rows: Vec<LayerRow> = {
                let mut stmt = tx
                    .prepare(
                        "WITH RECURSIVE used(c) AS ( \
                           SELECT top_chain FROM images WHERE top_chain IS NOT NULL \
                           UNION SELECT top_chain FROM rw_layers WHERE top_chain IS NOT NULL \
                           UNION SELECT l.parent FROM layers l JOIN used u ON l.chain_id = u.c \
                             WHERE l.parent IS NOT NULL) \
                         SELECT chain_id, cache_id, link, diff_id FROM layers \
                         WHERE chain_id NOT IN (SELECT c FROM used)",
                    )
                    .map_err(db_err)?;
                let rows = stmt
                    .query_map([], |r| {
                        Ok(LayerRow {
                            chain: r.get(0)?,
                            cache_id: r.get(1)?,
                            link: r.get(2)?,
                            diff_id: r.get(3)?,
                        })
                    })
                    .map_err(db_err)?
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(db_err)?;
                rows.into_iter()
                    .filter(|r| !protected.contains(&r.chain))
                    .collect()
            };
            for r in &rows {
                tx.execute("DELETE FROM layers WHERE chain_id = ?1", params![r.chain])
                    .map_err(db_err)?;
            }
            tx.commit().map_err(db_err)?;
            rows
        };
        let mut removed = Vec::new();
        for r in orphans {
            let _ = fs::remove_file(self.overlay().join("l").join(&r.link));
            if let Err(e) = fs::remove_dir_all(self.overlay().join(&r.cache_id)) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(layer = %r.chain, "removing layer dir: {e}");
                }
            }
            let still_used: bool = self
                .conn()
                .query_row(
                    "SELECT 1 FROM layers WHERE diff_id = ?1 LIMIT 1",
                    params![r.diff_id],
                    |_| Ok(()),
                )
                .optional()
                .map_err(db_err)?
                .is_some();
            if !still_used {
                let _ = fs::remove_file(self.blob_path(&r.diff_id));
                let kept: Vec<String> = {
                    let conn = self.conn();
                    let mut stmt = conn
                        .prepare("SELECT digest FROM compressed WHERE diff_id = ?1")
                        .map_err(db_err)?;
                    let v = stmt
                        .query_map(params![r.diff_id], |row| row.get(0))
                        .map_err(db_err)?
                        .flatten()
                        .collect();
                    v
                };
                self.conn()
                    .execute(
                        "DELETE FROM compressed WHERE diff_id = ?1",
                        params![r.diff_id],
                    )
                    .map_err(db_err)?;
                self.conn()
                    .execute(
                        "DELETE FROM blob_sources WHERE diff_id = ?1",
                        params![r.diff_id],
                    )
                    .map_err(db_err)?;
                for d in kept {
                    let _ = fs::remove_file(self.blob_path(&d));
                }
            }
            removed.push(r.chain);
        }
        Ok(removed)
    }
}

/// A layer's tar from its stream, gzip or zstd told apart by their magic
/// bytes, plain otherwise. `multi_member`: read every gzip member, not only
/// the first (as the pull does).
fn decompressed<'a, R: BufRead + 'a>(mut src: R, multi_member: bool) -> Result<Box<dyn Read + 'a>> {
    let (gzip, zstd) = {
        let buf = src.fill_buf()?;
        (
            buf.len() >= 2 && buf[0] == 0x1f && buf[1] == 0x8b,
            buf.len() >= 4 && buf[..4] == [0x28, 0xb5, 0x2f, 0xfd],
        )
    };
    Ok(if gzip && multi_member {
        Box::new(flate2::read::MultiGzDecoder::new(src))
    } else if gzip {
        Box::new(flate2::read::GzDecoder::new(src))
    } else if zstd {
        Box::new(
            ruzstd::decoding::StreamingDecoder::new(src)
                .map_err(|e| Error::invalid(format!("reading the zstd layer: {e}")))?,
        )
    } else {
        Box::new(src)
    })
}
