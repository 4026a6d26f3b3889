//! `/swarm/...` and `/nodes/...`: swarm mode's calls.

use berth_api::model::{SwarmJoinRequest, SwarmUnlockRequest, UnlockKeyResponse};
use berth_api::views::swarm::{InitRequest, Node, NodeSpec, Swarm, SwarmSpec};
use berth_api::views::SystemInfo;
use serde::Serialize;

use crate::client::{q, Client, Result};

/// `POST /swarm/join`'s body: the generated request lacks `Availability`,
/// which the docker CLI sends (`--availability`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct JoinRequest {
    #[serde(flatten)]
    pub request: SwarmJoinRequest,
    #[serde(rename = "Availability")]
    pub availability: String,
}

/// Which secrets `POST /swarm/update` rotates along with the spec.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RotateFlags {
    pub worker_token: bool,
    pub manager_token: bool,
    pub unlock_key: bool,
}

impl Client {
    /// `GET /info`, typed.
    pub async fn system_info(&self) -> Result<SystemInfo> {
        self.get("/info").await
    }

    /// `POST /swarm/init`: the new node's ID.
    pub async fn swarm_init(&self, request: &InitRequest) -> Result<String> {
        self.post("/swarm/init", request).await
    }

    /// `POST /swarm/join`.
    pub async fn swarm_join(&self, request: &JoinRequest) -> Result<()> {
        self.post_no_answer("/swarm/join", request).await
    }

    /// `POST /swarm/leave`.
    pub async fn swarm_leave(&self, force: bool) -> Result<()> {
        self.call("POST", &format!("/swarm/leave?force={force}"))
            .await
    }

    /// `GET /swarm`.
    pub async fn swarm_inspect(&self) -> Result<Swarm> {
        self.get("/swarm").await
    }

    /// `POST /swarm/update` at the version read with the spec.
    pub async fn swarm_update(
        &self,
        version: u64,
        spec: &SwarmSpec,
        rotate: RotateFlags,
    ) -> Result<()> {
        let path = format!(
            "/swarm/update?version={version}&rotateWorkerToken={}&rotateManagerToken={}&rotateManagerUnlockKey={}",
            rotate.worker_token, rotate.manager_token, rotate.unlock_key
        );
        self.post_no_answer(&path, spec).await
    }

    /// `GET /swarm/unlockkey`.
    pub async fn swarm_unlock_key(&self) -> Result<UnlockKeyResponse> {
        self.get("/swarm/unlockkey").await
    }

    /// `POST /swarm/unlock`.
    pub async fn swarm_unlock(&self, key: &str) -> Result<()> {
        let body = SwarmUnlockRequest {
            unlock_key: key.to_string(),
        };
        self.post_no_answer("/swarm/unlock", &body).await
    }

    /// `GET /nodes`, with the `filters` query already encoded as JSON.
    pub async fn list_nodes(&self, filters: Option<&str>) -> Result<Vec<Node>> {
        match filters {
            Some(f) => self.get(&format!("/nodes?filters={}", q(f))).await,
            None => self.get("/nodes").await,
        }
    }

    /// `GET /nodes/{id}`.
    pub async fn inspect_node(&self, id: &str) -> Result<Node> {
        self.get(&format!("/nodes/{}", q(id))).await
    }

    /// `POST /nodes/{id}/update` at the version read with the spec.
    pub async fn update_node(&self, id: &str, version: u64, spec: &NodeSpec) -> Result<()> {
        self.post_no_answer(&format!("/nodes/{}/update?version={version}", q(id)), spec)
            .await
    }

    /// `DELETE /nodes/{id}`.
    pub async fn remove_node(&self, id: &str, force: bool) -> Result<()> {
        self.call("DELETE", &format!("/nodes/{}?force={force}", q(id)))
            .await
    }
}
