//! `/containers/{id}/exec` and `/exec/...`: create, run to the end
//! collecting the output, inspect.

use berth_api::model::{ExecConfig, ExecInspectResponse, ExecStartConfig, IdResponse};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncReadExt;

use crate::client::{q, Client, ClientError, Demux, Result};

/// What an exec printed, demultiplexed (all stdout with a TTY).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Client {
    /// `POST /containers/{id}/exec`: the new exec's id.
    pub async fn create_exec(&self, container: &str, config: &ExecConfig) -> Result<String> {
        let created: IdResponse = self
            .post(&format!("/containers/{}/exec", q(container)), config)
            .await?;
        Ok(created.id)
    }

    /// `POST /exec/{id}/start` attached (a hijacked connection, as the
    /// docker CLI's `exec`), read to its end. The exit code is then in
    /// [`Client::inspect_exec`].
    pub async fn run_exec(&self, id: &str, tty: bool) -> Result<ExecOutput> {
        let start = ExecStartConfig {
            tty,
            ..ExecStartConfig::default()
        };
        let body = serde_json::to_value(&start).map_err(|e| ClientError::Other(e.to_string()))?;
        // Framed unless there is a TTY, whatever the Content-Type says:
        // below API 1.42 dockerd calls even a framed stream `raw-stream`
        // (the docker CLI also decides by the TTY alone).
        let (upgraded, _) = self
            .hijack(&format!("/exec/{}/start", q(id)), Some(body))
            .await?;
        let mut stream = TokioIo::new(upgraded);
        let mut raw = Vec::new();
        stream
            .read_to_end(&mut raw)
            .await
            .map_err(|e| ClientError::Other(format!("exec stream: {e}")))?;
        if tty {
            return Ok(ExecOutput {
                stdout: raw,
                stderr: Vec::new(),
            });
        }
        let mut out = ExecOutput::default();
        for (stream, data) in Demux::default().push(&raw) {
            match stream {
                2 => out.stderr.extend_from_slice(&data),
                _ => out.stdout.extend_from_slice(&data),
            }
        }
        Ok(out)
    }

    /// `POST /exec/{id}/start` detached: answers once the process started.
    pub async fn start_exec_detached(&self, id: &str) -> Result<()> {
        let start = ExecStartConfig {
            detach: true,
            ..ExecStartConfig::default()
        };
        self.post_no_answer(&format!("/exec/{}/start", q(id)), &start)
            .await
    }

    /// `GET /exec/{id}/json`.
    pub async fn inspect_exec(&self, id: &str) -> Result<ExecInspectResponse> {
        self.get(&format!("/exec/{}/json", q(id))).await
    }
}
