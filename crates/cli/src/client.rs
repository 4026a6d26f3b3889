//! A small typed client for the Engine API over a unix socket: plain
//! requests, streamed bodies, and hijacked (upgraded) connections for
//! attach. Each request uses its own connection, as the docker CLI's
//! hijacks do; that keeps the client simple and costs ~0.1 ms here.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;

pub const DEFAULT_HOST: &str = "unix:///run/berth/berth.sock";

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("Cannot connect to the berth daemon at {0}. Is the berth daemon running?")]
    Connect(String),
    /// An error the daemon answered, with its status.
    #[error("Error response from daemon: {1}")]
    Daemon(StatusCode, String),
    #[error("{0}")]
    Other(String),
}

pub type Result<T> = std::result::Result<T, ClientError>;

#[derive(Debug, Clone)]
pub struct Client {
    socket: String,
    host: String,
    version: String,
}

impl Client {
    /// From `-H`, else `DOCKER_HOST`, else the default socket.
    pub fn from_env(host: Option<&str>) -> Result<Client> {
        let host = host
            .map(str::to_string)
            .or_else(|| std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()))
            .unwrap_or_else(|| DEFAULT_HOST.to_string());
        let Some(socket) = host.strip_prefix("unix://") else {
            return Err(ClientError::Other(format!(
                "unsupported host {host}: only unix:// sockets are supported by this berth"
            )));
        };
        Ok(Client {
            socket: socket.to_string(),
            host: host.clone(),
            version: berth_api::version::API_VERSION.to_string(),
        })
    }

    async fn connect(&self) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>> {
        let stream = UnixStream::connect(&self.socket)
            .await
            .map_err(|_| ClientError::Connect(self.host.clone()))?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| ClientError::Other(e.to_string()))?;
        tokio::spawn(async move {
            let _ = conn.with_upgrades().await;
        });
        Ok(sender)
    }

    fn build(
        &self,
        method: &str,
        path: &str,
        body: Option<Bytes>,
        content_type: &str,
    ) -> Result<Request<Full<Bytes>>> {
        let mut b = Request::builder()
            .method(method)
            .uri(format!("http://localhost/v{}{}", self.version, path))
            .header("Host", "localhost")
            .header(
                "User-Agent",
                concat!("berth-cli/", env!("CARGO_PKG_VERSION")),
            );
        if body.is_some() {
            b = b.header("Content-Type", content_type);
        }
        b.body(Full::new(body.unwrap_or_default()))
            .map_err(|e| ClientError::Other(e.to_string()))
    }

    /// Sends a request; a status of 400 and up becomes `ClientError::Daemon`.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Bytes>,
        content_type: &str,
    ) -> Result<Response<Incoming>> {
        let mut sender = self.connect().await?;
        let req = self.build(method, path, body, content_type)?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| ClientError::Other(e.to_string()))?;
        check(resp).await
    }

    pub async fn get_json(&self, path: &str) -> Result<serde_json::Value> {
        let resp = self.send("GET", path, None, "").await?;
        read_json(resp).await
    }

    pub async fn post_json(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value> {
        let resp = self
            .send(
                "POST",
                path,
                Some(Bytes::from(serde_json::to_vec(body).unwrap_or_default())),
                "application/json",
            )
            .await?;
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| ClientError::Other(e.to_string()))?
            .to_bytes();
        if bytes.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Other(format!("bad answer: {e}")))
    }

    pub async fn call(&self, method: &str, path: &str) -> Result<()> {
        let resp = self.send(method, path, None, "").await?;
        let _ = resp.into_body().collect().await;
        Ok(())
    }

    /// Upgrades the connection (attach): returns the raw stream and whether
    /// it is multiplexed (stdcopy frames) or raw (TTY).
    pub async fn hijack(&self, path: &str) -> Result<(hyper::upgrade::Upgraded, bool)> {
        let body = path
            .starts_with("/exec/")
            .then(|| Bytes::from_static(b"{\"Detach\":false}"));
        let mut sender = self.connect().await?;
        let mut req = self.build("POST", path, body, "application/json")?;
        req.headers_mut()
            .insert("Connection", "Upgrade".parse().expect("header"));
        req.headers_mut()
            .insert("Upgrade", "tcp".parse().expect("header"));
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| ClientError::Other(e.to_string()))?;
        let resp = check(resp).await?;
        let multiplexed = resp
            .headers()
            .get("Content-Type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("multiplexed"));
        let upgraded = hyper::upgrade::on(resp)
            .await
            .map_err(|e| ClientError::Other(format!("attach: {e}")))?;
        Ok((upgraded, multiplexed))
    }
}

async fn check(resp: Response<Incoming>) -> Result<Response<Incoming>> {
    let status = resp.status();
    if status.is_client_error() || status.is_server_error() {
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let msg = serde_json::from_slice::<berth_api::types::ErrorResponse>(&bytes)
            .map(|e| e.message)
            .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).trim().to_string());
        return Err(ClientError::Daemon(status, msg));
    }
    Ok(resp)
}

pub async fn read_json(resp: Response<Incoming>) -> Result<serde_json::Value> {
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| ClientError::Other(e.to_string()))?
        .to_bytes();
    serde_json::from_slice(&bytes).map_err(|e| ClientError::Other(format!("bad answer: {e}")))
}

/// Percent-encodes a query value.
pub fn q(v: &str) -> String {
    form_urlencoded::byte_serialize(v.as_bytes()).collect()
}
