//! `/_ping`, `/version`, `/info`, `/auth`.

use berth_api::model::{AuthConfig, SystemAuthResponse};
use berth_api::types::VersionResponse;
use serde_json::Value;

use crate::client::{check, collect, Client, Result};

impl Client {
    /// `GET /_ping`: the body (`OK`).
    pub async fn ping(&self) -> Result<String> {
        let resp = self.send_raw("GET", "/_ping", None, "", None).await?;
        let resp = check(resp).await?;
        Ok(String::from_utf8_lossy(&collect(resp).await?).into_owned())
    }

    pub async fn version(&self) -> Result<VersionResponse> {
        self.get("/version").await
    }

    pub async fn info(&self) -> Result<Value> {
        self.get("/info").await
    }

    /// `POST /auth`: checks the credentials with the registry.
    pub async fn auth(&self, config: &AuthConfig) -> Result<SystemAuthResponse> {
        self.post("/auth", config).await
    }
}
