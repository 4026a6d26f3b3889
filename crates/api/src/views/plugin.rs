//! `GET /plugins`, `GET /plugins/{name}/json` and what a plugin's
//! `config.json` holds (moby's `types.Plugin` and `PluginConfig`).

use serde::{Deserialize, Serialize};

pub use crate::model::{
    PluginConfigArgs, PluginConfigLinux, PluginConfigNetwork, PluginConfigRootfs, PluginDevice,
    PluginEnv, PluginMount, PluginPrivilege, PluginSettings,
};

/// A managed plugin. Not the generated `Plugin`: that holds the generated
/// `PluginConfig`, whose encoding is not dockerd's (see [`PluginConfig`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Plugin {
    #[serde(rename = "Config")]
    pub config: PluginConfig,
    #[serde(rename = "Enabled")]
    pub enabled: bool,
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "PluginReference")]
    pub plugin_reference: String,
    #[serde(rename = "Settings")]
    pub settings: PluginSettings,
}

/// A plugin's config. Not the generated `PluginConfig`: dockerd prints an
/// interface type as the one string its `config.json` has
/// (`docker.volumedriver/1.0`), not the spec's object, and `User` without
/// its zero ids (`{}`, Go's `omitempty`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PluginConfig {
    #[serde(rename = "Args")]
    pub args: PluginConfigArgs,
    #[serde(rename = "Description")]
    pub description: String,
    #[serde(rename = "DockerVersion")]
    pub docker_version: String,
    #[serde(rename = "Documentation")]
    pub documentation: String,
    #[serde(rename = "Entrypoint")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(rename = "Env")]
    pub env: Option<Vec<PluginEnv>>,
    #[serde(rename = "Interface")]
    pub interface: PluginConfigInterface,
    #[serde(rename = "IpcHost")]
    pub ipc_host: bool,
    #[serde(rename = "Linux")]
    pub linux: PluginConfigLinux,
    #[serde(rename = "Mounts")]
    pub mounts: Option<Vec<PluginMount>>,
    #[serde(rename = "Network")]
    pub network: PluginConfigNetwork,
    #[serde(rename = "PidHost")]
    pub pid_host: bool,
    #[serde(rename = "PropagatedMount")]
    pub propagated_mount: String,
    #[serde(rename = "User")]
    pub user: PluginConfigUser,
    #[serde(rename = "WorkDir")]
    pub work_dir: String,
    #[serde(rename = "rootfs")]
    pub rootfs: Option<PluginConfigRootfs>,
}

/// `Config.Interface`: `Types` as `prefix.capability/version` strings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PluginConfigInterface {
    #[serde(rename = "ProtocolScheme", skip_serializing_if = "String::is_empty")]
    pub protocol_scheme: String,
    #[serde(rename = "Socket")]
    pub socket: String,
    #[serde(rename = "Types")]
    pub types: Option<Vec<String>>,
}

impl PluginConfigInterface {
    /// Whether the plugin implements `capability` (`volumedriver`,
    /// `authz`, `logdriver`, ...), of any prefix and version.
    pub fn has_capability(&self, capability: &str) -> bool {
        self.types.iter().flatten().any(|t| {
            t.split_once('/')
                .map_or(t.as_str(), |(rest, _)| rest)
                .split_once('.')
                .is_some_and(|(_, c)| c == capability)
        })
    }
}

/// `Config.User`: dockerd leaves zero ids out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PluginConfigUser {
    #[serde(rename = "UID", skip_serializing_if = "is_zero")]
    pub uid: u32,
    #[serde(rename = "GID", skip_serializing_if = "is_zero")]
    pub gid: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}
