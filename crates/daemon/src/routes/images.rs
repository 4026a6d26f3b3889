//! `/images/...`. Archives stream through: request bodies are read by the
//! store on a blocking thread (SyncIoBridge), and `save` writes into a
//! channel that feeds the response.

use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{Response, StatusCode};
use berth_api::{Error, Reference};
use berth_engine::distribution::{AuthConfig, Message, PullOptions, PushOptions};
use berth_engine::Filters;
use futures_util::TryStreamExt;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::io::{StreamReader, SyncIoBridge};

use super::{blocking, json_response, progress_response, stream_body, ApiResult, AppState};
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
    let list = blocking(move || engine2.images().list(all, &filters)).await?;
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
            .map(AuthConfig::from_header)
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
            .images()
            .import(&mut reader, reference.as_ref(), &message, &changes)
    })
    .await
    .map_err(|e| Error::internal(e.to_string()))??;
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(Body::from(Message::status(img.id).to_line()))
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
    auth: AuthConfig,
) -> ApiResult<Response<Body>> {
    let reference = if tag.is_empty() {
        Reference::parse(image)?
    } else if tag.starts_with("sha256:") {
        Reference::parse(&format!("{image}@{tag}"))?
    } else {
        Reference::parse(&format!("{image}:{tag}"))?
    };
    let opts = PullOptions {
        all_tags: reference.tag.is_none() && reference.digest.is_none(),
        reference,
        platform: platform.map(str::to_string),
        auth,
    };
    let job = engine.distribution().start_pull(opts).await?;
    Ok(progress_response(|tx| async move { job.run(&tx).await }))
}

pub async fn load(
    State(engine): State<AppState>,
    RawQuery(q): RawQuery,
    req: Request,
) -> ApiResult<Response<Body>> {
    let quiet = params(&q).bool("quiet");
    let mut reader = body_reader(req);
    let engine2 = engine.clone();
    let lines = tokio::task::spawn_blocking(move || {
        let r = engine2.images().load(&mut reader);
        // Drain what the client still sends so it sees our answer.
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
        r
    })
    .await
    .map_err(|e| Error::internal(e.to_string()))?;
    // As dockerd: the answer is 200 once the load began, and a failure is
    // the stream's last message (docker-py raises ImageLoadError on it).
    let mut body = Vec::new();
    match lines {
        Ok(lines) => {
            for line in &lines {
                body.extend_from_slice(&Message::stream(format!("{line}\n")).to_line());
            }
        }
        Err(e) => body.extend_from_slice(&Message::error(e.message).to_line()),
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
        engine.images().get(n)?;
    }
    let (tx, rx) = mpsc::channel(16);
    let engine2 = engine.clone();
    tokio::task::spawn_blocking(move || {
        let mut w = std::io::BufWriter::with_capacity(256 * 1024, super::ChannelWriter(tx));
        if let Err(e) = engine2.images().save(&names, &mut w) {
            tracing::warn!("save: {e}");
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
    let (deleted, reclaimed) = blocking(move || engine2.images().prune(&filters)).await?;
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
        return Ok(json_response(
            StatusCode::OK,
            &engine.images().inspect(name)?,
        ));
    }
    if let Some(name) = rest.strip_suffix("/history") {
        return Ok(json_response(
            StatusCode::OK,
            &engine.images().history(name)?,
        ));
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
        .map(AuthConfig::from_header)
        .unwrap_or_default();
    if let Some(name) = rest.strip_suffix("/tag") {
        let repo = p.get("repo").unwrap_or("");
        if repo.is_empty() {
            return Err(Error::invalid("repository name must have at least one component").into());
        }
        engine
            .images()
            .tag(name, repo, p.get("tag").unwrap_or(""))?;
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
    auth: AuthConfig,
) -> ApiResult<Response<Body>> {
    let reference = if tag.is_empty() {
        Reference::parse(name)?
    } else {
        Reference::parse(&format!("{name}:{tag}"))?
    };
    let opts = PushOptions {
        all_tags: reference.tag.is_none(),
        reference,
        auth,
    };
    let job = engine.distribution().start_push(opts).await?;
    Ok(progress_response(|tx| async move { job.run(&tx).await }))
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
    let items = blocking(move || engine2.images().delete(&name, force, prune)).await?;
    Ok(json_response(StatusCode::OK, &items))
}
