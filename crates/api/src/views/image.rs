//! `GET /images/{name}/json` and `GET /distribution/{name}/json`.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::model::{EmptyObject, ImageInspectMetadata, ImageInspectRootFS};
use crate::types::HealthConfig;

fn is_false(b: &bool) -> bool {
    !*b
}

/// An image as `GET /images/{name}/json` prints it at API 1.47. Not the
/// generated `ImageInspect`: dockerd leaves `Created`, `Variant` and
/// `OsVersion` out when unset (`omitempty` the spec does not state), prints
/// `Config` as `null` for an image without one where the spec has a struct,
/// and `GraphDriver.Data` as `null` when the driver has none. `RootFS` and
/// `Metadata` are the generated types, which print as dockerd does when
/// their fields are set (`Layers` and `LastTagTime` always are).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageInspect {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "RepoTags")]
    pub repo_tags: Vec<String>,
    #[serde(rename = "RepoDigests")]
    pub repo_digests: Vec<String>,
    #[serde(rename = "Parent")]
    pub parent: String,
    #[serde(rename = "Comment")]
    pub comment: String,
    #[serde(rename = "Created", skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(rename = "DockerVersion")]
    pub docker_version: String,
    #[serde(rename = "Author")]
    pub author: String,
    #[serde(rename = "Config")]
    pub config: Option<ImageInspectConfig>,
    #[serde(rename = "Architecture")]
    pub architecture: String,
    #[serde(rename = "Variant", skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(rename = "Os")]
    pub os: String,
    #[serde(rename = "OsVersion", skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    #[serde(rename = "Size")]
    pub size: i64,
    #[serde(rename = "GraphDriver")]
    pub graph_driver: ImageGraphDriver,
    #[serde(rename = "RootFS")]
    pub root_fs: ImageInspectRootFS,
    #[serde(rename = "Metadata")]
    pub metadata: ImageInspectMetadata,
}

/// The image's `Config`: Go's `container.Config` in its field order, the
/// always-present fields empty or `null` when unset and the `omitempty`
/// ones (`ExposedPorts`, `Healthcheck`, `ArgsEscaped`, `NetworkDisabled`,
/// `MacAddress`, `StopSignal`, `StopTimeout`, `Shell`) left out. The
/// generated `ImageConfig` prints every field; the spec states none of this.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageInspectConfig {
    #[serde(rename = "Hostname")]
    pub hostname: String,
    #[serde(rename = "Domainname")]
    pub domainname: String,
    #[serde(rename = "User")]
    pub user: String,
    #[serde(rename = "AttachStdin")]
    pub attach_stdin: bool,
    #[serde(rename = "AttachStdout")]
    pub attach_stdout: bool,
    #[serde(rename = "AttachStderr")]
    pub attach_stderr: bool,
    #[serde(rename = "ExposedPorts", skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<IndexMap<String, EmptyObject>>,
    #[serde(rename = "Tty")]
    pub tty: bool,
    #[serde(rename = "OpenStdin")]
    pub open_stdin: bool,
    #[serde(rename = "StdinOnce")]
    pub stdin_once: bool,
    #[serde(rename = "Env")]
    pub env: Option<Vec<String>>,
    #[serde(rename = "Cmd")]
    pub cmd: Option<Vec<String>>,
    #[serde(rename = "Healthcheck", skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthConfig>,
    #[serde(rename = "ArgsEscaped", skip_serializing_if = "is_false")]
    pub args_escaped: bool,
    #[serde(rename = "Image")]
    pub image: String,
    #[serde(rename = "Volumes")]
    pub volumes: Option<IndexMap<String, EmptyObject>>,
    #[serde(rename = "WorkingDir")]
    pub working_dir: String,
    #[serde(rename = "Entrypoint")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(rename = "NetworkDisabled", skip_serializing_if = "is_false")]
    pub network_disabled: bool,
    #[serde(rename = "MacAddress", skip_serializing_if = "String::is_empty")]
    pub mac_address: String,
    #[serde(rename = "OnBuild")]
    pub on_build: Option<Vec<String>>,
    #[serde(rename = "Labels")]
    pub labels: Option<IndexMap<String, String>>,
    #[serde(rename = "StopSignal", skip_serializing_if = "String::is_empty")]
    pub stop_signal: String,
    #[serde(rename = "StopTimeout", skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    #[serde(rename = "Shell", skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
}

/// `GraphDriver`. Not the generated `DriverData`: dockerd prints `Data`
/// before `Name`, and `Data` as `null` when the driver reports none.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageGraphDriver {
    #[serde(rename = "Data")]
    pub data: Option<IndexMap<String, String>>,
    #[serde(rename = "Name")]
    pub name: String,
}

/// `GET /distribution/{name}/json`. Not the generated
/// `DistributionInspect`: its `OCIDescriptor` and `OCIPlatform` print
/// every optional field (`urls`, `annotations`, `os.version`, ...) where
/// dockerd leaves them out when unset, and `Platforms` is never `null`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DistributionInspect {
    #[serde(rename = "Descriptor")]
    pub descriptor: DistributionDescriptor,
    #[serde(rename = "Platforms")]
    pub platforms: Vec<DistributionPlatform>,
}

/// The descriptor the reference resolves to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DistributionDescriptor {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub digest: String,
    pub size: u64,
}

/// A platform the image offers; `variant` only when set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DistributionPlatform {
    pub architecture: String,
    pub os: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An image without a config, date, variant or driver data: `Config`
    /// and `GraphDriver.Data` are `null`, `Created`, `Variant` and
    /// `OsVersion` absent, in dockerd's order.
    #[test]
    fn image_inspect_prints_dockerd_order_and_nulls() {
        let img = ImageInspect {
            id: "sha256:ab".into(),
            architecture: "amd64".into(),
            os: "linux".into(),
            size: 7,
            graph_driver: ImageGraphDriver {
                data: None,
                name: "vfs".into(),
            },
            root_fs: ImageInspectRootFS {
                r#type: "layers".into(),
                layers: Some(vec!["sha256:cd".into()]),
            },
            metadata: ImageInspectMetadata {
                last_tag_time: Some("0001-01-01T00:00:00Z".into()),
            },
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&img).unwrap(),
            r#"{"Id":"sha256:ab","RepoTags":[],"RepoDigests":[],"Parent":"","Comment":"","DockerVersion":"","Author":"","Config":null,"Architecture":"amd64","Os":"linux","Size":7,"GraphDriver":{"Data":null,"Name":"vfs"},"RootFS":{"Type":"layers","Layers":["sha256:cd"]},"Metadata":{"LastTagTime":"0001-01-01T00:00:00Z"}}"#
        );
        let img = ImageInspect {
            created: Some("2024-01-01T00:00:00Z".into()),
            variant: Some("v8".into()),
            os_version: Some("10.0".into()),
            ..img
        };
        let out = serde_json::to_string(&img).unwrap();
        assert!(out.contains(r#""Comment":"","Created":"2024-01-01T00:00:00Z","DockerVersion""#));
        assert!(out.contains(
            r#""Architecture":"amd64","Variant":"v8","Os":"linux","OsVersion":"10.0","Size""#
        ));
    }

    #[test]
    fn distribution_inspect_prints_variant_only_when_set() {
        let d = DistributionInspect {
            descriptor: DistributionDescriptor {
                media_type: "application/vnd.oci.image.index.v1+json".into(),
                digest: "sha256:ab".into(),
                size: 10,
            },
            platforms: vec![
                DistributionPlatform {
                    architecture: "amd64".into(),
                    os: "linux".into(),
                    variant: None,
                },
                DistributionPlatform {
                    architecture: "arm".into(),
                    os: "linux".into(),
                    variant: Some("v7".into()),
                },
            ],
        };
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            r#"{"Descriptor":{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:ab","size":10},"Platforms":[{"architecture":"amd64","os":"linux"},{"architecture":"arm","os":"linux","variant":"v7"}]}"#
        );
    }
}
