//! `/volumes/...`: parse, call the engine, render.

use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{Response, StatusCode};
use berth_api::version::ApiVersion;
use berth_api::Error;
use berth_engine::Filters;
use bytes::Bytes;
use indexmap::IndexMap;
use serde::Deserialize;

use super::{blocking, json_response, ApiResult, AppState};
use crate::params::Params;
use crate::server::RequestVersion;

/// The body of `POST /volumes/create` (`VolumeCreateOptions`, decoded by
/// Go's rules). Kept here rather than the generated `VolumeCreateOptions`
/// because a name or driver given as `null` is "not given" (`None`).
#[derive(Debug, Default, Deserialize)]
struct CreateOptions {
    #[serde(rename = "Name", default)]
    name: Option<String>,
    #[serde(rename = "Driver", default)]
    driver: Option<String>,
    #[serde(rename = "DriverOpts", default)]
    driver_opts: Option<IndexMap<String, String>>,
    #[serde(rename = "Labels", default)]
    labels: Option<IndexMap<String, String>>,
    #[serde(rename = "ClusterVolumeSpec", default)]
    cluster_volume_spec: Option<serde_json::Value>,
}

pub async fn list(
    State(engine): State<AppState>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response<Body>> {
    let filters = Filters::parse(Params::from_query(q.as_deref()).get("filters"))?;
    let v = blocking(move || engine.volumes().list(&filters)).await?;
    Ok(json_response(StatusCode::OK, &v))
}

pub async fn create(State(engine): State<AppState>, body: Bytes) -> ApiResult<Response<Body>> {
    let opts: CreateOptions = berth_api::json::from_body(&body)?;
    if opts
        .cluster_volume_spec
        .as_ref()
        .is_some_and(|v| !v.is_null())
    {
        return Err(
            Error::invalid("cluster volumes need swarm mode, which berth does not run").into(),
        );
    }
    let v = blocking(move || {
        engine.volumes().create(
            opts.name.as_deref(),
            opts.driver.as_deref(),
            opts.labels.unwrap_or_default(),
            opts.driver_opts.unwrap_or_default(),
        )
    })
    .await?;
    Ok(json_response(StatusCode::CREATED, &v))
}

pub async fn inspect(
    State(engine): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Response<Body>> {
    let v = blocking(move || engine.volumes().inspect(&name)).await?;
    Ok(json_response(StatusCode::OK, &v))
}

pub async fn remove(
    State(engine): State<AppState>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response<Body>> {
    let force = Params::from_query(q.as_deref()).bool("force");
    blocking(move || engine.volumes().remove(&name, force)).await?;
    Ok(Response::builder()
        .status(StatusCode::NO_CONTENT)
        .body(Body::empty())
        .unwrap_or_default())
}

pub async fn prune(
    State(engine): State<AppState>,
    RawQuery(q): RawQuery,
    req: Request,
) -> ApiResult<Response<Body>> {
    let filters = Filters::parse(Params::from_query(q.as_deref()).get("filters"))?;
    let version = req
        .extensions()
        .get::<RequestVersion>()
        .map(|v| v.0)
        .unwrap_or(ApiVersion::CURRENT);
    // Before API 1.42 a prune took every unused volume, named ones too.
    let all_by_default = version < ApiVersion(1, 42);
    let v = blocking(move || engine.volumes().prune(&filters, all_by_default)).await?;
    Ok(json_response(StatusCode::OK, &v))
}
