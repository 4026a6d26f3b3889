//! The attach hub: one per run of a container. The daemon holds a single
//! attach stream to the shim and fans its output out to every attached
//! client; clients' stdin funnels back into it. Clients may attach before
//! the container starts (as `docker run` does) and get everything.

use std::sync::Mutex;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::{broadcast, mpsc};

pub enum StdinMsg {
    Data(Bytes),
    /// The client closed its stdin.
    Close,
}

pub struct Hub {
    out: Mutex<Option<broadcast::Sender<(u8, Bytes)>>>,
    stdin_tx: mpsc::UnboundedSender<StdinMsg>,
    stdin_rx: Mutex<Option<mpsc::UnboundedReceiver<StdinMsg>>>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub::new()
    }
}

impl Hub {
    pub fn new() -> Hub {
        let (stdin_tx, stdin_rx) = mpsc::unbounded_channel();
        Hub {
            out: Mutex::new(Some(broadcast::channel(1024).0)),
            stdin_tx,
            stdin_rx: Mutex::new(Some(stdin_rx)),
        }
    }

    /// Output frames `(stream, bytes)` of this run; `None` once it has ended.
    pub fn subscribe(&self) -> Option<broadcast::Receiver<(u8, Bytes)>> {
        self.out
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|s| s.subscribe())
    }

    pub fn stdin(&self) -> mpsc::UnboundedSender<StdinMsg> {
        self.stdin_tx.clone()
    }

    /// Ends the run's output: every subscriber sees the end of the stream.
    pub fn close(&self) {
        self.out.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    /// Pumps the shim's attach stream into the hub (and stdin back) until the
    /// shim closes it, then ends the hub's output.
    /// `close_stdin`: a client's stdin EOF closes the process's stdin
    /// (StdinOnce without a TTY); otherwise EOFs are ignored, so a TTY
    /// container keeps its input for the next attach.
    pub fn connect(self: std::sync::Arc<Self>, stream: UnixStream, close_stdin: bool) {
        let (mut read, mut write) = stream.into_split();
        if let Some(mut rx) = self
            .stdin_rx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            tokio::spawn(async move {
                while let Some(msg) = rx.recv().await {
                    match msg {
                        StdinMsg::Data(b) => {
                            if write.write_all(&b).await.is_err() {
                                return;
                            }
                        }
                        StdinMsg::Close if close_stdin => {
                            let _ = write.shutdown().await;
                            return;
                        }
                        StdinMsg::Close => {}
                    }
                }
            });
        }
        let out = self.out.lock().unwrap_or_else(|e| e.into_inner()).clone();
        tokio::spawn(async move {
            if let Some(out) = out {
                loop {
                    let mut h = [0u8; 8];
                    if read.read_exact(&mut h).await.is_err() {
                        break;
                    }
                    let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize;
                    let mut data = vec![0u8; len];
                    if read.read_exact(&mut data).await.is_err() {
                        break;
                    }
                    let _ = out.send((h[0], Bytes::from(data)));
                }
            }
            self.close();
        });
    }
}

/// Watches client stdin for the detach sequence (default ctrl-p ctrl-q).
pub struct DetachKeys {
    keys: Vec<u8>,
    matched: usize,
}

impl DetachKeys {
    /// Parses docker's `--detach-keys` syntax: `ctrl-p,ctrl-q`, `a,b`.
    pub fn parse(spec: &str) -> Result<DetachKeys, String> {
        let spec = if spec.is_empty() {
            berth_api::detach::DEFAULT_DETACH_KEYS
        } else {
            spec
        };
        Ok(DetachKeys {
            keys: berth_api::detach::parse_detach_keys(spec)?,
            matched: 0,
        })
    }

    /// Splits `input` into what to forward; `true` when the sequence was typed.
    pub fn feed(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        let mut forward = Vec::with_capacity(input.len());
        for &b in input {
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    return (forward, true);
                }
            } else {
                forward.extend_from_slice(&self.keys[..self.matched]);
                self.matched = 0;
                if b == self.keys[0] {
                    self.matched = 1;
                } else {
                    forward.push(b);
                }
            }
        }
        (forward, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_sequence() {
        let mut d = DetachKeys::parse("").unwrap();
        assert_eq!(d.feed(b"ab\x10c"), (b"ab\x10c".to_vec(), false));
        assert_eq!(d.feed(b"x\x10"), (b"x".to_vec(), false));
        assert_eq!(d.feed(b"\x11"), (vec![], true));
        let mut d = DetachKeys::parse("ctrl-a,b").unwrap();
        assert_eq!(d.feed(b"\x01b"), (vec![], true));
        assert!(DetachKeys::parse("ctrl-1").is_err());
    }
}
