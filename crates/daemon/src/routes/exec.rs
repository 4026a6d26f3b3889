//! `/containers/{id}/exec` and `/exec/...`.

use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{Response, StatusCode};
use berth_api::model::ExecStartConfig;
use berth_api::version::ApiVersion;
use berth_api::Error;
use bytes::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{json_response, ApiResult, AppState};
use crate::params::Params;
use crate::server::RequestVersion;

pub async fn create(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response<Body>> {
    let exec_id = engine.exec_create(&id, &body)?;
    Ok(json_response(StatusCode::CREATED, &json!({"Id": exec_id})))
}

/// Runs the exec: detached, it answers at once and records the exit code
/// in the background; attached, it hijacks the connection like attach.
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
    let inspect = engine.exec_inspect(&id)?;
    let attached = inspect["OpenStdin"] == true
        || inspect["OpenStdout"] == true
        || inspect["OpenStderr"] == true;
    let tty = inspect["ProcessConfig"]["tty"] == true;
    if body.detach || !attached {
        // Nobody reads the output: drain it for the exit code.
        let (mut stream, tty) = engine.exec_start(&id).await?;
        let engine2 = engine.clone();
        tokio::spawn(async move {
            let code = pump(&mut stream, None::<&mut tokio::io::Sink>, true, true, tty).await;
            engine2.exec_finished(&id, code);
        });
        return Ok(Response::builder()
            .status(StatusCode::OK)
            .body(Body::empty())
            .unwrap_or_default());
    }
    let want_stdout = inspect["OpenStdout"] == true;
    let want_stderr = inspect["OpenStderr"] == true;
    let want_stdin = inspect["OpenStdin"] == true;
    // As dockerd: upgrade first, then start; a start failure is written into
    // the stream and becomes the exec's exit code (126), which the CLI reads back.
    tokio::spawn(async move {
        let started = engine.exec_start(&id).await;
        let Ok(upgraded) = upgrade.await else {
            if let Ok((mut stream, tty)) = started {
                let code = pump(&mut stream, None::<&mut tokio::io::Sink>, true, true, tty).await;
                engine.exec_finished(&id, code);
            }
            return;
        };
        let (client_rd, mut client_wr) = tokio::io::split(TokioIo::new(upgraded));
        let stream = match started {
            Ok((stream, _)) => stream,
            Err(e) => {
                // dockerd's words, and its exit code for any failed exec start: 126.
                let why = e
                    .message
                    .trim_start_matches("failed to create task for container: ");
                let msg = format!("OCI runtime exec failed: exec failed: unable to start container process: {why}\r\n");
                let code = 126;
                let _ = if tty {
                    client_wr.write_all(msg.as_bytes()).await
                } else {
                    let h = berth_runtime::proto::frame_header(1, msg.len());
                    match client_wr.write_all(&h).await {
                        Ok(()) => client_wr.write_all(msg.as_bytes()).await,
                        Err(e) => Err(e),
                    }
                };
                // The exit code first: the CLI inspects it as soon as the stream ends.
                engine.exec_finished(&id, code);
                let _ = client_wr.shutdown().await;
                return;
            }
        };
        let (shim_rd, mut shim_wr) = stream.into_split();
        if want_stdin {
            tokio::spawn(async move {
                let mut client_rd = client_rd;
                let mut buf = vec![0u8; 32 * 1024];
                loop {
                    match client_rd.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if shim_wr.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
                let _ = shim_wr.shutdown().await;
            });
        } else {
            let _ = shim_wr.shutdown().await;
        }
        let mut shim_rd = shim_rd;
        let code = pump(
            &mut shim_rd,
            Some(&mut client_wr),
            want_stdout,
            want_stderr,
            tty,
        )
        .await;
        engine.exec_finished(&id, code);
        let _ = client_wr.shutdown().await;
    });
    let content_type = if tty || v < ApiVersion(1, 42) {
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

/// Copies the shim's exec frames to the client (raw with a TTY) until the
/// exit frame; returns the exit code.
async fn pump<R, W>(
    from: &mut R,
    mut to: Option<&mut W>,
    stdout: bool,
    stderr: bool,
    tty: bool,
) -> i64
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    loop {
        let mut h = [0u8; 8];
        if from.read_exact(&mut h).await.is_err() {
            return 137;
        }
        let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize;
        let mut data = vec![0u8; len];
        if from.read_exact(&mut data).await.is_err() {
            return 137;
        }
        if h[0] == berth_runtime::proto::STREAM_EXIT {
            return String::from_utf8_lossy(&data).parse().unwrap_or(137);
        }
        if (h[0] == 1 && !stdout) || (h[0] == 2 && !stderr) {
            continue;
        }
        if let Some(w) = to.as_deref_mut() {
            let ok = if tty {
                w.write_all(&data).await
            } else {
                match w.write_all(&h).await {
                    Ok(()) => w.write_all(&data).await,
                    Err(e) => Err(e),
                }
            };
            if ok.is_err() || w.flush().await.is_err() {
                to = None;
            }
        }
    }
}

pub async fn inspect(
    State(engine): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Response<Body>> {
    Ok(json_response(StatusCode::OK, &engine.exec_inspect(&id)?))
}

pub async fn resize(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response<Body>> {
    let p = Params::from_query(q.as_deref());
    let h = p.int("h")?.unwrap_or(0).clamp(0, u16::MAX as i64) as u16;
    let w = p.int("w")?.unwrap_or(0).clamp(0, u16::MAX as i64) as u16;
    engine.exec_resize(&id, h, w).await?;
    Ok(json_response(StatusCode::OK, &json!({})))
}
