//! `POST /containers/{id}/attach`: the container's output (its logs so far
//! with `logs=1`, then its live output with `stream=1`) and the client's
//! input. A client that asks to upgrade (`Upgrade: tcp`, as the docker CLI
//! and the SDKs do) gets a hijacked connection (101); one that does not
//! gets the same bytes as a 200 answer's body, as dockerd writes them on
//! the connection it hijacks either way. `GET .../attach/ws` relays the
//! same over a websocket.

use axum::body::Body;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
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
    /// Output as stdcopy frames (no TTY, not a websocket); else raw bytes.
    pub mux: bool,
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

/// The relay of one attach request: its query read, the output subscribed
/// and the logs so far taken before the answer goes out.
fn prepare(
    engine: &AppState,
    id: &str,
    q: &Option<String>,
    with_stdin: bool,
    mux: bool,
) -> berth_api::Result<Relay> {
    let p = params(q);
    let h = engine.lookup(id)?;
    let r = h.snapshot();
    let (stdout, stderr) = (p.bool("stdout"), p.bool("stderr"));
    let detach = DetachKeys::parse(p.get("detachKeys").unwrap_or("")).map_err(Error::invalid)?;
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
        Some(engine.containers().logs(id, opts)?.1)
    } else {
        None
    };
    engine.containers().event(id, "attach");
    Ok(Relay {
        engine: engine.clone(),
        id: id.to_string(),
        tty: r.config.tty,
        mux,
        stdout,
        stderr,
        stdin: with_stdin && p.bool("stdin") && r.config.open_stdin,
        detach,
        history,
        output,
        stdin_tx: hub.stdin(),
    })
}

pub async fn attach(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    mut req: Request,
) -> ApiResult<Response<Body>> {
    let v = req
        .extensions()
        .get::<RequestVersion>()
        .map(|v| v.0)
        .unwrap_or(ApiVersion::CURRENT);
    let upgrading = req.headers().contains_key(header::UPGRADE);
    let relay = prepare(&engine, &id, &q, upgrading, true)?;
    let tty = relay.tty;
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

/// `GET /containers/{id}/attach/ws`: the same relay over a websocket, as
/// dockerd's: output never multiplexed (each piece one binary message),
/// input from the client's messages.
pub async fn attach_ws(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    ws: WebSocketUpgrade,
) -> ApiResult<Response<Body>> {
    let relay = prepare(&engine, &id, &q, true, false)?;
    Ok(ws.on_upgrade(move |socket| async move {
        let (relay_side, ws_side) = tokio::io::duplex(64 * 1024);
        let (rd, wr) = tokio::io::split(relay_side);
        tokio::spawn(relay.run(rd, wr));
        bridge(socket, ws_side).await;
    }))
}

/// Moves bytes between a websocket and the relay's end of a pipe until
/// either side ends.
async fn bridge(mut socket: WebSocket, pipe: tokio::io::DuplexStream) {
    let (mut from_relay, mut to_relay) = tokio::io::split(pipe);
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        tokio::select! {
            n = from_relay.read(&mut buf) => match n {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let msg = Message::Binary(Bytes::copy_from_slice(&buf[..n]));
                    if socket.send(msg).await.is_err() {
                        return;
                    }
                }
            },
            msg = socket.recv() => match msg {
                Some(Ok(Message::Binary(b))) => {
                    if to_relay.write_all(&b).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Text(t))) => {
                    if to_relay.write_all(t.as_bytes()).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                // The client closed: its input ends; output may still come.
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                    let _ = to_relay.shutdown().await;
                    return;
                }
            }
        }
    }
    let _ = socket.send(Message::Close(None)).await;
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
            mux,
            stdout,
            stderr,
            stdin,
            mut detach,
            history,
            output,
            stdin_tx,
        } = self;
        let framed = mux && !tty;
        if let Some(mut history) = history {
            // The logs come as stdcopy frames without a TTY; unframed for a
            // websocket.
            let mut unframe = (!tty && !mux).then(Unframe::default);
            while let Some(b) = history.recv().await {
                let b = match unframe.as_mut() {
                    Some(u) => u.push(&b),
                    None => b.to_vec(),
                };
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
                        if write_frame(&mut wr, !framed, s, &data).await.is_err() {
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

/// Payloads of a stdcopy byte stream, however it is cut into pieces.
#[derive(Default)]
struct Unframe {
    pending: Vec<u8>,
}

impl Unframe {
    fn push(&mut self, piece: &[u8]) -> Vec<u8> {
        self.pending.extend_from_slice(piece);
        let mut out = Vec::new();
        while let Some(head) = self.pending.get(..8) {
            let len = u32::from_be_bytes([head[4], head[5], head[6], head[7]]) as usize;
            if self.pending.len() < 8 + len {
                break;
            }
            out.extend_from_slice(&self.pending[8..8 + len]);
            self.pending.drain(..8 + len);
        }
        out
    }
}

/// One piece of output: raw bytes, or a stdcopy frame.
async fn write_frame<W: AsyncWrite + Unpin>(
    wr: &mut W,
    raw: bool,
    stream: u8,
    data: &[u8],
) -> std::io::Result<()> {
    if !raw {
        wr.write_all(&berth_runtime::proto::frame_header(stream, data.len()))
            .await?;
    }
    wr.write_all(data).await?;
    wr.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unframe_joins_payloads_across_pieces() {
        let mut u = Unframe::default();
        let frames = [
            &[1u8, 0, 0, 0, 0, 0, 0, 3][..],
            b"one",
            &[2u8, 0, 0, 0, 0, 0, 0, 2][..],
            b"to",
        ]
        .concat();
        assert_eq!(u.push(&frames[..5]), b"");
        assert_eq!(u.push(&frames[5..12]), b"one");
        assert_eq!(u.push(&frames[12..]), b"to");
    }
}
