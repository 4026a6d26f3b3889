//! A typed client for the Docker Engine API: plain requests, streamed
//! bodies and hijacked (upgraded) connections for attach and exec.
//!
//! The endpoint comes from [`crate::context::resolve`]: `-H`, `DOCKER_HOST`,
//! a docker context, or berth's socket. `unix://`, plain `tcp://` and
//! `tcp://` over TLS (rustls, [`crate::tls`]) are supported; a hijacked
//! attach or exec over TLS is the same HTTP/1.1 upgrade inside the TLS
//! stream. The API version is negotiated as the docker CLI does:
//! `DOCKER_API_VERSION` if set, else one `GET /_ping` and the lower of the
//! daemon's `Api-Version` and ours. Each request uses its own connection,
//! as the docker CLI's hijacks do; that keeps the client simple and costs
//! ~0.1 ms on a unix socket.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::OnceCell;

use berth_api::types::ErrorResponse;
use berth_api::version::{ApiVersion, API_VERSION};

use crate::context::{Endpoint, Resolved, DEFAULT_NAME};

pub const DEFAULT_HOST: &str = "unix:///run/berth/berth.sock";

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("Cannot connect to the berth daemon at {0}. Is the berth daemon running?")]
    Connect(String),
    /// An error the daemon answered, with its status and `message`.
    #[error("Error response from daemon: {1}")]
    Daemon(StatusCode, String),
    /// A transport failure after the connection was made (TLS), in the
    /// docker CLI's words (`error during connect: Get "URL": why`).
    #[error("{0}")]
    During(String),
    #[error("{0}")]
    Other(String),
}

impl ClientError {
    /// The HTTP status of a daemon error.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Daemon(s, _) => Some(s.as_u16()),
            _ => None,
        }
    }

    /// The daemon's message without the `Error response from daemon: ` prefix.
    pub fn message(&self) -> String {
        match self {
            ClientError::Daemon(_, m) => m.clone(),
            other => other.to_string(),
        }
    }
}

pub type Result<T> = std::result::Result<T, ClientError>;

/// Where the daemon listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    Unix(String),
    /// `host:port`; plain HTTP, or TLS when the client has a TLS config.
    Tcp(String),
}

impl Transport {
    /// Normalises a docker host string as the docker CLI's `ParseHost`
    /// does: `unix://PATH`, `tcp://HOST:PORT` (an empty host is
    /// `localhost`, a missing port 2375), a bare `HOST:PORT` is tcp.
    /// berth also takes a bare `/path` as a unix socket.
    pub fn normalize(host: &str) -> std::result::Result<String, String> {
        let h = host.trim();
        if h.starts_with('/') {
            return Ok(format!("unix://{h}"));
        }
        let (proto, rest) = match h.split_once("://") {
            Some((p, r)) => (p.to_ascii_lowercase(), r),
            None if !h.is_empty() => ("tcp".to_string(), h),
            None => return Err(format!("invalid bind address format: {host}")),
        };
        match proto.as_str() {
            "unix" => {
                let path = if rest.is_empty() {
                    DEFAULT_HOST.trim_start_matches("unix://")
                } else {
                    rest
                };
                Ok(format!("unix://{path}"))
            }
            "tcp" | "http" | "https" => {
                let hostport = rest.split('/').next().unwrap_or("");
                let path = &rest[hostport.len()..];
                let (name, port) = split_host_port(hostport)
                    .ok_or_else(|| format!("invalid bind address format: {host}"))?;
                let name = if name.is_empty() { "localhost" } else { name };
                let port = if port.is_empty() { "2375" } else { port };
                let name = if name.contains(':') && !name.starts_with('[') {
                    format!("[{name}]")
                } else {
                    name.to_string()
                };
                let path = path.trim_end_matches('/');
                Ok(format!("tcp://{name}:{port}{path}"))
            }
            _ => Err(format!("invalid bind address format: {host}")),
        }
    }

    /// Parses a docker host string (`unix:///path`, `tcp://host:port`, `/path`).
    pub fn parse(host: &str) -> Result<Transport> {
        let h = Transport::normalize(host).map_err(ClientError::Other)?;
        if let Some(p) = h.strip_prefix("unix://") {
            return Ok(Transport::Unix(p.to_string()));
        }
        match h.strip_prefix("tcp://") {
            Some(rest) => Ok(Transport::Tcp(
                rest.split('/').next().unwrap_or(rest).to_string(),
            )),
            None => Err(ClientError::Other(format!(
                "unable to parse docker host `{host}`"
            ))),
        }
    }
}

/// `host:port`, `[v6]:port`, `host`, `:port` into (host, port).
fn split_host_port(s: &str) -> Option<(&str, &str)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p,
            None if after.is_empty() => "",
            None => return None,
        };
        return Some((h, port));
    }
    match s.matches(':').count() {
        0 => Some((s, "")),
        1 => s.split_once(':'),
        // A bare IPv6 address without a port.
        _ => Some((s, "")),
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

#[derive(Debug, Clone)]
pub struct Client {
    transport: Transport,
    host: String,
    tls: Option<Arc<rustls::ClientConfig>>,
    context: String,
    version: std::sync::Arc<OnceCell<String>>,
}

impl Client {
    /// The client for a resolved endpoint (see [`crate::context::resolve`]).
    /// A `DOCKER_API_VERSION` fixes the version and skips negotiation.
    pub fn from_resolved(r: &Resolved) -> Result<Client> {
        let mut client = Client::for_endpoint(&r.endpoint)?;
        client.context = r.name.clone();
        if let Ok(v) = std::env::var("DOCKER_API_VERSION") {
            if !v.is_empty() {
                let _ = client.version.set(v);
            }
        }
        Ok(client)
    }

    /// A client for an endpoint, TLS included.
    pub fn for_endpoint(e: &Endpoint) -> Result<Client> {
        let mut c = Client::new(&e.host)?;
        // As with the docker CLI, TLS settings do not apply to a unix socket.
        if e.uses_tls() && matches!(c.transport, Transport::Tcp(_)) {
            let data = e.tls.clone().unwrap_or_default();
            let config = crate::tls::client_config(&data, e.skip_tls_verify)
                .map_err(|err| ClientError::Other(err.to_string()))?;
            c.tls = Some(config);
        }
        Ok(c)
    }

    /// A plain client for one host string; the version is negotiated on
    /// first use.
    pub fn new(host: &str) -> Result<Client> {
        let transport = Transport::parse(host)?;
        Ok(Client {
            transport,
            host: Transport::normalize(host).map_err(ClientError::Other)?,
            tls: None,
            context: DEFAULT_NAME.to_string(),
            version: Default::default(),
        })
    }

    /// A client that uses `version` without negotiating.
    pub fn with_version(host: &str, version: &str) -> Result<Client> {
        let c = Client::new(host)?;
        let _ = c.version.set(version.to_string());
        Ok(c)
    }

    /// The name of the context this client came from (`default` when none).
    pub fn context(&self) -> &str {
        &self.context
    }

    /// The host string this client talks to.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The API version in use: negotiated once with `_ping`.
    pub async fn api_version(&self) -> Result<String> {
        self.version
            .get_or_try_init(|| async {
                let resp = self.send_raw("GET", "/_ping", None, "", None).await?;
                let server = resp
                    .headers()
                    .get("Api-Version")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let _ = resp.into_body().collect().await;
                Ok(negotiate(server.as_deref()))
            })
            .await
            .cloned()
    }

    /// The URL docker shows in transport errors.
    fn url(&self, path: &str, version: Option<&str>) -> String {
        let (scheme, authority) = match &self.transport {
            Transport::Tcp(a) if self.tls.is_some() => ("https", a.clone()),
            Transport::Tcp(a) => ("http", a.clone()),
            Transport::Unix(p) => ("http", p.replace('/', "%2F")),
        };
        match version {
            Some(v) => format!("{scheme}://{authority}/v{v}{path}"),
            None => format!("{scheme}://{authority}{path}"),
        }
    }

    /// A failure of the connection, in the docker CLI's words: a refused
    /// or unreachable daemon is `Cannot connect ...`; a TLS failure names
    /// the request (`error during connect: Get "https://...": why`).
    fn transport_error(
        &self,
        method: &str,
        path: &str,
        version: Option<&str>,
        e: &(dyn std::error::Error + 'static),
    ) -> ClientError {
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(err) = cur {
            let tls = err.downcast_ref::<rustls::Error>().or_else(|| {
                err.downcast_ref::<std::io::Error>()
                    .and_then(|io| io.get_ref())
                    .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            });
            if let Some(t) = tls {
                let host = match &self.transport {
                    Transport::Tcp(a) => a.rsplit_once(':').map(|(h, _)| h).unwrap_or(a),
                    Transport::Unix(p) => p,
                };
                let mut op = method.to_ascii_lowercase();
                if let Some(f) = op.get_mut(0..1) {
                    f.make_ascii_uppercase();
                }
                let why = crate::tls::describe(t, host);
                let what = format!("{op} \"{}\": {why}", self.url(path, version));
                // The docker client's hint for Go servers' TLS 1.2 refusal.
                if why == "remote error: tls: bad certificate" {
                    return ClientError::During(format!(
                        "the server probably has client authentication (--tlsverify) enabled; check your TLS client certification settings: {what}"
                    ));
                }
                return ClientError::During(format!("error during connect: {what}"));
            }
            cur = err.source();
        }
        ClientError::Other(e.to_string())
    }

    /// A failed TCP dial: refused and timed out are docker's `Cannot
    /// connect`; anything else (no route, bad port) is named, as docker
    /// does (`error during connect: Get "URL": dial tcp ADDR: why`).
    fn dial_error(
        &self,
        method: &str,
        path: &str,
        version: Option<&str>,
        addr: &str,
        e: &std::io::Error,
    ) -> ClientError {
        use std::io::ErrorKind;
        if matches!(e.kind(), ErrorKind::ConnectionRefused | ErrorKind::TimedOut) {
            return ClientError::Connect(self.host.clone());
        }
        let mut op = method.to_ascii_lowercase();
        if let Some(f) = op.get_mut(0..1) {
            f.make_ascii_uppercase();
        }
        let why = crate::config::go_io_error("", std::path::Path::new(""), e);
        let why = why.trim_start_matches(' ').trim_start_matches(": ");
        ClientError::During(format!(
            "error during connect: {op} \"{}\": dial tcp {addr}: connect: {why}",
            self.url(path, version)
        ))
    }

    async fn connect(&self, method: &str, path: &str, version: Option<&str>) -> Result<Sender> {
        let io: Box<dyn Io> = match &self.transport {
            Transport::Unix(p) => Box::new(
                tokio::net::UnixStream::connect(p)
                    .await
                    .map_err(|_| ClientError::Connect(self.host.clone()))?,
            ),
            Transport::Tcp(a) => {
                let s = tokio::net::TcpStream::connect(a)
                    .await
                    .map_err(|e| self.dial_error(method, path, version, a, &e))?;
                let _ = s.set_nodelay(true);
                match &self.tls {
                    None => Box::new(s),
                    Some(config) => {
                        let name = crate::tls::server_name(a).map_err(ClientError::Other)?;
                        let tls = tokio_rustls::TlsConnector::from(config.clone())
                            .connect(name, s)
                            .await
                            .map_err(|e| self.transport_error(method, path, version, &e))?;
                        Box::new(tls)
                    }
                }
            }
        };
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(|e| self.transport_error(method, path, version, &e))?;
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
        version: Option<&str>,
    ) -> Result<Request<Full<Bytes>>> {
        // Origin-form (`GET /v1.47/version`), as the docker CLI sends it:
        // a Go TLS server recognises a plain HTTP request by its first
        // bytes (`GET /`) to answer "Client sent an HTTP request to an
        // HTTPS server."; an absolute URI would only get the door shut.
        let uri = match version {
            Some(v) => format!("/v{v}{path}"),
            None => path.to_string(),
        };
        let mut b = Request::builder()
            .method(method)
            .uri(uri)
            .header("Host", "api.moby.localhost")
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

    pub(crate) async fn send_raw(
        &self,
        method: &str,
        path: &str,
        body: Option<Bytes>,
        content_type: &str,
        version: Option<&str>,
    ) -> Result<Response<Incoming>> {
        self.send_raw_with(method, path, body, content_type, version, &[])
            .await
    }

    async fn send_raw_with(
        &self,
        method: &str,
        path: &str,
        body: Option<Bytes>,
        content_type: &str,
        version: Option<&str>,
        headers: &[(&str, String)],
    ) -> Result<Response<Incoming>> {
        let mut sender = self.connect(method, path, version).await?;
        let mut req = self.build(method, path, body, content_type, version)?;
        for (k, v) in headers {
            if let (Ok(k), Ok(v)) = (
                hyper::header::HeaderName::from_bytes(k.as_bytes()),
                hyper::header::HeaderValue::from_str(v),
            ) {
                req.headers_mut().insert(k, v);
            }
        }
        sender
            .send_request(req)
            .await
            .map_err(|e| self.transport_error(method, path, version, &e))
    }

    /// Sends a request under the negotiated version; a status of 400 and up
    /// becomes [`ClientError::Daemon`] with the body's `message`.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Bytes>,
        content_type: &str,
    ) -> Result<Response<Incoming>> {
        self.send_with(method, path, body, content_type, &[]).await
    }

    /// [`Client::send`] with extra headers (`X-Registry-Auth`).
    pub async fn send_with(
        &self,
        method: &str,
        path: &str,
        body: Option<Bytes>,
        content_type: &str,
        headers: &[(&str, String)],
    ) -> Result<Response<Incoming>> {
        let v = match self.api_version().await {
            Ok(v) => v,
            // As the docker CLI, a failed ping does not name itself: the
            // request itself fails and its URL is the one reported.
            Err(ClientError::During(_)) => API_VERSION.to_string(),
            Err(e) => return Err(e),
        };
        let resp = self
            .send_raw_with(method, path, body, content_type, Some(&v), headers)
            .await?;
        check(resp).await
    }

    /// `GET` a JSON answer.
    pub async fn get_json(&self, path: &str) -> Result<Value> {
        self.get(path).await
    }

    /// `GET` a JSON answer into a type.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let resp = self.send("GET", path, None, "").await?;
        read_json(resp).await
    }

    /// `POST` a JSON body; an empty answer is `null`.
    pub async fn post_json(&self, path: &str, body: &Value) -> Result<Value> {
        let body =
            (!body.is_null()).then(|| Bytes::from(serde_json::to_vec(body).unwrap_or_default()));
        let resp = self.send("POST", path, body, "application/json").await?;
        let bytes = collect(resp).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Other(format!("bad answer: {e}")))
    }

    /// `POST` a typed body (`()` for none) and read a typed answer.
    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T> {
        let bytes = serde_json::to_vec(body).map_err(|e| ClientError::Other(e.to_string()))?;
        // `()` serialises as `null`: no body at all, as the docker CLI sends.
        let body = (bytes != b"null").then(|| Bytes::from(bytes));
        let resp = self.send("POST", path, body, "application/json").await?;
        read_json(resp).await
    }

    /// `POST` a typed body whose answer carries nothing (connect, ...).
    pub async fn post_no_answer<B: Serialize + ?Sized>(&self, path: &str, body: &B) -> Result<()> {
        let bytes = serde_json::to_vec(body).map_err(|e| ClientError::Other(e.to_string()))?;
        let resp = self
            .send("POST", path, Some(Bytes::from(bytes)), "application/json")
            .await?;
        let _ = resp.into_body().collect().await;
        Ok(())
    }

    /// A request whose answer body is not needed.
    pub async fn call(&self, method: &str, path: &str) -> Result<()> {
        let resp = self.send(method, path, None, "").await?;
        let _ = resp.into_body().collect().await;
        Ok(())
    }

    /// Upgrades the connection (attach, exec start): returns the raw stream
    /// and whether it is multiplexed (stdcopy frames) or raw (TTY).
    pub async fn hijack(
        &self,
        path: &str,
        body: Option<Value>,
    ) -> Result<(hyper::upgrade::Upgraded, bool)> {
        let v = self.api_version().await?;
        let body = body.map(|b| Bytes::from(serde_json::to_vec(&b).unwrap_or_default()));
        let mut sender = self.connect("POST", path, Some(&v)).await?;
        let mut req = self.build("POST", path, body, "application/json", Some(&v))?;
        req.headers_mut().insert(
            "Connection",
            hyper::header::HeaderValue::from_static("Upgrade"),
        );
        req.headers_mut()
            .insert("Upgrade", hyper::header::HeaderValue::from_static("tcp"));
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| self.transport_error("POST", path, Some(&v), &e))?;
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

/// The version to use: the lower of the daemon's and ours; 1.24 when the
/// daemon does not say (as the docker CLI falls back).
pub fn negotiate(server: Option<&str>) -> String {
    let ours = ApiVersion::parse(API_VERSION).unwrap_or(ApiVersion::CURRENT);
    match server.and_then(ApiVersion::parse) {
        Some(s) if s < ours => s.to_string(),
        Some(_) => ours.to_string(),
        None => "1.24".to_string(),
    }
}

pub async fn collect(resp: Response<Incoming>) -> Result<Bytes> {
    resp.into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .map_err(|e| ClientError::Other(e.to_string()))
}

pub(crate) async fn check(resp: Response<Incoming>) -> Result<Response<Incoming>> {
    let status = resp.status();
    if status.is_client_error() || status.is_server_error() {
        let bytes = collect(resp).await.unwrap_or_default();
        let msg = serde_json::from_slice::<ErrorResponse>(&bytes)
            // The docker CLI trims the daemon's message (dockerd ends some
            // with a space).
            .map(|e| e.message.trim().to_string())
            .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).trim().to_string());
        return Err(ClientError::Daemon(status, msg));
    }
    Ok(resp)
}

/// Reads a whole JSON answer, by Go's rules as the docker CLI reads it
/// (`null` is the zero value, unknown fields are ignored): a daemon newer
/// or older than berth's model still answers in a form the client takes.
pub async fn read_json<T: DeserializeOwned>(resp: Response<Incoming>) -> Result<T> {
    let bytes = collect(resp).await?;
    berth_api::json::from_slice(&bytes)
        .map_err(|e| ClientError::Other(format!("bad answer: {}", e.message)))
}

/// A streamed answer of JSON values one after another (pull, push, load,
/// build progress), read as they come.
pub struct JsonLines {
    body: Incoming,
    pending: Vec<u8>,
    done: bool,
}

impl JsonLines {
    pub fn new(resp: Response<Incoming>) -> JsonLines {
        JsonLines {
            body: resp.into_body(),
            pending: Vec::new(),
            done: false,
        }
    }

    /// The next value; `None` at the end of the stream.
    pub async fn next<T: DeserializeOwned>(&mut self) -> Result<Option<T>> {
        loop {
            // dockerd ends each value with a newline (CRLF from the builder).
            if let Some(at) = self.pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=at).collect();
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return berth_api::json::from_slice(&line)
                    .map(Some)
                    .map_err(|e| ClientError::Other(format!("bad progress line: {}", e.message)));
            }
            if self.done {
                if self.pending.iter().all(u8::is_ascii_whitespace) {
                    return Ok(None);
                }
                let rest = std::mem::take(&mut self.pending);
                return berth_api::json::from_slice(&rest)
                    .map(Some)
                    .map_err(|e| ClientError::Other(format!("bad progress line: {}", e.message)));
            }
            match self.body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.pending.extend_from_slice(&data);
                    }
                }
                Some(Err(e)) => return Err(ClientError::Other(e.to_string())),
                None => self.done = true,
            }
        }
    }
}

/// Percent-encodes a query value.
pub fn q(v: &str) -> String {
    form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

/// Splits docker's stdcopy stream (8-byte header: stream, 0, 0, 0, length
/// big-endian) into `(stream, payload)` frames, across reads.
#[derive(Debug, Default)]
pub struct Demux {
    pending: Vec<u8>,
}

impl Demux {
    /// Feeds bytes; returns the frames completed so far.
    pub fn push(&mut self, data: &[u8]) -> Vec<(u8, Vec<u8>)> {
        self.pending.extend_from_slice(data);
        let mut out = Vec::new();
        let mut at = 0;
        while self.pending.len() - at >= 8 {
            let h = &self.pending[at..at + 8];
            let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize;
            if self.pending.len() - at < 8 + len {
                break;
            }
            out.push((h[0], self.pending[at + 8..at + 8 + len].to_vec()));
            at += 8 + len;
        }
        self.pending.drain(..at);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts() {
        assert_eq!(
            Transport::parse("unix:///run/x.sock").unwrap(),
            Transport::Unix("/run/x.sock".into())
        );
        assert_eq!(
            Transport::parse("tcp://127.0.0.1:2375").unwrap(),
            Transport::Tcp("127.0.0.1:2375".into())
        );
        assert_eq!(
            Transport::parse("tcp://example").unwrap(),
            Transport::Tcp("example:2375".into())
        );
        assert_eq!(
            Transport::parse("10.0.0.1:2376").unwrap(),
            Transport::Tcp("10.0.0.1:2376".into())
        );
        assert!(Transport::parse("ssh://x").is_err());
    }

    #[test]
    fn normalises_hosts_like_docker() {
        let n = |h: &str| Transport::normalize(h);
        assert_eq!(n("tcp://127.0.0.1").unwrap(), "tcp://127.0.0.1:2375");
        assert_eq!(n("tcp://").unwrap(), "tcp://localhost:2375");
        assert_eq!(n("tcp://:2376").unwrap(), "tcp://localhost:2376");
        assert_eq!(n("tcp://[::1]:2376").unwrap(), "tcp://[::1]:2376");
        assert_eq!(n("unix:///x.sock").unwrap(), "unix:///x.sock");
        assert_eq!(n("/x.sock").unwrap(), "unix:///x.sock");
        assert_eq!(n("unix://").unwrap(), DEFAULT_HOST);
        assert_eq!(
            n("bogus://x").unwrap_err(),
            "invalid bind address format: bogus://x"
        );
        assert!(n("").is_err());
        assert!(n("tcp://[::1").is_err());
    }

    #[test]
    fn negotiates_the_lower_version() {
        assert_eq!(negotiate(Some("1.41")), "1.41");
        assert_eq!(negotiate(Some("1.50")), "1.47");
        assert_eq!(negotiate(Some("1.47")), "1.47");
        assert_eq!(negotiate(None), "1.24");
    }

    #[test]
    fn demuxes_across_reads() {
        let mut d = Demux::default();
        let mut frame = vec![1, 0, 0, 0, 0, 0, 0, 3];
        frame.extend_from_slice(b"abc");
        frame.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 1, b'x']);
        assert_eq!(d.push(&frame[..5]), vec![]);
        let got = d.push(&frame[5..]);
        assert_eq!(got, vec![(1, b"abc".to_vec()), (2, b"x".to_vec())]);
    }
}
