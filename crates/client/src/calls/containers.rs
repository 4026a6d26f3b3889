//! `/containers/...`: list, inspect, create, start, stop, kill, remove,
//! wait, logs.

use berth_api::types::{ContainerInspect, ContainerSummary, CreateResponse, WaitResponse};
use serde::Serialize;
use serde_json::Value;

use crate::client::{collect, q, Client, Demux, Result};

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
    /// `HostConfig` and `NetworkingConfig` beside them.
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
