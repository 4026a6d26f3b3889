//! The layer cache: which image a step made on which parent, kept in
//! `<data-root>/builder/cache.json`, and its garbage collection
//! (`POST /build/prune`).

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::PathBuf;
use std::sync::Mutex;

use berth_engine::Engine;
use berth_store::RunConfig;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{lock, R};

/// The layer cache: key -> entry, in `<data-root>/builder/cache.json`.
/// The entries are the images the build made for its steps; an entry
/// never outlives its image (lookups verify and drop stale ones, as
/// `docker image prune` may delete images under it).
static CACHE_LOCK: Mutex<()> = Mutex::new(());

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct CacheEntry {
    /// The image the step made.
    id: String,
    /// The image the step ran on (the cache's own parent chain: the store
    /// keeps none between images).
    #[serde(default)]
    parent: Option<String>,
    /// Unix seconds of the last build that made or used it.
    #[serde(default)]
    used: i64,
    /// It was a build's final image (a user-visible `<none>` once untagged).
    #[serde(default)]
    result: bool,
}

type CacheMap = HashMap<String, CacheEntry>;

fn cache_path(engine: &Engine) -> PathBuf {
    engine.data_root().join("builder").join("cache.json")
}

/// The map (also from the first format, key -> image id).
fn cache_load(engine: &Engine) -> CacheMap {
    let Some(v) = fs::read(cache_path(engine))
        .ok()
        .and_then(|d| serde_json::from_slice::<HashMap<String, Value>>(&d).ok())
    else {
        return CacheMap::new();
    };
    v.into_iter()
        .filter_map(|(k, v)| {
            let e = match v {
                Value::String(id) => CacheEntry {
                    id,
                    parent: None,
                    used: 0,
                    result: false,
                },
                o => serde_json::from_value(o).ok()?,
            };
            Some((k, e))
        })
        .collect()
}

/// Atomic rewrite (temp file, rename).
fn cache_store(engine: &Engine, map: &CacheMap) {
    let path = cache_path(engine);
    if let Some(dir) = path.parent() {
        let _ = fs::create_dir_all(dir);
    }
    let tmp = path.with_extension(format!("tmp-{:x}", rand::random::<u64>()));
    if fs::write(&tmp, serde_json::to_vec(map).unwrap_or_default()).is_ok()
        && fs::rename(&tmp, &path).is_err()
    {
        let _ = fs::remove_file(&tmp);
    }
}

fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

pub(super) fn cache_get(engine: &Engine, key: &str) -> Option<String> {
    let _g = lock(&CACHE_LOCK);
    let mut map = cache_load(engine);
    let id = map.get(key)?.id.clone();
    match engine.images().get(&id) {
        Ok(img) => {
            if let Some(e) = map.get_mut(key) {
                e.used = now_unix();
            }
            cache_store(engine, &map);
            Some(img.id)
        }
        Err(_) => {
            // The image was deleted under the entry: forget it.
            map.remove(key);
            cache_store(engine, &map);
            None
        }
    }
}

pub(super) fn cache_put(engine: &Engine, key: &str, id: &str, parent: Option<&str>) {
    let _g = lock(&CACHE_LOCK);
    let mut map = cache_load(engine);
    map.insert(
        key.to_string(),
        CacheEntry {
            id: id.to_string(),
            parent: parent.map(str::to_string),
            used: now_unix(),
            result: false,
        },
    );
    cache_store(engine, &map);
}

/// Marks `id` as a build's final image.
pub(super) fn cache_mark_result(engine: &Engine, id: &str) {
    let _g = lock(&CACHE_LOCK);
    let mut map = cache_load(engine);
    let mut hit = false;
    for e in map.values_mut().filter(|e| e.id == id) {
        e.result = true;
        hit = true;
    }
    if hit {
        cache_store(engine, &map);
    }
}

/// `POST /build/prune`'s options.
#[derive(Debug, Clone, Default)]
pub struct PruneOptions {
    /// `all`: also the cache under untagged build results (`<none>`).
    pub all: bool,
    /// `until` / `unused-for` filter: only entries last used before (unix s).
    pub until: Option<i64>,
    /// `keep-storage` (bytes): stop once the prunable cache left is this small.
    pub keep_storage: i64,
}

/// `POST /build/prune`: a garbage collection of the layer cache. Nothing a
/// tagged image, a container, or (without `all`) an untagged build result
/// needs is touched, nor their parent chains; the rest goes, oldest first
/// down to `keep_storage`: the entries and the images they name (the
/// step images only the cache holds). Returns the deleted image ids and
/// the bytes of layers freed.
pub fn prune_cache(engine: &Engine, opts: &PruneOptions) -> R<(Vec<String>, i64)> {
    let _g = lock(&CACHE_LOCK);
    let mut map = cache_load(engine);
    let images: HashMap<String, berth_store::Image> = engine
        .images()
        .store()
        .list()?
        .into_iter()
        .map(|i| (i.id.clone(), i))
        .collect();
    // Stale entries (their image is gone) are dropped first.
    map.retain(|_, e| images.contains_key(&e.id));
    let parents: HashMap<String, String> = map
        .values()
        .filter_map(|e| e.parent.clone().map(|p| (e.id.clone(), p)))
        .collect();
    let results: BTreeSet<String> = map
        .values()
        .filter(|e| e.result)
        .map(|e| e.id.clone())
        .collect();
    let mut keep: BTreeSet<String> = BTreeSet::new();
    for img in images.values() {
        let needed = !img.is_dangling()
            || !engine.users_of_image(&img.id).is_empty()
            || (!opts.all && results.contains(&img.id));
        let mut cur = needed.then(|| img.id.clone());
        while let Some(id) = cur {
            if !keep.insert(id.clone()) {
                break;
            }
            cur = parents.get(&id).cloned();
        }
    }
    // Candidates, oldest first, with the size of their own layer.
    let mut cand: Vec<(String, i64, i64)> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut by_use: Vec<&CacheEntry> = map.values().collect();
    by_use.sort_by_key(|e| e.used);
    for e in by_use {
        if keep.contains(&e.id) || opts.until.is_some_and(|u| e.used >= u) {
            continue;
        }
        if !seen.insert(e.id.clone()) {
            continue;
        }
        let size = images.get(&e.id).map(|i| i.size).unwrap_or(0);
        let parent_size = e
            .parent
            .as_ref()
            .and_then(|p| images.get(p))
            .map(|i| i.size)
            .unwrap_or(0);
        cand.push((e.id.clone(), e.used, (size - parent_size).max(0)));
    }
    let mut left: i64 = cand.iter().map(|c| c.2).sum();
    let before = engine.images().store().layers_size().unwrap_or(0);
    let mut deleted = Vec::new();
    // A step image goes only after its children (dockerd's rule), so the
    // candidates are walked again while a pass deletes something.
    let mut pending = cand;
    'passes: while !pending.is_empty() {
        let mut rest = Vec::new();
        let before_pass = deleted.len();
        for (id, used, size) in pending {
            if opts.keep_storage > 0 && left <= opts.keep_storage {
                break 'passes;
            }
            if !engine.images().store().children(&id)?.is_empty() {
                rest.push((id, used, size));
                continue;
            }
            match engine.images().delete(&id, false, false) {
                Ok(_) => {
                    left -= size;
                    map.retain(|_, e| e.id != id);
                    deleted.push(id);
                }
                Err(e) => tracing::warn!("build cache prune: {id}: {}", e.message),
            }
        }
        if deleted.len() == before_pass {
            break;
        }
        pending = rest;
    }
    cache_store(engine, &map);
    let after = engine.images().store().layers_size().unwrap_or(0);
    Ok((deleted, (before - after).max(0)))
}

pub(super) fn cache_key(
    parent: Option<&str>,
    created_by: &str,
    config: &RunConfig,
    content: &str,
) -> String {
    let mut h = Sha256::new();
    h.update(parent.unwrap_or("scratch").as_bytes());
    h.update([0]);
    h.update(created_by.as_bytes());
    h.update([0]);
    h.update(serde_json::to_vec(config).unwrap_or_default());
    h.update([0]);
    h.update(content.as_bytes());
    hex::encode(h.finalize())
}

impl super::Builder {
    /// A step's image from the `--cache-from` images, when one of them has
    /// the step on the image built so far (moby's `imageCache.GetCache`).
    pub(super) async fn cache_from_hit(
        &self,
        parent: Option<&str>,
        created_by: &str,
        config: &RunConfig,
    ) -> Option<String> {
        if self.opts.cache_from.is_empty() || self.opts.no_cache {
            return None;
        }
        let engine = self.engine.clone();
        let sources = self.opts.cache_from.clone();
        let parent = parent.map(str::to_string);
        let created_by = created_by.to_string();
        let config = config.clone();
        tokio::task::spawn_blocking(move || {
            engine
                .images()
                .store()
                .cache_from(&sources, parent.as_deref(), &created_by, &config)
        })
        .await
        .ok()?
        .unwrap_or_else(|e| {
            tracing::warn!("cache-from: {}", e.message);
            None
        })
    }
}
