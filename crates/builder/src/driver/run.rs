//! `RUN`: the command (heredocs as BuildKit runs them), its history line
//! and cache key, a real container of the image so far, its output
//! streamed to the client, its layer committed.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use berth_api::types::CreateBody;
use berth_store::CommitOptions;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::cache::{cache_get, cache_key, cache_put};
use super::output::{cancelled, short};
use super::{lock, step_err, BuildError, Builder, StageState, PROXY_ARGS, R};
use crate::dockerfile::{self, Cmd, Command};

/// A `#!` heredoc script: the scratch directory holding it, and its name
/// (mounted at `/dev/pipes/<name>`).
type Pipe = Option<(PathBuf, String)>;

impl Builder {
    pub(super) async fn run_step(
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
        let (argv, pipe) = self.run_argv(cmd, heredocs, st)?;
        let heredoc_hash = heredoc_hash(heredocs);
        if argv.is_empty() {
            return Err(step_err(c, "RUN requires at least one argument"));
        }
        let (arg_env, created_by) = run_history(st, &argv);
        let key = cache_key(Some(&parent), &created_by, &st.config, &heredoc_hash);
        if !self.opts.no_cache {
            let hit = match cache_get(&self.engine, &key) {
                Some(id) => Some(id),
                None => {
                    let mut config = st.config.clone();
                    config.extra.shift_remove("Image");
                    self.cache_from_hit(Some(&parent), &created_by, &config)
                        .await
                }
            };
            if let Some(id) = hit {
                self.say(" ---> Using cache\n").await;
                st.image = Some(id);
                return Ok(());
            }
        }
        let cid = self
            .create_run_container(&parent, argv, arg_env, &pipe, st)
            .await?;
        let status = self.stream_run(&cid).await?;
        if status != 0 {
            return Err(BuildError {
                message: format!(
                    "The command '{}' returned a non-zero code: {}",
                    created_by_cmd(&created_by),
                    status
                ),
                code: Some(status),
            });
        }
        let id = self.commit_run(&cid, st, &created_by).await?;
        berth_store::crash::point("build.step-committed");
        if self.opts.rm || self.opts.force_rm {
            self.say(format!("Removing intermediate container {}\n", short(&cid)))
                .await;
            let _ = self.engine.containers().remove(&cid, true, true).await;
            lock(&self.containers).retain(|x| x != &cid);
        }
        cache_put(&self.engine, &key, &id, Some(&parent));
        st.image = Some(id);
        Ok(())
    }

    /// The step's argv. Heredocs as BuildKit's frontend runs them
    /// (`dispatchRun`): a lone `<<EOF` is the script (a file run as the
    /// program when it starts with `#!`), anything else (`python3 <<EOF`,
    /// several heredocs) goes to the shell with the heredocs written back,
    /// and the shell feeds them as stdin, expanding unless the delimiter
    /// was quoted.
    fn run_argv(
        &self,
        cmd: &Cmd,
        heredocs: &[dockerfile::Heredoc],
        st: &StageState,
    ) -> R<(Vec<String>, Pipe)> {
        let mut pipe: Pipe = None;
        let argv = match (cmd, heredocs) {
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
        Ok((argv, pipe))
    }

    /// Creates the step's container (not started) and records it for the
    /// build's cleanup.
    async fn create_run_container(
        &self,
        parent: &str,
        argv: Vec<String>,
        arg_env: Vec<String>,
        pipe: &Pipe,
        st: &StageState,
    ) -> R<String> {
        let mut env = st.config.env.clone().unwrap_or_default();
        env.extend(arg_env);
        // BuildKit mounts the `#!` script read-only at /dev/pipes/<name>.
        let binds: Vec<String> = pipe
            .iter()
            .map(|(dir, _)| format!("{}:/dev/pipes:ro", dir.display()))
            .collect();
        let body = json!({
            "Image": parent,
            "Cmd": argv,
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
                "ExtraHosts": self.opts.extra_hosts,
            },
        });
        let body = CreateBody::parse(&serde_json::to_vec(&body).unwrap_or_default())?;
        let (cid, _) = self.engine.containers().create_for_build(body)?;
        lock(&self.containers).push(cid.clone());
        self.say(format!(" ---> Running in {}\n", short(&cid)))
            .await;
        Ok(cid)
    }

    /// Starts the step's container, streams its output to the client until
    /// it exits, and returns its exit code; a cancelled build kills it.
    async fn stream_run(&self, cid: &str) -> R<i64> {
        let h = self.engine.lookup(cid)?;
        let sub = h.hub().subscribe();
        self.engine.containers().start(cid).await?;
        if let Some(mut rx) = sub {
            loop {
                let msg = tokio::select! {
                    m = rx.recv() => m,
                    _ = cancelled(&self.tx, &self.cancel) => {
                        // Cancelled: stop the step's container now.
                        let _ = self.engine.containers().kill(cid, Some("KILL")).await;
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
        let w = self.engine.containers().wait(cid, "not-running").await?;
        Ok(w.status_code)
    }

    /// The step's container committed with the stage's config: the step's image.
    async fn commit_run(&self, cid: &str, st: &StageState, created_by: &str) -> R<String> {
        let mut config = st.config.clone();
        config.extra.shift_remove("Image");
        let engine = self.engine.clone();
        let cid2 = cid.to_string();
        let cb = created_by.to_string();
        let id = tokio::task::spawn_blocking(move || {
            engine.images().store().commit_container(
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
        Ok(id)
    }
}

/// The heredocs are in the key even where the history line does not
/// show them (the `#!` script's path).
fn heredoc_hash(heredocs: &[dockerfile::Heredoc]) -> String {
    if heredocs.is_empty() {
        return String::new();
    }
    let mut h = Sha256::new();
    for d in heredocs {
        h.update(d.name.as_bytes());
        h.update([0]);
        h.update(d.content.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())
}

/// The build args the step sees as env (`K=V`, those the config's env does
/// not set), and its history line. Build args reach RUN as env (and
/// history as `|N K=V`), not the image; proxy args stay out of history.
fn run_history(st: &StageState, argv: &[String]) -> (Vec<String>, String) {
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
    (arg_env, created_by)
}

/// The delimiter of a heredoc word (`<<EOF`, `<<-EOF`, `<<"EOF"`), if
/// the word is one.
pub(super) fn heredoc_name(word: &str) -> Option<&str> {
    let w = word.strip_prefix("<<")?;
    let w = w.strip_prefix('-').unwrap_or(w);
    let w = match w.chars().next() {
        Some(q @ ('"' | '\'')) => w.strip_prefix(q)?.strip_suffix(q)?,
        _ => w,
    };
    (!w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')).then_some(w)
}

/// `|2 A=1 B=2 /bin/sh -c x` -> `/bin/sh -c x` (for the failure message).
pub(super) fn created_by_cmd(s: &str) -> String {
    if let Some(rest) = s.strip_prefix('|') {
        if let Some((n, tail)) = rest.split_once(' ') {
            if let Ok(n) = n.parse::<usize>() {
                return tail.splitn(n + 1, ' ').last().unwrap_or(tail).to_string();
            }
        }
    }
    s.to_string()
}
