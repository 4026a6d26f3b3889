//! The HTTP API: routes `/v2/...` by hand (repository names hold slashes,
//! so the path is read from its end), checks access, and answers with the
//! spec's headers, status codes and error bodies.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Empty, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use sha2::Digest as _;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::auth::{self, Access, Htpasswd, TokenIssuer, TokenVerifier};
use crate::error::{ApiError, Code};
use crate::names::{valid_repo_name, valid_tag, Digest, DigestError, Reference};
use crate::storage::Storage;

mod access;
mod blobs;
mod catalog;
mod manifests;
mod uploads;

// The handlers, by operation; what tests and props reach is pub(crate).
use access::*;
pub(crate) use blobs::*;
pub(crate) use catalog::*;
pub(crate) use manifests::*;
pub(crate) use uploads::*;

/// The largest manifest accepted (distribution's limit).
pub const MAX_MANIFEST_SIZE: usize = 4 << 20;
/// How long a client has to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

pub type Body = BoxBody<Bytes, io::Error>;

const MT_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const MT_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const MT_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const MT_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const MT_SCHEMA1: &[&str] = &[
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
];

/// How requests are authenticated.
pub enum AuthMode {
    None,
    Htpasswd { realm: String, users: Htpasswd },
    Token(TokenVerifier),
}

/// The registry: storage, policy and auth, shared by every connection.
pub struct Registry {
    pub storage: Storage,
    pub delete_enabled: bool,
    pub readonly: bool,
    pub auth: AuthMode,
    pub issuer: Option<TokenIssuer>,
    /// Uploads a request is writing to: one writer at a time.
    busy: Mutex<HashSet<String>>,
    /// The running digest of each chunked upload (upload id -> bytes
    /// hashed, state), so the final PUT needs no second read of the data.
    /// Lost on restart: such an upload is hashed again at its end.
    hashers: Mutex<HashMap<String, (u64, sha2::Sha256)>>,
}

impl Registry {
    pub fn new(
        storage: Storage,
        delete_enabled: bool,
        readonly: bool,
        auth: AuthMode,
        issuer: Option<TokenIssuer>,
    ) -> Registry {
        Registry {
            storage,
            delete_enabled,
            readonly,
            auth,
            issuer,
            busy: Mutex::new(HashSet::new()),
            hashers: Mutex::new(HashMap::new()),
        }
    }

    /// The running digest of upload `id` if it covers its `size` bytes.
    fn take_hasher(&self, id: &str, size: u64) -> Option<sha2::Sha256> {
        let mut m = self.hashers.lock().unwrap_or_else(|e| e.into_inner());
        match m.remove(id) {
            Some((n, h)) if n == size => Some(h),
            _ if size == 0 => Some(sha2::Sha256::new()),
            _ => None,
        }
    }

    fn put_hasher(&self, id: &str, size: u64, h: sha2::Sha256) {
        let mut m = self.hashers.lock().unwrap_or_else(|e| e.into_inner());
        m.insert(id.to_string(), (size, h));
    }

    fn drop_hasher(&self, id: &str) {
        let mut m = self.hashers.lock().unwrap_or_else(|e| e.into_inner());
        m.remove(id);
    }
}

/// Unsent bytes a connection's socket may hold before it stops taking
/// more (TCP_NOTSENT_LOWAT). Without a limit a blob body's 4 MiB frames
/// pile up in the kernel as fast as they are copied, and are read by the
/// client long after they left the CPU caches; held to this, the copy
/// into the socket and the client's copy out of it stay close together.
/// Serving 8 blobs at once on loopback it cut the wall time by a fifth
/// and the CPU per GiB on both ends (server 0.22 to 0.19-0.21 s, curl
/// clients 0.33 to 0.23-0.25 s). Unlike a small SO_SNDBUF (which did as
/// well here) it leaves the send buffer's autotuning alone, so a client
/// across a long, fast link still gets a full window of data in flight.
const NOTSENT_LOWAT: u32 = 128 << 10;

/// Accepts connections until the process ends; each is served in its own
/// task (TLS handshakes too, under a time limit).
pub async fn serve(reg: Arc<Registry>, listener: TcpListener, tls: Option<TlsAcceptor>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Advice only: a socket that refuses it is served as it is.
        let _ = socket2::SockRef::from(&stream).set_tcp_notsent_lowat(NOTSENT_LOWAT);
        let reg = reg.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let reg = reg.clone();
                async move { Ok::<_, Infallible>(handle(reg, req).await) }
            });
            let http = hyper::server::conn::http1::Builder::new();
            let res = match tls {
                None => http.serve_connection(TokioIo::new(stream), svc).await,
                Some(acc) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acc.accept(stream)).await {
                        Ok(Ok(s)) => http.serve_connection(TokioIo::new(s), svc).await,
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "TLS handshake refused");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake timed out");
                            return;
                        }
                    }
                }
            };
            if let Err(e) = res {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
        });
    }
}

// ---- routing -------------------------------------------------------------------

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Base,
    Catalog,
    /// `/v1/_ping` and `/v1/search`: the two v1 calls `docker search`
    /// makes (berth extension; Docker Hub's index offers them).
    V1Ping,
    V1Search,
    Token,
    Tags(String),
    Manifest(String, String),
    Blob(String, String),
    UploadStart(String),
    Upload(String, String),
    Referrers(String, String),
    NotFound,
}

pub(crate) fn route(path: &str) -> Route {
    if path == "/v2" || path == "/v2/" {
        return Route::Base;
    }
    if path == "/auth/token" {
        return Route::Token;
    }
    if path == "/v1/_ping" {
        return Route::V1Ping;
    }
    if path == "/v1/search" {
        return Route::V1Search;
    }
    let Some(rest) = path.strip_prefix("/v2/") else {
        return Route::NotFound;
    };
    if rest == "_catalog" {
        return Route::Catalog;
    }
    let segs: Vec<&str> = rest.split('/').collect();
    let n = segs.len();
    let name = |k: usize| segs[..n - k].join("/");
    if n >= 3 && segs[n - 3] == "blobs" && segs[n - 2] == "uploads" {
        let id = segs[n - 1];
        return if id.is_empty() {
            Route::UploadStart(name(3))
        } else {
            Route::Upload(name(3), id.to_string())
        };
    }
    if n >= 3 && segs[n - 2] == "blobs" && segs[n - 1] == "uploads" {
        return Route::UploadStart(name(2));
    }
    if n >= 3 && segs[n - 2] == "tags" && segs[n - 1] == "list" {
        return Route::Tags(name(2));
    }
    if n >= 3 {
        let last = segs[n - 1].to_string();
        match segs[n - 2] {
            "manifests" => return Route::Manifest(name(2), last),
            "blobs" => return Route::Blob(name(2), last),
            "referrers" => return Route::Referrers(name(2), last),
            _ => {}
        }
    }
    Route::NotFound
}

fn route_name(r: &Route) -> Option<&str> {
    match r {
        Route::Tags(n)
        | Route::Manifest(n, _)
        | Route::Blob(n, _)
        | Route::UploadStart(n)
        | Route::Upload(n, _)
        | Route::Referrers(n, _) => Some(n),
        _ => None,
    }
}

fn query_pairs(req: &Request<Incoming>) -> Vec<(String, String)> {
    req.uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

fn query<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

// ---- responses -----------------------------------------------------------------

fn builder(status: StatusCode) -> hyper::http::response::Builder {
    Response::builder()
        .status(status)
        .header("Docker-Distribution-API-Version", "registry/2.0")
}

fn empty_body() -> Body {
    Empty::<Bytes>::new().map_err(|n| match n {}).boxed()
}

fn full_body(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).map_err(|n| match n {}).boxed()
}

fn finish(b: hyper::http::response::Builder, body: Body) -> Response<Body> {
    b.body(body).unwrap_or_else(|e| {
        tracing::error!(error = %e, "bad response");
        let mut r = Response::new(empty_body());
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}

fn json_response(status: StatusCode, v: &Value) -> Response<Body> {
    let bytes = serde_json::to_vec(v).unwrap_or_default();
    finish(
        builder(status)
            .header(CONTENT_TYPE, "application/json")
            .header("Content-Length", bytes.len()),
        full_body(bytes),
    )
}

fn error_response(e: &ApiError) -> Response<Body> {
    let status = StatusCode::from_u16(e.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(status, &e.body())
}

fn err(code: Code, msg: impl Into<String>) -> ApiError {
    ApiError::new(code, msg)
}

type Result<T> = std::result::Result<T, ApiError>;

// ---- the handler ---------------------------------------------------------------

/// Answers one request.
pub async fn handle(reg: Arc<Registry>, req: Request<Incoming>) -> Response<Body> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let resp = match dispatch(&reg, req).await {
        Ok(r) => r,
        Err(Reply::Api(e)) => error_response(&e),
        Err(Reply::Raw(r)) => *r,
    };
    tracing::info!(%method, %path, status = resp.status().as_u16(), "request");
    resp
}

/// A ready error response (a challenge), or an API error.
enum Reply {
    Api(ApiError),
    Raw(Box<Response<Body>>),
}

impl From<ApiError> for Reply {
    fn from(e: ApiError) -> Reply {
        Reply::Api(e)
    }
}

impl From<io::Error> for Reply {
    fn from(e: io::Error) -> Reply {
        Reply::Api(e.into())
    }
}

async fn dispatch(
    reg: &Arc<Registry>,
    req: Request<Incoming>,
) -> std::result::Result<Response<Body>, Reply> {
    let r = route(req.uri().path());
    if r == Route::Token {
        return token_endpoint(reg, &req);
    }
    if r == Route::NotFound {
        let mut resp = error_response(&err(Code::Unsupported, "unknown path"));
        *resp.status_mut() = StatusCode::NOT_FOUND;
        return Ok(resp);
    }
    if let Some(name) = route_name(&r) {
        if !valid_repo_name(name) {
            return Err(err(
                Code::NameInvalid,
                format!("invalid repository name {name:?}"),
            )
            .with_detail(json!({ "name": name }))
            .into());
        }
    }
    let q = query_pairs(&req);
    let method = req.method().clone();
    authorize(reg, &req, &r, &method, &q)?;

    let writes = matches!(
        method,
        Method::PUT | Method::POST | Method::PATCH | Method::DELETE
    );
    if writes && reg.readonly && !matches!(r, Route::Base | Route::Catalog) {
        return Err(err(Code::Unsupported, "the registry is in read-only mode").into());
    }
    let is_head = method == Method::HEAD;
    match (r, method) {
        (Route::Base, Method::GET | Method::HEAD) => Ok(json_response(StatusCode::OK, &json!({}))),
        (Route::Catalog, Method::GET) => catalog(reg, &q).await,
        (Route::V1Ping, Method::GET | Method::HEAD) => {
            Ok(json_response(StatusCode::OK, &json!({})))
        }
        (Route::V1Search, Method::GET) => search(reg, &q).await,
        (Route::Tags(name), Method::GET) => tags_list(reg, &name, &q).await,
        (Route::Manifest(name, reference), Method::GET | Method::HEAD) => {
            get_manifest(reg, &name, &reference, is_head).await
        }
        (Route::Manifest(name, reference), Method::PUT) => {
            put_manifest(reg, &name, &reference, req).await
        }
        (Route::Manifest(name, reference), Method::DELETE) => {
            delete_manifest(reg, &name, &reference).await
        }
        (Route::Blob(name, digest), Method::GET | Method::HEAD) => {
            get_blob(reg, &name, &digest, &req, is_head).await
        }
        (Route::Blob(name, digest), Method::DELETE) => delete_blob(reg, &name, &digest).await,
        (Route::UploadStart(name), Method::POST) => start_upload(reg, &name, &q, req).await,
        (Route::Upload(name, id), Method::GET) => upload_status(reg, &name, &id).await,
        (Route::Upload(name, id), Method::PATCH) => patch_upload(reg, &name, &id, req).await,
        (Route::Upload(name, id), Method::PUT) => finish_upload(reg, &name, &id, &q, req).await,
        (Route::Upload(name, id), Method::DELETE) => cancel_upload(reg, &name, &id).await,
        (Route::Referrers(name, digest), Method::GET) => referrers(reg, &name, &digest, &q).await,
        _ => Err(err(Code::Unsupported, "the method is not allowed on this path").into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(route("/v2/"), Route::Base);
        assert_eq!(route("/v2/_catalog"), Route::Catalog);
        assert_eq!(route("/v2/a/b/tags/list"), Route::Tags("a/b".into()));
        assert_eq!(
            route("/v2/a/manifests/1"),
            Route::Manifest("a".into(), "1".into())
        );
        assert_eq!(
            route("/v2/a/blobs/blobs/x"),
            Route::Blob("a/blobs".into(), "x".into())
        );
        assert_eq!(
            route("/v2/a/b/blobs/uploads/"),
            Route::UploadStart("a/b".into())
        );
        assert_eq!(route("/v2/a/blobs/uploads"), Route::UploadStart("a".into()));
        assert_eq!(
            route("/v2/a/blobs/uploads/u1"),
            Route::Upload("a".into(), "u1".into())
        );
        assert_eq!(
            route("/v2/a/referrers/sha256:x"),
            Route::Referrers("a".into(), "sha256:x".into())
        );
        assert_eq!(route("/v2/manifests/x"), Route::NotFound);
        assert_eq!(route("/other"), Route::NotFound);
    }

    /// Found by the property tests: a `Content-Range` ending at
    /// u64::MAX overflowed `end - start + 1` (a panic in debug builds, a
    /// range taken for empty in release ones).
    #[test]
    fn content_range_at_the_end_of_u64() {
        let e = content_range(Some("0-18446744073709551615"), Some("0"), 0).unwrap_err();
        assert_eq!(e.code, Code::RangeInvalid);
        assert!(content_range(Some("0-18446744073709551615"), None, 0).is_ok());
        assert!(content_range(Some("bytes 10-19"), Some("10"), 10).is_ok());
        assert!(content_range(Some("10-19"), Some("9"), 10).is_err());
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(parse_range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=50-500", 100), Some((50, 99)));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("bytes=9-0", 100), None);
        assert_eq!(parse_range("bytes=0-1,3-4", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
        assert_eq!(parse_range("bytes=0-0", 0), None);
    }
}
