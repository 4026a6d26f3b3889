//! `POST /build` (the classic builder's API) and `POST /build/prune`.

use std::io::Read;
use std::path::{Component, Path as FsPath, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, Request, State};
use axum::http::{Response, StatusCode};
use berth_api::{Error, Reference};
use berth_builder::driver::{prune_cache, BuildOptions, Builder, PruneOptions};
use berth_engine::distribution::{AuthConfigs, Message};
use berth_engine::{parse_time, Filters};
use bytes::Bytes;
use futures_util::TryStreamExt;
use indexmap::IndexMap;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::io::{StreamReader, SyncIoBridge};

use super::{json_response, stream_body, ApiResult, AppState};
use crate::params::Params;

/// Largest context accepted (dockerd has no limit; this bounds a hostile one).
const MAX_CONTEXT: u64 = 8 << 30;

/// Unpacks the context tar (plain or gzip) into `dir`, refusing entries
/// that would land outside it.
pub(crate) fn unpack_context(src: &mut dyn Read, dir: &FsPath) -> berth_api::Result<()> {
    let mut src = std::io::BufReader::new(src.take(MAX_CONTEXT));
    let gz = {
        use std::io::BufRead;
        let b = src.fill_buf()?;
        b.len() >= 2 && b[0] == 0x1f && b[1] == 0x8b
    };
    let reader: Box<dyn Read> = if gz {
        Box::new(flate2::read::GzDecoder::new(src))
    } else {
        Box::new(src)
    };
    let mut ar = tar::Archive::new(reader);
    ar.set_preserve_permissions(true);
    ar.set_overwrite(true);
    let entries = ar
        .entries()
        .map_err(|e| Error::invalid(format!("invalid build context: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| Error::invalid(format!("invalid build context: {e}")))?;
        let path = entry
            .path()
            .map_err(|e| Error::invalid(format!("invalid build context: {e}")))?
            .into_owned();
        if path.components().any(|c| {
            matches!(
                c,
                Component::ParentDir | Component::RootDir | Component::Prefix(_)
            )
        }) {
            return Err(Error::invalid(format!(
                "invalid build context: entry {} leaves the context",
                path.display()
            )));
        }
        // `unpack_in` also refuses writing through a symlink that leaves `dir`.
        let placed = entry.unpack_in(dir).map_err(|e| {
            Error::invalid(format!("invalid build context: {}: {e}", path.display()))
        })?;
        if !placed {
            return Err(Error::invalid(format!(
                "invalid build context: entry {} leaves the context",
                path.display()
            )));
        }
    }
    Ok(())
}

/// A build's context directory (and its `.add` scratch sibling), removed
/// when the last holder lets go: the upload's blocking task, the request's
/// future, the task that streams the build. So a client that disconnects
/// mid-upload (hyper drops the request's future) or a build that ends any
/// way leaves nothing; a daemon killed meanwhile has them swept at its
/// next start ([`sweep_contexts`]).
struct ContextDir(PathBuf);

impl ContextDir {
    /// Removes it now (blocking), so a build's last message follows the
    /// removal, as before this guard.
    fn remove_now(mut self) {
        let ctx = std::mem::take(&mut self.0);
        remove_context(&ctx);
    }
}

fn remove_context(ctx: &FsPath) {
    let _ = std::fs::remove_dir_all(ctx.with_extension("add"));
    let _ = std::fs::remove_dir_all(ctx);
}

impl Drop for ContextDir {
    fn drop(&mut self) {
        let ctx = std::mem::take(&mut self.0);
        if ctx.as_os_str().is_empty() {
            return; // removed already
        }
        // A big context takes a while to delete: off the reactor when there
        // is one.
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => drop(rt.spawn_blocking(move || remove_context(&ctx))),
            Err(_) => remove_context(&ctx),
        }
    }
}

/// At start: contexts of builds a killed daemon was running. The daemon
/// holds its data root alone, so none of them is in use.
pub fn sweep_contexts(data_root: &FsPath) {
    let dir = data_root.join("builder");
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return;
    };
    for e in rd.flatten() {
        if e.file_name().to_string_lossy().starts_with("ctx-") {
            if let Err(err) = std::fs::remove_dir_all(e.path()) {
                tracing::warn!("removing {}: {err}", e.path().display());
            }
        }
    }
}

pub(crate) fn json_map(
    p: &Params,
    key: &str,
) -> berth_api::Result<IndexMap<String, Option<String>>> {
    match p.get(key).filter(|s| !s.is_empty()) {
        None => Ok(IndexMap::new()),
        Some(s) => berth_api::json::from_str(s)
            .map_err(|e| Error::invalid(format!("failed to parse {key}: {}", e.message))),
    }
}

/// A JSON list of strings in the query (`cachefrom=["a","b"]`), as moby
/// reads it.
fn json_list(p: &Params, key: &str) -> berth_api::Result<Vec<String>> {
    match p.get(key).filter(|s| !s.is_empty()) {
        None => Ok(Vec::new()),
        Some(s) => berth_api::json::from_str(s)
            .map_err(|e| Error::invalid(format!("failed to parse {key}: {}", e.message))),
    }
}

pub async fn build(
    State(engine): State<AppState>,
    RawQuery(q): RawQuery,
    req: Request,
) -> ApiResult<Response<Body>> {
    let p = Params::from_query(q.as_deref());
    if p.get("remote").is_some_and(|r| !r.is_empty()) {
        return Err(Error::invalid("remote build contexts are not supported").into());
    }
    let mut tags = Vec::new();
    for t in p.all("t") {
        let r = Reference::parse_with_default_tag(&t)
            .map_err(|e| Error::invalid(format!("invalid reference format: {}", e.message)))?;
        if r.digest.is_some() {
            return Err(Error::invalid(format!("invalid tag {t}: digests are not allowed")).into());
        }
        tags.push(r);
    }
    let labels = json_map(&p, "labels")?
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or_default()))
        .collect();
    let opts = BuildOptions {
        dockerfile: p
            .get("dockerfile")
            .filter(|s| !s.is_empty())
            .unwrap_or("Dockerfile")
            .to_string(),
        tags,
        build_args: json_map(&p, "buildargs")?,
        target: p.get("target").map(str::to_string),
        no_cache: p.bool("nocache"),
        labels,
        network_mode: p.get("networkmode").map(str::to_string),
        cache_from: json_list(&p, "cachefrom")?,
        // Repeated (`extrahosts=a:1&extrahosts=b:2`) or comma-joined.
        extra_hosts: p
            .all("extrahosts")
            .iter()
            .flat_map(|v| v.split(','))
            .filter(|h| !h.is_empty())
            .map(str::to_string)
            .collect(),
        rm: p
            .get("rm")
            .is_none_or(|v| !matches!(v, "0" | "false" | "False")),
        force_rm: p.bool("forcerm"),
        pull: p.bool("pull"),
        platform: p
            .get("platform")
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        auth_configs: req
            .headers()
            .get("X-Registry-Config")
            .and_then(|v| v.to_str().ok())
            .map(AuthConfigs::from_header)
            .unwrap_or_default(),
    };
    let quiet = p.bool("q");
    let ctx = engine
        .data_root()
        .join("builder")
        .join(format!("ctx-{:016x}", rand::random::<u64>()));
    let guard = Arc::new(ContextDir(ctx.clone()));
    let stream = req
        .into_body()
        .into_data_stream()
        .map_err(|e| std::io::Error::other(e.to_string()));
    let mut reader = SyncIoBridge::new(StreamReader::new(stream));
    let held = guard.clone();
    let unpacked = tokio::task::spawn_blocking(move || {
        let ctx = &held.0;
        std::fs::create_dir_all(ctx)?;
        let r = unpack_context(&mut reader, ctx);
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
        r
    })
    .await
    .map_err(|e| Error::internal(e.to_string()))?;
    // An error drops `guard` (and the task's clone is gone): removed.
    unpacked?;
    let (tx, mut rx) = mpsc::channel::<Message>(64);
    let (out_tx, out_rx) = mpsc::channel::<Bytes>(64);
    let builder = Builder::new(engine.clone(), ctx.clone(), opts, tx);
    let task = tokio::spawn(builder.run());
    tokio::spawn(async move {
        // The classic builder's lines end in CRLF (dockerd's streamformatter).
        let line = |m: Message| {
            let mut b = serde_json::to_vec(&m).unwrap_or_default();
            b.extend_from_slice(b"\r\n");
            Bytes::from(b)
        };
        loop {
            let m = tokio::select! {
                m = rx.recv() => m,
                // The client went away (hyper dropped the body): dropping
                // `rx` cancels the build.
                _ = out_tx.closed() => None,
            };
            let Some(m) = m else { break };
            // `-q`: only the result (dockerd buffers the rest, pull
            // progress included).
            if quiet && m.aux.is_none() {
                continue;
            }
            if out_tx.send(line(m)).await.is_err() {
                break;
            }
        }
        drop(rx);
        let result = task.await;
        // The request and the upload are done: this is the last holder.
        if let Ok(g) = Arc::try_unwrap(guard) {
            let _ = tokio::task::spawn_blocking(move || g.remove_now()).await;
        }
        let last = match result {
            Ok(Ok(id)) => quiet.then(|| {
                Message::stream(format!(
                    "{id}
"
                ))
            }),
            Ok(Err(e)) => Some(Message::error_code(e.message, e.code)),
            Err(e) => Some(Message::error(format!("build failed: {e}"))),
        };
        if let Some(m) = last {
            let _ = out_tx.send(line(m)).await;
        }
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(stream_body(out_rx))
        .unwrap_or_default())
}

/// `POST /build/prune` (`docker builder prune`): `all`, `filters`
/// (`until`, `unused-for`), `keep-storage` (or API 1.48's
/// `reserved-space`) in bytes.
pub async fn prune(
    State(engine): State<AppState>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response<Body>> {
    let p = Params::from_query(q.as_deref());
    let filters = Filters::parse(p.get("filters"))?;
    filters.validate(&["until", "unused-for"])?;
    let mut until = None;
    for k in ["until", "unused-for"] {
        if let Some(u) = filters.get(k).first() {
            until = Some(
                parse_time(u).ok_or_else(|| Error::invalid(format!("invalid {k} filter: {u}")))?,
            );
        }
    }
    let keep = match p.int("keep-storage")? {
        Some(n) => n,
        None => p.int("reserved-space")?.unwrap_or(0),
    };
    if keep < 0 {
        return Err(Error::invalid(format!("invalid keep-storage: {keep}")).into());
    }
    let opts = PruneOptions {
        all: p.bool("all"),
        until,
        keep_storage: keep,
    };
    let (deleted, reclaimed) = tokio::task::spawn_blocking(move || prune_cache(&engine, &opts))
        .await
        .map_err(|e| Error::internal(e.to_string()))?
        .map_err(|e| Error::internal(e.message))?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"CachesDeleted": deleted, "SpaceReclaimed": reclaimed}),
    ))
}
