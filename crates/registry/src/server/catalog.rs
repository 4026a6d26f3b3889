//! `/v2/_catalog`, `/v2/<name>/tags/list` and `/v1/search`: paginated
//! names.

use super::*;

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

pub(super) fn link_header(base: &str, n: usize, last: &str) -> String {
    let last: String = form_urlencoded::byte_serialize(last.as_bytes()).collect();
    format!("<{base}?last={last}&n={n}>; rel=\"next\"")
}

pub(super) async fn catalog(
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
pub(super) async fn search(
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

pub(super) async fn tags_list(
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

pub(super) fn name_unknown(name: &str) -> ApiError {
    err(
        Code::NameUnknown,
        format!("repository name not known to registry: {name}"),
    )
    .with_detail(json!({ "name": name }))
}

pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> Result<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(ApiError::from),
        Err(e) => Err(err(Code::Unknown, format!("internal error: {e}"))),
    }
}
