//! `/images/...`. Archives stream through: request bodies are read by the
//! store on a blocking thread (SyncIoBridge), and `save` writes into a
//! channel that feeds the response.

use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{Response, StatusCode};
use berth_api::{Error, Reference};
use berth_engine::lifecycle::Filters;
use bytes::Bytes;
use futures_util::TryStreamExt;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::io::{StreamReader, SyncIoBridge};

use super::{blocking, json_response, stream_body, ApiResult, AppState};
use crate::params::Params;

fn params(q: &Option<String>) -> Params {
    Params::from_query(q.as_deref())
}

/// The request body as a blocking reader, for the store.
fn body_reader(req: Request) -> SyncIoBridge<impl tokio::io::AsyncRead + Unpin> {
    let stream = req
        .into_body()
        .into_data_stream()
        .map_err(std::io::Error::other);
    SyncIoBridge::new(StreamReader::new(stream))
}

fn json_line(v: serde_json::Value) -> Bytes {
    let mut b = serde_json::to_vec(&v).unwrap_or_default();
    b.push(b'\n');
    Bytes::from(b)
}

pub async fn list(
    State(engine): State<AppState>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response<Body>> {
    let p = params(&q);
    let mut filters = Filters::parse(p.get("filters"))?;
    // The legacy `filter=` parameter (API < 1.41) is a reference filter.
    if let Some(f) = p.get("filter").filter(|f| !f.is_empty()) {
        filters
            .0
            .entry("reference".into())
            .or_default()
            .push(f.to_string());
    }
    let all = p.bool("all");
    let engine2 = engine.clone();
    let list = blocking(move || engine2.list_images(all, &filters)).await?;
    Ok(json_response(StatusCode::OK, &list))
}

/// `POST /images/create`: `fromSrc=-` imports the body; `fromImage` would pull.
pub async fn create(
    State(engine): State<AppState>,
    RawQuery(q): RawQuery,
    req: Request,
) -> ApiResult<Response<Body>> {
    let p = params(&q);
    if let Some(image) = p.get("fromImage").filter(|s| !s.is_empty()) {
        let auth = req
            .headers()
            .get("X-Registry-Auth")
            .and_then(|v| v.to_str().ok())
            .map(berth_distribution::AuthConfig::from_header)
            .unwrap_or_default();
        return pull(
            engine,
            image,
            p.get("tag").unwrap_or(""),
            p.get("platform"),
            auth,
        )
        .await;
    }
    let Some(src) = p.get("fromSrc") else {
        return Err(Error::invalid("fromImage or fromSrc is required").into());
    };
    if src != "-" {
        return Err(
            Error::invalid("importing from a URL is not supported yet; use fromSrc=-").into(),
        );
    }
    let repo = p.get("repo").unwrap_or("").to_string();
    let tag = p.get("tag").unwrap_or("").to_string();
    let reference = if repo.is_empty() {
        None
    } else {
        let full = if tag.is_empty() {
            repo.clone()
        } else {
            format!("{repo}:{tag}")
        };
        Some(Reference::parse_with_default_tag(&full)?)
    };
    let message = p.get("message").unwrap_or("").to_string();
    let changes = p.all("changes");
    let mut reader = body_reader(req);
    let engine2 = engine.clone();
    let img = tokio::task::spawn_blocking(move || {
        engine2
            .images
            .import(&mut reader, reference.as_ref(), &message, &changes)
    })
    .await
    .map_err(|e| Error::internal(e.to_string()))??;
    let name = img.repo_tags.first().cloned().unwrap_or_default();
    engine.image_event("import", &img.id, &name);
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(Body::from(json_line(json!({"status": img.id}))))
        .unwrap_or_default())
}

/// `POST /images/create?fromImage=`: errors found before the first
/// message (bad name, manifest unknown, access denied) are HTTP errors;
/// after it they are `errorDetail` lines, as dockerd does. Without a tag
/// every tag of the repository is pulled (`docker pull --all-tags`).
async fn pull(
    engine: AppState,
    image: &str,
    tag: &str,
    platform: Option<&str>,
    auth: berth_distribution::AuthConfig,
) -> ApiResult<Response<Body>> {
    let base = Reference::parse(image)?;
    let mut refs = Vec::new();
    if !tag.is_empty() {
        let name = if tag.starts_with("sha256:") {
            format!("{image}@{tag}")
        } else {
            format!("{image}:{tag}")
        };
        refs.push(Reference::parse(&name)?);
    } else if base.tag.is_some() || base.digest.is_some() {
        refs.push(base.clone());
    } else {
        let opts = &engine.config.registry;
        let mut tags = berth_distribution::list_tags(opts, &base, auth.clone()).await?;
        tags.sort();
        for t in tags {
            refs.push(base.with_tag(&t));
        }
    }
    let platform = platform.filter(|p| !p.is_empty()).map(str::to_string);
    let first = match refs.first() {
        Some(r) => {
            berth_distribution::resolve(
                &engine.config.registry,
                r,
                platform.as_deref(),
                auth.clone(),
            )
            .await?
        }
        None => {
            return Err(Error::not_found(format!(
                "repository {} has no tags",
                base.familiar_name()
            ))
            .into())
        }
    };
    let (tx, mut rx) = mpsc::unbounded_channel::<serde_json::Value>();
    let (btx, brx) = mpsc::channel::<Bytes>(64);
    tokio::spawn(async move {
        while let Some(v) = rx.recv().await {
            if btx.send(json_line(v)).await.is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        let mut next = Some(first);
        let mut rest = refs.into_iter().skip(1);
        while let Some(resolved) = next.take() {
            let name = resolved.reference.familiar_string();
            let owner: std::sync::Arc<dyn berth_distribution::HasStore> = engine.clone();
            match berth_distribution::pull(owner, resolved, &tx).await {
                Ok(()) => engine.image_event("pull", &name, &name),
                Err(e) => {
                    berth_distribution::progress::error(&tx, &e.message);
                    return;
                }
            }
            if let Some(r) = rest.next() {
                match berth_distribution::resolve(
                    &engine.config.registry,
                    &r,
                    platform.as_deref(),
                    auth.clone(),
                )
                .await
                {
                    Ok(res) => next = Some(res),
                    Err(e) => {
                        berth_distribution::progress::error(&tx, &e.message);
                        return;
                    }
                }
            }
        }
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(stream_body(brx))
        .unwrap_or_default())
}

pub async fn load(
    State(engine): State<AppState>,
    RawQuery(q): RawQuery,
    req: Request,
) -> ApiResult<Response<Body>> {
    let quiet = params(&q).bool("quiet");
    let mut reader = body_reader(req);
    let engine2 = engine.clone();
    let (result, lines) = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        let r = engine2
            .images
            .load(&mut reader, &mut |line| lines.push(line));
        // Drain what the client still sends so it sees our answer.
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
        (r, lines)
    })
    .await
    .map_err(|e| Error::internal(e.to_string()))?;
    result?;
    let mut body = Vec::new();
    for line in &lines {
        let name = line.rsplit(": ").next().unwrap_or("");
        engine.image_event("load", name, name);
        body.extend_from_slice(&json_line(json!({"stream": format!("{line}\n")})));
    }
    let _ = quiet;
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(Body::from(body))
        .unwrap_or_default())
}

async fn save(engine: AppState, names: Vec<String>) -> ApiResult<Response<Body>> {
    if names.is_empty() {
        return Err(Error::invalid("no image names given").into());
    }
    for n in &names {
        engine.images.get(n)?;
    }
    let (tx, rx) = mpsc::channel(16);
    let engine2 = engine.clone();
    tokio::task::spawn_blocking(move || {
        let mut w = std::io::BufWriter::with_capacity(256 * 1024, super::ChannelWriter(tx));
        if let Err(e) = engine2.images.save(&names, &mut w) {
            tracing::warn!("save: {e}");
            return;
        }
        let _ = std::io::Write::flush(&mut w);
        for n in &names {
            if let Ok(img) = engine2.images.get(n) {
                engine2.image_event("save", &img.id, n);
            }
        }
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/x-tar")
        .body(stream_body(rx))
        .unwrap_or_default())
}

pub async fn save_many(
    State(engine): State<AppState>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response<Body>> {
    save(engine, params(&q).all("names")).await
}

pub async fn prune(
    State(engine): State<AppState>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response<Body>> {
    let filters = Filters::parse(params(&q).get("filters"))?;
    let engine2 = engine.clone();
    let (deleted, reclaimed) = blocking(move || engine2.prune_images(&filters)).await?;
    let deleted = if deleted.is_empty() {
        serde_json::Value::Null
    } else {
        json!(deleted)
    };
    Ok(json_response(
        StatusCode::OK,
        &json!({"ImagesDeleted": deleted, "SpaceReclaimed": reclaimed}),
    ))
}

/// `GET /images/{name}/json|history|get` — names may hold slashes.
pub async fn get_dispatch(
    State(engine): State<AppState>,
    Path(rest): Path<String>,
) -> ApiResult<Response<Body>> {
    if let Some(name) = rest.strip_suffix("/json") {
        let img = engine.images.get(name)?;
        return Ok(json_response(StatusCode::OK, &engine.images.inspect(&img)));
    }
    if let Some(name) = rest.strip_suffix("/history") {
        return Ok(json_response(StatusCode::OK, &engine.image_history(name)?));
    }
    if let Some(name) = rest.strip_suffix("/get") {
        return save(engine, vec![name.to_string()]).await;
    }
    Err(Error::not_found(format!("page not found: /images/{rest}")).into())
}

/// `POST /images/{name}/tag` (and later push).
pub async fn post_dispatch(
    State(engine): State<AppState>,
    Path(rest): Path<String>,
    RawQuery(q): RawQuery,
    headers: axum::http::HeaderMap,
) -> ApiResult<Response<Body>> {
    let p = params(&q);
    let auth = headers
        .get("X-Registry-Auth")
        .and_then(|v| v.to_str().ok())
        .map(berth_distribution::AuthConfig::from_header)
        .unwrap_or_default();
    if let Some(name) = rest.strip_suffix("/tag") {
        let repo = p.get("repo").unwrap_or("");
        if repo.is_empty() {
            return Err(Error::invalid("repository name must have at least one component").into());
        }
        engine.tag_image(name, repo, p.get("tag").unwrap_or(""))?;
        return Ok(Response::builder()
            .status(StatusCode::CREATED)
            .body(Body::empty())
            .unwrap_or_default());
    }
    if let Some(name) = rest.strip_suffix("/push") {
        return push(engine, name, p.get("tag").unwrap_or(""), auth).await;
    }
    Err(Error::not_found(format!("page not found: /images/{rest}")).into())
}

/// `POST /images/{name}/push?tag=`: without a tag, every local tag of the
/// repository, as dockerd. A missing image is a 404 before streaming.
async fn push(
    engine: AppState,
    name: &str,
    tag: &str,
    auth: berth_distribution::AuthConfig,
) -> ApiResult<Response<Body>> {
    let base = Reference::parse(name)?;
    let mut targets = Vec::new();
    if !tag.is_empty() {
        targets.push(Reference::parse(&format!("{name}:{tag}"))?);
    } else if base.tag.is_some() {
        targets.push(base.clone());
    } else {
        let engine2 = engine.clone();
        let images = blocking(move || engine2.images.list()).await?;
        for img in images {
            for t in &img.repo_tags {
                if let Ok(r) = Reference::parse(t) {
                    if r.domain == base.domain && r.path == base.path {
                        targets.push(r);
                    }
                }
            }
        }
        targets.sort_by_key(|r| r.to_string());
    }
    if targets.is_empty() {
        return Err(Error::not_found(format!(
            "An image does not exist locally with the tag: {}",
            base.familiar_name()
        ))
        .into());
    }
    for t in &targets {
        if engine.images.get(&t.to_string()).is_err() {
            return Err(Error::not_found(format!(
                "An image does not exist locally with the tag: {}",
                t.familiar_name()
            ))
            .into());
        }
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<serde_json::Value>();
    let (btx, brx) = mpsc::channel::<Bytes>(64);
    tokio::spawn(async move {
        while let Some(v) = rx.recv().await {
            if btx.send(json_line(v)).await.is_err() {
                break;
            }
        }
    });
    let repo_name = format!("{}/{}", base.domain, base.path);
    tokio::spawn(async move {
        let _ = tx.send(json!({"status": format!("The push refers to repository [{repo_name}]")}));
        for t in targets {
            let owner: std::sync::Arc<dyn berth_distribution::HasStore> = engine.clone();
            let name = t.familiar_string();
            match berth_distribution::push(owner, &engine.config.registry, &t, auth.clone(), &tx)
                .await
            {
                Ok(()) => engine.image_event("push", &name, &name),
                Err(e) => {
                    berth_distribution::progress::error(&tx, &e.message);
                    return;
                }
            }
        }
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(stream_body(brx))
        .unwrap_or_default())
}

pub async fn remove(
    State(engine): State<AppState>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response<Body>> {
    let p = params(&q);
    let force = p.bool("force");
    let prune = !p.bool("noprune");
    let engine2 = engine.clone();
    let items = blocking(move || engine2.delete_image(&name, force, prune)).await?;
    Ok(json_response(StatusCode::OK, &items))
}
