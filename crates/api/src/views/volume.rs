//! `GET /volumes`, `GET /volumes/{name}`, `POST /volumes/create` and the
//! `Volumes` of `GET /system/df`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A volume (moby's `volume.Volume`). Not the generated `Volume`: dockerd
/// prints the Go struct's fields, which go-swagger sorted by name
/// (`CreatedAt`, `Driver`, `Labels`, ...), not in the spec's property order,
/// and leaves `ClusterVolume`, `Status` and `UsageData` out when unset where
/// the spec has no `omitempty`. Maps are `BTreeMap`s because Go prints map
/// keys sorted; an empty one is `None` (`null`), as a nil Go map.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Volume {
    #[serde(rename = "CreatedAt")]
    pub created_at: String,
    #[serde(rename = "Driver")]
    pub driver: String,
    #[serde(rename = "Labels")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(rename = "Mountpoint")]
    pub mountpoint: String,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Options")]
    pub options: Option<BTreeMap<String, String>>,
    #[serde(rename = "Scope")]
    pub scope: String,
    /// What a volume plugin reports of the volume (its `Get` answer's
    /// `Status`): free-form, as the plugin protocol leaves it; absent for
    /// the `local` driver.
    #[serde(rename = "Status", skip_serializing_if = "Option::is_none")]
    pub status: Option<BTreeMap<String, serde_json::Value>>,
    /// Only in `/system/df`.
    #[serde(rename = "UsageData", skip_serializing_if = "Option::is_none")]
    pub usage_data: Option<VolumeUsageData>,
}

/// `Volume.UsageData`. Not the generated `VolumeUsageData`: dockerd prints
/// `RefCount` before `Size` (Go's field order), the spec the other way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VolumeUsageData {
    #[serde(rename = "RefCount")]
    pub ref_count: i64,
    #[serde(rename = "Size")]
    pub size: i64,
}

/// `GET /volumes`. The generated `VolumeListResponse` has this shape but
/// holds the generated [`Volume`], whose encoding is not dockerd's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VolumeListResponse {
    #[serde(rename = "Volumes")]
    pub volumes: Vec<Volume>,
    #[serde(rename = "Warnings")]
    pub warnings: Option<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_as_dockerd() {
        let v = Volume {
            created_at: "2026-01-01T00:00:00Z".into(),
            driver: "local".into(),
            labels: Some(BTreeMap::from([
                ("b".into(), "2".into()),
                ("a".into(), "1".into()),
            ])),
            mountpoint: "/var/lib/docker/volumes/v/_data".into(),
            name: "v".into(),
            options: None,
            scope: "local".into(),
            status: None,
            usage_data: None,
        };
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"CreatedAt":"2026-01-01T00:00:00Z","Driver":"local","Labels":{"a":"1","b":"2"},"Mountpoint":"/var/lib/docker/volumes/v/_data","Name":"v","Options":null,"Scope":"local"}"#
        );
        let used = Volume {
            usage_data: Some(VolumeUsageData {
                ref_count: 1,
                size: 6,
            }),
            ..v
        };
        assert!(serde_json::to_string(&used)
            .unwrap()
            .ends_with(r#""Scope":"local","UsageData":{"RefCount":1,"Size":6}}"#));
    }
}
