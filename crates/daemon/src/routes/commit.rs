//! `GET /containers/{id}/changes`, `GET /containers/{id}/export`,
//! `POST /commit`.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{Response, StatusCode};
use berth_api::{Error, Reference};
use berth_engine::containers::commit::CommitRequest;
use serde_json::json;
use tokio::sync::mpsc;

use super::{blocking, json_response, stream_body, ApiResult, AppState};
use crate::params::Params;

pub async fn changes(
    State(engine): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Response<Body>> {
    let changes = blocking(move || engine.containers().changes(&id)).await?;
    let list: Vec<_> = changes
        .iter()
        .map(|c| json!({"Path": c.path, "Kind": c.kind as u8}))
        .collect();
    Ok(json_response(StatusCode::OK, &list))
}

pub async fn export(
    State(engine): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Response<Body>> {
    // Errors before the first byte get a status code.
    let h = engine.lookup(&id)?;
    engine.images().store().rw_layer(&h.id)?;
    let (tx, rx) = mpsc::channel(16);
    tokio::task::spawn_blocking(move || {
        let mut w = std::io::BufWriter::with_capacity(256 * 1024, super::ChannelWriter(tx));
        if let Err(e) = engine.containers().export(&h.id, &mut w) {
            tracing::warn!(container_id = %h.id, "export: {e}");
            return;
        }
        let _ = std::io::Write::flush(&mut w);
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/x-tar")
        .body(stream_body(rx))
        .unwrap_or_default())
}

pub async fn commit(
    State(engine): State<AppState>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response<Body>> {
    let p = Params::from_query(q.as_deref());
    let container = p.get("container").unwrap_or("").to_string();
    let repo = p.get("repo").unwrap_or("");
    let tag = p.get("tag").unwrap_or("");
    let reference = if repo.is_empty() {
        if !tag.is_empty() {
            return Err(Error::invalid("tag requires a repository").into());
        }
        None
    } else {
        let full = if tag.is_empty() {
            repo.to_string()
        } else {
            format!("{repo}:{tag}")
        };
        Some(Reference::parse_with_default_tag(&full)?)
    };
    let req = CommitRequest {
        container,
        reference,
        comment: p.get("comment").unwrap_or("").to_string(),
        author: p.get("author").unwrap_or("").to_string(),
        // dockerd pauses unless `pause` is given and false.
        pause: p
            .get("pause")
            .is_none_or(|v| !matches!(v, "0" | "false" | "False")),
        changes: p.all("changes"),
    };
    let id = engine.containers().commit(req).await?;
    Ok(json_response(StatusCode::CREATED, &json!({"Id": id})))
}
