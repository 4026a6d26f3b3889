//! `POST /auth` and `GET /distribution/{name}/json`.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{Response, StatusCode};
use berth_api::{Error, ErrorKind, Reference};
use berth_distribution::AuthConfig;
use http_body_util::BodyExt;
use serde_json::json;

use super::{json_response, ApiResult, AppState};

pub async fn auth(State(engine): State<AppState>, req: Request) -> ApiResult<Response<Body>> {
    let body = req
        .into_body()
        .collect()
        .await
        .map_err(|e| Error::invalid(format!("reading the body: {e}")))?
        .to_bytes();
    if body.len() > 64 * 1024 {
        return Err(Error::invalid("auth body too large").into());
    }
    let mut creds: AuthConfig = serde_json::from_slice(&body)
        .map_err(|e| Error::invalid(format!("invalid auth configuration: {e}")))?;
    creds.fill_from_auth();
    berth_distribution::login(&engine.config.registry, creds)
        .await
        .map_err(|e| {
            if e.kind() == ErrorKind::Unauthorized {
                e
            } else {
                Error::new(ErrorKind::Unauthorized, e.message)
            }
        })?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"Status": "Login Succeeded", "IdentityToken": ""}),
    ))
}

pub async fn inspect(
    State(engine): State<AppState>,
    Path(rest): Path<String>,
    req: Request,
) -> ApiResult<Response<Body>> {
    let Some(name) = rest.strip_suffix("/json") else {
        return Err(Error::not_found(format!("page not found: /distribution/{rest}")).into());
    };
    let creds = req
        .headers()
        .get("X-Registry-Auth")
        .and_then(|v| v.to_str().ok())
        .map(AuthConfig::from_header)
        .unwrap_or_default();
    let r = Reference::parse_with_default_tag(name)?;
    let v = berth_distribution::inspect(&engine.config.registry, &r, creds).await?;
    Ok(json_response(StatusCode::OK, &v))
}
