//! `/networks/...`.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{Response, StatusCode};
use berth_api::model::{NetworkConnectRequest, NetworkCreateRequest, NetworkDisconnectRequest};
use berth_api::Error;
use berth_engine::Filters;
use bytes::Bytes;
use serde_json::json;

use super::{json_response, ApiResult, AppState};
use crate::params::Params;

/// A JSON body by Go's decoding rules ([`berth_api::json`]); dockerd
/// refuses an empty one for these routes.
fn body_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::invalid("invalid JSON: request body is empty"));
    }
    berth_api::json::from_slice(body)
}

fn no_container(container: &str) -> Result<(), Error> {
    if container.is_empty() {
        return Err(Error::invalid("no container specified"));
    }
    Ok(())
}

fn ok_empty() -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .body(Body::empty())
        .unwrap_or_default()
}

pub async fn list(
    State(engine): State<AppState>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response<Body>> {
    let p = Params::from_query(q.as_deref());
    let filters = Filters::parse(p.get("filters"))?;
    Ok(json_response(
        StatusCode::OK,
        &engine.networks().list(&filters)?,
    ))
}

pub async fn inspect(
    State(engine): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Response<Body>> {
    Ok(json_response(
        StatusCode::OK,
        &engine.networks().inspect(&id)?,
    ))
}

pub async fn create(State(engine): State<AppState>, body: Bytes) -> ApiResult<Response<Body>> {
    let req: NetworkCreateRequest = body_json(&body)?;
    let created = engine.networks().create(req).await?;
    Ok(json_response(StatusCode::CREATED, &created))
}

pub async fn remove(
    State(engine): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Response<Body>> {
    engine.networks().remove(&id).await?;
    Ok(Response::builder()
        .status(StatusCode::NO_CONTENT)
        .body(Body::empty())
        .unwrap_or_default())
}

pub async fn connect(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response<Body>> {
    let req: NetworkConnectRequest = body_json(&body)?;
    no_container(&req.container)?;
    engine
        .networks()
        .connect(&id, &req.container, Some(&req.endpoint_config))
        .await?;
    Ok(ok_empty())
}

pub async fn disconnect(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response<Body>> {
    let req: NetworkDisconnectRequest = body_json(&body)?;
    no_container(&req.container)?;
    engine
        .networks()
        .disconnect(&id, &req.container, req.force)
        .await?;
    Ok(ok_empty())
}

pub async fn prune(
    State(engine): State<AppState>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response<Body>> {
    let p = Params::from_query(q.as_deref());
    let filters = Filters::parse(p.get("filters"))?;
    let gone = engine.networks().prune(&filters).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"NetworksDeleted": gone}),
    ))
}
