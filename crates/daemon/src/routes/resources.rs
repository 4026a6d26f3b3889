//! `POST /containers/{id}/update` and `GET /containers/{id}/stats`.

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{Response, StatusCode};
use berth_api::views::{ContainerUpdateBody, ContainerUpdateResponse};
use berth_api::Error;

use super::{blocking, json_response, ApiError, ApiResult, AppState};

pub async fn update(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response<Body>> {
    // Decoded by Go's rules (unknown fields ignored, keys in any case,
    // `null` as zero); the engine reads zero as "unchanged", as moby does.
    let req: ContainerUpdateBody = berth_api::json::from_body(&body)?;
    let warnings = blocking(move || engine.containers().update(&id, &req)).await?;
    Ok(json_response(
        StatusCode::OK,
        &ContainerUpdateResponse {
            warnings: Some(warnings),
        },
    ))
}

/// `GET /containers/{id}/stats?stream=&one-shot=`: a document a second while
/// streaming (each with the previous sample as `precpu_stats`); without a
/// stream, two samples half a second apart so CPU percentages can be
/// computed, or one with `one-shot`.
pub async fn stats(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    axum::extract::RawQuery(q): axum::extract::RawQuery,
) -> ApiResult<Response<Body>> {
    let p = crate::params::Params::from_query(q.as_deref());
    let stream = p.get("stream").map(truthy).unwrap_or(true);
    let one_shot = p.get("one-shot").map(truthy).unwrap_or(false);
    if one_shot && stream {
        return Err(ApiError(Error::invalid(
            "cannot have stream=true and one-shot=true",
        )));
    }
    let e = engine.clone();
    let key = id.clone();
    let (name, full, first) = blocking(move || e.containers().stats_sample(&key)).await?;
    let Some(first) = first else {
        return Ok(json_response(
            StatusCode::OK,
            &berth_engine::containers::stats::not_running(&name, &full),
        ));
    };
    if !stream {
        if one_shot {
            return Ok(json_response(
                StatusCode::OK,
                &first.document(None, &name, &full),
            ));
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let e = engine.clone();
        let (_, _, second) = blocking(move || e.containers().stats_sample(&id)).await?;
        let doc = match second {
            Some(s) => s.document(Some(&first), &name, &full),
            None => berth_engine::containers::stats::not_running(&name, &full),
        };
        return Ok(json_response(StatusCode::OK, &doc));
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(4);
    tokio::spawn(async move {
        let mut pre: Option<berth_engine::containers::stats::Sample> = None;
        let mut cur = Some(first);
        while let Some(s) = cur.take() {
            let mut line =
                serde_json::to_vec(&s.document(pre.as_ref(), &name, &full)).unwrap_or_default();
            line.push(b'\n');
            if tx.send(bytes::Bytes::from(line)).await.is_err() {
                return;
            }
            pre = Some(s);
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            let (e, key) = (engine.clone(), id.clone());
            cur = match tokio::task::spawn_blocking(move || e.containers().stats_sample(&key)).await
            {
                Ok(Ok((_, _, s))) => s,
                _ => None,
            };
        }
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(super::stream_body(rx))
        .unwrap_or_default())
}

fn truthy(v: &str) -> bool {
    matches!(v, "1" | "true" | "True" | "TRUE")
}
