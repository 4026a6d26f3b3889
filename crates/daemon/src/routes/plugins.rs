//! `/plugins/...`: managed plugins. Names may hold slashes
//! (`vieux/sshfs:latest`), so `/plugins/{name}/{op}` is one wildcard
//! route split here on its last component.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{Response, StatusCode};
use berth_api::Error;
use berth_engine::Filters;
use bytes::Bytes;

use berth_api::views::plugin::PluginPrivilege;
use berth_engine::distribution::AuthConfig;

use super::{json_response, progress_response, ApiResult, AppState};
use crate::params::Params;

fn empty(status: StatusCode) -> Response<Body> {
    Response::builder()
        .status(status)
        .body(Body::empty())
        .unwrap_or_default()
}

fn page_not_found(method: &str, rest: &str) -> ApiResult<Response<Body>> {
    Err(Error::not_found(format!("page not found: {method} /plugins/{rest}")).into())
}

/// `GET /plugins?filters=`.
pub async fn list(
    State(engine): State<AppState>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response<Body>> {
    let filters = Filters::parse(Params::from_query(q.as_deref()).get("filters"))?;
    let list = engine.plugins().list(&filters)?;
    Ok(json_response(StatusCode::OK, &list))
}

/// The largest plugin directory a create takes (it is held in memory
/// while unpacked; axum's own 2 MB default is far too small for a rootfs).
const MAX_CREATE_BODY: usize = 1 << 30;

/// `POST /plugins/create?name=`: the body is a tar of the plugin's
/// directory.
pub async fn create(
    State(engine): State<AppState>,
    RawQuery(q): RawQuery,
    req: Request,
) -> ApiResult<Response<Body>> {
    let body = axum::body::to_bytes(req.into_body(), MAX_CREATE_BODY)
        .await
        .map_err(|e| Error::invalid(format!("failed to read from tar: {e}")))?;
    let p = Params::from_query(q.as_deref());
    let name = p.get("name").unwrap_or("").to_string();
    engine.plugins().create(&name, body).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

fn registry_auth(headers: &axum::http::HeaderMap) -> AuthConfig {
    headers
        .get("X-Registry-Auth")
        .and_then(|v| v.to_str().ok())
        .map(AuthConfig::from_header)
        .unwrap_or_default()
}

/// `GET /plugins/privileges?remote=`.
pub async fn privileges(
    State(engine): State<AppState>,
    RawQuery(q): RawQuery,
    headers: axum::http::HeaderMap,
) -> ApiResult<Response<Body>> {
    let p = Params::from_query(q.as_deref());
    let remote = p.get("remote").unwrap_or("").to_string();
    let list = engine
        .plugins()
        .privileges(&remote, registry_auth(&headers))
        .await?;
    Ok(json_response(StatusCode::OK, &list))
}

/// `POST /plugins/pull?remote=&name=`: the body is the privileges the
/// client granted; the answer streams the pull's progress.
pub async fn pull(
    State(engine): State<AppState>,
    RawQuery(q): RawQuery,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> ApiResult<Response<Body>> {
    let p = Params::from_query(q.as_deref());
    let remote = p.get("remote").unwrap_or("").to_string();
    let alias = p.get("name").unwrap_or("").to_string();
    let granted: Option<Vec<PluginPrivilege>> = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        berth_api::json::from_slice(&body)?
    };
    let auth = registry_auth(&headers);
    // The docker CLI reads the name the plugin gets from this header, to
    // set and enable it after the pull.
    let name = berth_engine::plugins::store::normalize_name(if alias.is_empty() {
        &remote
    } else {
        &alias
    })?;
    let mut resp = progress_response(|tx| async move {
        engine
            .plugins()
            .pull(&remote, &alias, &granted.unwrap_or_default(), auth, &tx)
            .await
    });
    if let Ok(v) = axum::http::HeaderValue::from_str(&name) {
        resp.headers_mut().insert("Docker-Plugin-Name", v);
    }
    Ok(resp)
}

/// `GET /plugins/{name}/json`.
pub async fn get_dispatch(
    State(engine): State<AppState>,
    Path(rest): Path<String>,
) -> ApiResult<Response<Body>> {
    match rest.strip_suffix("/json") {
        Some(name) => Ok(json_response(
            StatusCode::OK,
            &engine.plugins().inspect(name)?,
        )),
        None => page_not_found("GET", &rest),
    }
}

/// `POST /plugins/{name}/enable|disable|set|upgrade|push`.
pub async fn post_dispatch(
    State(engine): State<AppState>,
    Path(rest): Path<String>,
    RawQuery(q): RawQuery,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> ApiResult<Response<Body>> {
    let p = Params::from_query(q.as_deref());
    let Some((name, op)) = rest.rsplit_once('/') else {
        return page_not_found("POST", &rest);
    };
    let plugins = engine.plugins();
    match op {
        "enable" => {
            plugins
                .enable(name, enable_timeout(p.get("timeout"))?)
                .await?
        }
        "disable" => plugins.disable(name, p.bool("force")).await?,
        "set" => {
            let args: Vec<String> = berth_api::json::from_slice(&body)?;
            plugins.set(name, &args).await?;
            return Ok(empty(StatusCode::NO_CONTENT));
        }
        "upgrade" => {
            // Refused before the stream starts, as dockerd answers it.
            plugins.upgradable(name)?;
            let granted: Option<Vec<PluginPrivilege>> = if body.iter().all(u8::is_ascii_whitespace)
            {
                None
            } else {
                berth_api::json::from_slice(&body)?
            };
            let (name, auth) = (name.to_string(), registry_auth(&headers));
            let remote = p.get("remote").unwrap_or("").to_string();
            return Ok(progress_response(|tx| async move {
                engine
                    .plugins()
                    .upgrade(&name, &remote, &granted.unwrap_or_default(), auth, &tx)
                    .await
            }));
        }
        "push" => {
            plugins.inspect(name)?;
            let (name, auth) = (name.to_string(), registry_auth(&headers));
            return Ok(progress_response(|tx| async move {
                engine.plugins().push(&name, auth, &tx).await
            }));
        }
        _ => return page_not_found("POST", &rest),
    }
    Ok(empty(StatusCode::OK))
}

/// `timeout` of an enable, in seconds. dockerd requires it (the docker
/// CLI always sends it) and answers its strconv error otherwise; 0 means
/// the default.
fn enable_timeout(v: Option<&str>) -> Result<Duration, Error> {
    let v = v.unwrap_or("");
    let secs: i64 = v
        .parse()
        .map_err(|_| Error::internal(format!("strconv.Atoi: parsing {v:?}: invalid syntax")))?;
    Ok(if secs <= 0 {
        berth_engine::plugins::DEFAULT_TIMEOUT
    } else {
        Duration::from_secs(secs as u64)
    })
}

/// `DELETE /plugins/{name}?force=`.
pub async fn remove(
    State(engine): State<AppState>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response<Body>> {
    let force = Params::from_query(q.as_deref()).bool("force");
    engine.plugins().remove(&name, force).await?;
    Ok(empty(StatusCode::OK))
}
