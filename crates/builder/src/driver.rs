//! The build driver: runs a parsed Dockerfile against the engine as
//! dockerd's classic builder does. Each step makes an image: `RUN` in a
//! real container of the image so far (engine create/start/wait, then the
//! container's layer committed), `COPY`/`ADD`/`WORKDIR` into a fresh rw
//! layer committed the same way, the rest as config-only (empty-layer)
//! images. A cache maps (parent image, step, config, content of the copied
//! files) to the image a previous build made.
//!
//! The steps live in files by concern: `stages` (which stages, in which
//! order), `dispatch` (instruction to step), `run` (`RUN`), `copy`
//! (`COPY`/`ADD`, with `context`, `download` and `files`),
//! `image_config` (config-only instructions), `cache` (the layer cache
//! and its pruning), `output` (messages to the client).

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use berth_api::progress::Message;
use berth_api::reference::Reference;
use berth_engine::distribution::AuthConfigs;
use berth_engine::Engine;
use berth_store::RunConfig;
use indexmap::IndexMap;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::dockerfile::{self, Command, Instruction};
use crate::dockerignore::Ignore;
use crate::shell::Lex;

mod base;
mod cache;
mod context;
mod copy;
mod dispatch;
mod download;
mod files;
mod image_config;
mod output;
mod run;
mod stages;

pub use cache::{prune_cache, PruneOptions};
pub use copy::{CopyItem, CopyJob};
pub use stages::needed_stages;

use cache::cache_mark_result;
use output::{cancelled, short, Sink};

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
    /// `--cache-from` (`cachefrom`): images whose history may stand for
    /// steps, as the classic builder's cache sources.
    pub cache_from: Vec<String>,
    /// `--add-host` (`extrahosts`): `host:ip` lines for the RUN steps'
    /// `/etc/hosts`.
    pub extra_hosts: Vec<String>,
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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
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
                let _ = self.engine.containers().keep_build_container(&c);
                continue;
            }
            let _ = self.engine.containers().remove(&c, true, true).await;
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
            let img = self.engine.images().get(&last_id)?;
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
            self.engine.images().store().tag(&last_id, &t)?;
            self.engine
                .images()
                .event("tag", &last_id, &t.familiar_string());
            self.say(format!("Successfully tagged {}\n", t.familiar_string()))
                .await;
        }
        Ok(last_id)
    }
}

fn step_err(c: &Command, e: impl std::fmt::Display) -> BuildError {
    BuildError::new(format!("Dockerfile parse error on line {}: {e}", c.line))
}
#[cfg(test)]
mod tests {
    use super::image_config::{go_quote_list, parse_duration};
    use super::run::{created_by_cmd, heredoc_name};
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
