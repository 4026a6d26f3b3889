//! Container views that are not whole answers: inspect's `Mounts` and the
//! `X-Docker-Container-Path-Stat` header of the archive endpoints.

use serde::{Deserialize, Serialize};

/// One entry of inspect's (and `/containers/json`'s) `Mounts` (moby's
/// `container.MountPoint`). Not the generated `MountPoint`: the spec gives
/// `Type` as an enum object, and does not say that Go leaves `Name` and
/// `Driver` out when empty (`omitempty`): binds and tmpfs print neither.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MountPoint {
    #[serde(rename = "Type")]
    pub r#type: String,
    #[serde(rename = "Name", skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(rename = "Source")]
    pub source: String,
    #[serde(rename = "Destination")]
    pub destination: String,
    #[serde(rename = "Driver", skip_serializing_if = "String::is_empty")]
    pub driver: String,
    #[serde(rename = "Mode")]
    pub mode: String,
    #[serde(rename = "RW")]
    pub rw: bool,
    #[serde(rename = "Propagation")]
    pub propagation: String,
}

/// The stat of a path in a container, base64 JSON in the
/// `X-Docker-Container-Path-Stat` header (moby's `container.PathStat`).
/// The spec only names the header, without a schema. `mode` is Go's
/// `os.FileMode` (type bits at the top), not a Unix mode.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerPathStat {
    pub name: String,
    pub size: i64,
    pub mode: u32,
    pub mtime: String,
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}
