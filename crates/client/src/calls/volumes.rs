//! `/volumes/...`: create, list, inspect, remove.

use berth_api::model::{Volume, VolumeCreateOptions, VolumeListResponse};

use crate::client::{q, Client, Result};

impl Client {
    /// `POST /volumes/create`.
    pub async fn create_volume(&self, options: &VolumeCreateOptions) -> Result<Volume> {
        self.post("/volumes/create", options).await
    }

    /// `GET /volumes`.
    pub async fn list_volumes(&self) -> Result<VolumeListResponse> {
        self.get("/volumes").await
    }

    /// `GET /volumes/{name}`.
    pub async fn inspect_volume(&self, name: &str) -> Result<Volume> {
        self.get(&format!("/volumes/{}", q(name))).await
    }

    /// `DELETE /volumes/{name}`.
    pub async fn remove_volume(&self, name: &str, force: bool) -> Result<()> {
        self.call(
            "DELETE",
            &format!("/volumes/{}?force={}", q(name), force as u8),
        )
        .await
    }
}
