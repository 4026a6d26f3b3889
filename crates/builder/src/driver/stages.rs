//! Stages and their order: the stages a target needs, built each as soon
//! as the stages it uses are, with the output kept in file order; one
//! stage's `FROM`, its `ONBUILD` triggers and its steps.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use berth_store::RunConfig;
use indexmap::IndexMap;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::output::{short, Sink};
use super::{step_err, BuildError, Builder, StageState, PROXY_ARGS, R};
use crate::dockerfile::{self, Dockerfile, Instruction};

impl Builder {
    /// Builds the `needed` stages, each as soon as the stages it uses are
    /// built, so independent stages run concurrently. Output stays in file
    /// order, as the classic builder's sequential output reads: the first
    /// unfinished stage streams live, later ones buffer until it is done.
    /// Step numbers are fixed up front (each stage owns a range), so they
    /// read `Step 1/N` .. `Step N/N` whatever order stages finish in.
    pub(super) async fn build_stages(
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

    pub(super) async fn build_stage(
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
            let img = self.engine.images().get(id)?;
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
    pub(super) async fn run_triggers(
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
pub(super) fn stage_deps(df: &Dockerfile, i: usize) -> Vec<usize> {
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
