//! The remote log drivers: syslog, gelf, fluentd and journald, written by
//! the shim so logs keep flowing while the daemon is down. Lines go through
//! a queue to one sender task per container: with `mode=blocking` (the
//! default) a full queue holds the container's output back, as dockerd
//! does; with `mode=non-blocking` lines beyond `max-buffer-size` are dropped
//! and the container never stalls.
//!
//! The wire formats are small and fixed (syslog lines, GELF JSON, a
//! msgpack array for fluentd's forward protocol, journald's native
//! datagram), so they are written here, one file per driver behind the
//! `Format` trait; msgpack comes from `rmp-serde`.

use std::cell::Cell;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use crate::proto::LogSpec;
use crate::shim::log::Line;

/// Where a driver sends.
#[derive(Debug, Clone)]
enum Target {
    Udp(SocketAddr),
    Tcp(SocketAddr),
    UnixStream(PathBuf),
    UnixDgram(PathBuf),
}

fn resolve(hostport: &str, default_port: u16) -> anyhow::Result<SocketAddr> {
    let hp = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:{default_port}")
    };
    hp.to_socket_addrs()
        .with_context(|| format!("resolving {hp}"))?
        .next()
        .ok_or_else(|| anyhow!("no address for {hp}"))
}

fn parse_target(addr: &str, default_port: u16, default_proto: &str) -> anyhow::Result<Target> {
    let (proto, rest) = match addr.split_once("://") {
        Some((p, r)) => (p, r),
        None => (default_proto, addr),
    };
    Ok(match proto {
        "udp" => Target::Udp(resolve(rest, default_port)?),
        "tcp" => Target::Tcp(resolve(rest, default_port)?),
        "unix" => Target::UnixStream(PathBuf::from(rest)),
        "unixgram" => Target::UnixDgram(PathBuf::from(rest)),
        other => bail!("unsupported protocol {other:?} in {addr:?}"),
    })
}

/// A live connection, remade after a failure.
enum Conn {
    Udp(tokio::net::UdpSocket),
    Tcp(tokio::net::TcpStream),
    UnixStream(tokio::net::UnixStream),
    UnixDgram(tokio::net::UnixDatagram),
}

async fn connect(t: &Target) -> std::io::Result<Conn> {
    Ok(match t {
        Target::Udp(a) => {
            let bind: SocketAddr = if a.is_ipv4() {
                ([0, 0, 0, 0], 0).into()
            } else {
                (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
            };
            let s = tokio::net::UdpSocket::bind(bind).await?;
            s.connect(a).await?;
            Conn::Udp(s)
        }
        Target::Tcp(a) => Conn::Tcp(tokio::net::TcpStream::connect(a).await?),
        Target::UnixStream(p) => match tokio::net::UnixStream::connect(p).await {
            Ok(s) => Conn::UnixStream(s),
            // /dev/log is a datagram socket on most hosts: unix:// means either.
            Err(_) => {
                let s = tokio::net::UnixDatagram::unbound()?;
                s.connect(p)?;
                Conn::UnixDgram(s)
            }
        },
        Target::UnixDgram(p) => {
            let s = tokio::net::UnixDatagram::unbound()?;
            s.connect(p)?;
            Conn::UnixDgram(s)
        }
    })
}

impl Conn {
    fn is_stream(&self) -> bool {
        matches!(self, Conn::Tcp(_) | Conn::UnixStream(_))
    }

    async fn send(&mut self, b: &[u8]) -> std::io::Result<()> {
        match self {
            Conn::Udp(s) => s.send(b).await.map(|_| ()),
            Conn::Tcp(s) => s.write_all(b).await,
            Conn::UnixStream(s) => s.write_all(b).await,
            Conn::UnixDgram(s) => s.send(b).await.map(|_| ()),
        }
    }
}

mod fluentd;
mod gelf;
mod journald;
mod syslog;

/// One remote driver's wire format: what a log line becomes. syslog, gelf,
/// fluentd and journald implement it, each in its own file; a log driver
/// plugin (`LogDriver.*`) is the next.
trait Format: std::fmt::Debug {
    /// The writes (on a stream) or datagrams that one line of the
    /// container `id`, logged with `spec`, becomes.
    fn payloads(&self, line: &Line, spec: &LogSpec, id: &str, stream: bool) -> Vec<Vec<u8>>;

    /// Whether the container may start before the target answers.
    fn connects_later(&self, _spec: &LogSpec) -> bool {
        false
    }

    /// Whether a unix-stream target must answer before the container
    /// starts (syslog's `/dev/log`).
    fn checks_unix_target(&self) -> bool {
        false
    }
}

/// The driver of a container: what to send, and where.
#[derive(Debug)]
pub struct Driver {
    format: Box<dyn Format>,
    target: Target,
    spec: LogSpec,
    id: String,
}

/// A log option's value, `""` when unset.
fn opt<'a>(spec: &'a LogSpec, key: &str) -> &'a str {
    spec.opts.get(key).map(String::as_str).unwrap_or("")
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "localhost".into())
}

impl Driver {
    /// The driver for `spec`, or `None` for the file-only drivers.
    pub fn new(spec: &LogSpec, id: &str) -> anyhow::Result<Option<Driver>> {
        fn boxed<F: Format + 'static>(
            made: anyhow::Result<(F, Target)>,
        ) -> anyhow::Result<(Box<dyn Format>, Target)> {
            made.map(|(f, t)| (Box::new(f) as Box<dyn Format>, t))
        }
        let (format, target) = match spec.driver.as_str() {
            "syslog" => boxed(syslog::Syslog::new(spec))?,
            "gelf" => boxed(gelf::Gelf::new(spec))?,
            "fluentd" => boxed(fluentd::Fluentd::new(spec))?,
            "journald" => boxed(journald::Journald::new(spec))?,
            _ => return Ok(None),
        };
        Ok(Some(Driver {
            format,
            target,
            spec: spec.clone(),
            id: id.to_string(),
        }))
    }

    /// dockerd refuses to start a container whose stream log target is
    /// unreachable (unless an async option says to connect later).
    pub fn check(&self) -> anyhow::Result<()> {
        if self.format.connects_later(&self.spec) {
            return Ok(());
        }
        match &self.target {
            Target::Tcp(a) => std::net::TcpStream::connect_timeout(a, Duration::from_secs(5))
                .map(drop)
                .with_context(|| format!("failed to initialize logging driver: dial tcp {a}")),
            Target::UnixStream(p) if self.format.checks_unix_target() => {
                if std::os::unix::net::UnixStream::connect(p).is_ok()
                    || std::os::unix::net::UnixDatagram::unbound()
                        .and_then(|s| s.connect(p))
                        .is_ok()
                {
                    Ok(())
                } else {
                    bail!("failed to initialize logging driver: dial unix {}: connect: no such file or directory", p.display())
                }
            }
            _ => Ok(()),
        }
    }

    /// What one line becomes on the wire for this connection.
    fn payloads(&self, line: &Line, conn: &Conn) -> Vec<Vec<u8>> {
        self.format
            .payloads(line, &self.spec, &self.id, conn.is_stream())
    }
}

/// The sending side the output pumps use.
#[derive(Clone)]
pub struct Remote {
    tx: mpsc::UnboundedSender<Line>,
    blocking: bool,
    /// Bytes queued and not yet sent.
    queued: Rc<Cell<usize>>,
    /// Blocking: the queue depth that holds output back; non-blocking: the
    /// bytes beyond which lines are dropped.
    limit: usize,
    wake: Rc<tokio::sync::Notify>,
}

impl Remote {
    /// Starts the sender task; returns the handle and the task to await at exit.
    pub fn start(driver: Driver) -> (Remote, tokio::task::JoinHandle<()>) {
        let blocking = driver
            .spec
            .opts
            .get("mode")
            .is_none_or(|m| m != "non-blocking");
        let limit = if blocking {
            1 << 20
        } else {
            driver.spec.max_buffer_size.unwrap_or(1 << 20) as usize
        };
        let (tx, mut rx) = mpsc::unbounded_channel::<Line>();
        let queued = Rc::new(Cell::new(0usize));
        let wake = Rc::new(tokio::sync::Notify::new());
        let q = queued.clone();
        let w = wake.clone();
        let task = tokio::task::spawn_local(async move {
            let mut conn: Option<Conn> = None;
            while let Some(line) = rx.recv().await {
                q.set(q.get().saturating_sub(line.text.len()));
                w.notify_waiters();
                for attempt in 0..3 {
                    if conn.is_none() {
                        match connect(&driver.target).await {
                            Ok(c) => conn = Some(c),
                            Err(e) => {
                                eprintln!("shim: log driver {}: {e}", driver.spec.driver);
                                tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                                continue;
                            }
                        }
                    }
                    let Some(c) = conn.as_mut() else { continue };
                    let mut ok = true;
                    for p in driver.payloads(&line, c) {
                        if c.send(&p).await.is_err() {
                            ok = false;
                            break;
                        }
                    }
                    if ok {
                        break;
                    }
                    conn = None;
                }
            }
        });
        (
            Remote {
                tx,
                blocking,
                queued,
                limit,
                wake,
            },
            task,
        )
    }

    /// Queues a line: waits for room in blocking mode, drops it when the
    /// buffer is full in non-blocking mode.
    pub async fn send(&self, line: Line) {
        let len = line.text.len();
        if self.blocking {
            loop {
                // Registered before the check, so a wake in between is not lost.
                let room = self.wake.notified();
                if self.queued.get() < self.limit {
                    break;
                }
                room.await;
            }
        } else if self.queued.get() + len > self.limit {
            return; // dropped: the container must never wait on its log
        }
        self.queued.set(self.queued.get() + len);
        let _ = self.tx.send(line);
    }
}

#[cfg(test)]
mod tests;
