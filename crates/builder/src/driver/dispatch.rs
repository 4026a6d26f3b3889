//! Instruction dispatch: each instruction to its step (`RUN`, `COPY`/`ADD`,
//! `WORKDIR` change files; the rest change the config only and make an
//! empty-layer image, cached like any step).

use std::collections::HashMap;

use berth_store::RunConfig;
use indexmap::IndexMap;

use super::cache::{cache_get, cache_key, cache_put};
use super::image_config::{go_quote_list, healthcheck_instruction};
use super::{step_err, BuildError, Builder, StageState, R};
use crate::dockerfile::{Cmd, Command, Dockerfile, Instruction};

impl Builder {
    pub(super) async fn dispatch(
        &mut self,
        df: &Dockerfile,
        c: &Command,
        st: &mut StageState,
        meta: &IndexMap<String, String>,
        results: &HashMap<usize, String>,
    ) -> R<()> {
        let env = st.env_map();
        let mut config = st.config.clone();
        let comment = match &c.instruction {
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
                let w = self.word(c, &env, w)?;
                return self.workdir_step(c, st, config, &w).await;
            }
            Instruction::Env(pairs) => self.env_instruction(c, pairs, &env, &mut config)?,
            Instruction::Label(pairs) => self.label_instruction(c, pairs, &env, &mut config)?,
            Instruction::Arg(decls) => self.arg_instruction(c, decls, &env, st, meta)?,
            Instruction::Cmd(cmd) => {
                config.cmd = Some(self.shell_form(cmd, &config));
                st.cmd_set = true;
                format!(
                    "CMD {}",
                    go_quote_list(config.cmd.as_deref().unwrap_or(&[]))
                )
            }
            Instruction::Entrypoint(cmd) => {
                config.entrypoint = Some(self.shell_form(cmd, &config));
                // A new ENTRYPOINT drops a CMD inherited from the base
                // image, as docker does (one set in this stage stays).
                if !st.cmd_set {
                    config.cmd = None;
                }
                format!(
                    "ENTRYPOINT {}",
                    go_quote_list(config.entrypoint.as_deref().unwrap_or(&[]))
                )
            }
            Instruction::Expose(ports) => self.expose_instruction(c, ports, &env, &mut config)?,
            Instruction::User(u) => {
                config.user = self.word(c, &env, u)?;
                format!("USER {}", config.user)
            }
            Instruction::Volume(vs) => self.volume_instruction(c, vs, &env, &mut config)?,
            Instruction::Stopsignal(s) => {
                let s = self.word(c, &env, s)?;
                berth_engine::containers::lifecycle::parse_signal(&s)
                    .map_err(|_| step_err(c, format!("Invalid signal: {s}")))?;
                config.stop_signal = Some(s.clone());
                format!("STOPSIGNAL {s}")
            }
            Instruction::Healthcheck(h) => healthcheck_instruction(c, h, &mut config)?,
            Instruction::Shell(v) => {
                config.shell = Some(v.clone());
                format!("SHELL [{}]", v.join(" "))
            }
            Instruction::Onbuild(inner) => {
                let mut ob = config.on_build.clone().unwrap_or_default();
                ob.push(inner.original.clone());
                config.on_build = Some(ob);
                format!("ONBUILD {}", inner.original)
            }
            Instruction::Maintainer(m) => format!("MAINTAINER {m}"),
            Instruction::From { .. } => return Err(step_err(c, "unexpected FROM")),
        };
        let id = self
            .cached_nop(st.image.as_deref(), config.clone(), comment)
            .await?;
        st.image = Some(id);
        st.config = config;
        Ok(())
    }

    /// One word of the instruction, `$VAR`s expanded from `env`.
    pub(super) fn word(&self, c: &Command, env: &HashMap<String, String>, s: &str) -> R<String> {
        self.lex.process_word(s, env).map_err(|e| step_err(c, e))
    }

    /// `WORKDIR`: the config's working dir (relative to the previous one),
    /// made as a directory in a layer of its own.
    async fn workdir_step(
        &mut self,
        c: &Command,
        st: &mut StageState,
        mut config: RunConfig,
        w: &str,
    ) -> R<()> {
        let dir = if w.starts_with('/') {
            w.to_string()
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
        config.working_dir = berth_engine::containers::mounts::clean_path(&dir);
        let comment = format!("WORKDIR {}", config.working_dir);
        self.layer_step(c, st, config, comment, None).await
    }
    /// Shell form wrapped in the stage's `SHELL` (default `/bin/sh -c`).
    pub(super) fn shell_form(&self, cmd: &Cmd, config: &RunConfig) -> Vec<String> {
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

    pub(super) async fn cached_nop(
        &mut self,
        parent: Option<&str>,
        config: RunConfig,
        comment: String,
    ) -> R<String> {
        let created_by = format!("/bin/sh -c #(nop)  {comment}");
        let key = cache_key(parent, &created_by, &config, "");
        if !self.opts.no_cache {
            let hit = match cache_get(&self.engine, &key) {
                Some(id) => Some(id),
                None => self.cache_from_hit(parent, &created_by, &config).await,
            };
            if let Some(id) = hit {
                self.say(" ---> Using cache\n").await;
                return Ok(id);
            }
        }
        let id = self.nop_image(parent, config, created_by, "").await?;
        cache_put(&self.engine, &key, &id, parent);
        Ok(id)
    }

    /// A config-only image on `parent` (an empty layer in history).
    pub(super) async fn nop_image(
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
                .images()
                .store()
                .child_image(parent.as_deref(), None, config, &created_by)
        })
        .await
        .map_err(|e| BuildError::new(e.to_string()))??;
        Ok(id)
    }
}
