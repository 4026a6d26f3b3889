//! `HEAD/GET/PUT /containers/{id}/archive?path=` (`docker cp`). The engine
//! resolves paths inside the container's root (`berth_engine::containers::archive`);
//! here the stat goes into `X-Docker-Container-Path-Stat` (base64 JSON, as
//! dockerd) and the tar streams through a channel from a blocking thread.

use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{Response, StatusCode};
use base64::Engine as _;
use berth_api::views::ContainerPathStat;
use berth_api::Error;
use berth_engine::containers::archive::PutOptions;
use bytes::Bytes;
use futures_util::TryStreamExt;

use super::{blocking, stream_body, ApiError, ApiResult, AppState};
use crate::params::Params;

const STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

fn path_param(q: &Option<String>) -> ApiResult<(Params, String)> {
    let p = Params::from_query(q.as_deref());
    let path = p.get("path").unwrap_or("").to_string();
    if path.is_empty() {
        return Err(ApiError(Error::invalid("Path cannot be empty")));
    }
    Ok((p, path))
}

fn stat_header(st: &ContainerPathStat) -> String {
    base64::engine::general_purpose::STANDARD.encode(serde_json::to_string(st).unwrap_or_default())
}

pub async fn head(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response<Body>> {
    let (_, path) = path_param(&q)?;
    let st = blocking(move || engine.containers().archive_stat(&id, &path)).await?;
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(STAT_HEADER, stat_header(&st))
        .header("Content-Type", "application/json")
        .body(Body::empty())
        .unwrap_or_default())
}

pub async fn get(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response<Body>> {
    let (_, path) = path_param(&q)?;
    let (stat_tx, stat_rx) =
        tokio::sync::oneshot::channel::<berth_api::Result<ContainerPathStat>>();
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(8);
    tokio::task::spawn_blocking(move || {
        let mut stat_tx = Some(stat_tx);
        let out = std::io::BufWriter::with_capacity(64 * 1024, super::ChannelWriter(tx));
        let r = engine.containers().archive_get(
            &id,
            &path,
            |st| {
                if let Some(t) = stat_tx.take() {
                    let _ = t.send(Ok(st.clone()));
                }
                true
            },
            out,
        );
        if let Err(e) = r {
            if let Some(t) = stat_tx.take() {
                let _ = t.send(Err(e));
            } else {
                tracing::warn!(error = %e.message, "archive stream cut short");
            }
        }
    });
    let st = stat_rx
        .await
        .map_err(|_| ApiError(Error::internal("archive worker ended")))?
        .map_err(ApiError)?;
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(STAT_HEADER, stat_header(&st))
        .header("Content-Type", "application/x-tar")
        .body(stream_body(rx))
        .unwrap_or_default())
}

pub async fn put(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    req: Request,
) -> ApiResult<Response<Body>> {
    let (p, path) = path_param(&q)?;
    let flag = |k: &str| matches!(p.get(k), Some("1") | Some("true") | Some("True"));
    let opts = PutOptions {
        no_overwrite_dir_non_dir: flag("noOverwriteDirNonDir"),
        copy_uid_gid: flag("copyUIDGID"),
        chown: None,
    };
    let stream = req
        .into_body()
        .into_data_stream()
        .map_err(std::io::Error::other);
    let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream));
    blocking(move || {
        let mut reader = reader;
        let done = engine
            .containers()
            .archive_put(&id, &path, &mut reader, opts);
        // The tar reader stops at the end-of-archive blocks (tar(1) pads its
        // last record beyond them), and a refusal (a read-only mount) comes
        // before any of it is read. Read the rest (bounded, as Go's server
        // discards an unread body) so the client never writes into a closed
        // connection (EPIPE) and reads the answer instead.
        let _ = std::io::copy(
            &mut std::io::Read::take(&mut reader, 1 << 20),
            &mut std::io::sink(),
        );
        done
    })
    .await?;
    Ok(Response::builder()
        .status(StatusCode::OK)
        .body(Body::empty())
        .unwrap_or_default())
}
