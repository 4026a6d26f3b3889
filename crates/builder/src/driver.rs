//! The build driver: runs a parsed Dockerfile against the engine as
//! dockerd's classic builder does. Each step makes an image: `RUN` in a
//! real container of the image so far (engine create/start/wait, then the
//! container's layer committed), `COPY`/`ADD`/`WORKDIR` into a fresh rw
//! layer committed the same way, the rest as config-only (empty-layer)
//! images. A cache maps (parent image, step, config, content of the copied
//! files) to the image a previous build made.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use berth_api::progress::Message;
use berth_api::reference::Reference;
use berth_api::types::CreateBody;
use berth_engine::distribution::AuthConfigs;
use berth_engine::Engine;
use berth_store::{CommitOptions, RunConfig};
use indexmap::IndexMap;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::dockerfile::{self, Cmd, Command, CopyArgs, Dockerfile, Instruction};
use crate::dockerignore::Ignore;
use crate::shell::Lex;

mod base;

/// `POST /build`'s options.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    pub dockerfile: String,
    pub tags: Vec<Reference>,
    /// `--build-arg NAME=VALUE`; `None`: `--build-arg NAME` without a value.
    pub build_args: IndexMap<String, Option<String>>,
    pub target: Option<String>,
    pub no_cache: bool,
    pub labels: IndexMap<String, String>,
    pub network_mode: Option<String>,
    /// Remove intermediate containers after a successful build (default).
    pub rm: bool,
    /// ... and after a failed one too.
    pub force_rm: bool,
    /// `--pull`: pull every `FROM` image, even one present.
    pub pull: bool,
    /// `--platform`: the platform `FROM` images are pulled for, unless
    /// `FROM --platform` names one.
    pub platform: Option<String>,
    /// Registry credentials (`X-Registry-Config`) for pulling `FROM` images.
    pub auth_configs: AuthConfigs,
}

/// A build failure; its message goes to the client as `error`/`errorDetail`.
#[derive(Debug, Clone)]
pub struct BuildError {
    pub message: String,
    pub code: Option<i64>,
}

impl BuildError {
    fn new(m: impl Into<String>) -> BuildError {
        BuildError {
            message: m.into(),
            code: None,
        }
    }
}

impl From<berth_api::Error> for BuildError {
    fn from(e: berth_api::Error) -> Self {
        BuildError::new(e.message)
    }
}

impl From<std::io::Error> for BuildError {
    fn from(e: std::io::Error) -> Self {
        BuildError::new(e.to_string())
    }
}

type R<T> = std::result::Result<T, BuildError>;

/// The proxy args every build accepts without an `ARG` (kept out of history).
const PROXY_ARGS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

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
    engine.config.data_root.join("builder").join("cache.json")
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

fn cache_get(engine: &Engine, key: &str) -> Option<String> {
    let _g = lock(&CACHE_LOCK);
    let mut map = cache_load(engine);
    let id = map.get(key)?.id.clone();
    match engine.images.get(&id) {
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

fn cache_put(engine: &Engine, key: &str, id: &str, parent: Option<&str>) {
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
fn cache_mark_result(engine: &Engine, id: &str) {
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
        .images
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
    let before = engine.images.layers_size().unwrap_or(0);
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
            if !engine.images.children(&id)?.is_empty() {
                rest.push((id, used, size));
                continue;
            }
            match engine.delete_image(&id, false, false) {
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
    let after = engine.images.layers_size().unwrap_or(0);
    Ok((deleted, (before - after).max(0)))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Resolves when the client went away or the build was cancelled.
async fn cancelled(tx: &Sink, cancel: &CancellationToken) {
    tokio::select! {
        _ = tx.closed() => {}
        _ = cancel.cancelled() => {}
    }
}

fn short(id: &str) -> String {
    id.trim_start_matches("sha256:").chars().take(12).collect()
}

/// One stage's state while it builds.
struct StageState {
    image: Option<String>,
    config: RunConfig,
    /// ARG values visible in this stage.
    args: IndexMap<String, String>,
    /// Declared ARG names with values (for RUN's env and history).
    declared: Vec<String>,
    /// This stage set CMD (so ENTRYPOINT keeps it).
    cmd_set: bool,
}

impl StageState {
    fn env_map(&self) -> HashMap<String, String> {
        let mut m: HashMap<String, String> = self.args.clone().into_iter().collect();
        for e in self.config.env.clone().unwrap_or_default() {
            if let Some((k, v)) = e.split_once('=') {
                m.insert(k.to_string(), v.to_string());
            }
        }
        m
    }
}

/// Where a builder's messages go: the client's stream (bounded, so a slow
/// client slows the build), or a stage's buffer while an earlier stage
/// still owns the stream (unbounded, so a stage building in the
/// background never waits for the client).
#[derive(Clone)]
enum Sink {
    Client(mpsc::Sender<Message>),
    Stage(mpsc::UnboundedSender<Message>),
}

impl Sink {
    async fn send(&self, v: Message) -> std::result::Result<(), ()> {
        match self {
            Sink::Client(t) => t.send(v).await.map_err(|_| ()),
            Sink::Stage(t) => t.send(v).map_err(|_| ()),
        }
    }

    fn is_closed(&self) -> bool {
        match self {
            Sink::Client(t) => t.is_closed(),
            Sink::Stage(t) => t.is_closed(),
        }
    }

    async fn closed(&self) {
        match self {
            Sink::Client(t) => t.closed().await,
            Sink::Stage(t) => t.closed().await,
        }
    }
}

/// One build; cloned per stage so independent stages build concurrently
/// (each clone with its own [`Sink`], sharing the rest).
#[derive(Clone)]
pub struct Builder {
    engine: Arc<Engine>,
    ctx: PathBuf,
    opts: BuildOptions,
    tx: Sink,
    lex: Lex,
    ignore: Ignore,
    used_args: Arc<Mutex<BTreeSet<String>>>,
    /// Containers and layers made by this build, removed at the end.
    containers: Arc<Mutex<Vec<String>>>,
    /// Set when the client went away or a stage failed: every stage stops.
    cancel: CancellationToken,
}

impl Builder {
    pub fn new(
        engine: Arc<Engine>,
        ctx: PathBuf,
        opts: BuildOptions,
        tx: mpsc::Sender<Message>,
    ) -> Builder {
        Builder {
            engine,
            ctx,
            opts,
            tx: Sink::Client(tx),
            lex: Lex::default(),
            ignore: Ignore::default(),
            used_args: Arc::default(),
            containers: Arc::default(),
            cancel: CancellationToken::new(),
        }
    }

    async fn say(&self, s: impl Into<String>) {
        let _ = self.tx.send(Message::stream(s)).await;
    }

    fn cancelled(&self) -> bool {
        self.tx.is_closed() || self.cancel.is_cancelled()
    }

    fn use_arg(&self, name: &str) {
        lock(&self.used_args).insert(name.to_string());
    }

    /// `ctx.add/<random>/`: a scratch directory the daemon removes with
    /// the context (downloads, heredoc files).
    fn scratch_dir(&self) -> R<PathBuf> {
        let dir = self
            .ctx
            .with_extension("add")
            .join(format!("{:016x}", rand::random::<u64>()));
        fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    /// Runs the build; returns the final image id.
    pub async fn run(mut self) -> R<String> {
        let result = self.build().await;
        // A failed step's container stays for inspection unless `forcerm`
        // (docker's rule); a cancelled build leaves nothing.
        let keep = result.is_err() && !self.opts.force_rm && !self.tx.is_closed();
        let containers = std::mem::take(&mut *lock(&self.containers));
        for c in containers {
            if keep {
                let _ = self.engine.keep_build_container(&c);
                continue;
            }
            let _ = self.engine.remove(&c, true, true).await;
        }
        result
    }

    async fn build(&mut self) -> R<String> {
        let df_path = self.context_path(&self.opts.dockerfile.clone(), true)?;
        let src = fs::read(&df_path).map_err(|_| {
            BuildError::new(format!(
                "Cannot locate specified Dockerfile: {}",
                self.opts.dockerfile
            ))
        })?;
        let src = String::from_utf8_lossy(&src).into_owned();
        let df = dockerfile::parse(&src).map_err(|e| BuildError::new(e.to_string()))?;
        self.lex = Lex::new(df.escape);
        if let Ok(ig) = fs::read_to_string(self.ctx.join(".dockerignore")) {
            self.ignore = Ignore::parse(&ig)
                .map_err(|e| BuildError::new(format!("parsing .dockerignore: {e}")))?;
        }
        let last = match &self.opts.target {
            Some(t) if !t.is_empty() => df.stage_index(t).ok_or_else(|| {
                BuildError::new(format!("failed to reach build target {t} in Dockerfile"))
            })?,
            _ => df.stages.len() - 1,
        };
        let needed = needed_stages(&df, last);
        let total: usize = needed
            .iter()
            .map(|&i| 1 + df.stages[i].commands.len())
            .sum();
        // Meta args (before the first FROM): defaults, overridden by build args.
        let mut meta: IndexMap<String, String> = IndexMap::new();
        for c in &df.meta_args {
            if let Instruction::Arg(decls) = &c.instruction {
                for d in decls {
                    let env: HashMap<String, String> = meta.clone().into_iter().collect();
                    let v = match self.opts.build_args.get(&d.name) {
                        Some(Some(v)) => {
                            self.use_arg(&d.name);
                            Some(v.clone())
                        }
                        _ => d
                            .default
                            .as_ref()
                            .map(|x| self.lex.process_word(x, &env))
                            .transpose()
                            .map_err(|e| step_err(c, e))?,
                    };
                    meta.insert(d.name.clone(), v.unwrap_or_default());
                }
            }
        }
        let results = self.build_stages(df, needed, meta, total).await?;
        let mut last_id = results.get(&last).cloned().unwrap_or_default();
        let used = lock(&self.used_args).clone();
        let unused: Vec<String> = self
            .opts
            .build_args
            .keys()
            .filter(|k| !used.contains(*k) && !PROXY_ARGS.contains(&k.as_str()))
            .cloned()
            .collect();
        if !unused.is_empty() {
            self.say(format!(
                "[Warning] One or more build-args [{}] were not consumed\n",
                unused.join(" ")
            ))
            .await;
        }
        // Labels from the request go on the final image as one more step.
        if !self.opts.labels.is_empty() {
            let img = self.engine.images.get(&last_id)?;
            let mut config = img.config.config.clone().unwrap_or_default();
            let mut labels = config.labels.clone().unwrap_or_default();
            for (k, v) in &self.opts.labels {
                labels.insert(k.clone(), v.clone());
            }
            config.labels = Some(labels);
            last_id = self
                .nop_image(
                    Some(&last_id),
                    config,
                    "LABEL".into(),
                    &format!("{:?}", self.opts.labels),
                )
                .await?;
        }
        cache_mark_result(&self.engine, &last_id);
        let _ = self.tx.send(Message::built(last_id.clone())).await;
        self.say(format!("Successfully built {}\n", short(&last_id)))
            .await;
        for t in self.opts.tags.clone() {
            self.engine.images.tag(&last_id, &t)?;
            self.engine
                .image_event("tag", &last_id, &t.familiar_string());
            self.say(format!("Successfully tagged {}\n", t.familiar_string()))
                .await;
        }
        Ok(last_id)
    }

    /// Builds the `needed` stages, each as soon as the stages it uses are
    /// built, so independent stages run concurrently. Output stays in file
    /// order, as the classic builder's sequential output reads: the first
    /// unfinished stage streams live, later ones buffer until it is done.
    /// Step numbers are fixed up front (each stage owns a range), so they
    /// read `Step 1/N` .. `Step N/N` whatever order stages finish in.
    async fn build_stages(
        &self,
        df: Dockerfile,
        needed: Vec<usize>,
        meta: IndexMap<String, String>,
        total: usize,
    ) -> R<HashMap<usize, String>> {
        let df = Arc::new(df);
        let meta = Arc::new(meta);
        let mut base = HashMap::new();
        let mut senders = HashMap::new();
        let mut receivers = Vec::new();
        let mut n = 0;
        for &i in &needed {
            base.insert(i, n);
            n += 1 + df.stages[i].commands.len();
            let (t, r) = mpsc::unbounded_channel();
            senders.insert(i, t);
            receivers.push(r);
        }
        let out = self.tx.clone();
        let cancel = self.cancel.clone();
        let forward = tokio::spawn(async move {
            for mut rx in receivers {
                loop {
                    let m = tokio::select! {
                        m = rx.recv() => m,
                        _ = out.closed() => {
                            cancel.cancel();
                            return;
                        }
                    };
                    let Some(v) = m else { break };
                    if out.send(v).await.is_err() {
                        cancel.cancel();
                        return;
                    }
                }
            }
        });
        let mut results: HashMap<usize, String> = HashMap::new();
        let mut pending = needed.clone();
        let mut running = JoinSet::new();
        let mut failed: Option<BuildError> = None;
        loop {
            if failed.is_none() {
                let ready: Vec<usize> = pending
                    .iter()
                    .copied()
                    .filter(|&i| {
                        stage_deps(&df, i)
                            .iter()
                            .all(|d| results.contains_key(d) || !needed.contains(d))
                    })
                    .collect();
                for i in ready {
                    pending.retain(|&x| x != i);
                    let mut b = self.clone();
                    if let Some(t) = senders.remove(&i) {
                        b.tx = Sink::Stage(t);
                    }
                    let (df, meta, res) = (df.clone(), meta.clone(), results.clone());
                    let first = base.get(&i).copied().unwrap_or(0);
                    running.spawn(async move {
                        let r = b.build_stage(&df, i, &meta, &res, first, total).await;
                        (i, r)
                    });
                }
            }
            match running.join_next().await {
                None => break,
                Some(Ok((i, Ok(id)))) => {
                    results.insert(i, id);
                }
                Some(Ok((_, Err(e)))) => {
                    if failed.is_none() {
                        failed = Some(e);
                        // The other stages stop at their next step.
                        self.cancel.cancel();
                    }
                }
                Some(Err(e)) => {
                    if failed.is_none() {
                        failed = Some(BuildError::new(format!("build stage: {e}")));
                        self.cancel.cancel();
                    }
                }
            }
        }
        // Stages that never started have nothing to say.
        drop(senders);
        let _ = forward.await;
        match failed {
            Some(e) => Err(e),
            None => Ok(results),
        }
    }

    async fn build_stage(
        &mut self,
        df: &Dockerfile,
        index: usize,
        meta: &IndexMap<String, String>,
        results: &HashMap<usize, String>,
        first_step: usize,
        total: usize,
    ) -> R<String> {
        let stage = &df.stages[index];
        let Instruction::From {
            image, platform, ..
        } = &stage.from.instruction
        else {
            return Err(BuildError::new("a stage without FROM"));
        };
        let mut step = first_step;
        let step = &mut step;
        *step += 1;
        self.say(format!(
            "Step {}/{} : {}\n",
            step, total, stage.from.original
        ))
        .await;
        let menv: HashMap<String, String> = meta.clone().into_iter().collect();
        let base = self
            .lex
            .process_word(image, &menv)
            .map_err(|e| step_err(&stage.from, e))?;
        let from_stage = df
            .stages
            .iter()
            .take(index)
            .position(|s| s.name.as_deref() == Some(base.to_ascii_lowercase().as_str()));
        let mut st = StageState {
            image: None,
            config: RunConfig::default(),
            args: IndexMap::new(),
            declared: Vec::new(),
            cmd_set: false,
        };
        if let Some(i) = from_stage {
            st.image = results.get(&i).cloned();
        } else if base != "scratch" {
            let platform = platform
                .as_ref()
                .map(|p| self.lex.process_word(p, &menv))
                .transpose()
                .map_err(|e| step_err(&stage.from, e))?;
            let platform = platform.or_else(|| self.opts.platform.clone());
            st.image = Some(self.base_image(&base, platform.as_deref()).await?);
        }
        if let Some(id) = &st.image {
            let img = self.engine.images.get(id)?;
            st.config = img.config.config.clone().unwrap_or_default();
        }
        // Build args reach the stage's proxy args without a declaration.
        for p in PROXY_ARGS {
            if let Some(Some(v)) = self.opts.build_args.get(*p) {
                st.args.insert(p.to_string(), v.clone());
            }
        }
        self.run_triggers(df, &mut st, meta, results).await?;
        match &st.image {
            Some(id) => self.say(format!(" ---> {}\n", short(id))).await,
            None => self.say(" ---> \n").await,
        }
        for c in &stage.commands {
            if self.cancelled() {
                return Err(BuildError::new("build cancelled"));
            }
            *step += 1;
            self.say(format!("Step {}/{} : {}\n", step, total, c.original))
                .await;
            self.dispatch(df, c, &mut st, meta, results).await?;
            if let Some(id) = &st.image {
                self.say(format!(" ---> {}\n", short(id))).await;
            }
        }
        match st.image {
            Some(id) => Ok(id),
            // `FROM scratch` with nothing else: an empty image.
            None => self.nop_image(None, st.config, "".into(), "").await,
        }
    }

    /// The base image's `ONBUILD` triggers, run right after `FROM` in
    /// order, as dockerd's `processOnBuild`: announced with `# Executing N
    /// build trigger(s)`, no step numbers of their own, and cleared from
    /// the config so they do not reach grandchildren.
    async fn run_triggers(
        &mut self,
        df: &Dockerfile,
        st: &mut StageState,
        meta: &IndexMap<String, String>,
        results: &HashMap<usize, String>,
    ) -> R<()> {
        let triggers = st.config.on_build.take().unwrap_or_default();
        if triggers.is_empty() {
            return Ok(());
        }
        self.say(format!(
            "# Executing {} build {}\n",
            triggers.len(),
            if triggers.len() > 1 {
                "triggers"
            } else {
                "trigger"
            }
        ))
        .await;
        for t in triggers {
            // A trigger is one instruction as written after `ONBUILD`; the
            // parser wants a stage around it.
            let parsed = dockerfile::parse(&format!("FROM scratch\n{t}\n"))
                .map_err(|e| BuildError::new(format!("parsing ONBUILD trigger {t:?}: {}", e)))?;
            let cmds = parsed
                .stages
                .into_iter()
                .next()
                .map(|s| s.commands)
                .unwrap_or_default();
            for c in cmds {
                match c.keyword.as_str() {
                    "ONBUILD" => {
                        return Err(BuildError::new(
                            "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
                        ))
                    }
                    "FROM" | "MAINTAINER" => {
                        return Err(BuildError::new(format!(
                            "{} isn't allowed as an ONBUILD trigger",
                            c.keyword
                        )))
                    }
                    _ => {}
                }
                if self.cancelled() {
                    return Err(BuildError::new("build cancelled"));
                }
                self.dispatch(df, &c, st, meta, results).await?;
            }
        }
        Ok(())
    }

    async fn dispatch(
        &mut self,
        df: &Dockerfile,
        c: &Command,
        st: &mut StageState,
        meta: &IndexMap<String, String>,
        results: &HashMap<usize, String>,
    ) -> R<()> {
        let env = st.env_map();
        let word = |s: &str| self.lex.process_word(s, &env).map_err(|e| step_err(c, e));
        let mut config = st.config.clone();
        let comment: String;
        match &c.instruction {
            Instruction::Run { cmd, heredocs, .. } => {
                return self.run_step(c, cmd, heredocs, st).await;
            }
            Instruction::Copy(a) | Instruction::Add(a) => {
                return self
                    .copy_step(
                        df,
                        c,
                        a,
                        matches!(c.instruction, Instruction::Add(_)),
                        st,
                        results,
                    )
                    .await;
            }
            Instruction::Workdir(w) => {
                let w = word(w)?;
                let dir = if w.starts_with('/') {
                    w.clone()
                } else {
                    format!(
                        "{}/{}",
                        if config.working_dir.is_empty() {
                            ""
                        } else {
                            config.working_dir.trim_end_matches('/')
                        },
                        w
                    )
                };
                config.working_dir = berth_engine::mounts::clean_path(&dir);
                comment = format!("WORKDIR {}", config.working_dir);
                return self.layer_step(c, st, config, comment, None).await;
            }
            Instruction::Env(pairs) => {
                let mut envs = config.env.clone().unwrap_or_default();
                let mut parts = Vec::new();
                let mut local = env.clone();
                for (k, v) in pairs {
                    let k = self
                        .lex
                        .process_word(k, &local)
                        .map_err(|e| step_err(c, e))?;
                    let v = self
                        .lex
                        .process_word(v, &local)
                        .map_err(|e| step_err(c, e))?;
                    local.insert(k.clone(), v.clone());
                    envs.retain(|e| e.split_once('=').map(|(n, _)| n) != Some(k.as_str()));
                    envs.push(format!("{k}={v}"));
                    parts.push(format!("{k}={v}"));
                }
                config.env = Some(envs);
                comment = format!("ENV {}", parts.join(" "));
            }
            Instruction::Label(pairs) => {
                let mut labels = config.labels.clone().unwrap_or_default();
                let mut parts = Vec::new();
                for (k, v) in pairs {
                    let k = word(k)?;
                    let v = word(v)?;
                    parts.push(format!("{k}={v}"));
                    labels.insert(k, v);
                }
                config.labels = Some(labels);
                comment = format!("LABEL {}", parts.join(" "));
            }
            Instruction::Arg(decls) => {
                let mut parts = Vec::new();
                for d in decls {
                    let v = match self.opts.build_args.get(&d.name) {
                        Some(Some(v)) => {
                            self.use_arg(&d.name);
                            Some(v.clone())
                        }
                        _ => match &d.default {
                            Some(x) => Some(word(x)?),
                            None => meta.get(&d.name).cloned(),
                        },
                    };
                    if self.opts.build_args.contains_key(&d.name) {
                        self.use_arg(&d.name);
                    }
                    match &v {
                        Some(v) => parts.push(format!("{}={}", d.name, v)),
                        None => parts.push(d.name.clone()),
                    }
                    if let Some(v) = v {
                        st.args.insert(d.name.clone(), v);
                        if !st.declared.contains(&d.name) {
                            st.declared.push(d.name.clone());
                        }
                    }
                }
                comment = format!("ARG {}", parts.join(" "));
            }
            Instruction::Cmd(cmd) => {
                config.cmd = Some(self.shell_form(cmd, &config));
                st.cmd_set = true;
                comment = format!(
                    "CMD {}",
                    go_quote_list(config.cmd.as_deref().unwrap_or(&[]))
                );
            }
            Instruction::Entrypoint(cmd) => {
                config.entrypoint = Some(self.shell_form(cmd, &config));
                // A new ENTRYPOINT drops a CMD inherited from the base
                // image, as docker does (one set in this stage stays).
                if !st.cmd_set {
                    config.cmd = None;
                }
                comment = format!(
                    "ENTRYPOINT {}",
                    go_quote_list(config.entrypoint.as_deref().unwrap_or(&[]))
                );
            }
            Instruction::Expose(ports) => {
                let mut map = config.exposed_ports.clone().unwrap_or_default();
                let mut names = Vec::new();
                for p in ports {
                    for w in self
                        .lex
                        .process_words(p, &env)
                        .map_err(|e| step_err(c, e))?
                    {
                        let spec = if w.contains('/') {
                            w.to_ascii_lowercase()
                        } else {
                            format!("{w}/tcp")
                        };
                        let (port, proto) = spec.split_once('/').unwrap_or((&spec, "tcp"));
                        let ok = !port.is_empty()
                            && port.split('-').all(|n| n.parse::<u16>().is_ok())
                            && matches!(proto, "tcp" | "udp" | "sctp");
                        if !ok {
                            return Err(step_err(c, format!("invalid containerPort: {w}")));
                        }
                        map.insert(spec.clone(), json!({}));
                        names.push(spec);
                    }
                }
                config.exposed_ports = Some(map);
                comment = format!("EXPOSE {}", names.join(" "));
            }
            Instruction::User(u) => {
                config.user = word(u)?;
                comment = format!("USER {}", config.user);
            }
            Instruction::Volume(vs) => {
                let mut map = config.volumes.clone().unwrap_or_default();
                let mut names = Vec::new();
                for v in vs {
                    let v = word(v)?;
                    if v.trim().is_empty() {
                        return Err(step_err(c, "VOLUME specified can not be an empty string"));
                    }
                    map.insert(v.clone(), json!({}));
                    names.push(v);
                }
                config.volumes = Some(map);
                comment = format!("VOLUME [{}]", names.join(" "));
            }
            Instruction::Stopsignal(s) => {
                let s = word(s)?;
                berth_engine::lifecycle::parse_signal(&s)
                    .map_err(|_| step_err(c, format!("Invalid signal: {s}")))?;
                config.stop_signal = Some(s.clone());
                comment = format!("STOPSIGNAL {s}");
            }
            Instruction::Healthcheck(h) => {
                let test = match &h.test {
                    None => vec!["NONE".to_string()],
                    Some(Cmd::Exec(v)) => {
                        let mut t = vec!["CMD".to_string()];
                        t.extend(v.iter().cloned());
                        t
                    }
                    Some(Cmd::Shell(s)) => vec!["CMD-SHELL".to_string(), s.clone()],
                };
                let dur = |v: &Option<String>, name: &str| -> R<Option<i64>> {
                    match v {
                        None => Ok(None),
                        Some(s) => parse_duration(s)
                            .map(Some)
                            .ok_or_else(|| step_err(c, format!("invalid {name}: {s}"))),
                    }
                };
                let mut hc = json!({ "Test": test });
                if let Some(d) = dur(&h.interval, "interval")? {
                    hc["Interval"] = json!(d);
                }
                if let Some(d) = dur(&h.timeout, "timeout")? {
                    hc["Timeout"] = json!(d);
                }
                if let Some(d) = dur(&h.start_period, "start-period")? {
                    hc["StartPeriod"] = json!(d);
                }
                if let Some(d) = dur(&h.start_interval, "start-interval")? {
                    hc["StartInterval"] = json!(d);
                }
                if let Some(r) = &h.retries {
                    let n: i64 = r
                        .parse()
                        .ok()
                        .filter(|n| *n >= 0)
                        .ok_or_else(|| step_err(c, format!("invalid retries: {r}")))?;
                    hc["Retries"] = json!(n);
                }
                config.healthcheck = Some(
                    serde_json::from_value(hc.clone()).map_err(|e| step_err(c, e.to_string()))?,
                );
                comment = format!("HEALTHCHECK {}", hc["Test"]);
            }
            Instruction::Shell(v) => {
                config.shell = Some(v.clone());
                comment = format!("SHELL [{}]", v.join(" "));
            }
            Instruction::Onbuild(inner) => {
                let mut ob = config.on_build.clone().unwrap_or_default();
                ob.push(inner.original.clone());
                config.on_build = Some(ob);
                comment = format!("ONBUILD {}", inner.original);
            }
            Instruction::Maintainer(m) => {
                comment = format!("MAINTAINER {m}");
            }
            Instruction::From { .. } => return Err(step_err(c, "unexpected FROM")),
        }
        let id = self
            .cached_nop(st.image.as_deref(), config.clone(), comment)
            .await?;
        st.image = Some(id);
        st.config = config;
        Ok(())
    }

    /// Shell form wrapped in the stage's `SHELL` (default `/bin/sh -c`).
    fn shell_form(&self, cmd: &Cmd, config: &RunConfig) -> Vec<String> {
        match cmd {
            Cmd::Exec(v) => v.clone(),
            Cmd::Shell(s) => {
                let mut v = config
                    .shell
                    .clone()
                    .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
                v.push(s.clone());
                v
            }
        }
    }

    async fn cached_nop(
        &mut self,
        parent: Option<&str>,
        config: RunConfig,
        comment: String,
    ) -> R<String> {
        let created_by = format!("/bin/sh -c #(nop)  {comment}");
        let key = cache_key(parent, &created_by, &config, "");
        if !self.opts.no_cache {
            if let Some(id) = cache_get(&self.engine, &key) {
                self.say(" ---> Using cache\n").await;
                return Ok(id);
            }
        }
        let id = self.nop_image(parent, config, created_by, "").await?;
        cache_put(&self.engine, &key, &id, parent);
        Ok(id)
    }

    /// A config-only image on `parent` (an empty layer in history).
    async fn nop_image(
        &self,
        parent: Option<&str>,
        config: RunConfig,
        created_by: String,
        _c: &str,
    ) -> R<String> {
        let engine = self.engine.clone();
        let parent = parent.map(str::to_string);
        let id = tokio::task::spawn_blocking(move || {
            engine
                .images
                .child_image(parent.as_deref(), None, config, &created_by)
        })
        .await
        .map_err(|e| BuildError::new(e.to_string()))??;
        Ok(id)
    }

    async fn run_step(
        &mut self,
        c: &Command,
        cmd: &Cmd,
        heredocs: &[dockerfile::Heredoc],
        st: &mut StageState,
    ) -> R<()> {
        let Some(parent) = st.image.clone() else {
            return Err(step_err(
                c,
                "no image to run in: RUN needs a FROM image other than scratch",
            ));
        };
        // Heredocs as BuildKit's frontend runs them (`dispatchRun`): a lone
        // `<<EOF` is the script (a file run as the program when it starts
        // with `#!`), anything else (`python3 <<EOF`, several heredocs) goes
        // to the shell with the heredocs written back, and the shell feeds
        // them as stdin, expanding unless the delimiter was quoted.
        let mut pipe: Option<(PathBuf, String)> = None;
        let mut argv = match (cmd, heredocs) {
            (Cmd::Shell(s), [h]) if heredoc_name(s.trim()) == Some(h.name.as_str()) => {
                if h.content.starts_with("#!") {
                    let dir = self.scratch_dir()?;
                    let file = dir.join(&h.name);
                    fs::write(&file, &h.content)?;
                    fs::set_permissions(&file, fs::Permissions::from_mode(0o755))?;
                    pipe = Some((dir, h.name.clone()));
                    vec![format!("/dev/pipes/{}", h.name)]
                } else {
                    self.shell_form(&Cmd::Shell(h.content.clone()), &st.config)
                }
            }
            (Cmd::Shell(s), hs) if !hs.is_empty() => {
                let mut full = s.clone();
                for h in hs {
                    full.push('\n');
                    full.push_str(&h.content);
                    full.push_str(&h.name);
                }
                self.shell_form(&Cmd::Shell(full), &st.config)
            }
            _ => self.shell_form(cmd, &st.config),
        };
        // The heredocs are in the key even where the history line does not
        // show them (the `#!` script's path).
        let heredoc_hash = if heredocs.is_empty() {
            String::new()
        } else {
            let mut h = Sha256::new();
            for d in heredocs {
                h.update(d.name.as_bytes());
                h.update([0]);
                h.update(d.content.as_bytes());
                h.update([0]);
            }
            hex::encode(h.finalize())
        };
        if argv.is_empty() {
            return Err(step_err(c, "RUN requires at least one argument"));
        }
        // Build args reach RUN as env (and history as `|N K=V`), not the image.
        let arg_env: Vec<String> = st
            .args
            .iter()
            .filter(|(k, _)| {
                !st.config
                    .env
                    .clone()
                    .unwrap_or_default()
                    .iter()
                    .any(|e| e.split_once('=').map(|(n, _)| n) == Some(k.as_str()))
            })
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let history_args: Vec<&String> = arg_env
            .iter()
            .filter(|kv| !PROXY_ARGS.iter().any(|p| kv.starts_with(&format!("{p}="))))
            .collect();
        let mut created_by = argv.join(" ");
        if !history_args.is_empty() {
            created_by = format!(
                "|{} {} {}",
                history_args.len(),
                history_args
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
                created_by
            );
        }
        let key = cache_key(Some(&parent), &created_by, &st.config, &heredoc_hash);
        if !self.opts.no_cache {
            if let Some(id) = cache_get(&self.engine, &key) {
                self.say(" ---> Using cache\n").await;
                st.image = Some(id);
                return Ok(());
            }
        }
        let mut env = st.config.env.clone().unwrap_or_default();
        env.extend(arg_env);
        // BuildKit mounts the `#!` script read-only at /dev/pipes/<name>.
        let binds: Vec<String> = pipe
            .iter()
            .map(|(dir, _)| format!("{}:/dev/pipes:ro", dir.display()))
            .collect();
        let body = json!({
            "Image": parent,
            "Cmd": std::mem::take(&mut argv),
            "Entrypoint": [],
            "Env": env,
            "WorkingDir": st.config.working_dir,
            "User": st.config.user,
            "AttachStdout": true,
            "AttachStderr": true,
            "Labels": {},
            "HostConfig": {
                "NetworkMode": self.opts.network_mode.clone().filter(|m| !m.is_empty()).unwrap_or_else(|| "default".into()),
                "Binds": binds,
            },
        });
        let body = CreateBody::parse(&serde_json::to_vec(&body).unwrap_or_default())?;
        let (cid, _) = self.engine.create_for_build(body)?;
        lock(&self.containers).push(cid.clone());
        self.say(format!(" ---> Running in {}\n", short(&cid)))
            .await;
        let h = self.engine.lookup(&cid)?;
        let sub = h.hub().subscribe();
        self.engine.start(&cid).await?;
        if let Some(mut rx) = sub {
            loop {
                let msg = tokio::select! {
                    m = rx.recv() => m,
                    _ = cancelled(&self.tx, &self.cancel) => {
                        // Cancelled: stop the step's container now.
                        let _ = self.engine.kill(&cid, Some("KILL")).await;
                        return Err(BuildError::new("build cancelled"));
                    }
                };
                match msg {
                    Ok((_, data)) => {
                        self.say(String::from_utf8_lossy(&data).into_owned()).await;
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => break,
                }
            }
        }
        let w = self.engine.wait(&cid, "not-running").await?;
        if w.status_code != 0 {
            return Err(BuildError {
                message: format!(
                    "The command '{}' returned a non-zero code: {}",
                    created_by_cmd(&created_by),
                    w.status_code
                ),
                code: Some(w.status_code),
            });
        }
        let mut config = st.config.clone();
        config.extra.shift_remove("Image");
        let engine = self.engine.clone();
        let cid2 = cid.clone();
        let cb = created_by.clone();
        let id = tokio::task::spawn_blocking(move || {
            engine.images.commit_container(
                &cid2,
                CommitOptions {
                    config,
                    created_by: cb,
                    ..Default::default()
                },
            )
        })
        .await
        .map_err(|e| BuildError::new(e.to_string()))??
        .id;
        berth_store::crash::point("build.step-committed");
        if self.opts.rm || self.opts.force_rm {
            self.say(format!("Removing intermediate container {}\n", short(&cid)))
                .await;
            let _ = self.engine.remove(&cid, true, true).await;
            lock(&self.containers).retain(|x| x != &cid);
        }
        cache_put(&self.engine, &key, &id, Some(&parent));
        st.image = Some(id);
        Ok(())
    }

    /// A step that changes files without running anything (`WORKDIR`
    /// making its directory, `COPY`, `ADD`): a fresh rw layer on the
    /// image, `fill` run on its mounted rootfs, then committed.
    async fn layer_step(
        &mut self,
        _c: &Command,
        st: &mut StageState,
        config: RunConfig,
        created_by_comment: String,
        copy: Option<CopyJob>,
    ) -> R<()> {
        let created_by = format!("/bin/sh -c #(nop) {created_by_comment}");
        let hash = copy.as_ref().map(|c| c.hash.clone()).unwrap_or_default();
        let key = cache_key(st.image.as_deref(), &created_by, &config, &hash);
        if !self.opts.no_cache {
            if let Some(id) = cache_get(&self.engine, &key) {
                self.say(" ---> Using cache\n").await;
                st.image = Some(id);
                st.config = config;
                return Ok(());
            }
        }
        let engine = self.engine.clone();
        let parent = st.image.clone();
        let cfg = config.clone();
        let cb = created_by.clone();
        let id = tokio::task::spawn_blocking(move || -> R<String> {
            let lid = format!("build-{}", hex::encode(rand::random::<[u8; 16]>()));
            let layer = engine.images.create_rw_layer(&lid, parent.as_deref())?;
            let result = (|| -> R<String> {
                layer.mount()?;
                let root = layer.merged.clone();
                let filled = (|| -> R<()> {
                    if !cfg.working_dir.is_empty() {
                        let wd = berth_engine::mounts::resolve_in_root(&root, &cfg.working_dir)?;
                        if !wd.exists() {
                            fs::create_dir_all(&wd)?;
                        }
                    }
                    if let Some(job) = &copy {
                        copy_items(&root, job)?;
                    }
                    Ok(())
                })();
                let _ = layer.unmount();
                filled?;
                Ok(engine
                    .images
                    .commit_container(
                        &lid,
                        CommitOptions {
                            config: cfg,
                            created_by: cb,
                            ..Default::default()
                        },
                    )?
                    .id)
            })();
            let _ = engine.images.remove_rw_layer(&lid);
            result
        })
        .await
        .map_err(|e| BuildError::new(e.to_string()))??;
        cache_put(&self.engine, &key, &id, st.image.as_deref());
        st.image = Some(id);
        st.config = config;
        Ok(())
    }

    async fn copy_step(
        &mut self,
        df: &Dockerfile,
        c: &Command,
        a: &CopyArgs,
        add: bool,
        st: &mut StageState,
        results: &HashMap<usize, String>,
    ) -> R<()> {
        let env = st.env_map();
        let kw = if add { "ADD" } else { "COPY" };
        let fail = |m: String| BuildError::new(format!("{kw} failed: {m}"));
        // `COPY <<EOF /dst`: each heredoc source becomes a file named after
        // its delimiter (mode 0644, as BuildKit makes it), its content
        // expanded unless the delimiter was quoted.
        let mut inline: HashMap<String, CopyItem> = HashMap::new();
        let mut plain_srcs = Vec::new();
        for s in &a.srcs {
            let Some(h) = heredoc_name(s).and_then(|n| a.heredocs.iter().find(|h| h.name == n))
            else {
                plain_srcs.push(s.clone());
                continue;
            };
            let content = if h.expand {
                self.lex
                    .process_heredoc(&h.content, &env)
                    .map_err(|e| step_err(c, e))?
            } else {
                h.content.clone()
            };
            let dir = self.scratch_dir()?;
            let file = dir.join(&h.name);
            fs::write(&file, content)?;
            fs::set_permissions(&file, fs::Permissions::from_mode(0o644))?;
            let key = format!("\0heredoc:{}", inline.len());
            inline.insert(
                key.clone(),
                CopyItem {
                    src: file,
                    rel: h.name.clone(),
                    extract: false,
                },
            );
            plain_srcs.push(key);
        }
        let is_inline = |s: &str| s.starts_with("\0heredoc:");
        let (srcs, dest) = if a.json {
            let srcs: R<Vec<String>> = plain_srcs
                .iter()
                .map(|s| {
                    if is_inline(s) {
                        return Ok(s.clone());
                    }
                    self.lex.process_word(s, &env).map_err(|e| step_err(c, e))
                })
                .collect();
            (
                srcs?,
                self.lex
                    .process_word(&a.dest, &env)
                    .map_err(|e| step_err(c, e))?,
            )
        } else {
            let mut v = Vec::new();
            for s in &plain_srcs {
                if is_inline(s) {
                    v.push(s.clone());
                    continue;
                }
                v.extend(
                    self.lex
                        .process_words(s, &env)
                        .map_err(|e| step_err(c, e))?,
                );
            }
            (
                v,
                self.lex
                    .process_word(&a.dest, &env)
                    .map_err(|e| step_err(c, e))?,
            )
        };
        // Where the sources come from: the context, or a stage's/image's rootfs.
        let mut from_root: Option<(PathBuf, String)> = None;
        if let Some(from) = &a.from {
            let from = self
                .lex
                .process_word(from, &env)
                .map_err(|e| step_err(c, e))?;
            let image = match df.stage_index(&from) {
                Some(i) => results
                    .get(&i)
                    .cloned()
                    .ok_or_else(|| step_err(c, format!("stage {from} was not built")))?,
                None => {
                    self.engine
                        .images
                        .get(&from)
                        .map_err(|_| {
                            step_err(c, format!("invalid from flag value {from}: No such image"))
                        })?
                        .id
                }
            };
            let lid = format!("build-{}", hex::encode(rand::random::<[u8; 16]>()));
            let layer = self.engine.images.create_rw_layer(&lid, Some(&image))?;
            layer.mount()?;
            from_root = Some((layer.merged.clone(), lid));
        }
        // `ADD <url>`: fetched first (async), then copied like a file.
        let mut fetched: HashMap<String, CopyItem> = inline;
        let is_url = |s: &str| s.starts_with("http://") || s.starts_with("https://");
        if a.checksum.is_some() && (!add || !srcs.iter().all(|s| is_url(s))) {
            self.release_from(from_root);
            return Err(step_err(
                c,
                "checksum can't be specified for non-HTTP(S) sources",
            ));
        }
        if add {
            for s in srcs.iter().filter(|s| is_url(s)) {
                let dir = match self.scratch_dir() {
                    Ok(d) => d,
                    Err(e) => {
                        self.release_from(from_root);
                        return Err(e);
                    }
                };
                match download(s, &dir, a.checksum.as_deref()).await {
                    Ok(item) => {
                        fetched.insert(s.clone(), item);
                    }
                    Err(e) => {
                        self.release_from(from_root);
                        return Err(fail(e.message));
                    }
                }
            }
        }
        let result = (|| -> R<Vec<CopyItem>> {
            let mut items = Vec::new();
            for s in &srcs {
                if let Some(item) = fetched.get(s) {
                    items.push(item.clone());
                    continue;
                }
                let found = match &from_root {
                    Some((root, _)) => {
                        let p = berth_engine::mounts::resolve_in_root(root, s)?;
                        if !p.exists() && fs::symlink_metadata(&p).is_err() {
                            return Err(fail(format!("stat {s}: file does not exist")));
                        }
                        vec![CopyItem {
                            src: p,
                            rel: s.clone(),
                            extract: false,
                        }]
                    }
                    None => self.context_sources(s, add).map_err(|e| fail(e.message))?,
                };
                items.extend(found);
            }
            Ok(items)
        })();
        let items = match result {
            Ok(i) => i,
            Err(e) => {
                self.release_from(from_root);
                return Err(e);
            }
        };
        let owner = match &a.chown {
            Some(spec) => {
                let spec = self
                    .lex
                    .process_word(spec, &env)
                    .map_err(|e| step_err(c, e))?;
                Some(
                    self.resolve_owner(st, &spec)
                        .await
                        .inspect_err(|_| self.release_from(from_root.clone()))?,
                )
            }
            None => None,
        };
        let chmod = match &a.chmod {
            Some(m) => Some(
                u32::from_str_radix(m, 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .ok_or_else(|| {
                        self.release_from(from_root.clone());
                        step_err(c, format!("invalid chmod parameter: {m}"))
                    })?,
            ),
            None => None,
        };
        let hash = content_hash(&items);
        let mut dest_abs = if dest.starts_with('/') {
            dest.clone()
        } else {
            format!("{}/{}", st.config.working_dir.trim_end_matches('/'), dest)
        };
        if dest.ends_with('/') && !dest_abs.ends_with('/') {
            dest_abs.push('/');
        }
        if items.len() > 1 && !dest_abs.ends_with('/') {
            self.release_from(from_root);
            return Err(step_err(c, format!("When using {kw} with more than one source file, the destination must be a directory and end with a /")));
        }
        let comment = format!(
            "{kw} {}:{} in {} ",
            if items.iter().any(|i| i.src.is_dir()) {
                "dir"
            } else {
                "file"
            },
            hash,
            dest_abs
        );
        let config = st.config.clone();
        let r = self
            .layer_step(
                c,
                st,
                config,
                comment,
                Some(CopyJob {
                    items,
                    dest: dest_abs,
                    owner,
                    chmod,
                    hash,
                    ignore: if from_root.is_some() {
                        None
                    } else {
                        Some(self.ignore.clone())
                    },
                }),
            )
            .await;
        self.release_from(from_root);
        r
    }

    fn release_from(&self, from_root: Option<(PathBuf, String)>) {
        if let Some((_, lid)) = from_root {
            if let Ok(l) = self.engine.images.rw_layer(&lid) {
                let _ = l.unmount();
            }
            let _ = self.engine.images.remove_rw_layer(&lid);
        }
    }

    /// `--chown=user:group` by number, or by name through the image's
    /// `/etc/passwd` and `/etc/group`.
    async fn resolve_owner(&self, st: &StageState, spec: &str) -> R<(u32, u32)> {
        let (u, g) = match spec.split_once(':') {
            Some((u, g)) => (u.to_string(), Some(g.to_string())),
            None => (spec.to_string(), None),
        };
        let read = |file: &str| -> String {
            let Some(id) = &st.image else {
                return String::new();
            };
            let lid = format!("build-{}", hex::encode(rand::random::<[u8; 16]>()));
            let Ok(layer) = self.engine.images.create_rw_layer(&lid, Some(id)) else {
                return String::new();
            };
            let mut s = String::new();
            if layer.mount().is_ok() {
                if let Ok(p) = berth_engine::mounts::resolve_in_root(&layer.merged, file) {
                    s = fs::read_to_string(p).unwrap_or_default();
                }
                let _ = layer.unmount();
            }
            let _ = self.engine.images.remove_rw_layer(&lid);
            s
        };
        let lookup = |name: &str, file: &str, idx: usize| -> R<(u32, Option<u32>)> {
            if let Ok(n) = name.parse::<u32>() {
                return Ok((n, None));
            }
            let content = read(file);
            for line in content.lines() {
                let f: Vec<&str> = line.split(':').collect();
                if f.first() == Some(&name) && f.len() > idx {
                    let id = f[idx]
                        .parse()
                        .map_err(|_| BuildError::new(format!("bad entry for {name} in {file}")))?;
                    let gid = f.get(3).and_then(|g| g.parse().ok());
                    return Ok((id, gid));
                }
            }
            Err(BuildError::new(format!(
                "unable to convert uid/gid chown string to host mapping: can't find uid for user {name}: no such user: {name}"
            )))
        };
        let (uid, primary) = lookup(&u, "/etc/passwd", 2)?;
        let gid = match g {
            Some(g) => lookup(&g, "/etc/group", 2)?.0,
            None => primary.unwrap_or(uid),
        };
        Ok((uid, gid))
    }

    /// A path inside the context, refused when it leaves it (`..`, or a
    /// symlink aiming outside).
    fn context_path(&self, rel: &str, follow_last: bool) -> R<PathBuf> {
        let cleaned = crate::dockerignore::clean(rel);
        if cleaned == ".." || cleaned.starts_with("../") {
            return Err(BuildError::new(format!(
                "forbidden path outside the build context: {rel} ()"
            )));
        }
        let mut cur = self.ctx.clone();
        let parts: Vec<&str> = cleaned.split('/').filter(|p| *p != ".").collect();
        let mut hops = 0;
        let mut stack: Vec<String> = parts.iter().rev().map(|s| s.to_string()).collect();
        while let Some(p) = stack.pop() {
            if p == ".." {
                if cur == self.ctx {
                    return Err(BuildError::new(format!(
                        "forbidden path outside the build context: {rel} ()"
                    )));
                }
                cur.pop();
                continue;
            }
            let next = cur.join(&p);
            let is_last = stack.is_empty();
            match fs::symlink_metadata(&next) {
                Ok(md) if md.file_type().is_symlink() && (!is_last || follow_last) => {
                    hops += 1;
                    if hops > 40 {
                        return Err(BuildError::new(format!("too many symlinks: {rel}")));
                    }
                    let target = fs::read_link(&next)?;
                    let t = target.to_string_lossy().into_owned();
                    if t.starts_with('/') {
                        return Err(BuildError::new(format!(
                            "forbidden path outside the build context: {rel} ({t})"
                        )));
                    }
                    for seg in t.split('/').rev() {
                        if !seg.is_empty() && seg != "." {
                            stack.push(seg.to_string());
                        }
                    }
                }
                _ => cur = next,
            }
        }
        if !cur.starts_with(&self.ctx) {
            return Err(BuildError::new(format!(
                "forbidden path outside the build context: {rel} ()"
            )));
        }
        Ok(cur)
    }

    /// The context entries a `COPY` source names (globs allowed), minus the
    /// ignored ones.
    fn context_sources(&self, src: &str, add: bool) -> R<Vec<CopyItem>> {
        let cleaned = crate::dockerignore::clean(src);
        let has_glob = cleaned.contains(['*', '?', '[']);
        let mut out = Vec::new();
        if has_glob {
            let glob = crate::dockerignore::Glob::new(&cleaned)
                .map_err(|e| BuildError::new(e.to_string()))?;
            let mut all = Vec::new();
            walk_rel(&self.ctx, "", &mut all)?;
            for rel in all {
                if glob.matches(&rel) && !self.ignore.is_ignored(&rel) {
                    let p = self.context_path(&rel, false)?;
                    out.push(CopyItem {
                        src: p,
                        rel: rel.clone(),
                        extract: add && is_archive(&self.ctx.join(&rel)),
                    });
                }
            }
            if out.is_empty() {
                return Err(BuildError::new("no source files were specified"));
            }
            return Ok(out);
        }
        let p = self.context_path(&cleaned, true)?;
        if fs::symlink_metadata(&p).is_err() || (cleaned != "." && self.ignore.is_ignored(&cleaned))
        {
            return Err(BuildError::new(format!(
                "file not found in build context or excluded by .dockerignore: stat {src}: file does not exist"
            )));
        }
        let extract = add && p.is_file() && is_archive(&p);
        out.push(CopyItem {
            src: p,
            rel: cleaned,
            extract,
        });
        Ok(out)
    }
}

/// What a `COPY`/`ADD` step writes.
pub struct CopyJob {
    items: Vec<CopyItem>,
    dest: String,
    owner: Option<(u32, u32)>,
    chmod: Option<u32>,
    hash: String,
    /// The context's `.dockerignore` (none for `--from`).
    ignore: Option<Ignore>,
}

/// One source of a `COPY`/`ADD`.
#[derive(Debug, Clone)]
pub struct CopyItem {
    src: PathBuf,
    /// Context-relative (for .dockerignore inside directories).
    rel: String,
    /// `ADD` of a local archive: extract it.
    extract: bool,
}

/// `ADD http(s)://...`: the body saved as a file named after the URL's
/// last path segment (mode 0600, as docker), in `dir`, its mtime from
/// `Last-Modified` as dockerd sets it. Redirects are followed (Go's client
/// does too). With `--checksum=sha256:<hex>` the body must match.
async fn download(url: &str, dir: &Path, checksum: Option<&str>) -> R<CopyItem> {
    use std::io::Write;
    let parsed =
        reqwest::Url::parse(url).map_err(|e| BuildError::new(format!("invalid URL {url}: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(BuildError::new(format!(
            "ADD of {url}: only http:// and https:// URLs are supported"
        )));
    }
    let want = match checksum {
        None => None,
        Some(c) => match c.strip_prefix("sha256:") {
            Some(h) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Some(h.to_ascii_lowercase())
            }
            _ => {
                return Err(BuildError::new(format!(
                    "invalid checksum digest format: {c} (want sha256:<64 hex digits>)"
                )))
            }
        },
    };
    let name = parsed
        .path_segments()
        .and_then(|mut s| s.rfind(|x| !x.is_empty()))
        .unwrap_or("")
        .to_string();
    if name.is_empty() || name == ".." || name == "." {
        return Err(BuildError::new(format!(
            "cannot determine filename from url: {url}"
        )));
    }
    let client = http_client()?;
    let mut resp = client
        .get(parsed)
        .send()
        .await
        .map_err(|e| BuildError::new(format!("failed to GET {url}: {}", error_chain(&e))))?;
    if !resp.status().is_success() {
        return Err(BuildError::new(format!(
            "failed to GET {url} with status {}",
            resp.status()
        )));
    }
    let mtime = resp
        .headers()
        .get(reqwest::header::LAST_MODIFIED)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
        .map(|t| (t.timestamp(), 0));
    let path = dir.join(&name);
    let mut f = fs::File::create(&path)?;
    let mut digest = Sha256::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| BuildError::new(format!("failed to GET {url}: {}", error_chain(&e))))?
    {
        digest.update(&chunk);
        f.write_all(&chunk)?;
    }
    f.sync_all()?;
    drop(f);
    if let Some(want) = want {
        let got = hex::encode(digest.finalize());
        if got != want {
            return Err(BuildError::new(format!(
                "digest mismatch for {url}: expected sha256:{want}, got sha256:{got}"
            )));
        }
    }
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600))?;
    if let Some(t) = mtime {
        set_mtime(&path, t)?;
    }
    Ok(CopyItem {
        src: path,
        rel: name,
        extract: false,
    })
}

/// The client for `ADD <url>`: the system's CA bundle, or the file
/// `SSL_CERT_FILE` names (plus PEM files in `SSL_CERT_DIR`), as Go's
/// crypto/x509 reads them for dockerd, so one environment works for both.
fn http_client() -> R<reqwest::Client> {
    let mut roots = rustls::RootCertStore::empty();
    let file = std::env::var_os("SSL_CERT_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/ssl/certs/ca-certificates.crt"));
    let mut pems = vec![file];
    if let Some(dirs) = std::env::var_os("SSL_CERT_DIR") {
        for d in std::env::split_paths(&dirs) {
            if let Ok(rd) = fs::read_dir(&d) {
                pems.extend(rd.flatten().map(|e| e.path()));
            }
        }
    }
    for p in pems {
        if let Ok(data) = fs::read(&p) {
            roots.add_parsable_certificates(rustls_pemfile::certs(&mut data.as_slice()).flatten());
        }
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| BuildError::new(format!("tls: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .build()
        .map_err(|e| BuildError::new(format!("http client: {e}")))
}

/// An error with its causes (reqwest's own message hides the TLS reason).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// The delimiter of a heredoc word (`<<EOF`, `<<-EOF`, `<<"EOF"`), if
/// the word is one.
fn heredoc_name(word: &str) -> Option<&str> {
    let w = word.strip_prefix("<<")?;
    let w = w.strip_prefix('-').unwrap_or(w);
    let w = match w.chars().next() {
        Some(q @ ('"' | '\'')) => w.strip_prefix(q)?.strip_suffix(q)?,
        _ => w,
    };
    (!w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')).then_some(w)
}

fn walk_rel(root: &Path, rel: &str, out: &mut Vec<String>) -> R<()> {
    let dir = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    let mut entries: Vec<_> = fs::read_dir(&dir)?.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let r = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        out.push(r.clone());
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            walk_rel(root, &r, out)?;
        }
    }
    Ok(())
}

fn is_archive(p: &Path) -> bool {
    let mut head = [0u8; 512];
    let Ok(mut f) = fs::File::open(p) else {
        return false;
    };
    let n = f.read(&mut head).unwrap_or(0);
    if n >= 2 && head[0] == 0x1f && head[1] == 0x8b {
        return true;
    }
    n >= 262 && &head[257..262] == b"ustar"
}

/// A digest of the copied files: names, modes, link targets and contents.
fn content_hash(items: &[CopyItem]) -> String {
    let mut h = Sha256::new();
    fn feed(h: &mut Sha256, p: &Path, name: &str) {
        let Ok(md) = fs::symlink_metadata(p) else {
            return;
        };
        h.update(name.as_bytes());
        h.update(md.mode().to_le_bytes());
        h.update(md.uid().to_le_bytes());
        h.update(md.gid().to_le_bytes());
        if md.file_type().is_symlink() {
            if let Ok(t) = fs::read_link(p) {
                h.update(t.to_string_lossy().as_bytes());
            }
        } else if md.is_file() {
            if let Ok(mut f) = fs::File::open(p) {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n) = f.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    h.update(&buf[..n]);
                }
            }
        } else if md.is_dir() {
            let mut entries: Vec<_> = fs::read_dir(p)
                .map(|r| r.flatten().collect())
                .unwrap_or_default();
            entries.sort_by_key(|e: &fs::DirEntry| e.file_name());
            for e in entries {
                let n = format!("{name}/{}", e.file_name().to_string_lossy());
                feed(h, &e.path(), &n);
            }
        }
        h.update([0]);
    }
    for i in items {
        feed(&mut h, &i.src, &i.rel);
        h.update([i.extract as u8]);
    }
    hex::encode(h.finalize())
}

/// Copies the items into the rootfs at `dest` (absolute in the image;
/// ending in `/` means a directory), as docker's COPY does.
fn copy_items(root: &Path, job: &CopyJob) -> R<()> {
    let (items, dest, owner, chmod) = (&job.items, job.dest.as_str(), job.owner, job.chmod);
    let dest_is_dir = dest.ends_with('/');
    let target = berth_engine::mounts::resolve_in_root(root, dest.trim_end_matches('/'))?;
    for item in items {
        let md = fs::symlink_metadata(&item.src)?;
        if item.extract {
            fs::create_dir_all(&target)?;
            let f = fs::File::open(&item.src)?;
            let mut buf = std::io::BufReader::new(f);
            let gz = {
                use std::io::BufRead;
                let b = buf.fill_buf()?;
                b.len() >= 2 && b[0] == 0x1f && b[1] == 0x8b
            };
            let reader: Box<dyn Read> = if gz {
                Box::new(flate2::read::GzDecoder::new(buf))
            } else {
                Box::new(buf)
            };
            let mut ar = tar::Archive::new(reader);
            ar.set_preserve_permissions(true);
            ar.set_preserve_ownerships(true);
            ar.set_overwrite(true);
            // `unpack` refuses entries that would land outside `target`.
            ar.unpack(&target)
                .map_err(|e| BuildError::new(format!("extracting {}: {e}", item.rel)))?;
            continue;
        }
        if md.is_dir() {
            fs::create_dir_all(&target)?;
            let ig = job.ignore.as_ref().map(|i| (i, item.rel.as_str()));
            copy_tree(&item.src, &target, owner, chmod, ig)?;
        } else {
            let to = if dest_is_dir || target.is_dir() {
                fs::create_dir_all(&target)?;
                target.join(item.src.file_name().unwrap_or_default())
            } else {
                if let Some(p) = target.parent() {
                    fs::create_dir_all(p)?;
                }
                target.clone()
            };
            copy_one(&item.src, &to, owner, chmod)?;
        }
    }
    Ok(())
}

fn copy_tree(
    from: &Path,
    to: &Path,
    owner: Option<(u32, u32)>,
    chmod: Option<u32>,
    ignore: Option<(&Ignore, &str)>,
) -> R<()> {
    let mut entries: Vec<_> = fs::read_dir(from)?.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let t = to.join(e.file_name());
        let rel = ignore.map(|(_, r)| {
            let n = e.file_name().to_string_lossy().into_owned();
            if r == "." || r.is_empty() {
                n
            } else {
                format!("{r}/{n}")
            }
        });
        if let (Some((ig, _)), Some(rel)) = (ignore, &rel) {
            if ig.is_ignored(rel) && !(e.path().is_dir() && ig.has_exclusions()) {
                continue;
            }
        }
        let md = fs::symlink_metadata(e.path())?;
        if md.is_dir() {
            if !t.is_dir() {
                let _ = fs::remove_file(&t);
                fs::create_dir(&t)?;
            }
            let sub = ignore.zip(rel.as_deref()).map(|((ig, _), r)| (ig, r));
            copy_tree(&e.path(), &t, owner, chmod, sub)?;
            set_meta(&t, &md, owner, chmod)?;
        } else {
            copy_one(&e.path(), &t, owner, chmod)?;
        }
    }
    Ok(())
}

fn copy_one(from: &Path, to: &Path, owner: Option<(u32, u32)>, chmod: Option<u32>) -> R<()> {
    let md = fs::symlink_metadata(from)?;
    if fs::symlink_metadata(to).is_ok_and(|m| !m.is_dir()) {
        fs::remove_file(to)?;
    }
    if md.file_type().is_symlink() {
        std::os::unix::fs::symlink(fs::read_link(from)?, to)?;
        let (u, g) = owner.unwrap_or((0, 0));
        let _ = std::os::unix::fs::lchown(to, Some(u), Some(g));
        return Ok(());
    }
    if !md.is_file() {
        // Devices, fifos and sockets in a context are skipped, as docker does.
        return Ok(());
    }
    fs::copy(from, to)?;
    set_meta(to, &md, owner, chmod)
}

fn set_meta(to: &Path, md: &fs::Metadata, owner: Option<(u32, u32)>, chmod: Option<u32>) -> R<()> {
    let (u, g) = owner.unwrap_or((0, 0));
    std::os::unix::fs::chown(to, Some(u), Some(g))?;
    let mode = chmod.unwrap_or(md.mode() & 0o7777);
    fs::set_permissions(to, fs::Permissions::from_mode(mode))?;
    let mtime = filetime_of(md);
    let _ = set_mtime(to, mtime);
    Ok(())
}

fn filetime_of(md: &fs::Metadata) -> (i64, i64) {
    (md.mtime(), md.mtime_nsec())
}

fn set_mtime(p: &Path, (s, ns): (i64, i64)) -> std::io::Result<()> {
    let t = nix::sys::time::TimeSpec::new(s, ns);
    nix::sys::stat::utimensat(
        None,
        p,
        &t,
        &t,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .map_err(std::io::Error::from)
}

fn cache_key(parent: Option<&str>, created_by: &str, config: &RunConfig, content: &str) -> String {
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

fn step_err(c: &Command, e: impl std::fmt::Display) -> BuildError {
    BuildError::new(format!("Dockerfile parse error on line {}: {e}", c.line))
}

/// `|2 A=1 B=2 /bin/sh -c x` -> `/bin/sh -c x` (for the failure message).
fn created_by_cmd(s: &str) -> String {
    if let Some(rest) = s.strip_prefix('|') {
        if let Some((n, tail)) = rest.split_once(' ') {
            if let Ok(n) = n.parse::<usize>() {
                return tail.splitn(n + 1, ' ').last().unwrap_or(tail).to_string();
            }
        }
    }
    s.to_string()
}

/// Go's `%q` of a `[]string`: `["a" "b"]`.
fn go_quote_list(v: &[String]) -> String {
    let parts: Vec<String> = v
        .iter()
        .map(|s| serde_json::to_string(s).unwrap_or_default())
        .collect();
    format!("[{}]", parts.join(" "))
}

/// Go durations as docker's HEALTHCHECK flags take them (`5s`, `1m30s`,
/// `500ms`), in nanoseconds.
fn parse_duration(s: &str) -> Option<i64> {
    let mut total: f64 = 0.0;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    if rest == "0" {
        return Some(0);
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..u] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[u..];
        total += num * mult;
    }
    Some(total as i64)
}

/// The stages `last` needs (itself, its `FROM` stages, `COPY --from`
/// stages), in file order.
pub fn needed_stages(df: &Dockerfile, last: usize) -> Vec<usize> {
    let mut need = BTreeSet::new();
    let mut todo = vec![last];
    while let Some(i) = todo.pop() {
        if need.insert(i) {
            todo.extend(stage_deps(df, i));
        }
    }
    need.into_iter().collect()
}

/// The earlier stages stage `i` uses: its `FROM` stage and its
/// `COPY --from` stages.
fn stage_deps(df: &Dockerfile, i: usize) -> Vec<usize> {
    let mut deps = Vec::new();
    let s = &df.stages[i];
    if let Instruction::From { image, .. } = &s.from.instruction {
        let lower = image.to_ascii_lowercase();
        if let Some(j) = df
            .stages
            .iter()
            .take(i)
            .position(|x| x.name.as_deref() == Some(lower.as_str()))
        {
            deps.push(j);
        }
    }
    for c in &s.commands {
        if let Instruction::Copy(a) = &c.instruction {
            if let Some(f) = &a.from {
                if let Some(j) = df.stage_index(f).filter(|&j| j < i) {
                    deps.push(j);
                }
            }
        }
    }
    deps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s"), Some(5_000_000_000));
        assert_eq!(parse_duration("1m30s"), Some(90_000_000_000));
        assert_eq!(parse_duration("500ms"), Some(500_000_000));
        assert_eq!(parse_duration("x"), None);
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn needed() {
        let df = dockerfile::parse("FROM busybox AS a\nFROM busybox AS b\nCOPY --from=a /x /x\nFROM busybox AS c\nFROM b\n").unwrap();
        assert_eq!(needed_stages(&df, 3), vec![0, 1, 3]);
        assert_eq!(needed_stages(&df, 2), vec![2]);
        assert_eq!(needed_stages(&df, 0), vec![0]);
    }

    #[test]
    fn heredoc_words() {
        assert_eq!(heredoc_name("<<EOF"), Some("EOF"));
        assert_eq!(heredoc_name("<<-X_1"), Some("X_1"));
        assert_eq!(heredoc_name("<<'A'"), Some("A"));
        assert_eq!(heredoc_name("<<\"A\""), Some("A"));
        assert_eq!(heredoc_name("<<'A"), None);
        assert_eq!(heredoc_name("<<"), None);
        assert_eq!(heredoc_name("<<EOF bash"), None);
        assert_eq!(heredoc_name("file"), None);
    }

    #[test]
    fn quoting() {
        assert_eq!(
            go_quote_list(&["sh".into(), "-c".into()]),
            "[\"sh\" \"-c\"]"
        );
        assert_eq!(
            created_by_cmd("|1 A=1 /bin/sh -c false"),
            "/bin/sh -c false"
        );
        assert_eq!(created_by_cmd("/bin/sh -c false"), "/bin/sh -c false");
    }
}
