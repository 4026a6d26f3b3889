//! `/containers/...`.

use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{Response, StatusCode};
use berth_api::types::CreateBody;
use berth_api::version::ApiVersion;
use berth_api::Error;
use berth_engine::containers::logs::LogOptions;
use berth_engine::Filters;
use bytes::Bytes;
use serde_json::json;

use super::{blocking, json_response, stream_body, ApiResult, AppState};
use crate::params::Params;
use crate::server::RequestVersion;

pub(super) fn params(q: &Option<String>) -> Params {
    Params::from_query(q.as_deref())
}

fn no_content() -> Response<Body> {
    Response::builder()
        .status(StatusCode::NO_CONTENT)
        .body(Body::empty())
        .unwrap_or_default()
}

pub async fn list(
    State(engine): State<AppState>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response<Body>> {
    let p = params(&q);
    let filters = Filters::parse(p.get("filters"))?;
    filters.validate(&[
        "ancestor",
        "before",
        "expose",
        "exited",
        "health",
        "id",
        "isolation",
        "is-task",
        "label",
        "name",
        "network",
        "publish",
        "since",
        "status",
        "volume",
    ])?;
    for s in filters.get("status") {
        if ![
            "created",
            "restarting",
            "running",
            "removing",
            "paused",
            "exited",
            "dead",
        ]
        .contains(&s.as_str())
        {
            return Err(Error::invalid(format!("invalid filter 'status={s}'")).into());
        }
    }
    let limit = p.int("limit")?.filter(|l| *l > 0).map(|l| l as usize);
    let size = p.bool("size");
    let engine2 = engine.clone();
    let all = p.bool("all");
    let list = blocking(move || engine2.containers().list(all, limit, size, &filters)).await?;
    Ok(json_response(StatusCode::OK, &list))
}

pub async fn create(
    State(engine): State<AppState>,
    RawQuery(q): RawQuery,
    version: Option<axum::Extension<RequestVersion>>,
    body: Bytes,
) -> ApiResult<Response<Body>> {
    let p = params(&q);
    let mut body = CreateBody::parse(&body)?;
    // `StartInterval` is API 1.44's; dockerd drops it from older clients.
    if version.is_some_and(|v| v.0 .0 < ApiVersion(1, 44)) {
        if let Some(h) = body.config.healthcheck.as_mut() {
            h.start_interval = 0;
        }
    }
    let name = p.get("name").map(str::to_string);
    let engine2 = engine.clone();
    let (id, warnings) =
        blocking(move || engine2.containers().create(name.as_deref(), body)).await?;
    Ok(json_response(
        StatusCode::CREATED,
        &json!({"Id": id, "Warnings": warnings}),
    ))
}

pub async fn inspect(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response<Body>> {
    let size = params(&q).bool("size");
    Ok(json_response(
        StatusCode::OK,
        &engine.containers().inspect(&id, size)?,
    ))
}

pub async fn start(
    State(engine): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Response<Body>> {
    engine.containers().start(&id).await?;
    Ok(no_content())
}

pub async fn stop(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response<Body>> {
    let p = params(&q);
    engine
        .containers()
        .stop(&id, p.int("t")?, p.get("signal"))
        .await?;
    Ok(no_content())
}

pub async fn restart(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response<Body>> {
    let p = params(&q);
    engine
        .containers()
        .restart(&id, p.int("t")?, p.get("signal"))
        .await?;
    Ok(no_content())
}

pub async fn top(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response<Body>> {
    let args = params(&q).get("ps_args").unwrap_or("").to_string();
    let v = blocking(move || engine.containers().top(&id, &args)).await?;
    Ok(json_response(StatusCode::OK, &v))
}

pub async fn pause(
    State(engine): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Response<Body>> {
    engine.containers().set_paused(&id, true).await?;
    Ok(no_content())
}

pub async fn unpause(
    State(engine): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Response<Body>> {
    engine.containers().set_paused(&id, false).await?;
    Ok(no_content())
}

pub async fn kill(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response<Body>> {
    engine
        .containers()
        .kill(&id, params(&q).get("signal"))
        .await?;
    Ok(no_content())
}

/// Answers once the condition holds. The status line goes out at once so a
/// client that waits before `start` (as `docker run` does) knows the wait is set.
pub async fn wait(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response<Body>> {
    let p = params(&q);
    let condition = p.get("condition").unwrap_or("not-running").to_string();
    engine.lookup(&id)?;
    match condition.as_str() {
        "" | "not-running" | "next-exit" | "removed" => {}
        other => return Err(Error::invalid(format!("invalid condition: \"{other}\"")).into()),
    }
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        let body = match engine.containers().wait(&id, &condition).await {
            Ok(w) => serde_json::to_vec(&w).unwrap_or_default(),
            Err(e) => {
                serde_json::to_vec(&json!({"StatusCode": -1, "Error": {"Message": e.message}}))
                    .unwrap_or_default()
            }
        };
        let mut body = body;
        body.push(b'\n');
        let _ = tx.send(Bytes::from(body)).await;
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(stream_body(rx))
        .unwrap_or_default())
}

pub async fn remove(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response<Body>> {
    let p = params(&q);
    if p.bool("link") {
        return Err(Error::invalid("links are not supported by berth").into());
    }
    engine
        .containers()
        .remove(&id, p.bool("force"), p.bool("v"))
        .await?;
    Ok(no_content())
}

pub async fn rename(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response<Body>> {
    let p = params(&q);
    let name = p.get("name").unwrap_or("").to_string();
    engine.containers().rename(&id, &name)?;
    Ok(no_content())
}

pub async fn resize(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response<Body>> {
    let p = params(&q);
    let h = p.int("h")?.unwrap_or(0).clamp(0, u16::MAX as i64) as u16;
    let w = p.int("w")?.unwrap_or(0).clamp(0, u16::MAX as i64) as u16;
    engine.containers().resize(&id, h, w).await?;
    Ok(json_response(StatusCode::OK, &json!({})))
}

pub async fn prune(
    State(engine): State<AppState>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response<Body>> {
    let filters = Filters::parse(params(&q).get("filters"))?;
    filters.validate(&["until", "label", "label!"])?;
    let (deleted, reclaimed) = engine.containers().prune(&filters).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"ContainersDeleted": deleted, "SpaceReclaimed": reclaimed}),
    ))
}

pub async fn logs(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    req: Request,
) -> ApiResult<Response<Body>> {
    let p = params(&q);
    let time = |k: &str| -> Result<Option<f64>, Error> {
        match p.get(k).filter(|v| !v.is_empty() && *v != "0") {
            None => Ok(None),
            Some(v) => v
                .parse::<f64>()
                .ok()
                .or_else(|| berth_engine::parse_time(v).map(|t| t as f64))
                .map(Some)
                .ok_or_else(|| Error::invalid(format!("invalid value for {k}: {v}"))),
        }
    };
    let tail = match p.get("tail") {
        None | Some("") | Some("all") => None,
        Some(t) => Some(
            t.parse::<i64>()
                .map_err(|_| Error::invalid(format!("invalid value for tail: {t}")))?
                .max(0) as usize,
        ),
    };
    let opts = LogOptions {
        follow: p.bool("follow"),
        stdout: p.bool("stdout"),
        stderr: p.bool("stderr"),
        since: time("since")?,
        until: time("until")?,
        timestamps: p.bool("timestamps"),
        tail,
    };
    let (tty, rx) = engine.containers().logs(&id, opts)?;
    let v = req
        .extensions()
        .get::<RequestVersion>()
        .map(|v| v.0)
        .unwrap_or(ApiVersion::CURRENT);
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", stream_type(tty, v))
        .body(stream_body(rx))
        .unwrap_or_default())
}

pub(super) fn stream_type(tty: bool, v: ApiVersion) -> &'static str {
    if tty || v < ApiVersion(1, 42) {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    }
}
