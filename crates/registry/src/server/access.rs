//! Access control: what a request needs, the challenge when it lacks
//! it, and the built-in token service.

use super::*;

/// What a request needs, as distribution asks: pull to read, pull and push
/// to write, delete to delete; a mount needs pull on its source too.
pub(super) fn wanted_access(r: &Route, method: &Method, q: &[(String, String)]) -> Vec<Access> {
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

pub(super) fn unauthorized(challenge: String, message: &str, detail: Option<Value>) -> Reply {
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

pub(super) fn authorize(
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
pub(super) fn token_endpoint(
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
