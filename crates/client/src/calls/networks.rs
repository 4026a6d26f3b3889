//! `/networks/...`: create, list, inspect, connect, disconnect, remove.

use berth_api::model::{ConfigReference, Network, NetworkCreateResponse, NetworkDisconnectRequest};
use berth_api::network::Ipam;
use indexmap::IndexMap;
use serde::Serialize;

use crate::client::{q, Client, Result};

/// The body of `POST /networks/create` as the docker CLI sends it.
///
/// Not the generated `NetworkCreateRequest`, whose `EnableIPv4` and
/// `EnableIPv6` are plain booleans: they are Go pointers, unset meaning
/// the daemon's default (IPv4 on), and a client must be able to leave them
/// out. `IPAM` is the hand-kept `berth_api::network::Ipam`, whose unset
/// config members are left out as Go's `omitempty` does. The members are
/// in the docker CLI 28's order; `CheckDuplicate` is what clients send
/// before API 1.44.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NetworkCreate {
    #[serde(rename = "Driver")]
    pub driver: String,
    #[serde(rename = "Scope")]
    pub scope: String,
    #[serde(rename = "EnableIPv4", skip_serializing_if = "Option::is_none")]
    pub enable_ipv4: Option<bool>,
    #[serde(rename = "EnableIPv6", skip_serializing_if = "Option::is_none")]
    pub enable_ipv6: Option<bool>,
    #[serde(rename = "IPAM")]
    pub ipam: Ipam,
    #[serde(rename = "Internal")]
    pub internal: bool,
    #[serde(rename = "Attachable")]
    pub attachable: bool,
    #[serde(rename = "Ingress")]
    pub ingress: bool,
    #[serde(rename = "ConfigOnly")]
    pub config_only: bool,
    #[serde(rename = "ConfigFrom")]
    pub config_from: Option<ConfigReference>,
    #[serde(rename = "Options")]
    pub options: IndexMap<String, String>,
    #[serde(rename = "Labels")]
    pub labels: IndexMap<String, String>,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "CheckDuplicate", skip_serializing_if = "Option::is_none")]
    pub check_duplicate: Option<bool>,
}

impl Client {
    /// `POST /networks/create`: a [`NetworkCreate`] (as the docker CLI
    /// sends it) or the generated `NetworkCreateRequest`.
    pub async fn create_network(&self, request: &impl Serialize) -> Result<NetworkCreateResponse> {
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
