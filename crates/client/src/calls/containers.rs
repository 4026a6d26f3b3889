//! `/containers/...`: list, inspect, create, start, stop, kill, remove,
//! wait, logs.

use berth_api::container_config::{ContainerConfig, HostConfig};
use berth_api::model::{ContainerUpdateBody, ContainerUpdateResponse};
use berth_api::network::EndpointSettings;
use berth_api::types::{ContainerInspect, ContainerSummary, CreateResponse, WaitResponse};
use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;

use crate::client::{collect, q, Client, Demux, Result};

/// The body of `POST /containers/create` as a client sends it: the
/// `Config` fields at the top level beside `HostConfig` and
/// `NetworkingConfig` (Go's `ContainerConfigWrapper`).
///
/// Not `berth_api::types::CreateBody`, which is the daemon's decoding of
/// the same body: its endpoints are the generated `EndpointSettings`, whose
/// `IPAMConfig` is never `null`, and dockerd keeps what it is sent (inspect
/// would show `"IPAMConfig": {}` where docker shows `null`). The hand-kept
/// `berth_api::network::EndpointSettings` encodes as the docker CLI does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CreateRequest {
    pub config: ContainerConfig,
    pub host_config: HostConfig,
    /// `NetworkingConfig.EndpointsConfig`, by network name.
    pub endpoints: IndexMap<String, EndpointSettings>,
}

impl Serialize for CreateRequest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Networking<'a> {
            #[serde(rename = "EndpointsConfig")]
            endpoints_config: &'a IndexMap<String, EndpointSettings>,
        }
        #[derive(Serialize)]
        struct Wire<'a> {
            #[serde(flatten)]
            config: &'a ContainerConfig,
            #[serde(rename = "HostConfig")]
            host_config: &'a HostConfig,
            #[serde(rename = "NetworkingConfig")]
            networking_config: Networking<'a>,
        }
        Wire {
            config: &self.config,
            host_config: &self.host_config,
            networking_config: Networking {
                endpoints_config: &self.endpoints,
            },
        }
        .serialize(s)
    }
}

impl Client {
    pub async fn list_containers(&self, all: bool) -> Result<Vec<ContainerSummary>> {
        self.get(&format!("/containers/json?all={}", all as u8))
            .await
    }

    /// The inspect document as JSON (every field, whatever the daemon).
    pub async fn inspect_container_json(&self, id: &str) -> Result<Value> {
        self.get(&format!("/containers/{}/json", q(id))).await
    }

    pub async fn inspect_container(&self, id: &str) -> Result<ContainerInspect> {
        self.get(&format!("/containers/{}/json", q(id))).await
    }

    /// `POST /containers/create`; the body is the Config fields with
    /// `HostConfig` and `NetworkingConfig` beside them: a [`CreateRequest`]
    /// (as the docker CLI encodes it) or the generated `ContainerCreateBody`.
    pub async fn create_container(
        &self,
        name: Option<&str>,
        body: &impl Serialize,
    ) -> Result<CreateResponse> {
        let path = match name {
            Some(n) => format!("/containers/create?name={}", q(n)),
            None => "/containers/create".into(),
        };
        self.post(&path, body).await
    }

    /// `POST /containers/{id}/update`: the answer carries the warnings.
    pub async fn update_container(
        &self,
        id: &str,
        body: &ContainerUpdateBody,
    ) -> Result<ContainerUpdateResponse> {
        self.post(&format!("/containers/{}/update", q(id)), body)
            .await
    }

    pub async fn start_container(&self, id: &str) -> Result<()> {
        self.call("POST", &format!("/containers/{}/start", q(id)))
            .await
    }

    pub async fn stop_container(&self, id: &str, timeout: Option<i64>) -> Result<()> {
        let t = timeout.map(|t| format!("?t={t}")).unwrap_or_default();
        self.call("POST", &format!("/containers/{}/stop{t}", q(id)))
            .await
    }

    pub async fn kill_container(&self, id: &str, signal: Option<&str>) -> Result<()> {
        let s = signal
            .map(|s| format!("?signal={}", q(s)))
            .unwrap_or_default();
        self.call("POST", &format!("/containers/{}/kill{s}", q(id)))
            .await
    }

    pub async fn remove_container(&self, id: &str, force: bool) -> Result<()> {
        self.call(
            "DELETE",
            &format!("/containers/{}?force={}", q(id), force as u8),
        )
        .await
    }

    /// `POST /containers/{id}/wait?condition=` (`not-running`, `next-exit`, `removed`).
    pub async fn wait_container(&self, id: &str, condition: &str) -> Result<WaitResponse> {
        self.post(
            &format!("/containers/{}/wait?condition={}", q(id), q(condition)),
            &(),
        )
        .await
    }

    /// The whole log so far, demultiplexed: `(stdout, stderr)`; a TTY
    /// container's log is all stdout.
    pub async fn logs(&self, id: &str) -> Result<(Vec<u8>, Vec<u8>)> {
        let info = self.inspect_container_json(id).await?;
        let tty = info["Config"]["Tty"].as_bool().unwrap_or(false);
        let resp = self
            .send(
                "GET",
                &format!("/containers/{}/logs?stdout=1&stderr=1", q(id)),
                None,
                "",
            )
            .await?;
        let body = collect(resp).await?;
        if tty {
            return Ok((body.to_vec(), Vec::new()));
        }
        let mut d = Demux::default();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        for (stream, data) in d.push(&body) {
            if stream == 2 {
                err.extend_from_slice(&data);
            } else {
                out.extend_from_slice(&data);
            }
        }
        Ok((out, err))
    }
}

impl Client {
    /// `GET /containers/json?all=&filters=` with label filters
    /// (`key=value` or `key`), as compose lists a project's containers.
    pub async fn list_containers_labelled(
        &self,
        all: bool,
        labels: &[String],
    ) -> Result<Vec<ContainerSummary>> {
        let filters = serde_json::json!({ "label": labels }).to_string();
        self.get(&format!(
            "/containers/json?all={}&filters={}",
            all as u8,
            q(&filters)
        ))
        .await
    }

    /// `POST /containers/{id}/pause` or `/unpause`.
    pub async fn pause_container(&self, id: &str, pause: bool) -> Result<()> {
        let op = if pause { "pause" } else { "unpause" };
        self.call("POST", &format!("/containers/{}/{op}", q(id)))
            .await
    }

    /// `POST /containers/{id}/restart?t=`.
    pub async fn restart_container(&self, id: &str, timeout: Option<i64>) -> Result<()> {
        let t = timeout.map(|t| format!("?t={t}")).unwrap_or_default();
        self.call("POST", &format!("/containers/{}/restart{t}", q(id)))
            .await
    }

    /// `GET /containers/{id}/logs` as a stream (`follow`, `tail`,
    /// `timestamps`): the response, to be read frame by frame with
    /// [`crate::client::Demux`] (or raw with a TTY).
    pub async fn logs_stream(
        &self,
        id: &str,
        follow: bool,
        tail: Option<&str>,
        timestamps: bool,
    ) -> Result<hyper::Response<hyper::body::Incoming>> {
        let tail = tail.map(|t| format!("&tail={}", q(t))).unwrap_or_default();
        self.send(
            "GET",
            &format!(
                "/containers/{}/logs?stdout=1&stderr=1&follow={}&timestamps={}{tail}",
                q(id),
                follow as u8,
                timestamps as u8
            ),
            None,
            "",
        )
        .await
    }
}

impl Client {
    /// `GET /containers/{id}/top`.
    pub async fn top_container(&self, id: &str) -> Result<berth_api::model::ContainerTopResponse> {
        self.get(&format!("/containers/{}/top", q(id))).await
    }
}

impl Client {
    /// `PUT /containers/{id}/archive?path=`: extracts `tar` under `path`
    /// in the container (which may be created and not started).
    pub async fn put_archive(&self, id: &str, path: &str, tar: Vec<u8>) -> Result<()> {
        let resp = self
            .send(
                "PUT",
                &format!("/containers/{}/archive?path={}", q(id), q(path)),
                Some(bytes::Bytes::from(tar)),
                "application/x-tar",
            )
            .await?;
        collect(resp).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wire shape dockerd decodes (Go's `ContainerConfigWrapper`):
    /// `Config` members at the top, an endpoint without an address has a
    /// `null` `IPAMConfig` (dockerd keeps what it is sent, and inspect
    /// shows it).
    #[test]
    fn create_request_encodes_as_the_docker_cli() {
        let mut endpoints = IndexMap::new();
        endpoints.insert(
            "n1".to_string(),
            EndpointSettings {
                aliases: Some(vec!["a".into()]),
                ..EndpointSettings::default()
            },
        );
        let req = CreateRequest {
            config: ContainerConfig {
                image: "busybox".into(),
                cmd: Some(vec!["true".into()]),
                ..ContainerConfig::default()
            },
            host_config: HostConfig {
                network_mode: "n1".into(),
                ..HostConfig::default()
            },
            endpoints,
        };
        let v = serde_json::to_value(&req).unwrap();
        assert_eq!(v["Image"], "busybox");
        assert_eq!(v["Cmd"], serde_json::json!(["true"]));
        assert!(v.get("Config").is_none());
        assert_eq!(v["HostConfig"]["NetworkMode"], "n1");
        let ep = &v["NetworkingConfig"]["EndpointsConfig"]["n1"];
        assert_eq!(ep["Aliases"], serde_json::json!(["a"]));
        assert_eq!(ep["IPAMConfig"], Value::Null);
        // And the daemon's decoder reads it back to the same values.
        let back = berth_api::types::CreateBody::parse(&serde_json::to_vec(&req).unwrap()).unwrap();
        assert_eq!(back.config, req.config);
        assert_eq!(back.host_config.network_mode, "n1");
    }
}
