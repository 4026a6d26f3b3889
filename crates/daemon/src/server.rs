//! The HTTP edge: unix-socket listeners, one hyper HTTP/1.1 connection per
//! client with upgrades (attach hijacks), API version negotiation as dockerd
//! does it, and the mapping of error kinds to status codes.

use std::convert::Infallible;
use std::path::Path;

use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode, Uri};
use axum::Router;
use berth_api::version::{split_version_prefix, ApiVersion, API_VERSION, MIN_API_VERSION};
use hyper_util::rt::TokioIo;
use tokio::net::UnixListener;
use tower_service::Service;

/// The API version a request speaks, for handlers whose behaviour changes with it.
#[derive(Debug, Clone, Copy)]
pub struct RequestVersion(pub ApiVersion);

pub fn error_response(status: StatusCode, message: &str) -> Response<Body> {
    let body = serde_json::to_vec(&berth_api::types::ErrorResponse {
        message: message.to_string(),
    })
    .unwrap_or_default();
    Response::builder()
        .status(status)
        .header("Content-Type", "application/json")
        .body(Body::from(body))
        .unwrap_or_default()
}

/// Strips `/v1.NN`, refuses versions out of range, stamps dockerd's headers.
pub async fn dispatch(
    mut router: Router,
    mut req: Request<hyper::body::Incoming>,
) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_string();
    let (version, rest) = split_version_prefix(&path);
    let mut resp = match version.map(|v| (v, ApiVersion::parse(v))) {
        Some((v, None)) => error_response(StatusCode::BAD_REQUEST, &format!("invalid API version: {v}")),
        Some((v, Some(parsed))) if parsed > ApiVersion::CURRENT => error_response(
            StatusCode::BAD_REQUEST,
            &format!("client version {v} is too new. Maximum supported API version is {API_VERSION}"),
        ),
        Some((v, Some(parsed))) if parsed < ApiVersion::MIN => error_response(
            StatusCode::BAD_REQUEST,
            &format!("client version {v} is too old. Minimum supported API version is {MIN_API_VERSION}, please upgrade your client to a newer version"),
        ),
        parsed => {
            let v = parsed.and_then(|(_, p)| p).unwrap_or(ApiVersion::CURRENT);
            let pq = match req.uri().query() {
                Some(q) => format!("{rest}?{q}"),
                None => rest.to_string(),
            };
            if let Ok(uri) = pq.parse::<Uri>() {
                *req.uri_mut() = uri;
            }
            req.extensions_mut().insert(RequestVersion(v));
            tracing::debug!(method = %req.method(), path = %req.uri(), "request");
            match router.call(req.map(Body::new)).await {
                Ok(r) => r,
                Err(e) => match e {},
            }
        }
    };
    let h = resp.headers_mut();
    h.insert("Api-Version", HeaderValue::from_static(API_VERSION));
    h.insert("Docker-Experimental", HeaderValue::from_static("false"));
    h.insert("Ostype", HeaderValue::from_static("linux"));
    h.insert(
        "Server",
        HeaderValue::from_static(concat!("Berth/", env!("CARGO_PKG_VERSION"), " (linux)")),
    );
    Ok(resp)
}

/// Binds a unix socket (replacing a stale one) readable by root only, as dockerd's is by default.
pub fn bind_unix(path: &Path) -> anyhow::Result<UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    if path.exists() {
        // A live daemon would answer; the data-root lock already proved none does.
        std::fs::remove_file(path)?;
    }
    let l = UnixListener::bind(path)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    Ok(l)
}

pub async fn serve_unix(listener: UnixListener, router: Router) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let router = router.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| dispatch(router.clone(), req));
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .with_upgrades();
            if let Err(e) = conn.await {
                tracing::debug!("connection: {e}");
            }
        });
    }
}
