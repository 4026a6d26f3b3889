//! The swarm endpoints on a node that is not in a swarm, which every berthd
//! is until swarm mode lands (issue 17): dockerd's status and message for
//! each, so clients read "not a swarm manager" instead of a 404 that the
//! docker CLI would print as "page not found". `swarm init` and `join`,
//! which on dockerd would make this node a swarm member, say plainly that
//! berthd cannot yet.

use axum::extract::Request;
use axum::routing::{get, post};
use axum::Router;
use berth_api::Error;

use super::{ApiError, AppState};

/// dockerd's errNoManager: what every manager-only call answers here.
const NOT_A_MANAGER: &str = "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.";

/// dockerd's errNoSwarm: `swarm leave` on a node in none.
const NOT_IN_A_SWARM: &str = "This node is not part of a swarm";

/// Reads the request body to its end before answering: an answer sent
/// while the client still writes its body makes the client see a broken
/// pipe instead of the message.
async fn drained(req: Request) -> String {
    let path = req.uri().path().to_string();
    let _ = axum::body::to_bytes(req.into_body(), 1 << 20).await;
    path
}

async fn not_a_manager(req: Request) -> ApiError {
    drained(req).await;
    ApiError(Error::unavailable(NOT_A_MANAGER))
}

async fn not_in_a_swarm(req: Request) -> ApiError {
    drained(req).await;
    ApiError(Error::unavailable(NOT_IN_A_SWARM))
}

async fn no_swarm_mode(req: Request) -> ApiError {
    let path = drained(req).await;
    let action = path.rsplit('/').next().unwrap_or_default();
    ApiError(Error::unavailable(format!(
        "berthd does not support swarm mode yet: swarm {action} is not available"
    )))
}

/// Every object path of swarm mode (API 1.47), manager-only on dockerd.
pub fn router() -> Router<AppState> {
    let manager_only = || get(not_a_manager).post(not_a_manager).delete(not_a_manager);
    let mut r = Router::new()
        .route("/swarm", get(not_a_manager))
        .route("/swarm/init", post(no_swarm_mode))
        .route("/swarm/join", post(no_swarm_mode))
        .route("/swarm/leave", post(not_in_a_swarm))
        .route("/swarm/update", post(not_a_manager))
        .route("/swarm/unlockkey", get(not_a_manager))
        .route("/swarm/unlock", post(not_a_manager));
    for object in ["nodes", "services", "tasks", "secrets", "configs"] {
        r = r
            .route(&format!("/{object}"), manager_only())
            .route(&format!("/{object}/create"), manager_only())
            .route(&format!("/{object}/{{id}}"), manager_only())
            .route(&format!("/{object}/{{id}}/update"), manager_only())
            .route(&format!("/{object}/{{id}}/logs"), manager_only());
    }
    r
}
