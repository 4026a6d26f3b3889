//! The daemon's side of the shim protocol: spawn a shim, then talk to it over
//! its socket. Async (tokio), safe to use from the multi-threaded daemon: the
//! daemon never forks a container itself, it only execs the shim binary.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;

use crate::proto::{ExitInfo, Request, Response, ShimConfig};

#[derive(Debug, thiserror::Error)]
pub enum ShimError {
    /// The shim is gone (its socket does not answer).
    #[error("shim is not running: {0}")]
    Gone(std::io::Error),
    #[error("{0}")]
    Failed(String),
    #[error("shim protocol: {0}")]
    Protocol(String),
}

/// Writes `shim.json`, starts `berth-shim` in its own session (so it survives
/// the daemon) and waits for its report. Returns the container's pid.
pub async fn spawn_shim(shim_bin: &Path, cfg: &ShimConfig) -> Result<i32, ShimError> {
    spawn_shim_with(shim_bin, cfg, None).await
}

/// [`spawn_shim`], telling `netns_ready` as soon as the shim has made the
/// container's network namespace (`new_netns`), while libcontainer still
/// creates the container: the caller can plug the interfaces meanwhile.
/// Dropped unsent when the shim fails before that.
pub async fn spawn_shim_with(
    shim_bin: &Path,
    cfg: &ShimConfig,
    mut netns_ready: Option<tokio::sync::oneshot::Sender<()>>,
) -> Result<i32, ShimError> {
    let cfg_path = ShimConfig::config_path(&cfg.state_dir);
    let bytes = serde_json::to_vec(cfg).map_err(|e| ShimError::Protocol(e.to_string()))?;
    std::fs::write(&cfg_path, bytes)
        .map_err(|e| ShimError::Failed(format!("writing {}: {e}", cfg_path.display())))?;
    let _ = std::fs::remove_file(ShimConfig::exit_path(&cfg.state_dir));
    let log = std::fs::File::create(cfg.state_dir.join("shim.log"))
        .map_err(|e| ShimError::Failed(format!("shim log: {e}")))?;
    let mut cmd = tokio::process::Command::new(shim_bin);
    cmd.arg(&cfg_path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log));
    // SAFETY: setsid is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.as_std_mut().pre_exec(|| {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| ShimError::Failed(format!("starting {}: {e}", shim_bin.display())))?;
    let mut out = String::new();
    if let Some(stdout) = child.stdout.take() {
        let mut lines = BufReader::new(stdout);
        loop {
            out.clear();
            let _ = lines.read_line(&mut out).await;
            if out.trim() != crate::proto::NETNS_READY {
                break;
            }
            if let Some(tx) = netns_ready.take() {
                let _ = tx.send(());
            }
        }
    }
    drop(netns_ready);
    // The shim lives on after it reports; reap it whenever it ends.
    tokio::spawn(async move {
        let _ = child.wait().await;
    });
    let out = out.trim();
    if let Some(pid) = out.strip_prefix("ok ") {
        return pid
            .parse()
            .map_err(|_| ShimError::Protocol(format!("bad report {out:?}")));
    }
    let msg = out.strip_prefix("error: ").unwrap_or(out);
    let msg = if msg.is_empty() {
        let log = std::fs::read_to_string(cfg.state_dir.join("shim.log")).unwrap_or_default();
        format!("shim exited without a report: {}", log.trim())
    } else {
        msg.to_string()
    };
    Err(ShimError::Failed(msg))
}

/// A handle on one container's shim.
#[derive(Debug, Clone)]
pub struct ShimClient {
    state_dir: PathBuf,
}

impl ShimClient {
    pub fn new(state_dir: &Path) -> ShimClient {
        ShimClient {
            state_dir: state_dir.to_path_buf(),
        }
    }

    async fn open(&self, req: &Request) -> Result<(Response, UnixStream), ShimError> {
        let socket =
            crate::proto::socket_path(&self.state_dir, "shim.sock").map_err(ShimError::Gone)?;
        let mut conn = UnixStream::connect(&socket.path)
            .await
            .map_err(ShimError::Gone)?;
        drop(socket);
        let mut line = serde_json::to_vec(req).map_err(|e| ShimError::Protocol(e.to_string()))?;
        line.push(b'\n');
        conn.write_all(&line).await.map_err(ShimError::Gone)?;
        // Read the answer byte by byte: an attach stream follows it directly.
        let mut answer = Vec::new();
        loop {
            let b = conn.read_u8().await.map_err(ShimError::Gone)?;
            if b == b'\n' {
                break;
            }
            answer.push(b);
            if answer.len() > 1 << 20 {
                return Err(ShimError::Protocol("answer too long".into()));
            }
        }
        let resp: Response =
            serde_json::from_slice(&answer).map_err(|e| ShimError::Protocol(e.to_string()))?;
        if let Some(e) = resp.error {
            return Err(ShimError::Failed(e));
        }
        Ok((resp, conn))
    }

    async fn call(&self, req: Request) -> Result<Response, ShimError> {
        Ok(self.open(&req).await?.0)
    }

    pub async fn start(&self) -> Result<i32, ShimError> {
        let r = self.call(Request::Start).await?;
        r.pid
            .ok_or_else(|| ShimError::Protocol("start answered no pid".into()))
    }

    /// Waits for the exit; if the shim is already gone, reads what it left in `exit.json`.
    pub async fn wait(&self, state_dir: &Path) -> Result<ExitInfo, ShimError> {
        match self.call(Request::Wait).await {
            Ok(r) => r
                .exit
                .ok_or_else(|| ShimError::Protocol("wait answered no exit".into())),
            Err(ShimError::Gone(e)) => read_exit(state_dir).ok_or(ShimError::Gone(e)),
            Err(e) => Err(e),
        }
    }

    pub async fn kill(&self, signal: i32, all: bool) -> Result<(), ShimError> {
        self.call(Request::Kill { signal, all }).await.map(|_| ())
    }

    pub async fn resize(&self, height: u16, width: u16) -> Result<(), ShimError> {
        self.call(Request::Resize { height, width })
            .await
            .map(|_| ())
    }

    pub async fn pause(&self) -> Result<(), ShimError> {
        self.call(Request::Pause).await.map(|_| ())
    }

    pub async fn resume(&self) -> Result<(), ShimError> {
        self.call(Request::Resume).await.map(|_| ())
    }

    pub async fn state(&self) -> Result<Response, ShimError> {
        self.call(Request::State).await
    }

    /// Starts an exec'd process; returns its pid and its stream: the
    /// process's output as [`ExecFrame`]s, ending with its exit code, and
    /// the way to its stdin.
    pub async fn exec(&self, spec: crate::proto::ExecSpec) -> Result<(i32, ExecStream), ShimError> {
        let (resp, conn) = self.open(&Request::Exec(spec)).await?;
        let (read, write) = conn.into_split();
        Ok((
            resp.pid.unwrap_or(0),
            ExecStream {
                output: ExecOutput { conn: read },
                stdin: write,
            },
        ))
    }

    pub async fn resize_exec(
        &self,
        exec_id: &str,
        height: u16,
        width: u16,
    ) -> Result<(), ShimError> {
        self.call(Request::ResizeExec {
            exec_id: exec_id.to_string(),
            height,
            width,
        })
        .await
        .map(|_| ())
    }

    /// Opens an output stream (stdcopy frames) that also takes stdin bytes.
    pub async fn attach(&self, stdin: bool) -> Result<UnixStream, ShimError> {
        Ok(self.open(&Request::Attach { stdin }).await?.1)
    }
}

/// A running exec's connection to its shim, split so that its stdin can be
/// fed while its output is read.
#[derive(Debug)]
pub struct ExecStream {
    pub output: ExecOutput,
    /// Bytes written here reach the process's stdin; shutting it down closes it.
    pub stdin: OwnedWriteHalf,
}

/// One piece of an exec's output stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecFrame {
    /// Output on `stream` ([`crate::proto::STREAM_STDOUT`] or
    /// [`crate::proto::STREAM_STDERR`]; stdout only with a TTY).
    Output { stream: u8, data: Vec<u8> },
    /// The process ended with this code; nothing follows.
    Exit(i64),
}

/// The exec's output side: the shim's frames (stdcopy frames, then one
/// [`crate::proto::STREAM_EXIT`] frame), decoded here and nowhere else.
#[derive(Debug)]
pub struct ExecOutput {
    conn: OwnedReadHalf,
}

/// The exit code an exec is recorded with when its stream breaks before
/// the exit frame: the shim is gone, so the process was killed with it.
pub const EXEC_LOST_EXIT_CODE: i64 = 137;

impl ExecOutput {
    /// The next frame. A stream cut before the exit frame (the shim died)
    /// reads as `Exit(137)`, as the process went with it.
    pub async fn next_frame(&mut self) -> ExecFrame {
        let mut h = [0u8; 8];
        if self.conn.read_exact(&mut h).await.is_err() {
            return ExecFrame::Exit(EXEC_LOST_EXIT_CODE);
        }
        let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize;
        let mut data = vec![0u8; len];
        if self.conn.read_exact(&mut data).await.is_err() {
            return ExecFrame::Exit(EXEC_LOST_EXIT_CODE);
        }
        if h[0] == crate::proto::STREAM_EXIT {
            let code = std::str::from_utf8(&data)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(EXEC_LOST_EXIT_CODE);
            return ExecFrame::Exit(code);
        }
        ExecFrame::Output { stream: h[0], data }
    }
}

/// The exit status a shim wrote before it ended, if any.
pub fn read_exit(state_dir: &Path) -> Option<ExitInfo> {
    let bytes = std::fs::read(ShimConfig::exit_path(state_dir)).ok()?;
    serde_json::from_slice(&bytes).ok()
}
