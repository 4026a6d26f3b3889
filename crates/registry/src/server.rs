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

// ---- access control --------------------------------------------------------------

/// What a request needs, as distribution asks: pull to read, pull and push
/// to write, delete to delete; a mount needs pull on its source too.
fn wanted_access(r: &Route, method: &Method, q: &[(String, String)]) -> Vec<Access> {
    match r {
        // A search lists repository names, as the catalog does.
        Route::Catalog | Route::V1Search => vec![Access {
            kind: "registry".into(),
            name: "catalog".into(),
            actions: vec!["*".into()],
        }],
        Route::Base | Route::V1Ping | Route::Token | Route::NotFound => vec![],
        other => {
            let Some(name) = route_name(other) else {
                return vec![];
            };
            let actions: &[&str] = match *method {
                Method::GET | Method::HEAD => &["pull"],
                Method::DELETE => &["delete"],
                _ => &["pull", "push"],
            };
            let mut v = vec![Access::repo(name, actions)];
            if let (Route::UploadStart(_), Some(from), Some(_)) =
                (other, query(q, "from"), query(q, "mount"))
            {
                if valid_repo_name(from) && from != name {
                    v.push(Access::repo(from, &["pull"]));
                }
            }
            v
        }
    }
}

fn unauthorized(challenge: String, message: &str, detail: Option<Value>) -> Reply {
    let mut e = err(Code::Unauthorized, message);
    if let Some(d) = detail {
        e = e.with_detail(d);
    }
    let mut resp = error_response(&e);
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        resp.headers_mut().insert("WWW-Authenticate", v);
    }
    Reply::Raw(Box::new(resp))
}

fn authorize(
    reg: &Registry,
    req: &Request<Incoming>,
    r: &Route,
    method: &Method,
    q: &[(String, String)],
) -> std::result::Result<(), Reply> {
    let header = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok());
    match &reg.auth {
        AuthMode::None => Ok(()),
        AuthMode::Htpasswd { realm, users } => {
            let challenge = format!("Basic realm=\"{realm}\"");
            match header.and_then(auth::basic_credentials) {
                Some((u, p)) if users.verify(&u, &p) => Ok(()),
                Some((u, _)) => {
                    tracing::info!(user = %u, "authentication failed");
                    Err(unauthorized(challenge, "authentication required", None))
                }
                None => Err(unauthorized(challenge, "authentication required", None)),
            }
        }
        AuthMode::Token(v) => {
            let wanted = wanted_access(r, method, q);
            let detail = |w: &[Access]| {
                Value::Array(
                    w.iter()
                        .map(|a| json!({"Type": a.kind, "Name": a.name, "Action": a.actions.join(",")}))
                        .collect(),
                )
            };
            // dockerd (and berthd) send a v1 search Basic credentials, as
            // to Docker Hub's index, never a bearer token: with the
            // built-in token service, its users may search that way.
            if let (Route::V1Search, Some(issuer), Some((u, p))) = (
                r,
                reg.issuer.as_ref(),
                header.and_then(auth::basic_credentials),
            ) {
                if issuer.users.verify(&u, &p) && auth::covers(&issuer.grant(&wanted), &wanted) {
                    return Ok(());
                }
                tracing::info!(user = %u, "search: authentication failed");
            }
            let Some(token) = header.and_then(auth::bearer_token) else {
                return Err(unauthorized(
                    v.challenge(&wanted, None),
                    "authentication required",
                    Some(detail(&wanted)),
                ));
            };
            let grant = match v.verify(token, chrono::Utc::now().timestamp()) {
                Ok(g) => g,
                Err(why) => {
                    tracing::info!(reason = %why, "token refused");
                    return Err(unauthorized(
                        v.challenge(&wanted, Some("invalid_token")),
                        &format!("authentication required: {why}"),
                        Some(detail(&wanted)),
                    ));
                }
            };
            if auth::covers(&grant.access, &wanted) {
                Ok(())
            } else {
                tracing::info!(subject = %grant.subject, "insufficient scope");
                Err(unauthorized(
                    v.challenge(&wanted, Some("insufficient_scope")),
                    "authentication required: the token does not grant this access",
                    Some(detail(&wanted)),
                ))
            }
        }
    }
}

/// The built-in token service (`GET /auth/token?service=&scope=`).
fn token_endpoint(
    reg: &Registry,
    req: &Request<Incoming>,
) -> std::result::Result<Response<Body>, Reply> {
    let Some(issuer) = &reg.issuer else {
        return Ok(finish(builder(StatusCode::NOT_FOUND), empty_body()));
    };
    if req.method() != Method::GET {
        return Err(err(Code::Unsupported, "use GET for tokens").into());
    }
    let q = query_pairs(req);
    if let Some(s) = query(&q, "service") {
        if s != issuer.service {
            return Err(err(Code::Denied, format!("unknown service {s:?}")).into());
        }
    }
    let creds = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(auth::basic_credentials);
    let Some((user, _)) = creds.filter(|(u, p)| issuer.users.verify(u, p)) else {
        return Err(unauthorized(
            format!("Basic realm=\"{}\"", issuer.service),
            "invalid username or password",
            None,
        ));
    };
    let wanted: Vec<Access> = q
        .iter()
        .filter(|(k, _)| k == "scope")
        .flat_map(|(_, v)| {
            v.split(' ')
                .filter_map(Access::parse_scope)
                .collect::<Vec<_>>()
        })
        .collect();
    let granted = issuer.grant(&wanted);
    let now = chrono::Utc::now();
    let token = issuer
        .issue(&user, granted, now.timestamp())
        .map_err(|e| err(Code::Unknown, e))?;
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "token": token,
            "access_token": token,
            "expires_in": auth::TOKEN_TTL,
            "issued_at": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }),
    ))
}

// ---- catalog and tags -------------------------------------------------------------

/// A page of names, and the `n` and `last` of the next page if any.
pub(crate) type Page = (Vec<String>, Option<(usize, String)>);

pub(crate) fn paginate(all: Vec<String>, q: &[(String, String)]) -> Result<Page> {
    let n = match query(q, "n") {
        None | Some("") => None,
        Some(s) => Some(s.parse::<usize>().map_err(|_| {
            err(
                Code::PaginationNumberInvalid,
                format!("invalid number of results requested: {s:?}"),
            )
        })?),
    };
    let last = query(q, "last").unwrap_or("");
    let mut items: Vec<String> = all
        .into_iter()
        .filter(|t| last.is_empty() || t.as_str() > last)
        .collect();
    let mut next = None;
    if let Some(n) = n {
        if items.len() > n {
            items.truncate(n);
            if let Some(l) = items.last() {
                next = Some((n, l.clone()));
            }
        }
    }
    Ok((items, next))
}

fn link_header(base: &str, n: usize, last: &str) -> String {
    let last: String = form_urlencoded::byte_serialize(last.as_bytes()).collect();
    format!("<{base}?last={last}&n={n}>; rel=\"next\"")
}

async fn catalog(
    reg: &Arc<Registry>,
    q: &[(String, String)],
) -> std::result::Result<Response<Body>, Reply> {
    let s = reg.storage.clone();
    let repos = blocking(move || s.repositories()).await?;
    let (items, next) = paginate(repos, q)?;
    let mut resp = json_response(StatusCode::OK, &json!({ "repositories": items }));
    if let Some((n, last)) = next {
        if let Ok(v) = HeaderValue::from_str(&link_header("/v2/_catalog", n, &last)) {
            resp.headers_mut().insert("Link", v);
        }
    }
    Ok(resp)
}

/// `GET /v1/search?q=TERM&n=N`: the repositories whose name contains
/// TERM (case-insensitive; all of them for an empty term), in Docker
/// Hub's JSON shape. The filesystem registry has no stars, descriptions
/// or official images: those fields are zero and empty.
async fn search(
    reg: &Arc<Registry>,
    q: &[(String, String)],
) -> std::result::Result<Response<Body>, Reply> {
    let term = query(q, "q").unwrap_or("").to_string();
    // Docker Hub's default page and its largest.
    let n = match query(q, "n") {
        None | Some("") => 25,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| {
                err(
                    Code::PaginationNumberInvalid,
                    format!("invalid number of results requested: {s:?}"),
                )
            })?,
    };
    let s = reg.storage.clone();
    let repos = blocking(move || s.repositories()).await?;
    let needle = term.to_lowercase();
    let matched: Vec<&String> = repos
        .iter()
        .filter(|r| r.to_lowercase().contains(&needle))
        .collect();
    let results: Vec<Value> = matched
        .iter()
        .take(n)
        .map(|name| {
            json!({
                "name": name,
                "description": "",
                "star_count": 0,
                "is_official": false,
                "is_automated": false,
            })
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "num_results": matched.len(),
            "query": term,
            "page_size": n,
            "results": results,
        }),
    ))
}

async fn tags_list(
    reg: &Arc<Registry>,
    name: &str,
    q: &[(String, String)],
) -> std::result::Result<Response<Body>, Reply> {
    if !reg.storage.repo_exists(name) {
        return Err(name_unknown(name).into());
    }
    let s = reg.storage.clone();
    let n = name.to_string();
    let tags: Vec<String> = blocking(move || s.tags(&n))
        .await?
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    let (items, next) = paginate(tags, q)?;
    let mut resp = json_response(StatusCode::OK, &json!({ "name": name, "tags": items }));
    if let Some((n, last)) = next {
        if let Ok(v) =
            HeaderValue::from_str(&link_header(&format!("/v2/{name}/tags/list"), n, &last))
        {
            resp.headers_mut().insert("Link", v);
        }
    }
    Ok(resp)
}

fn name_unknown(name: &str) -> ApiError {
    err(
        Code::NameUnknown,
        format!("repository name not known to registry: {name}"),
    )
    .with_detail(json!({ "name": name }))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> Result<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(ApiError::from),
        Err(e) => Err(err(Code::Unknown, format!("internal error: {e}"))),
    }
}

// ---- manifests -------------------------------------------------------------------

pub(crate) fn parse_reference(reference: &str, for_put: bool) -> Result<Reference> {
    if reference.contains(':') {
        return Digest::parse(reference)
            .map(Reference::Digest)
            .map_err(|e| err(Code::DigestInvalid, e.to_string()));
    }
    if valid_tag(reference) {
        Ok(Reference::Tag(reference.to_string()))
    } else if for_put {
        Err(err(Code::TagInvalid, format!("invalid tag {reference:?}"))
            .with_detail(json!({ "tag": reference })))
    } else {
        Err(err(
            Code::ManifestUnknown,
            format!("manifest unknown: {reference}"),
        ))
    }
}

async fn get_manifest(
    reg: &Arc<Registry>,
    name: &str,
    reference: &str,
    head: bool,
) -> std::result::Result<Response<Body>, Reply> {
    let r = parse_reference(reference, false)?;
    let s = reg.storage.clone();
    let (n, r2) = (name.to_string(), r.clone());
    let Some(m) = blocking(move || s.get_manifest(&n, &r2)).await? else {
        if !reg.storage.repo_exists(name) {
            return Err(name_unknown(name).into());
        }
        return Err(err(
            Code::ManifestUnknown,
            format!("manifest unknown: {reference}"),
        )
        .with_detail(json!({ "Tag": reference }))
        .into());
    };
    let b = builder(StatusCode::OK)
        .header(CONTENT_TYPE, m.media_type.as_str())
        .header("Content-Length", m.bytes.len())
        .header("Docker-Content-Digest", m.digest.to_string())
        .header("Etag", format!("\"{}\"", m.digest));
    Ok(finish(
        b,
        if head {
            empty_body()
        } else {
            full_body(m.bytes)
        },
    ))
}

/// The digests a manifest names: (blobs that must be in the repository,
/// manifests that must be in the repository, subject).
pub(crate) struct ManifestRefs {
    blobs: Vec<Digest>,
    manifests: Vec<Digest>,
    subject: Option<Digest>,
}

fn descriptor_digest(d: &Value, what: &str) -> Result<Digest> {
    let invalid = |m: String| err(Code::ManifestInvalid, m);
    let obj = d
        .as_object()
        .ok_or_else(|| invalid(format!("{what} is not a descriptor")))?;
    let digest = obj
        .get("digest")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("{what} has no digest")))?;
    if obj.get("size").is_none_or(|s| s.as_u64().is_none()) {
        return Err(invalid(format!("{what} has no valid size")));
    }
    if !obj.get("mediaType").is_some_and(Value::is_string) {
        return Err(invalid(format!("{what} has no mediaType")));
    }
    Digest::parse(digest).map_err(|e| invalid(format!("{what}: {e}")))
}

fn is_foreign(d: &Value) -> bool {
    let mt = d.get("mediaType").and_then(Value::as_str).unwrap_or("");
    let has_urls = d
        .get("urls")
        .and_then(Value::as_array)
        .is_some_and(|u| !u.is_empty());
    has_urls && (mt.contains("foreign") || mt.contains("nondistributable"))
}

/// Reads what a manifest of `media_type` references, refusing malformed ones.
pub(crate) fn manifest_refs(media_type: &str, v: &Value) -> Result<ManifestRefs> {
    let invalid = |m: &str| err(Code::ManifestInvalid, m.to_string());
    if !v.is_object() {
        return Err(invalid("manifest is not a JSON object"));
    }
    if v.get("schemaVersion").and_then(Value::as_u64) != Some(2) {
        return Err(invalid("manifest schemaVersion must be 2"));
    }
    let mut refs = ManifestRefs {
        blobs: vec![],
        manifests: vec![],
        subject: None,
    };
    match media_type {
        MT_DOCKER_MANIFEST | MT_OCI_MANIFEST => {
            let config = v
                .get("config")
                .ok_or_else(|| invalid("manifest has no config"))?;
            refs.blobs.push(descriptor_digest(config, "config")?);
            let layers = v
                .get("layers")
                .and_then(Value::as_array)
                .ok_or_else(|| invalid("manifest has no layers array"))?;
            for (i, l) in layers.iter().enumerate() {
                let d = descriptor_digest(l, &format!("layer {i}"))?;
                if !is_foreign(l) {
                    refs.blobs.push(d);
                }
            }
        }
        MT_DOCKER_LIST | MT_OCI_INDEX => {
            let ms = v
                .get("manifests")
                .and_then(Value::as_array)
                .ok_or_else(|| invalid("index has no manifests array"))?;
            for (i, m) in ms.iter().enumerate() {
                refs.manifests
                    .push(descriptor_digest(m, &format!("manifest {i}"))?);
            }
        }
        mt if MT_SCHEMA1.contains(&mt) => {
            return Err(invalid(
                "schema 1 manifests are not supported: push schema 2 or OCI",
            ))
        }
        mt => return Err(invalid(&format!("unsupported manifest media type {mt:?}"))),
    }
    if let Some(s) = v.get("subject") {
        refs.subject = Some(descriptor_digest(s, "subject")?);
    }
    Ok(refs)
}

async fn read_limited(req: Request<Incoming>, limit: usize) -> Result<Bytes> {
    let body = http_body_util::Limited::new(req.into_body(), limit);
    match body.collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Err(err(
                    Code::SizeInvalid,
                    format!("manifest larger than {limit} bytes"),
                ))
            } else {
                Err(err(Code::ManifestInvalid, format!("reading the body: {e}")))
            }
        }
    }
}

async fn put_manifest(
    reg: &Arc<Registry>,
    name: &str,
    reference: &str,
    req: Request<Incoming>,
) -> std::result::Result<Response<Body>, Reply> {
    let r = parse_reference(reference, true)?;
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .unwrap_or_default();
    let bytes = read_limited(req, MAX_MANIFEST_SIZE).await?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| {
        err(
            Code::ManifestInvalid,
            format!("manifest is not valid JSON: {e}"),
        )
    })?;
    let field = v
        .get("mediaType")
        .and_then(Value::as_str)
        .map(str::to_string);
    let known = [
        MT_DOCKER_MANIFEST,
        MT_DOCKER_LIST,
        MT_OCI_MANIFEST,
        MT_OCI_INDEX,
    ];
    let base_ct = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    let media_type = if known.contains(&base_ct.as_str()) || MT_SCHEMA1.contains(&base_ct.as_str())
    {
        if let Some(f) = &field {
            if f != &base_ct {
                return Err(err(
                    Code::ManifestInvalid,
                    format!(
                        "mediaType {f:?} in the manifest does not match Content-Type {base_ct:?}"
                    ),
                )
                .into());
            }
        }
        base_ct.clone()
    } else if let Some(f) = field {
        f
    } else if v.get("manifests").is_some() {
        MT_OCI_INDEX.to_string()
    } else {
        MT_OCI_MANIFEST.to_string()
    };
    let refs = manifest_refs(&media_type, &v)?;
    let digest = Digest::of(&bytes);
    if let Reference::Digest(d) = &r {
        if d != &digest {
            return Err(err(
                Code::DigestInvalid,
                format!("the manifest's digest is {digest}, not {d}"),
            )
            .with_detail(json!({ "digest": d.to_string() }))
            .into());
        }
    }
    // Everything named must already be here: the manifest never becomes
    // visible before what it points to.
    for b in &refs.blobs {
        if reg.storage.repo_blob_size(name, b).is_none() {
            return Err(err(
                Code::ManifestBlobUnknown,
                format!("blob unknown to registry: {b}"),
            )
            .with_detail(json!({ "digest": b.to_string() }))
            .into());
        }
    }
    for m in &refs.manifests {
        if reg.storage.manifest_media_type(name, m)?.is_none() {
            return Err(err(
                Code::ManifestBlobUnknown,
                format!("manifest unknown to registry: {m}"),
            )
            .with_detail(json!({ "digest": m.to_string() }))
            .into());
        }
    }
    // Uploaded blobs become durable in the background: the manifest waits
    // for its own, so a power cut never leaves it naming a lost blob.
    for b in &refs.blobs {
        let (s, b) = (reg.storage.clone(), b.clone());
        blocking(move || s.make_durable(&b)).await?;
    }
    // Stored with the type as pushed (the header, or the body's field).
    let stored_type = if content_type.is_empty() {
        media_type.clone()
    } else {
        content_type
    };
    let s = reg.storage.clone();
    let (n, r2, b2) = (name.to_string(), r.clone(), bytes.clone());
    let d = blocking(move || s.put_manifest(&n, &r2, &stored_type, &b2)).await?;
    let mut b = builder(StatusCode::CREATED)
        .header("Location", format!("/v2/{name}/manifests/{d}"))
        .header("Docker-Content-Digest", d.to_string())
        .header("Content-Length", 0);
    if let Some(sub) = refs.subject {
        b = b.header("OCI-Subject", sub.to_string());
    }
    Ok(finish(b, empty_body()))
}

async fn delete_manifest(
    reg: &Arc<Registry>,
    name: &str,
    reference: &str,
) -> std::result::Result<Response<Body>, Reply> {
    if !reg.delete_enabled {
        return Err(err(
            Code::Unsupported,
            "deletes are disabled (storage.delete.enabled)",
        )
        .into());
    }
    let r = parse_reference(reference, false)?;
    let s = reg.storage.clone();
    let n = name.to_string();
    let found = match r {
        Reference::Digest(d) => blocking(move || s.delete_manifest(&n, &d)).await?,
        Reference::Tag(t) => blocking(move || s.delete_tag(&n, &t)).await?,
    };
    if !found {
        return Err(err(
            Code::ManifestUnknown,
            format!("manifest unknown: {reference}"),
        )
        .into());
    }
    Ok(finish(
        builder(StatusCode::ACCEPTED).header("Content-Length", 0),
        empty_body(),
    ))
}

// ---- referrers ------------------------------------------------------------------

async fn referrers(
    reg: &Arc<Registry>,
    name: &str,
    digest: &str,
    q: &[(String, String)],
) -> std::result::Result<Response<Body>, Reply> {
    let subject = Digest::parse(digest).map_err(|e| err(Code::DigestInvalid, e.to_string()))?;
    let filter = query(q, "artifactType").map(str::to_string);
    let s = reg.storage.clone();
    let n = name.to_string();
    let f2 = filter.clone();
    let manifests = blocking(move || {
        let mut out = Vec::new();
        for d in s.revisions(&n)? {
            let Some(m) = s.get_manifest(&n, &Reference::Digest(d))? else {
                continue;
            };
            let Ok(v) = serde_json::from_slice::<Value>(&m.bytes) else {
                continue;
            };
            let sub = v
                .get("subject")
                .and_then(|x| x.get("digest"))
                .and_then(Value::as_str);
            if sub != Some(subject.to_string().as_str()) {
                continue;
            }
            let artifact_type = v
                .get("artifactType")
                .and_then(Value::as_str)
                .or_else(|| {
                    v.get("config")
                        .and_then(|c| c.get("mediaType"))
                        .and_then(Value::as_str)
                })
                .map(str::to_string);
            if let Some(f) = &f2 {
                if artifact_type.as_deref() != Some(f.as_str()) {
                    continue;
                }
            }
            let mut desc = json!({
                "mediaType": m.media_type,
                "digest": m.digest.to_string(),
                "size": m.bytes.len(),
            });
            if let Some(a) = artifact_type {
                desc["artifactType"] = Value::String(a);
            }
            if let Some(a) = v.get("annotations").filter(|a| a.is_object()) {
                desc["annotations"] = a.clone();
            }
            out.push(desc);
        }
        Ok(out)
    })
    .await?;
    let body = json!({"schemaVersion": 2, "mediaType": MT_OCI_INDEX, "manifests": manifests});
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let mut b = builder(StatusCode::OK)
        .header(CONTENT_TYPE, MT_OCI_INDEX)
        .header("Content-Length", bytes.len());
    if filter.is_some() {
        b = b.header("OCI-Filters-Applied", "artifactType");
    }
    Ok(finish(b, full_body(bytes)))
}

// ---- blobs ---------------------------------------------------------------------

pub(crate) fn parse_digest(s: &str) -> Result<Digest> {
    Digest::parse(s).map_err(|e| match e {
        DigestError::Unsupported(_) => err(Code::Unsupported, e.to_string()),
        DigestError::Invalid(_) => err(Code::DigestInvalid, e.to_string()),
    })
}

/// A `Range: bytes=...` header against a blob of `size`: the inclusive
/// range, or None for a range that cannot be served.
pub(crate) fn parse_range(h: &str, size: u64) -> Option<(u64, u64)> {
    let spec = h.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().ok()?;
            if n == 0 || size == 0 {
                return None;
            }
            (size.saturating_sub(n), size - 1)
        }
        (a, "") => (a.parse().ok()?, size.checked_sub(1)?),
        (a, b) => (
            a.parse().ok()?,
            b.parse::<u64>().ok()?.min(size.checked_sub(1)?),
        ),
    };
    (start <= end && start < size).then_some((start, end))
}

async fn get_blob(
    reg: &Arc<Registry>,
    name: &str,
    digest: &str,
    req: &Request<Incoming>,
    head: bool,
) -> std::result::Result<Response<Body>, Reply> {
    let d = parse_digest(digest)?;
    let Some(size) = reg.storage.repo_blob_size(name, &d) else {
        return Err(
            err(Code::BlobUnknown, format!("blob unknown to registry: {d}"))
                .with_detail(json!({ "digest": d.to_string() }))
                .into(),
        );
    };
    let range = req.headers().get("Range").and_then(|h| h.to_str().ok());
    let (status, start, end) = match range {
        None => (StatusCode::OK, 0, size.saturating_sub(1)),
        Some(h) => match parse_range(h, size) {
            Some((s, e)) => (StatusCode::PARTIAL_CONTENT, s, e),
            None => {
                let resp = error_response(&err(
                    Code::RangeInvalid,
                    format!("invalid range {h:?} for a blob of {size} bytes"),
                ));
                let mut resp = resp;
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                    resp.headers_mut().insert("Content-Range", v);
                }
                return Ok(resp);
            }
        },
    };
    let len = if size == 0 { 0 } else { end - start + 1 };
    let mut b = builder(status)
        .header(CONTENT_TYPE, "application/octet-stream")
        .header("Content-Length", len)
        .header("Accept-Ranges", "bytes")
        .header("Docker-Content-Digest", d.to_string())
        .header("Etag", format!("\"{d}\""))
        .header("Cache-Control", "max-age=31536000");
    if status == StatusCode::PARTIAL_CONTENT {
        b = b.header("Content-Range", format!("bytes {start}-{end}/{size}"));
    }
    if head || len == 0 {
        return Ok(finish(b, empty_body()));
    }
    let path = reg
        .storage
        .blob_file(&d)
        .ok_or_else(|| err(Code::BlobUnknown, format!("blob unknown to registry: {d}")))?;
    let data = blocking(move || map_range(&path, start, len)).await?;
    // Frames of a few MiB: hyper writes each straight from the mapping.
    let frames = (0..len.div_ceil(SEND_CHUNK)).map(move |i| {
        let a = (i * SEND_CHUNK) as usize;
        let b = ((i + 1) * SEND_CHUNK).min(len) as usize;
        Ok::<_, io::Error>(Frame::data(data.slice(a..b)))
    });
    let stream = futures_util::stream::iter(frames);
    Ok(finish(b, BodyExt::boxed(StreamBody::new(stream))))
}

/// Blob bodies are sent in frames of this size.
const SEND_CHUNK: u64 = 4 << 20;
/// Blobs up to this size are read into memory rather than mapped.
const MAP_MIN: u64 = 1 << 20;

/// A read-only mapping of part of a file, unmapped on drop.
struct Mapping {
    ptr: *mut libc::c_void,
    map_len: usize,
    /// Where the wanted range starts in the mapping, and its length.
    offset: usize,
    len: usize,
}

// SAFETY: the mapping is read-only and owned by this value alone; reading
// it from any thread is sound.
unsafe impl Send for Mapping {}
// SAFETY: as above: shared references only ever read.
unsafe impl Sync for Mapping {}

impl AsRef<[u8]> for Mapping {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: `ptr` maps `map_len` readable bytes for as long as self
        // lives, and `offset + len <= map_len` (checked in map_range).
        unsafe { std::slice::from_raw_parts((self.ptr as *const u8).add(self.offset), self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`map_len` are exactly what mmap returned.
        unsafe {
            libc::munmap(self.ptr, self.map_len);
        }
    }
}

/// `len` bytes of `path` from `start`, without copying them through a
/// buffer: large blobs are memory-mapped (the kernel then copies straight
/// from the page cache to the socket), small ones read. Blob files are
/// never modified in place (content-addressed, replaced only by rename),
/// so the mapping cannot shrink under a reader.
fn map_range(path: &std::path::Path, start: u64, len: u64) -> io::Result<Bytes> {
    use std::io::{Read, Seek};
    let mut f = std::fs::File::open(path)?;
    let size = f.metadata()?.len();
    if start.checked_add(len).is_none_or(|end| end > size) {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "blob shorter than its range",
        ));
    }
    if len < MAP_MIN {
        f.seek(io::SeekFrom::Start(start))?;
        let mut buf = vec![0u8; len as usize];
        f.read_exact(&mut buf)?;
        return Ok(Bytes::from(buf));
    }
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u64;
    let base = start - start % page;
    let offset = (start - base) as usize;
    let map_len = offset + len as usize;
    use std::os::fd::AsRawFd as _;
    // SAFETY: a fresh read-only private mapping of an open file; the
    // result is checked before use.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            map_len,
            libc::PROT_READ,
            libc::MAP_PRIVATE,
            f.as_raw_fd(),
            base as libc::off_t,
        )
    };
    if ptr == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `ptr` maps `map_len` bytes; advice only.
    unsafe {
        libc::madvise(ptr, map_len, libc::MADV_SEQUENTIAL);
    }
    Ok(Bytes::from_owner(Mapping {
        ptr,
        map_len,
        offset,
        len: len as usize,
    }))
}

async fn delete_blob(
    reg: &Arc<Registry>,
    name: &str,
    digest: &str,
) -> std::result::Result<Response<Body>, Reply> {
    if !reg.delete_enabled {
        return Err(err(
            Code::Unsupported,
            "deletes are disabled (storage.delete.enabled)",
        )
        .into());
    }
    let d = parse_digest(digest)?;
    if !reg.storage.unlink_blob(name, &d)? {
        return Err(err(Code::BlobUnknown, format!("blob unknown to registry: {d}")).into());
    }
    Ok(finish(
        builder(StatusCode::ACCEPTED).header("Content-Length", 0),
        empty_body(),
    ))
}

// ---- uploads -------------------------------------------------------------------

fn upload_response(status: StatusCode, name: &str, id: &str, size: u64) -> Response<Body> {
    finish(
        builder(status)
            .header("Location", format!("/v2/{name}/blobs/uploads/{id}"))
            .header("Range", format!("0-{}", size.saturating_sub(1)))
            .header("Docker-Upload-UUID", id)
            .header("Content-Length", 0),
        empty_body(),
    )
}

fn blob_created(name: &str, d: &Digest) -> Response<Body> {
    finish(
        builder(StatusCode::CREATED)
            .header("Location", format!("/v2/{name}/blobs/{d}"))
            .header("Docker-Content-Digest", d.to_string())
            .header("Content-Length", 0),
        empty_body(),
    )
}

/// Appends the request body to `path` (created if missing), hashing it
/// on the way when `hasher` is given (the state of what `path` already
/// holds); answers the bytes written and the updated hasher. The file is
/// written and hashed on a blocking thread while the body streams in, so
/// the data is read from the network once and never read back. A body cut
/// short keeps what arrived (the client resumes from the upload's Range)
/// and answers an error.
async fn append_body(
    path: PathBuf,
    req: Request<Incoming>,
    hasher: Option<sha2::Sha256>,
) -> Result<(u64, Option<sha2::Sha256>)> {
    // The body's frames go to a blocking thread in batches of about
    // [`WRITE_BATCH`] bytes, written there with one writev each: a wake-up
    // of that thread per frame (tens of KiB each) was a context switch per
    // frame, and a buffered writer a second copy of every byte.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Bytes>>(4);
    let writer = tokio::task::spawn_blocking(move || -> io::Result<(u64, Option<sha2::Sha256>)> {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        let mut h = hasher;
        let mut n = 0u64;
        while let Some(batch) = rx.blocking_recv() {
            for data in &batch {
                if let Some(h) = h.as_mut() {
                    h.update(data);
                }
                n += data.len() as u64;
            }
            write_all_batch(&mut f, &batch)?;
        }
        Ok((n, h))
    });
    let mut body = req.into_body();
    let mut failure = None;
    let mut batch = Vec::new();
    let mut batched = 0;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(fr) => {
                if let Ok(data) = fr.into_data() {
                    batched += data.len();
                    batch.push(data);
                    if batched >= WRITE_BATCH {
                        batched = 0;
                        if tx.send(std::mem::take(&mut batch)).await.is_err() {
                            break; // the writer failed: its error is below
                        }
                    }
                }
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    // What came before a cut is kept too: a resumed upload goes on from it.
    if !batch.is_empty() {
        let _ = tx.send(batch).await;
    }
    drop(tx);
    let written = match writer.await {
        Ok(r) => r?,
        Err(e) => return Err(err(Code::Unknown, format!("internal error: {e}"))),
    };
    match failure {
        None => Ok(written),
        Some(e) => Err(err(
            Code::BlobUploadInvalid,
            format!("the upload body was cut: {e}"),
        )),
    }
}

/// Upload bytes handed to the writing thread at a time.
const WRITE_BATCH: usize = 1 << 20;

/// Writes every buffer of `batch`, in order, with as few writev calls as
/// the kernel allows (std's `write_all_vectored` is not stable yet).
fn write_all_batch(f: &mut std::fs::File, batch: &[Bytes]) -> io::Result<()> {
    use std::io::{IoSlice, Write as _};
    let mut slices: Vec<IoSlice<'_>> = batch.iter().map(|b| IoSlice::new(b)).collect();
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        match f.write_vectored(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(k) => IoSlice::advance_slices(&mut rest, k),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

struct BusyGuard<'a> {
    reg: &'a Registry,
    id: String,
}

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut b) = self.reg.busy.lock() {
            b.remove(&self.id);
        }
    }
}

fn claim<'a>(reg: &'a Registry, id: &str) -> Result<BusyGuard<'a>> {
    let mut b = reg
        .busy
        .lock()
        .map_err(|_| err(Code::Unknown, "internal lock poisoned"))?;
    if !b.insert(id.to_string()) {
        return Err(err(
            Code::BlobUploadInvalid,
            "another request is writing to this upload",
        ));
    }
    Ok(BusyGuard {
        reg,
        id: id.to_string(),
    })
}

/// Stores the finished upload `tmp` as the blob `d` of `name`: checked
/// against `hashed` (the digest taken as it streamed in), or hashed again
/// when that was lost. The blob is pending until a background fsync makes
/// it durable (a manifest PUT waits for that).
async fn commit(
    reg: &Arc<Registry>,
    name: &str,
    tmp: PathBuf,
    d: &Digest,
    hashed: Option<sha2::Sha256>,
) -> Result<()> {
    let s = reg.storage.clone();
    let (d2, n) = (d.clone(), name.to_string());
    let res = blocking(move || {
        let r = match hashed {
            Some(h) => {
                let got = Digest::from_hasher(h);
                if got == d2 {
                    s.commit_verified(&tmp, &d2)?;
                    Ok(())
                } else {
                    let _ = std::fs::remove_file(&tmp);
                    Err(got)
                }
            }
            None => s.commit_file(&tmp, &d2)?.map(|_| ()),
        };
        if r.is_ok() {
            s.link_blob(&n, &d2)?;
        }
        Ok(r)
    })
    .await?;
    match res {
        Ok(()) => {
            let (s, d2) = (reg.storage.clone(), d.clone());
            tokio::task::spawn_blocking(move || {
                if let Err(e) = s.make_durable(&d2) {
                    tracing::warn!(digest = %d2, error = %e, "making a blob durable");
                }
            });
            Ok(())
        }
        Err(got) => Err(err(
            Code::DigestInvalid,
            format!("the content's digest is {got}, not {d}"),
        )
        .with_detail(json!({ "digest": d.to_string() }))),
    }
}

async fn start_upload(
    reg: &Arc<Registry>,
    name: &str,
    q: &[(String, String)],
    req: Request<Incoming>,
) -> std::result::Result<Response<Body>, Reply> {
    if let (Some(m), Some(from)) = (query(q, "mount"), query(q, "from")) {
        if let (Ok(d), true) = (Digest::parse(m), valid_repo_name(from)) {
            if reg.storage.repo_blob_size(from, &d).is_some() {
                reg.storage.link_blob(name, &d)?;
                return Ok(blob_created(name, &d));
            }
        }
    }
    if let Some(ds) = query(q, "digest") {
        let d = parse_digest(ds)?;
        let tmp = reg.storage.temp_path();
        let hashed = match append_body(tmp.clone(), req, Some(sha2::Sha256::new())).await {
            Ok((_, h)) => h,
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(e.into());
            }
        };
        commit(reg, name, tmp, &d, hashed).await?;
        return Ok(blob_created(name, &d));
    }
    let s = reg.storage.clone();
    let n = name.to_string();
    let up = blocking(move || s.new_upload(&n)).await?;
    Ok(upload_response(StatusCode::ACCEPTED, name, &up.id, 0))
}

fn upload_unknown(id: &str) -> ApiError {
    err(
        Code::BlobUploadUnknown,
        format!("blob upload unknown to registry: {id}"),
    )
}

async fn upload_status(
    reg: &Arc<Registry>,
    name: &str,
    id: &str,
) -> std::result::Result<Response<Body>, Reply> {
    let up = reg
        .storage
        .upload(name, id)?
        .ok_or_else(|| upload_unknown(id))?;
    Ok(upload_response(StatusCode::NO_CONTENT, name, id, up.size))
}

/// Checks a `Content-Range: START-END` against the upload's size.
fn check_content_range(req: &Request<Incoming>, size: u64) -> Result<()> {
    let header = |name: &str| req.headers().get(name).and_then(|h| h.to_str().ok());
    content_range(header("Content-Range"), header("Content-Length"), size)
}

/// [`check_content_range`] on the header values: a missing range is fine;
/// one that is malformed, does not continue the upload at `size`, or
/// disagrees with the length is `RANGE_INVALID`.
pub(crate) fn content_range(range: Option<&str>, length: Option<&str>, size: u64) -> Result<()> {
    let Some(h) = range else {
        return Ok(());
    };
    let h = h
        .trim()
        .trim_start_matches("bytes ")
        .trim_start_matches("bytes=");
    let range = h.split('/').next().unwrap_or("");
    let parsed = range
        .split_once('-')
        .and_then(|(a, b)| Some((a.trim().parse::<u64>().ok()?, b.trim().parse::<u64>().ok()?)));
    let Some((start, end)) = parsed else {
        return Err(err(
            Code::RangeInvalid,
            format!("invalid Content-Range {h:?}"),
        ));
    };
    if start != size || end < start {
        return Err(err(
            Code::RangeInvalid,
            format!("Content-Range {start}-{end} does not continue the upload at {size}"),
        ));
    }
    if let Some(len) = length.and_then(|s| s.parse::<u64>().ok()) {
        // `end - start + 1` overflows for `0-18446744073709551615`: compare
        // without adding.
        if len.checked_sub(1) != Some(end - start) {
            return Err(err(
                Code::RangeInvalid,
                "Content-Range and Content-Length disagree",
            ));
        }
    }
    Ok(())
}

fn range_error(e: ApiError, name: &str, id: &str, size: u64) -> Reply {
    let mut resp = error_response(&e);
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("/v2/{name}/blobs/uploads/{id}")) {
        h.insert("Location", v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("0-{}", size.saturating_sub(1))) {
        h.insert("Range", v);
    }
    Reply::Raw(Box::new(resp))
}

async fn patch_upload(
    reg: &Arc<Registry>,
    name: &str,
    id: &str,
    req: Request<Incoming>,
) -> std::result::Result<Response<Body>, Reply> {
    let _busy = claim(reg, id)?;
    let up = reg
        .storage
        .upload(name, id)?
        .ok_or_else(|| upload_unknown(id))?;
    if let Err(e) = check_content_range(&req, up.size) {
        return Err(range_error(e, name, id, up.size));
    }
    let hasher = reg.take_hasher(id, up.size);
    let (n, hasher) = append_body(reg.storage.upload_data(id), req, hasher).await?;
    if let Some(h) = hasher {
        reg.put_hasher(id, up.size + n, h);
    }
    let up = reg
        .storage
        .upload(name, id)?
        .ok_or_else(|| upload_unknown(id))?;
    Ok(upload_response(StatusCode::ACCEPTED, name, id, up.size))
}

async fn finish_upload(
    reg: &Arc<Registry>,
    name: &str,
    id: &str,
    q: &[(String, String)],
    req: Request<Incoming>,
) -> std::result::Result<Response<Body>, Reply> {
    let _busy = claim(reg, id)?;
    let up = reg
        .storage
        .upload(name, id)?
        .ok_or_else(|| upload_unknown(id))?;
    let Some(ds) = query(q, "digest") else {
        return Err(err(Code::DigestInvalid, "the digest parameter is missing").into());
    };
    let d = parse_digest(ds)?;
    if let Err(e) = check_content_range(&req, up.size) {
        return Err(range_error(e, name, id, up.size));
    }
    let hasher = reg.take_hasher(id, up.size);
    let (_, hasher) = append_body(reg.storage.upload_data(id), req, hasher).await?;
    let res = commit(reg, name, reg.storage.upload_data(id), &d, hasher).await;
    // Committed or refused, the upload is over (a refused one stored nothing).
    reg.storage.remove_upload(id)?;
    reg.drop_hasher(id);
    res?;
    Ok(blob_created(name, &d))
}

async fn cancel_upload(
    reg: &Arc<Registry>,
    name: &str,
    id: &str,
) -> std::result::Result<Response<Body>, Reply> {
    if reg.storage.upload(name, id)?.is_none() {
        return Err(upload_unknown(id).into());
    }
    reg.storage.remove_upload(id)?;
    reg.drop_hasher(id);
    Ok(finish(builder(StatusCode::NO_CONTENT), empty_body()))
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
