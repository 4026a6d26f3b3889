//! `/networks/...`: create, list, inspect, connect, disconnect, remove.

use berth_api::model::{
    Network, NetworkCreateRequest, NetworkCreateResponse, NetworkDisconnectRequest,
};
use serde::Serialize;

use crate::client::{q, Client, Result};

impl Client {
    /// `POST /networks/create`.
    pub async fn create_network(
        &self,
        request: &NetworkCreateRequest,
    ) -> Result<NetworkCreateResponse> {
        self.post("/networks/create", request).await
    }

    /// `GET /networks`.
    pub async fn list_networks(&self) -> Result<Vec<Network>> {
        self.get("/networks").await
    }

    /// `GET /networks/{id}`.
    pub async fn inspect_network(&self, id: &str) -> Result<Network> {
        self.get(&format!("/networks/{}", q(id))).await
    }

    /// `POST /networks/{id}/connect`: a `NetworkConnectRequest`, or a body
    /// that encodes its endpoint as the docker CLI does (the CLI's).
    pub async fn connect_network(&self, id: &str, request: &impl Serialize) -> Result<()> {
        self.post_no_answer(&format!("/networks/{}/connect", q(id)), request)
            .await
    }

    /// `POST /networks/{id}/disconnect`.
    pub async fn disconnect_network(
        &self,
        id: &str,
        request: &NetworkDisconnectRequest,
    ) -> Result<()> {
        self.post_no_answer(&format!("/networks/{}/disconnect", q(id)), request)
            .await
    }

    /// `DELETE /networks/{id}`.
    pub async fn remove_network(&self, id: &str) -> Result<()> {
        self.call("DELETE", &format!("/networks/{}", q(id))).await
    }
}
