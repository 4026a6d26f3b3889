//! `POST /auth`, `GET /distribution/{name}/json` and `GET /images/search`.

use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{Response, StatusCode};
use berth_api::{Error, ErrorKind, Reference};
use berth_distribution::AuthConfig;
use berth_engine::Filters;
use http_body_util::BodyExt;
use serde_json::json;

use super::{json_response, ApiResult, AppState};
use crate::params::Params;

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
    let mut creds: AuthConfig = berth_api::json::from_slice(&body)
        .map_err(|e| Error::invalid(format!("invalid auth configuration: {}", e.message)))?;
    creds.fill_from_auth();
    engine.distribution().login(creds).await.map_err(|e| {
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
    let v = engine.distribution().inspect(&r, creds).await?;
    Ok(json_response(StatusCode::OK, &v))
}

/// `GET /images/search?term=&limit=&filters=`: dockerd's search, the
/// filters (`stars`, `is-official`, `is-automated`) applied here.
pub async fn search(
    State(engine): State<AppState>,
    RawQuery(q): RawQuery,
    req: Request,
) -> ApiResult<Response<Body>> {
    let p = Params::from_query(q.as_deref());
    let limit = match p.get("limit") {
        None | Some("") => 0,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| Error::invalid(format!("invalid limit specified: {v}")))?,
    };
    let filters = Filters::parse(p.get("filters"))?;
    filters.validate(&["is-automated", "is-official", "stars"])?;
    let flag = |key: &str| -> Result<Option<bool>, Error> {
        let v = filters.get(key);
        match v {
            [] => Ok(None),
            [one] if one.eq_ignore_ascii_case("true") || one == "1" => Ok(Some(true)),
            [one] if one.eq_ignore_ascii_case("false") || one == "0" => Ok(Some(false)),
            _ => Err(Error::invalid(format!(
                "invalid filter '{key}={}'",
                v.join(",")
            ))),
        }
    };
    let automated = flag("is-automated")?;
    let official = flag("is-official")?;
    let mut stars = 0i64;
    for s in filters.get("stars") {
        let n = s.parse::<i64>().map_err(|e| {
            Error::invalid(format!(
                "invalid filter 'stars={s}': strconv.Atoi: parsing {s:?}: {e}"
            ))
        })?;
        stars = stars.max(n);
    }
    // For a search, bad credentials are no error (as dockerd).
    let creds = req
        .headers()
        .get("X-Registry-Auth")
        .and_then(|v| v.to_str().ok())
        .map(AuthConfig::from_header)
        .unwrap_or_default();
    // Docker Hub dropped automated builds: dockerd answers nothing for
    // is-automated=true (API 1.44+).
    if automated == Some(true) {
        return Ok(json_response(StatusCode::OK, &json!([])));
    }
    let results = engine
        .distribution()
        .search(p.get("term").unwrap_or(""), limit, &creds)
        .await?;
    let out: Vec<_> = results
        .into_iter()
        .filter(|r| automated.is_none_or(|a| a == r.is_automated))
        .filter(|r| official.is_none_or(|o| o == r.is_official))
        .filter(|r| r.star_count >= stars)
        .collect();
    Ok(json_response(StatusCode::OK, &out))
}
