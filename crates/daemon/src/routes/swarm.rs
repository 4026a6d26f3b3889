//! Swarm mode's endpoints: `/swarm*` and `/nodes*` call the daemon's
//! [`Cluster`]; `/services`, `/tasks`, `/secrets` and `/configs` (issue
//! 18) answer as dockerd does on a node that is no manager, and on a
//! manager list what exists (nothing yet) and refuse to create.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{Response, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use berth_api::model::SwarmJoinRequest;
use berth_api::views::swarm::{InitRequest, NodeSpec, SwarmSpec};
use berth_api::Error;
use berth_engine::Filters;
use berth_swarm::cluster::{Cluster, NodeFilters, Rotations};
use bytes::Bytes;

use super::{json_response, ApiError, ApiResult, Daemon};
use crate::params::Params;

pub type SwarmState = Arc<Cluster>;

fn empty(status: StatusCode) -> Response<Body> {
    Response::builder()
        .status(status)
        .body(Body::empty())
        .unwrap_or_default()
}

/// `?version=N` of an update, worded as dockerd's (`what`: swarm, node).
fn version(p: &Params, what: &str) -> Result<u64, Error> {
    let v = p.get("version").unwrap_or_default();
    v.parse().map_err(|_| {
        Error::invalid(format!(
            "invalid {what} version '{v}': strconv.ParseUint: parsing \"{v}\": invalid syntax"
        ))
    })
}

async fn init(State(swarm): State<SwarmState>, body: Bytes) -> ApiResult<Response<Body>> {
    let req: InitRequest = berth_api::json::from_body(&body)?;
    let id = swarm.init(req).await?;
    Ok(json_response(StatusCode::OK, &id))
}

async fn join(State(swarm): State<SwarmState>, body: Bytes) -> ApiResult<Response<Body>> {
    let req: SwarmJoinRequest = berth_api::json::from_body(&body)?;
    swarm.join(req).await?;
    Ok(empty(StatusCode::OK))
}

async fn leave(
    State(swarm): State<SwarmState>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response<Body>> {
    let p = Params::from_query(q.as_deref());
    swarm.leave(p.bool("force")).await?;
    Ok(empty(StatusCode::OK))
}

async fn inspect(State(swarm): State<SwarmState>) -> ApiResult<Response<Body>> {
    Ok(json_response(StatusCode::OK, &swarm.inspect().await?))
}

async fn update(
    State(swarm): State<SwarmState>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult<Response<Body>> {
    let p = Params::from_query(q.as_deref());
    let spec: SwarmSpec = berth_api::json::from_body(&body)?;
    let rotations = Rotations {
        worker_token: p.bool("rotateWorkerToken"),
        manager_token: p.bool("rotateManagerToken"),
        unlock_key: p.bool("rotateManagerUnlockKey"),
    };
    swarm.update(version(&p, "swarm")?, rotations, spec).await?;
    Ok(empty(StatusCode::OK))
}

async fn unlock_key(State(swarm): State<SwarmState>) -> ApiResult<Response<Body>> {
    Ok(json_response(StatusCode::OK, &swarm.unlock_key().await?))
}

async fn unlock(State(swarm): State<SwarmState>, body: Bytes) -> ApiResult<Response<Body>> {
    let req: berth_api::model::SwarmUnlockRequest = berth_api::json::from_body(&body)?;
    swarm.unlock(&req.unlock_key).await?;
    Ok(empty(StatusCode::OK))
}

fn node_filters(q: Option<&str>) -> Result<NodeFilters, Error> {
    let p = Params::from_query(q);
    let f = Filters::parse(p.get("filters"))?;
    f.validate(&["id", "label", "name", "node.label", "membership", "role"])?;
    let all = |k: &str| f.get(k).to_vec();
    Ok(NodeFilters {
        id: all("id"),
        name: all("name"),
        role: all("role"),
        membership: all("membership"),
        label: all("label"),
        node_label: all("node.label"),
    })
}

async fn nodes(
    State(swarm): State<SwarmState>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response<Body>> {
    let filters = node_filters(q.as_deref())?;
    Ok(json_response(StatusCode::OK, &swarm.nodes(&filters).await?))
}

async fn node(
    State(swarm): State<SwarmState>,
    Path(id): Path<String>,
) -> ApiResult<Response<Body>> {
    Ok(json_response(StatusCode::OK, &swarm.node(&id).await?))
}

async fn update_node(
    State(swarm): State<SwarmState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult<Response<Body>> {
    let p = Params::from_query(q.as_deref());
    let spec: NodeSpec = berth_api::json::from_body(&body)?;
    swarm.update_node(&id, version(&p, "node")?, spec).await?;
    Ok(empty(StatusCode::OK))
}

async fn remove_node(
    State(swarm): State<SwarmState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response<Body>> {
    let p = Params::from_query(q.as_deref());
    swarm.remove_node(&id, p.bool("force")).await?;
    Ok(empty(StatusCode::OK))
}

/// Services, tasks, secrets and configs come with issue 18: a manager
/// has none to list and cannot make them yet; elsewhere dockerd's
/// not-a-manager answer.
async fn objects_list(State(swarm): State<SwarmState>, req: Request) -> ApiResult<Response<Body>> {
    let _ = axum::body::to_bytes(req.into_body(), 1 << 20).await;
    swarm.require_manager().await?;
    Ok(json_response(StatusCode::OK, &Vec::<()>::new()))
}

async fn objects_unsupported(
    State(swarm): State<SwarmState>,
    req: Request,
) -> ApiResult<Response<Body>> {
    let path = req.uri().path().to_string();
    let _ = axum::body::to_bytes(req.into_body(), 1 << 20).await;
    swarm.require_manager().await?;
    let object = path
        .trim_start_matches('/')
        .split('/')
        .find(|s| ["services", "tasks", "secrets", "configs"].contains(s))
        .unwrap_or("services");
    Err(ApiError(Error::unavailable(format!(
        "berthd does not support swarm {object} yet"
    ))))
}

/// Every path of swarm mode (API 1.47).
pub fn router() -> Router<Daemon> {
    let mut r = Router::new()
        .route("/swarm", get(inspect))
        .route("/swarm/init", post(init))
        .route("/swarm/join", post(join))
        .route("/swarm/leave", post(leave))
        .route("/swarm/update", post(update))
        .route("/swarm/unlockkey", get(unlock_key))
        .route("/swarm/unlock", post(unlock))
        .route("/nodes", get(nodes))
        .route("/nodes/{id}", get(node).delete(remove_node))
        .route("/nodes/{id}/update", post(update_node));
    for object in ["services", "tasks", "secrets", "configs"] {
        let unsupported = || {
            get(objects_unsupported)
                .post(objects_unsupported)
                .delete(objects_unsupported)
        };
        r = r
            .route(&format!("/{object}"), get(objects_list))
            .route(&format!("/{object}/create"), unsupported())
            .route(&format!("/{object}/{{id}}"), unsupported())
            .route(&format!("/{object}/{{id}}/update"), unsupported())
            .route(&format!("/{object}/{{id}}/logs"), unsupported());
    }
    r
}
