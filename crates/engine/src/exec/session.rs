//! A started exec's session: feeding its stdin, passing its output on as
//! its client asked (stdcopy frames, or raw bytes with a TTY), and dockerd's
//! exit-code rules: a start that fails is told in the stream and recorded
//! as 126, a stream that breaks as 137. The daemon only hands over the
//! client's connection.

use berth_api::Error;
use berth_runtime::client::{ExecFrame, ExecStream};
use berth_runtime::proto::{frame_header, STREAM_STDERR, STREAM_STDOUT};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::containers::attach::DetachKeys;

use super::{Exec, ExecConfig};

/// dockerd's exit code for an exec whose process could not be started.
pub const EXEC_START_FAILED_EXIT_CODE: i64 = 126;

/// Which streams an exec's client attached, from its create body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecStreams {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// With a TTY the output is raw bytes, not stdcopy frames.
    pub tty: bool,
}

impl ExecStreams {
    pub(super) fn of(config: &ExecConfig) -> ExecStreams {
        ExecStreams {
            stdin: config.attach_stdin,
            stdout: config.attach_stdout,
            stderr: config.attach_stderr,
            tty: config.tty,
        }
    }

    /// Whether a client reads or writes anything; if not, the start answers
    /// at once and the exec runs on by itself.
    pub fn attached(&self) -> bool {
        self.stdin || self.stdout || self.stderr
    }

    fn wants(&self, stream: u8) -> bool {
        match stream {
            STREAM_STDOUT => self.stdout,
            STREAM_STDERR => self.stderr,
            _ => false,
        }
    }
}

/// A started exec process and its connection to the shim.
#[derive(Debug)]
pub struct ExecSession {
    pub(crate) id: String,
    pub(crate) streams: ExecStreams,
    /// The create body's `DetachKeys` (empty: ctrl-p ctrl-q).
    pub(crate) detach_keys: String,
    pub(crate) stream: ExecStream,
}

impl ExecSession {
    pub fn streams(&self) -> ExecStreams {
        self.streams
    }
}

impl Exec<'_> {
    /// Which streams exec `id` attaches (its create body's choice).
    pub fn streams(&self, id: &str) -> berth_api::Result<ExecStreams> {
        let rec = self.record(id)?;
        let r = rec.lock().unwrap_or_else(|e| e.into_inner());
        Ok(ExecStreams::of(&r.config))
    }

    /// Runs a started exec with nobody reading it: its output is dropped,
    /// its exit code recorded and returned.
    pub async fn drain(&self, session: ExecSession) -> i64 {
        let ExecSession { id, stream, .. } = session;
        let ExecStream { mut output, stdin } = stream;
        drop(stdin);
        let code = loop {
            if let ExecFrame::Exit(code) = output.next_frame().await {
                break code;
            }
        };
        self.finished(&id, code);
        code
    }

    /// Runs exec `id` for an attached client: `started` is what
    /// [`Exec::start`] answered (a failure is written into the
    /// client's stream in dockerd's words and recorded as exit code 126),
    /// `stdin` feeds the process when the exec attached stdin, and `client`
    /// gets the output: raw bytes when `raw` (the start request's `Tty`,
    /// as moby's exec start route decides), else stdcopy frames. With a
    /// TTY, the detach keys typed on stdin end the client's stream while
    /// the process runs on. A client that goes away stops getting output;
    /// the process runs on to its end. Returns the exit code, recorded
    /// before `client` is shut down, since the docker CLI inspects it as
    /// soon as the stream ends.
    pub async fn attach<I, O>(
        &self,
        id: &str,
        started: berth_api::Result<ExecSession>,
        stdin: I,
        raw: bool,
        mut client: O,
    ) -> i64
    where
        I: AsyncRead + Unpin + Send + 'static,
        O: AsyncWrite + Unpin,
    {
        let session = match started {
            Ok(s) => s,
            Err(e) => {
                let _ = write_output(&mut client, raw, STREAM_STDOUT, &start_failure(&e)).await;
                self.finished(id, EXEC_START_FAILED_EXIT_CODE);
                let _ = client.shutdown().await;
                return EXEC_START_FAILED_EXIT_CODE;
            }
        };
        let ExecSession {
            id,
            streams,
            detach_keys,
            stream,
        } = session;
        let ExecStream {
            mut output,
            stdin: mut to_process,
        } = stream;
        // On a detach the stdin feeder hands the process's stdin back, kept
        // open (as moby keeps a TTY exec's) until the process exits.
        let (detached_tx, mut detached_rx) = tokio::sync::oneshot::channel();
        let mut kept_stdin = None;
        if streams.stdin {
            // moby's copyEscapable: only a TTY exec watches for the keys.
            let keys = if streams.tty {
                DetachKeys::parse(&detach_keys).ok()
            } else {
                None
            };
            tokio::spawn(feed_stdin(stdin, to_process, keys, detached_tx));
        } else {
            let _ = to_process.shutdown().await;
        }
        let mut reading = true;
        let code = loop {
            tokio::select! {
                frame = output.next_frame() => match frame {
                    ExecFrame::Exit(code) => break code,
                    ExecFrame::Output { stream, data } if reading && streams.wants(stream) => {
                        reading = write_output(&mut client, raw, stream, &data).await.is_ok();
                    }
                    ExecFrame::Output { .. } => {}
                },
                Ok(stdin) = &mut detached_rx, if reading => {
                    // Detached: the client's stream ends, the process runs on
                    // and its output is drained until it exits.
                    kept_stdin = Some(stdin);
                    reading = false;
                    self.detached(&id);
                    let _ = client.shutdown().await;
                }
            }
        };
        drop(kept_stdin);
        self.finished(&id, code);
        let _ = client.shutdown().await;
        code
    }
}

/// Copies the client's stdin to the process; with detach keys, stops when
/// they are typed (forwarding what came before) and hands the process's
/// stdin, still open, to `detached`.
async fn feed_stdin<I, W>(
    mut stdin: I,
    mut to_process: W,
    mut keys: Option<DetachKeys>,
    detached: tokio::sync::oneshot::Sender<W>,
) where
    I: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = match stdin.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let (forward, hit) = match keys.as_mut() {
            Some(k) => k.feed(&buf[..n]),
            None => (buf[..n].to_vec(), false),
        };
        if to_process.write_all(&forward).await.is_err() {
            break;
        }
        if hit {
            let _ = detached.send(to_process);
            return;
        }
    }
    let _ = to_process.shutdown().await;
}

/// dockerd's words for an exec that failed to start.
fn start_failure(e: &Error) -> Vec<u8> {
    let why = e
        .message
        .trim_start_matches("failed to create task for container: ");
    format!("OCI runtime exec failed: exec failed: unable to start container process: {why}\r\n")
        .into_bytes()
}

/// One piece of output to the client: raw with a TTY, else a stdcopy frame.
async fn write_output<O: AsyncWrite + Unpin>(
    client: &mut O,
    tty: bool,
    stream: u8,
    data: &[u8],
) -> std::io::Result<()> {
    if !tty {
        client.write_all(&frame_header(stream, data.len())).await?;
    }
    client.write_all(data).await?;
    client.flush().await
}
