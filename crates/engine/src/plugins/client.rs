//! The plugin protocol's client: `POST /<Method>` with a JSON body over
//! the plugin's unix socket, a JSON answer (moby `pkg/plugins`), each call
//! bounded by a deadline so a plugin that hangs fails the request instead
//! of holding it (and the daemon's workers) forever.

use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_api::{Error, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The media type plugins speak (moby's `VersionMimetype`).
const MEDIA_TYPE: &str = "application/vnd.docker.plugins.v1.2+json";

/// A connection-less handle on one plugin's socket.
#[derive(Debug, Clone)]
pub struct PluginClient {
    /// The socket's directory and name, apart: a socket path longer than
    /// `sun_path` is reached through the directory (see
    /// `berth_runtime::proto::socket_path`).
    dir: PathBuf,
    socket: String,
    timeout: Duration,
}

impl PluginClient {
    pub fn new(dir: &Path, socket: &str, timeout: Duration) -> PluginClient {
        PluginClient {
            dir: dir.to_path_buf(),
            socket: socket.to_string(),
            timeout,
        }
    }

    /// Calls `method` with `body` and decodes the answer. A non-200 answer
    /// is an error carrying the plugin's `Err` (or its body).
    pub async fn call<Q: Serialize, A: DeserializeOwned>(
        &self,
        method: &str,
        body: &Q,
    ) -> Result<A> {
        let url = self.url(method);
        let fut = self.post(method, body);
        let (status, bytes) = match tokio::time::timeout(self.timeout, fut).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(Error::internal(format!(
                    "Post \"{url}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
                )))
            }
        };
        if status != 200 {
            #[derive(serde::Deserialize, Default)]
            #[serde(default)]
            struct Failure {
                #[serde(rename = "Err")]
                err: String,
            }
            let f: Failure = serde_json::from_slice(&bytes).unwrap_or_default();
            let msg = if f.err.is_empty() {
                String::from_utf8_lossy(&bytes).trim().to_string()
            } else {
                f.err
            };
            return Err(Error::internal(format!("{method}: {msg}")));
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::internal(format!("{method}: the plugin's answer: {e}")))
    }

    /// The URL as Go's plugin client names it in errors: the socket's
    /// path, escaped, as the host.
    fn url(&self, method: &str) -> String {
        let host = self
            .dir
            .join(&self.socket)
            .display()
            .to_string()
            .replace('/', "%2F");
        format!("http://{host}/{method}")
    }

    async fn post<Q: Serialize>(&self, method: &str, body: &Q) -> Result<(u16, Bytes)> {
        let url = self.url(method);
        let io_err = |e: &dyn std::fmt::Display| Error::internal(format!("Post \"{url}\": {e}"));
        let full = self.dir.join(&self.socket);
        let dial_err = |e: std::io::Error| {
            io_err(&format!(
                "dial unix {}: connect: {}",
                full.display(),
                os_words(&e)
            ))
        };
        let path = berth_runtime::proto::socket_path(&self.dir, &self.socket).map_err(dial_err)?;
        let stream = tokio::net::UnixStream::connect(&path.path)
            .await
            .map_err(dial_err)?;
        drop(path);
        let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| io_err(&e))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let json = serde_json::to_vec(body).map_err(|e| Error::internal(e.to_string()))?;
        let req = hyper::Request::post(format!("/{method}"))
            .header("Host", "plugin.moby.localhost")
            .header("Accept", MEDIA_TYPE)
            .header("Content-Type", MEDIA_TYPE)
            .body(Full::new(Bytes::from(json)))
            .map_err(|e| Error::internal(e.to_string()))?;
        let resp = send.send_request(req).await.map_err(|e| io_err(&e))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| io_err(&e))?
            .to_bytes();
        Ok((status, bytes))
    }
}

/// An OS error as Go words it (`no such file or directory`), without
/// Rust's ` (os error N)`.
fn os_words(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => nix::errno::Errno::from_raw(n).desc().to_ascii_lowercase(),
        None => e.to_string(),
    }
}
