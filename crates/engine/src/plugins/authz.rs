//! Authorization plugins (`--authorization-plugin`): every API request is
//! put to each plugin in turn (`AuthZPlugin.AuthZReq`); the first that
//! does not allow it refuses it with its message, as dockerd does.
//! Responses are not put to `AuthZRes` yet.

use berth_api::{Error, Result};
use serde::{Deserialize, Serialize};

use super::client::PluginClient;
use super::Plugins;

/// What a plugin is asked about one request (moby's `authorization.Request`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct AuthzRequest {
    #[serde(rename = "User", skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(rename = "UserAuthNMethod", skip_serializing_if = "String::is_empty")]
    pub user_authn_method: String,
    #[serde(rename = "RequestMethod")]
    pub method: String,
    /// moby's field is `RequestURI` with the JSON name `RequestUri`.
    #[serde(rename = "RequestUri")]
    pub uri: String,
    /// The body when it is JSON (base64, as Go encodes `[]byte`).
    #[serde(rename = "RequestBody", skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(rename = "RequestHeaders")]
    pub headers: std::collections::BTreeMap<String, String>,
}

/// A plugin's verdict (moby's `authorization.Response`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AuthzAnswer {
    #[serde(rename = "Allow")]
    pub allow: bool,
    #[serde(rename = "Msg")]
    pub msg: String,
    #[serde(rename = "Err")]
    pub err: String,
}

impl Plugins<'_> {
    /// The authorization plugins requests go through, from the daemon's
    /// configuration.
    pub fn set_authorization(&self, names: Vec<String>) {
        *self
            .plugins
            .authz
            .write()
            .unwrap_or_else(|e| e.into_inner()) = names;
    }

    pub fn authorization_plugins(&self) -> Vec<String> {
        self.plugins
            .authz
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Puts `req` to every authorization plugin: `Ok` when all allow it,
    /// else dockerd's 403 with the refusing plugin's message (or a 500
    /// when a plugin cannot be reached or fails).
    pub async fn authorize(&self, req: &AuthzRequest) -> Result<()> {
        for name in self.authorization_plugins() {
            let client = self.authz_client(&name).await?;
            let answer: AuthzAnswer =
                client
                    .call("AuthZPlugin.AuthZReq", req)
                    .await
                    .map_err(|e| {
                        Error::internal(format!("plugin {name} failed with error: {}", e.message))
                    })?;
            if !answer.err.is_empty() {
                return Err(Error::internal(format!(
                    "plugin {name} failed with error: AuthZPlugin.AuthZReq: {}",
                    answer.err
                )));
            }
            if !answer.allow {
                return Err(Error::new(
                    berth_api::ErrorKind::Forbidden,
                    format!("authorization denied by plugin {name}: {}", answer.msg),
                ));
            }
        }
        Ok(())
    }

    /// The client of an enabled managed plugin with the `authz`
    /// capability, or of a legacy plugin that implements `authz`.
    async fn authz_client(&self, name: &str) -> Result<PluginClient> {
        let missing = || Error::internal(format!("plugin {name:?} not found"));
        if let Ok(p) = self.plugins.store.get(name) {
            if !p.enabled || !p.config.interface.has_capability("authz") {
                return Err(Error::internal(format!(
                    "plugin {name} is not an enabled authorization plugin"
                )));
            }
            return Ok(self.client(&p, super::DEFAULT_TIMEOUT));
        }
        let sock = super::legacy::find(name)?.ok_or_else(missing)?;
        Ok(PluginClient::new(
            &sock.dir,
            &sock.file,
            super::DEFAULT_TIMEOUT,
        ))
    }
}
