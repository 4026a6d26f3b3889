//! `/images/...`: list, inspect, tag, remove, and pull with its progress.

use berth_api::progress::Message;
use berth_api::types::ImageSummary;
use serde_json::Value;

use crate::client::{q, read_json, Client, ClientError, Result};

impl Client {
    pub async fn list_images(&self, all: bool) -> Result<Vec<ImageSummary>> {
        self.get(&format!("/images/json?all={}", all as u8)).await
    }

    pub async fn inspect_image_json(&self, name: &str) -> Result<Value> {
        self.get(&format!("/images/{}/json", q(name))).await
    }

    /// `POST /images/{name}/tag?repo=&tag=`.
    pub async fn tag_image(&self, name: &str, repo: &str, tag: &str) -> Result<()> {
        self.call(
            "POST",
            &format!("/images/{}/tag?repo={}&tag={}", q(name), q(repo), q(tag)),
        )
        .await
    }

    pub async fn remove_image(&self, name: &str, force: bool) -> Result<Value> {
        let resp = self
            .send(
                "DELETE",
                &format!("/images/{}?force={}", q(name), force as u8),
                None,
                "",
            )
            .await?;
        read_json(resp).await
    }
}

impl Client {
    /// `POST /images/create?fromImage=`: pulls `reference` (with `auth`, the
    /// base64url `X-Registry-Auth` header as docker sends it), handing
    /// every progress line to `progress`. A line with an error ends the
    /// pull with that error, as the docker CLI reports it.
    pub async fn pull(
        &self,
        reference: &str,
        auth: Option<&str>,
        mut progress: impl FnMut(&Message),
    ) -> Result<()> {
        let headers: Vec<(&str, String)> = auth
            .map(|a| vec![("X-Registry-Auth", a.to_string())])
            .unwrap_or_default();
        let resp = self
            .send_with(
                "POST",
                &format!("/images/create?fromImage={}", q(reference)),
                None,
                "",
                &headers,
            )
            .await?;
        let mut lines = crate::client::JsonLines::new(resp);
        while let Some(m) = lines.next::<Message>().await? {
            if let Some(e) = m.error.clone() {
                return Err(ClientError::Daemon(
                    hyper::StatusCode::INTERNAL_SERVER_ERROR,
                    e,
                ));
            }
            progress(&m);
        }
        Ok(())
    }
}

impl Client {
    /// `POST /build` with a tar of the context (`query` is the URL query,
    /// already encoded: `t=`, `dockerfile=`, `buildargs=`, ...), handing
    /// every progress line to `progress`; an error line ends the build
    /// with its message.
    pub async fn build_image(
        &self,
        query: &str,
        context_tar: Vec<u8>,
        mut progress: impl FnMut(&Message),
    ) -> Result<()> {
        let resp = self
            .send(
                "POST",
                &format!("/build?{query}"),
                Some(bytes::Bytes::from(context_tar)),
                "application/x-tar",
            )
            .await?;
        let mut lines = crate::client::JsonLines::new(resp);
        while let Some(m) = lines.next::<Message>().await? {
            if let Some(e) = m.error.clone() {
                return Err(ClientError::Daemon(
                    hyper::StatusCode::INTERNAL_SERVER_ERROR,
                    e,
                ));
            }
            progress(&m);
        }
        Ok(())
    }
}
