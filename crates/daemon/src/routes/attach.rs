//! `POST /containers/{id}/attach`: the container's output (its logs so far
//! with `logs=1`, then its live output with `stream=1`) and the client's
//! input. A client that asks to upgrade (`Upgrade: tcp`, as the docker CLI
//! and the SDKs do) gets a hijacked connection (101); one that does not
//! gets the same bytes as a 200 answer's body, as dockerd writes them on
//! the connection it hijacks either way.

use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, Response, StatusCode};
use berth_api::version::ApiVersion;
use berth_api::Error;
use berth_engine::containers::attach::{DetachKeys, StdinMsg};
use berth_engine::containers::logs::LogOptions;
use bytes::Bytes;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{broadcast, mpsc};

use super::containers::{params, stream_type};
use super::{ApiResult, AppState};
use crate::server::RequestVersion;

/// What one attach relays, decided before the answer is sent.
pub(super) struct Relay {
    pub engine: AppState,
    pub id: String,
    pub tty: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// The client's input goes to the container (its `stdin=1` and the
    /// container's `OpenStdin`).
    pub stdin: bool,
    pub detach: DetachKeys,
    /// The logs so far (`logs=1`), as encoded frames.
    pub history: Option<mpsc::Receiver<Bytes>>,
    /// The live output (`stream=1`), subscribed before the answer.
    pub output: Option<broadcast::Receiver<(u8, Bytes)>>,
    pub stdin_tx: mpsc::UnboundedSender<StdinMsg>,
}

pub async fn attach(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    mut req: Request,
) -> ApiResult<Response<Body>> {
    let p = params(&q);
    let h = engine.lookup(&id)?;
    let r = h.snapshot();
    let tty = r.config.tty;
    let (stdout, stderr) = (p.bool("stdout"), p.bool("stderr"));
    let detach = DetachKeys::parse(p.get("detachKeys").unwrap_or("")).map_err(Error::invalid)?;
    let v = req
        .extensions()
        .get::<RequestVersion>()
        .map(|v| v.0)
        .unwrap_or(ApiVersion::CURRENT);
    let hub = h.hub();
    // Subscribe before answering, so output from a start that follows is not missed.
    let output = if p.bool("stream") {
        hub.subscribe()
    } else {
        None
    };
    let history = if p.bool("logs") {
        let opts = LogOptions {
            stdout,
            stderr,
            ..Default::default()
        };
        Some(engine.containers().logs(&id, opts)?.1)
    } else {
        None
    };
    let upgrading = req.headers().contains_key(header::UPGRADE);
    let relay = Relay {
        engine: engine.clone(),
        id: id.clone(),
        tty,
        stdout,
        stderr,
        stdin: upgrading && p.bool("stdin") && r.config.open_stdin,
        detach,
        history,
        output,
        stdin_tx: hub.stdin(),
    };
    engine.containers().event(&id, "attach");
    if !upgrading {
        let (ours, theirs) = tokio::io::duplex(64 * 1024);
        tokio::spawn(relay.run(tokio::io::empty(), ours));
        return Ok(Response::builder()
            .status(StatusCode::OK)
            .header("Content-Type", stream_type(tty, v))
            .body(Body::from_stream(tokio_util::io::ReaderStream::new(theirs)))
            .unwrap_or_default());
    }
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let (rd, wr) = tokio::io::split(TokioIo::new(upgraded));
        relay.run(rd, wr).await;
    });
    Ok(Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("Content-Type", stream_type(tty, v))
        .header("Connection", "Upgrade")
        .header("Upgrade", "tcp")
        .body(Body::empty())
        .unwrap_or_default())
}

impl Relay {
    /// Writes the history, then relays live output to `wr` and `rd` to the
    /// container's stdin until the run ends or the client detaches.
    pub(super) async fn run<R, W>(self, mut rd: R, mut wr: W)
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin,
    {
        let Relay {
            engine,
            id,
            tty,
            stdout,
            stderr,
            stdin,
            mut detach,
            history,
            output,
            stdin_tx,
        } = self;
        if let Some(mut history) = history {
            while let Some(b) = history.recv().await {
                if wr.write_all(&b).await.is_err() {
                    return;
                }
            }
        }
        let (detached_tx, mut detached_rx) = mpsc::channel::<()>(1);
        if stdin {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 32 * 1024];
                loop {
                    match rd.read(&mut buf).await {
                        Ok(0) | Err(_) => {
                            let _ = stdin_tx.send(StdinMsg::Close);
                            return;
                        }
                        Ok(n) => {
                            let (fwd, hit) = detach.feed(&buf[..n]);
                            if !fwd.is_empty() {
                                let _ = stdin_tx.send(StdinMsg::Data(Bytes::from(fwd)));
                            }
                            if hit {
                                engine.containers().event(&id, "detach");
                                let _ = detached_tx.try_send(());
                                return;
                            }
                        }
                    }
                }
            });
        }
        let Some(mut output) = output else {
            let _ = wr.shutdown().await;
            return;
        };
        loop {
            tokio::select! {
                msg = output.recv() => match msg {
                    Ok((s, data)) => {
                        if (s == 1 && !stdout) || (s == 2 && !stderr) {
                            continue;
                        }
                        if write_frame(&mut wr, tty, s, &data).await.is_err() {
                            return;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => break,
                },
                // Only a real detach ends the output; a client's stdin EOF drops the sender.
                Some(()) = detached_rx.recv() => break,
            }
        }
        let _ = wr.shutdown().await;
    }
}

/// One piece of output: raw with a TTY, else a stdcopy frame.
async fn write_frame<W: AsyncWrite + Unpin>(
    wr: &mut W,
    tty: bool,
    stream: u8,
    data: &[u8],
) -> std::io::Result<()> {
    if !tty {
        wr.write_all(&berth_runtime::proto::frame_header(stream, data.len()))
            .await?;
    }
    wr.write_all(data).await?;
    wr.flush().await
}
