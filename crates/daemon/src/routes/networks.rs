//! `/networks/...`.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{Response, StatusCode};
use berth_api::Error;
use berth_engine::lifecycle::Filters;
use berth_engine::networks::CreateNetwork;
use bytes::Bytes;
use serde_json::{json, Value};

use super::{json_response, ApiResult, AppState};
use crate::params::Params;

fn body_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::invalid("invalid JSON: request body is empty"));
    }
    serde_json::from_slice(body).map_err(|e| Error::invalid(format!("invalid JSON: {e}")))
}

/// The `Container` of a connect/disconnect body.
fn container_of(v: &Value) -> Result<&str, Error> {
    v.get("Container")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| Error::invalid("no container specified"))
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
        &engine.network_list(&filters)?,
    ))
}

pub async fn inspect(
    State(engine): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Response<Body>> {
    Ok(json_response(StatusCode::OK, &engine.network_inspect(&id)?))
}

pub async fn create(State(engine): State<AppState>, body: Bytes) -> ApiResult<Response<Body>> {
    let req: CreateNetwork = body_json(&body)?;
    let (id, warning) = engine.network_create(req).await?;
    Ok(json_response(
        StatusCode::CREATED,
        &json!({"Id": id, "Warning": warning}),
    ))
}

pub async fn remove(
    State(engine): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Response<Body>> {
    engine.network_remove(&id).await?;
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
    let v: Value = body_json(&body)?;
    let container = container_of(&v)?;
    engine
        .network_connect(
            &id,
            container,
            v.get("EndpointConfig").filter(|c| !c.is_null()),
        )
        .await?;
    Ok(ok_empty())
}

pub async fn disconnect(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response<Body>> {
    let v: Value = body_json(&body)?;
    let container = container_of(&v)?;
    let force = v.get("Force").and_then(Value::as_bool).unwrap_or(false);
    engine.network_disconnect(&id, container, force).await?;
    Ok(ok_empty())
}

pub async fn prune(
    State(engine): State<AppState>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response<Body>> {
    let p = Params::from_query(q.as_deref());
    let filters = Filters::parse(p.get("filters"))?;
    let gone = engine.network_prune(&filters).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"NetworksDeleted": gone}),
    ))
}
