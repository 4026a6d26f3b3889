//! The authorization middleware: with `--authorization-plugin`, each
//! request is put to the plugins before its handler runs (dockerd's
//! `authorization` middleware); a refusal is the answer.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::Response;
use axum::middleware::Next;
use base64::Engine as _;
use berth_engine::plugins::authz::AuthzRequest;

use super::{ApiError, AppState};

/// dockerd sends a JSON body up to this size to the plugins, and none
/// beyond (`maxBodySize`).
const MAX_BODY: usize = 1 << 20;

pub async fn check(State(engine): State<AppState>, req: Request, next: Next) -> Response<Body> {
    if engine.plugins().authorization_plugins().is_empty() {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let json = parts
        .headers
        .get("Content-Type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    // Only a JSON body is read here (and handed on whole); others stream.
    let (body, seen) = if json {
        match axum::body::to_bytes(body, usize::MAX).await {
            Ok(b) => (Body::from(b.clone()), Some(b)),
            Err(e) => {
                let e = berth_api::Error::invalid(format!("reading the request: {e}"));
                return axum::response::IntoResponse::into_response(ApiError(e));
            }
        }
    } else {
        (body, None)
    };
    let authz = AuthzRequest {
        user: String::new(),
        user_authn_method: String::new(),
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        body: seen
            .filter(|b| b.len() <= MAX_BODY && !b.is_empty())
            .map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
        headers: parts
            .headers
            .iter()
            .filter(|(k, _)| *k != "x-registry-auth")
            .filter_map(|(k, v)| Some((canonical(k.as_str()), v.to_str().ok()?.to_string())))
            .collect(),
    };
    if let Err(e) = engine.plugins().authorize(&authz).await {
        return axum::response::IntoResponse::into_response(ApiError(e));
    }
    next.run(Request::from_parts(parts, body)).await
}

/// `content-type` as Go's canonical header key, `Content-Type`.
fn canonical(k: &str) -> String {
    k.split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}
