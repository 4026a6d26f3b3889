//! `COPY` and `ADD` (and `WORKDIR`'s directory): the sources resolved (the
//! context, a stage's or image's rootfs, heredocs, URLs), the owner and
//! mode, then a fresh rw layer filled and committed.

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use berth_store::{CommitOptions, RunConfig};
use sha2::{Digest, Sha256};

use super::cache::{cache_get, cache_key, cache_put};
use super::download::download;
use super::files::copy_items;
use super::run::heredoc_name;
use super::{step_err, BuildError, Builder, StageState, R};
use crate::dockerfile::{Command, CopyArgs, Dockerfile};
use crate::dockerignore::Ignore;

/// A `--from` rootfs mounted for the step: its path and the rw layer's id.
type FromRoot = Option<(PathBuf, String)>;

/// A step's sources after word processing: `srcs` (heredocs as
/// `\0heredoc:N` keys into `fetched`), `dest`, and the sources already
/// made into files (heredocs; URLs join them once downloaded).
struct Sources {
    /// The stage's env the words were processed with.
    env: HashMap<String, String>,
    srcs: Vec<String>,
    dest: String,
    fetched: HashMap<String, CopyItem>,
}

fn is_inline(s: &str) -> bool {
    s.starts_with("\0heredoc:")
}

fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

impl Builder {
    pub(super) async fn copy_step(
        &mut self,
        df: &Dockerfile,
        c: &Command,
        a: &CopyArgs,
        add: bool,
        st: &mut StageState,
        results: &HashMap<usize, String>,
    ) -> R<()> {
        let env = st.env_map();
        let (inline, plain_srcs) = self.heredoc_sources(c, a, &env)?;
        let (srcs, dest) = self.expand_sources(c, a, &plain_srcs, &env)?;
        let from_root = match &a.from {
            Some(from) => Some(self.mount_from(df, c, from, &env, results)?),
            None => None,
        };
        let sources = Sources {
            env,
            srcs,
            dest,
            fetched: inline,
        };
        // The `--from` rootfs is released here, once, whatever the rest did.
        let root = from_root.as_ref().map(|(p, _)| p.clone());
        let r = self
            .copy_sources(c, a, add, st, sources, root.as_deref())
            .await;
        self.release_from(from_root);
        r
    }

    /// `COPY <<EOF /dst`: each heredoc source becomes a file named after
    /// its delimiter (mode 0644, as BuildKit makes it), its content
    /// expanded unless the delimiter was quoted. Returns those files by
    /// key and the sources with heredocs replaced by their keys.
    fn heredoc_sources(
        &self,
        c: &Command,
        a: &CopyArgs,
        env: &HashMap<String, String>,
    ) -> R<(HashMap<String, CopyItem>, Vec<String>)> {
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
                    .process_heredoc(&h.content, env)
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
        Ok((inline, plain_srcs))
    }

    /// The sources and destination after word processing (a shell-form
    /// source may expand to several words; the JSON form's do not).
    fn expand_sources(
        &self,
        c: &Command,
        a: &CopyArgs,
        plain_srcs: &[String],
        env: &HashMap<String, String>,
    ) -> R<(Vec<String>, String)> {
        let srcs = if a.json {
            let srcs: R<Vec<String>> = plain_srcs
                .iter()
                .map(|s| {
                    if is_inline(s) {
                        return Ok(s.clone());
                    }
                    self.lex.process_word(s, env).map_err(|e| step_err(c, e))
                })
                .collect();
            srcs?
        } else {
            let mut v = Vec::new();
            for s in plain_srcs {
                if is_inline(s) {
                    v.push(s.clone());
                    continue;
                }
                v.extend(self.lex.process_words(s, env).map_err(|e| step_err(c, e))?);
            }
            v
        };
        let dest = self
            .lex
            .process_word(&a.dest, env)
            .map_err(|e| step_err(c, e))?;
        Ok((srcs, dest))
    }

    /// `--from`: the stage's or image's rootfs, mounted on a fresh rw layer
    /// the caller releases.
    fn mount_from(
        &self,
        df: &Dockerfile,
        c: &Command,
        from: &str,
        env: &HashMap<String, String>,
        results: &HashMap<usize, String>,
    ) -> R<(PathBuf, String)> {
        let from = self
            .lex
            .process_word(from, env)
            .map_err(|e| step_err(c, e))?;
        let image = match df.stage_index(&from) {
            Some(i) => results
                .get(&i)
                .cloned()
                .ok_or_else(|| step_err(c, format!("stage {from} was not built")))?,
            None => {
                self.engine
                    .images()
                    .store()
                    .get(&from)
                    .map_err(|_| {
                        step_err(c, format!("invalid from flag value {from}: No such image"))
                    })?
                    .id
            }
        };
        let lid = format!("build-{}", hex::encode(rand::random::<[u8; 16]>()));
        let layer = self
            .engine
            .images()
            .store()
            .create_rw_layer(&lid, Some(&image))?;
        layer.mount()?;
        Ok((layer.merged.clone(), lid))
    }

    /// The rest of the step once the sources are known: URLs fetched, the
    /// sources found, owner and mode, the destination, the layer.
    async fn copy_sources(
        &mut self,
        c: &Command,
        a: &CopyArgs,
        add: bool,
        st: &mut StageState,
        mut sources: Sources,
        from_root: Option<&Path>,
    ) -> R<()> {
        let kw = if add { "ADD" } else { "COPY" };
        if a.checksum.is_some() && (!add || !sources.srcs.iter().all(|s| is_url(s))) {
            return Err(step_err(
                c,
                "checksum can't be specified for non-HTTP(S) sources",
            ));
        }
        if add {
            // `ADD <url>`: fetched first (async), then copied like a file.
            for s in sources.srcs.iter().filter(|s| is_url(s)) {
                let dir = self.scratch_dir()?;
                let item = download(s, &dir, a.checksum.as_deref())
                    .await
                    .map_err(|e| copy_fail(kw, e.message))?;
                sources.fetched.insert(s.clone(), item);
            }
        }
        let items = self.find_sources(&sources, from_root, add)?;
        let owner = match &a.chown {
            Some(spec) => {
                let spec = self
                    .lex
                    .process_word(spec, &sources.env)
                    .map_err(|e| step_err(c, e))?;
                Some(self.resolve_owner(st, &spec).await?)
            }
            None => None,
        };
        let chmod = match &a.chmod {
            Some(m) => Some(
                u32::from_str_radix(m, 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .ok_or_else(|| step_err(c, format!("invalid chmod parameter: {m}")))?,
            ),
            None => None,
        };
        let hash = content_hash(&items);
        let dest = &sources.dest;
        let mut dest_abs = if dest.starts_with('/') {
            dest.clone()
        } else {
            format!("{}/{}", st.config.working_dir.trim_end_matches('/'), dest)
        };
        if dest.ends_with('/') && !dest_abs.ends_with('/') {
            dest_abs.push('/');
        }
        if items.len() > 1 && !dest_abs.ends_with('/') {
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
        let job = CopyJob {
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
        };
        self.layer_step(c, st, config, comment, Some(job)).await
    }

    /// The files each source names: fetched ones, else from the `--from`
    /// rootfs, else from the context (globs, `.dockerignore`).
    fn find_sources(
        &self,
        sources: &Sources,
        from_root: Option<&Path>,
        add: bool,
    ) -> R<Vec<CopyItem>> {
        let kw = if add { "ADD" } else { "COPY" };
        let mut items = Vec::new();
        for s in &sources.srcs {
            if let Some(item) = sources.fetched.get(s) {
                items.push(item.clone());
                continue;
            }
            let found = match from_root {
                Some(root) => {
                    let p = berth_engine::containers::mounts::resolve_in_root(root, s)?;
                    if !p.exists() && fs::symlink_metadata(&p).is_err() {
                        return Err(copy_fail(kw, format!("stat {s}: file does not exist")));
                    }
                    vec![CopyItem {
                        src: p,
                        rel: s.clone(),
                        extract: false,
                    }]
                }
                None => self
                    .context_sources(s, add)
                    .map_err(|e| copy_fail(kw, e.message))?,
            };
            items.extend(found);
        }
        Ok(items)
    }

    /// A step that changes files without running anything (`WORKDIR`
    /// making its directory, `COPY`, `ADD`): a fresh rw layer on the
    /// image, `fill` run on its mounted rootfs, then committed.
    pub(super) async fn layer_step(
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
            let hit = match cache_get(&self.engine, &key) {
                Some(id) => Some(id),
                None => {
                    self.cache_from_hit(st.image.as_deref(), &created_by, &config)
                        .await
                }
            };
            if let Some(id) = hit {
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
            let layer = engine
                .images()
                .store()
                .create_rw_layer(&lid, parent.as_deref())?;
            let result = (|| -> R<String> {
                layer.mount()?;
                let root = layer.merged.clone();
                let filled = (|| -> R<()> {
                    if !cfg.working_dir.is_empty() {
                        let wd = berth_engine::containers::mounts::resolve_in_root(
                            &root,
                            &cfg.working_dir,
                        )?;
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
                    .images()
                    .store()
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
            let _ = engine.images().store().remove_rw_layer(&lid);
            result
        })
        .await
        .map_err(|e| BuildError::new(e.to_string()))??;
        cache_put(&self.engine, &key, &id, st.image.as_deref());
        st.image = Some(id);
        st.config = config;
        Ok(())
    }

    pub(super) fn release_from(&self, from_root: FromRoot) {
        if let Some((_, lid)) = from_root {
            if let Ok(l) = self.engine.images().store().rw_layer(&lid) {
                let _ = l.unmount();
            }
            let _ = self.engine.images().store().remove_rw_layer(&lid);
        }
    }

    /// `--chown=user:group` by number, or by name through the image's
    /// `/etc/passwd` and `/etc/group`.
    pub(super) async fn resolve_owner(&self, st: &StageState, spec: &str) -> R<(u32, u32)> {
        let (u, g) = match spec.split_once(':') {
            Some((u, g)) => (u.to_string(), Some(g.to_string())),
            None => (spec.to_string(), None),
        };
        let read = |file: &str| -> String {
            let Some(id) = &st.image else {
                return String::new();
            };
            let lid = format!("build-{}", hex::encode(rand::random::<[u8; 16]>()));
            let Ok(layer) = self.engine.images().store().create_rw_layer(&lid, Some(id)) else {
                return String::new();
            };
            let mut s = String::new();
            if layer.mount().is_ok() {
                if let Ok(p) =
                    berth_engine::containers::mounts::resolve_in_root(&layer.merged, file)
                {
                    s = fs::read_to_string(p).unwrap_or_default();
                }
                let _ = layer.unmount();
            }
            let _ = self.engine.images().store().remove_rw_layer(&lid);
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
}

/// A failure finding or fetching a source, worded as dockerd's.
fn copy_fail(kw: &str, m: String) -> BuildError {
    BuildError::new(format!("{kw} failed: {m}"))
}

/// What a `COPY`/`ADD` step writes.
pub struct CopyJob {
    pub(super) items: Vec<CopyItem>,
    pub(super) dest: String,
    pub(super) owner: Option<(u32, u32)>,
    pub(super) chmod: Option<u32>,
    pub(super) hash: String,
    /// The context's `.dockerignore` (none for `--from`).
    pub(super) ignore: Option<Ignore>,
}

/// One source of a `COPY`/`ADD`.
#[derive(Debug, Clone)]
pub struct CopyItem {
    pub(super) src: PathBuf,
    /// Context-relative (for .dockerignore inside directories).
    pub(super) rel: String,
    /// `ADD` of a local archive: extract it.
    pub(super) extract: bool,
}

/// A digest of the copied files: names, modes, link targets and contents.
pub(super) fn content_hash(items: &[CopyItem]) -> String {
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
