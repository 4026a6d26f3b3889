//! The remote log drivers: syslog, gelf, fluentd and journald, written by
//! the shim so logs keep flowing while the daemon is down. Lines go through
//! a queue to one sender task per container: with `mode=blocking` (the
//! default) a full queue holds the container's output back, as dockerd
//! does; with `mode=non-blocking` lines beyond `max-buffer-size` are dropped
//! and the container never stalls.
//!
//! The wire formats are small and fixed (syslog lines, GELF JSON, a
//! msgpack array for fluentd's forward protocol, journald's native
//! datagram), so they are written here; msgpack comes from `rmp-serde`.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use super::log::Line;
use crate::proto::LogSpec;

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

#[derive(Debug, Clone)]
enum Kind {
    Syslog {
        facility: u8,
        format: String,
        hostname: String,
    },
    Gelf {
        compression: String,
        level: u32,
        hostname: String,
    },
    Fluentd,
    Journald,
}

/// The driver of a container: what to send, and where.
#[derive(Debug, Clone)]
pub struct Driver {
    kind: Kind,
    target: Target,
    spec: LogSpec,
    id: String,
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "localhost".into())
}

fn facility(name: &str) -> anyhow::Result<u8> {
    const NAMES: [&str; 24] = [
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
        "authpriv", "ftp", "", "", "", "", "local0", "local1", "local2", "local3", "local4",
        "local5", "local6", "local7",
    ];
    if let Ok(n) = name.parse::<u8>() {
        if n < 24 {
            return Ok(n);
        }
    }
    NAMES
        .iter()
        .position(|n| !n.is_empty() && *n == name)
        .map(|p| p as u8)
        .ok_or_else(|| anyhow!("invalid syslog facility value: {name}"))
}

impl Driver {
    /// The driver for `spec`, or `None` for the file-only drivers.
    pub fn new(spec: &LogSpec, id: &str) -> anyhow::Result<Option<Driver>> {
        let o = |k: &str| spec.opts.get(k).map(String::as_str).unwrap_or("");
        let (kind, target) = match spec.driver.as_str() {
            "syslog" => {
                let addr = o("syslog-address");
                let target = if addr.is_empty() {
                    Target::UnixStream("/dev/log".into())
                } else {
                    parse_target(addr, 514, "udp")?
                };
                let fac = if o("syslog-facility").is_empty() {
                    "daemon"
                } else {
                    o("syslog-facility")
                };
                (
                    Kind::Syslog {
                        facility: facility(fac)?,
                        format: o("syslog-format").to_string(),
                        hostname: hostname(),
                    },
                    target,
                )
            }
            "gelf" => {
                let addr = o("gelf-address");
                if addr.is_empty() {
                    bail!("gelf-address is a required parameter");
                }
                let target = parse_target(addr, 12201, "udp")?;
                let compression = match o("gelf-compression-type") {
                    "" => "gzip".to_string(),
                    c @ ("gzip" | "zlib" | "none") => c.to_string(),
                    c => bail!("Unknown gelf compression type: {c}"),
                };
                let level = match o("gelf-compression-level") {
                    "" => 6,
                    l => l
                        .parse::<i32>()
                        .ok()
                        .filter(|l| (-1..=9).contains(l))
                        .map(|l| if l < 0 { 6 } else { l as u32 })
                        .ok_or_else(|| anyhow!("invalid gelf-compression-level: {l}"))?,
                };
                (
                    Kind::Gelf {
                        compression,
                        level,
                        hostname: hostname(),
                    },
                    target,
                )
            }
            "fluentd" => {
                let addr = if o("fluentd-address").is_empty() {
                    "localhost:24224"
                } else {
                    o("fluentd-address")
                };
                (Kind::Fluentd, parse_target(addr, 24224, "tcp")?)
            }
            "journald" => {
                let sock = PathBuf::from("/run/systemd/journal/socket");
                if !sock.exists() {
                    bail!("journald is not enabled on this host");
                }
                (Kind::Journald, Target::UnixDgram(sock))
            }
            _ => return Ok(None),
        };
        Ok(Some(Driver {
            kind,
            target,
            spec: spec.clone(),
            id: id.to_string(),
        }))
    }

    /// dockerd refuses to start a container whose stream log target is
    /// unreachable (unless an async option says to connect later).
    pub fn check(&self) -> anyhow::Result<()> {
        let lazy = matches!(self.kind, Kind::Fluentd)
            && (self
                .spec
                .opts
                .get("fluentd-async")
                .is_some_and(|v| v == "true")
                || self
                    .spec
                    .opts
                    .get("fluentd-async-connect")
                    .is_some_and(|v| v == "true"));
        if lazy {
            return Ok(());
        }
        match &self.target {
            Target::Tcp(a) => std::net::TcpStream::connect_timeout(a, Duration::from_secs(5))
                .map(drop)
                .with_context(|| format!("failed to initialize logging driver: dial tcp {a}")),
            Target::UnixStream(p) if matches!(self.kind, Kind::Syslog { .. }) => {
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

    fn syslog_payload(&self, line: &Line, stream: bool) -> Vec<u8> {
        let Kind::Syslog {
            facility,
            format,
            hostname,
        } = &self.kind
        else {
            return vec![];
        };
        let severity = if line.stream == 2 { 3 } else { 6 };
        let pri = *facility as u32 * 8 + severity;
        let tag = &self.spec.tag;
        let pid = std::process::id();
        let msg = line.message();
        let rfc5424 = format.starts_with("rfc5424");
        let text = match format.as_str() {
            "rfc3164" => format!(
                "<{pri}>{} {tag}[{pid}]: {msg}",
                line.time.format("%b %e %H:%M:%S")
            ),
            "rfc5424" => format!(
                "<{pri}>1 {} {hostname} {tag} {pid} {tag} - {msg}",
                line.time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
            "rfc5424micro" => format!(
                "<{pri}>1 {} {hostname} {tag} {pid} {tag} - {msg}",
                line.time
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            ),
            _ => format!(
                "<{pri}>{} {hostname} {tag}[{pid}]: {msg}",
                line.time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        };
        if stream {
            if rfc5424 {
                // RFC 5425 octet counting.
                format!("{} {text}", text.len()).into_bytes()
            } else {
                format!("{text}\n").into_bytes()
            }
        } else {
            text.into_bytes()
        }
    }

    fn gelf_json(&self, line: &Line) -> Vec<u8> {
        let Kind::Gelf { hostname, .. } = &self.kind else {
            return vec![];
        };
        let mut m = serde_json::Map::new();
        m.insert("version".into(), "1.1".into());
        m.insert("host".into(), hostname.clone().into());
        m.insert("short_message".into(), line.message().into());
        let ts =
            line.time.timestamp() as f64 + f64::from(line.time.timestamp_subsec_micros()) / 1e6;
        m.insert("timestamp".into(), serde_json::json!(ts));
        m.insert("level".into(), if line.stream == 2 { 3 } else { 6 }.into());
        let s = &self.spec;
        for (k, v) in [
            ("_container_id", self.id.clone()),
            (
                "_container_name",
                s.container_name.trim_start_matches('/').to_string(),
            ),
            ("_image_id", s.image_id.clone()),
            ("_image_name", s.image_name.clone()),
            ("_command", s.command.clone()),
            ("_tag", s.tag.clone()),
            ("_created", s.created.clone()),
        ] {
            m.insert(k.into(), v.into());
        }
        for (k, v) in &s.attrs {
            m.insert(format!("_{k}"), v.clone().into());
        }
        serde_json::to_vec(&m).unwrap_or_default()
    }

    fn gelf_datagrams(&self, line: &Line) -> Vec<Vec<u8>> {
        let Kind::Gelf {
            compression, level, ..
        } = &self.kind
        else {
            return vec![];
        };
        let json = self.gelf_json(line);
        let body = match compression.as_str() {
            "none" => json,
            "zlib" => {
                let mut e =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(*level));
                let _ = e.write_all(&json);
                e.finish().unwrap_or_default()
            }
            _ => {
                let mut e =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(*level));
                let _ = e.write_all(&json);
                e.finish().unwrap_or_default()
            }
        };
        // GELF chunking, as go-gelf does for WAN-sized datagrams.
        const CHUNK: usize = 1420;
        const HEAD: usize = 12;
        if body.len() <= CHUNK {
            return vec![body];
        }
        let id: [u8; 8] = rand_id();
        let parts: Vec<&[u8]> = body.chunks(CHUNK - HEAD).collect();
        if parts.len() > 128 {
            return vec![]; // too big for GELF: dropped, as go-gelf does
        }
        parts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut d = vec![0x1e, 0x0f];
                d.extend_from_slice(&id);
                d.push(i as u8);
                d.push(parts.len() as u8);
                d.extend_from_slice(p);
                d
            })
            .collect()
    }

    fn fluentd_payload(&self, line: &Line) -> Vec<u8> {
        let mut rec: BTreeMap<String, String> = self.spec.attrs.clone();
        rec.insert("container_id".into(), self.id.clone());
        rec.insert("container_name".into(), self.spec.container_name.clone());
        rec.insert("source".into(), line.stream_name().into());
        rec.insert("log".into(), line.message());
        rmp_serde::to_vec(&(&self.spec.tag, line.time.timestamp() as u64, rec)).unwrap_or_default()
    }

    fn journald_payload(&self, line: &Line) -> Vec<u8> {
        let mut out = Vec::new();
        let prio = if line.stream == 2 { "3" } else { "6" };
        let mut field = |k: &str, v: &[u8]| {
            if v.contains(&b'\n') {
                out.extend_from_slice(k.as_bytes());
                out.push(b'\n');
                out.extend_from_slice(&(v.len() as u64).to_le_bytes());
                out.extend_from_slice(v);
                out.push(b'\n');
            } else {
                out.extend_from_slice(k.as_bytes());
                out.push(b'=');
                out.extend_from_slice(v);
                out.push(b'\n');
            }
        };
        field("MESSAGE", line.message().as_bytes());
        field("PRIORITY", prio.as_bytes());
        field(
            "CONTAINER_ID",
            self.id.get(..12).unwrap_or(&self.id).as_bytes(),
        );
        field("CONTAINER_ID_FULL", self.id.as_bytes());
        field(
            "CONTAINER_NAME",
            self.spec.container_name.trim_start_matches('/').as_bytes(),
        );
        field("CONTAINER_TAG", self.spec.tag.as_bytes());
        field("SYSLOG_IDENTIFIER", self.spec.tag.as_bytes());
        field("IMAGE_NAME", self.spec.image_name.as_bytes());
        for (k, v) in &self.spec.attrs {
            let key: String = k
                .to_ascii_uppercase()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            field(&key, v.as_bytes());
        }
        out
    }

    /// What one line becomes on the wire for this connection.
    fn payloads(&self, line: &Line, conn: &Conn) -> Vec<Vec<u8>> {
        match &self.kind {
            Kind::Syslog { .. } => vec![self.syslog_payload(line, conn.is_stream())],
            Kind::Gelf { .. } => {
                if conn.is_stream() {
                    let mut j = self.gelf_json(line);
                    j.push(0);
                    vec![j]
                } else {
                    self.gelf_datagrams(line)
                }
            }
            Kind::Fluentd => vec![self.fluentd_payload(line)],
            Kind::Journald => vec![self.journald_payload(line)],
        }
    }
}

fn rand_id() -> [u8; 8] {
    let mut b = [0u8; 8];
    // SAFETY: getrandom writes at most `len` bytes into the buffer we own.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    if n != 8 {
        let t = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
        b = t.to_le_bytes();
    }
    b
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
mod tests {
    use super::*;

    fn spec(driver: &str, opts: &[(&str, &str)]) -> LogSpec {
        LogSpec {
            driver: driver.into(),
            opts: opts
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            tag: "abc123".into(),
            container_name: "/web".into(),
            ..Default::default()
        }
    }

    fn line(s: &str, stream: u8) -> Line {
        Line {
            stream,
            text: s.as_bytes().to_vec(),
            time: chrono::Utc::now(),
        }
    }

    #[test]
    fn syslog_lines() {
        let d = Driver::new(
            &spec(
                "syslog",
                &[
                    ("syslog-address", "udp://127.0.0.1:5514"),
                    ("syslog-facility", "local3"),
                ],
            ),
            "f00",
        )
        .unwrap()
        .unwrap();
        let p = String::from_utf8(d.syslog_payload(&line("hello\n", 1), false)).unwrap();
        assert!(p.starts_with("<158>"), "{p}");
        assert!(p.contains(" abc123[") && p.ends_with("]: hello"), "{p}");
        let d = Driver::new(
            &spec(
                "syslog",
                &[
                    ("syslog-address", "tcp://127.0.0.1:5514"),
                    ("syslog-format", "rfc5424"),
                ],
            ),
            "f00",
        )
        .unwrap()
        .unwrap();
        let p = String::from_utf8(d.syslog_payload(&line("oops\n", 2), true)).unwrap();
        let (len, rest) = p.split_once(' ').unwrap();
        assert_eq!(len.parse::<usize>().unwrap(), rest.len());
        assert!(rest.starts_with("<27>1 "), "{rest}");
        assert!(Driver::new(&spec("syslog", &[("syslog-facility", "nope")]), "x").is_err());
    }

    #[test]
    fn gelf_and_fluentd_payloads() {
        let d = Driver::new(
            &spec(
                "gelf",
                &[
                    ("gelf-address", "udp://127.0.0.1:12201"),
                    ("gelf-compression-type", "none"),
                ],
            ),
            "f00",
        )
        .unwrap()
        .unwrap();
        let j: serde_json::Value = serde_json::from_slice(&d.gelf_json(&line("hi\n", 1))).unwrap();
        assert_eq!(j["short_message"], "hi");
        assert_eq!(j["_container_name"], "web");
        assert_eq!(j["_tag"], "abc123");
        let big = "x".repeat(5000);
        let d = Driver::new(
            &spec(
                "gelf",
                &[
                    ("gelf-address", "udp://127.0.0.1:12201"),
                    ("gelf-compression-type", "none"),
                ],
            ),
            "f00",
        )
        .unwrap()
        .unwrap();
        let parts = d.gelf_datagrams(&line(&big, 1));
        assert!(parts.len() > 1 && parts.iter().all(|p| p[0] == 0x1e && p[1] == 0x0f));
        assert!(Driver::new(&spec("gelf", &[]), "x").is_err());
        let d = Driver::new(
            &spec("fluentd", &[("fluentd-address", "127.0.0.1:24224")]),
            "f00",
        )
        .unwrap()
        .unwrap();
        let (tag, _t, rec): (String, u64, BTreeMap<String, String>) =
            rmp_serde::from_slice(&d.fluentd_payload(&line("msg\n", 2))).unwrap();
        assert_eq!(tag, "abc123");
        assert_eq!(rec["log"], "msg");
        assert_eq!(rec["source"], "stderr");
        assert_eq!(rec["container_id"], "f00");
    }
}
