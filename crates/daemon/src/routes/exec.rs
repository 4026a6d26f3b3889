//! `/containers/{id}/exec` and `/exec/...`.

use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{Response, StatusCode};
use berth_api::model::ExecStartConfig;
use berth_api::version::ApiVersion;
use berth_api::Error;
use berth_engine::exec::ExecConfig;
use bytes::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::json;

use super::{json_response, ApiResult, AppState};
use crate::params::Params;
use crate::server::RequestVersion;

pub async fn create(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response<Body>> {
    let config: ExecConfig = berth_api::json::from_slice(&body)?;
    let exec_id = engine.exec().create(&id, config)?;
    Ok(json_response(StatusCode::CREATED, &json!({"Id": exec_id})))
}

/// Runs the exec: detached, it answers at once and the engine records the
/// exit code in the background; attached, it hijacks the connection like
/// attach and hands both ends to the engine's exec session.
pub async fn start(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    mut req: Request,
) -> ApiResult<Response<Body>> {
    let v = req
        .extensions()
        .get::<RequestVersion>()
        .map(|v| v.0)
        .unwrap_or(ApiVersion::CURRENT);
    let upgrade = hyper::upgrade::on(&mut req);
    let bytes = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .map_err(|e| Error::invalid(e.to_string()))?;
    let body: ExecStartConfig = berth_api::json::from_body(&bytes)?;
    let streams = engine.exec().streams(&id)?;
    let raw = body.tty;
    if body.detach || !streams.attached() {
        let session = engine.exec().start(&id).await?;
        tokio::spawn(async move { engine.exec().drain(session).await });
        return Ok(Response::builder()
            .status(StatusCode::OK)
            .body(Body::empty())
            .unwrap_or_default());
    }
    // As dockerd: upgrade first, then start; a start failure is written into
    // the stream and becomes the exec's exit code, which the CLI reads back.
    tokio::spawn(async move {
        let started = engine.exec().start(&id).await;
        let Ok(upgraded) = upgrade.await else {
            if let Ok(session) = started {
                engine.exec().drain(session).await;
            }
            return;
        };
        let (client_rd, client_wr) = tokio::io::split(TokioIo::new(upgraded));
        engine
            .exec()
            .attach(&id, started, client_rd, raw, client_wr)
            .await;
    });
    // moby frames by the start request's `Tty`, not the create body's.
    let content_type = if raw || v < ApiVersion(1, 42) {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    Ok(Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("Content-Type", content_type)
        .header("Connection", "Upgrade")
        .header("Upgrade", "tcp")
        .body(Body::empty())
        .unwrap_or_default())
}

pub async fn inspect(
    State(engine): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Response<Body>> {
    Ok(json_response(StatusCode::OK, &engine.exec().inspect(&id)?))
}

pub async fn resize(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response<Body>> {
    let p = Params::from_query(q.as_deref());
    let h = p.int("h")?.unwrap_or(0).clamp(0, u16::MAX as i64) as u16;
    let w = p.int("w")?.unwrap_or(0).clamp(0, u16::MAX as i64) as u16;
    engine.exec().resize(&id, h, w).await?;
    Ok(json_response(StatusCode::OK, &json!({})))
}
