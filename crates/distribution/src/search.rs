//! `docker search`: the v1 search API of a registry's index, as dockerd
//! queries it (`/v1/_ping`, then `/v1/search?q=TERM&n=LIMIT`).

use berth_api::{Error, ErrorKind, Result};
use reqwest::header::AUTHORIZATION;
use serde::{Deserialize, Serialize};

use crate::auth::AuthConfig;
use crate::endpoint::{Endpoints, RegistryOptions};
use crate::session::error_chain;

/// One result, as Docker Hub's index and `GET /images/search` spell it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchResult {
    #[serde(default)]
    pub star_count: i64,
    #[serde(default)]
    pub is_official: bool,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub is_automated: bool,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Deserialize)]
struct SearchResults {
    #[serde(default)]
    results: Vec<SearchResult>,
}

/// dockerd's default and largest `limit`.
const DEFAULT_LIMIT: i64 = 25;

/// `registry/term` names a registry when its first part looks like a
/// host (a dot, a port or `localhost`); anything else is Docker Hub's.
pub fn split_term(term: &str) -> (&str, &str) {
    match term.split_once('/') {
        Some((host, rest)) if host.contains('.') || host.contains(':') || host == "localhost" => {
            (host, rest)
        }
        _ => ("docker.io", term),
    }
}

/// Searches the index `term` names; `limit` 0 is dockerd's default (25).
pub async fn search(
    opts: &RegistryOptions,
    term: &str,
    limit: i64,
    creds: &AuthConfig,
) -> Result<Vec<SearchResult>> {
    if term.contains("://") {
        return Err(Error::invalid(format!(
            "invalid repository name: repository name ({term}) should not have a scheme"
        )));
    }
    let limit = if limit == 0 { DEFAULT_LIMIT } else { limit };
    if !(1..=100).contains(&limit) {
        return Err(Error::invalid(format!(
            "limit {limit} is outside the range of [1, 100]"
        )));
    }
    let (index, mut remote) = split_term(term);
    let bases: Vec<(String, reqwest::Client)> = if index == "docker.io" {
        // dockerd searches Docker Hub's index, never a mirror.
        remote = remote.strip_prefix("library/").unwrap_or(remote);
        let ep = Endpoints::for_domain(&RegistryOptions::default(), "index.docker.io")?;
        ep.into_iter()
            .map(|e| ("https://index.docker.io".to_string(), e.client))
            .take(1)
            .collect()
    } else {
        Endpoints::for_domain(opts, index)?
            .into_iter()
            .map(|e| (e.base, e.client))
            .collect()
    };
    // The first endpoint whose `/v1/_ping` answers at all (any status, as
    // dockerd's v1 ping); an insecure registry falls back to plain HTTP.
    let mut last = None;
    let mut chosen = None;
    for (base, client) in bases {
        let url = format!("{base}/v1/_ping");
        match client.get(&url).send().await {
            Ok(_) => {
                chosen = Some((base, client));
                break;
            }
            Err(e) => {
                last.get_or_insert(format!("Get \"{url}\": {}", error_chain(&e)));
            }
        }
    }
    let Some((base, client)) = chosen else {
        return Err(Error::invalid(
            last.unwrap_or_else(|| format!("no endpoint for registry {index}")),
        ));
    };
    let mut url = reqwest::Url::parse(&format!("{base}/v1/search"))
        .map_err(|e| Error::internal(format!("search url: {e}")))?;
    url.query_pairs_mut()
        .append_pair("q", remote)
        .append_pair("n", &limit.to_string());
    let mut req = client.get(url.clone()).header("X-Docker-Token", "true");
    // dockerd sends Basic credentials to a standalone index.
    if creds.has_basic() {
        req = req.header(AUTHORIZATION, creds.basic_header());
    }
    let r = req
        .send()
        .await
        .map_err(|e| Error::internal(format!("Get \"{url}\": {}", error_chain(&e))))?;
    if !r.status().is_success() {
        return Err(Error::new(
            ErrorKind::Internal,
            format!("Unexpected status code {}", r.status().as_u16()),
        ));
    }
    let body = r
        .bytes()
        .await
        .map_err(|e| Error::internal(format!("Get \"{url}\": {}", error_chain(&e))))?;
    let parsed: SearchResults = serde_json::from_slice(&body)
        .map_err(|e| Error::internal(format!("error decoding registry search results: {e}")))?;
    Ok(parsed.results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn term_names_a_registry_like_dockerd() {
        assert_eq!(split_term("busybox"), ("docker.io", "busybox"));
        assert_eq!(
            split_term("library/busybox"),
            ("docker.io", "library/busybox")
        );
        assert_eq!(split_term("127.0.0.1:5000/bb"), ("127.0.0.1:5000", "bb"));
        assert_eq!(split_term("localhost/a/b"), ("localhost", "a/b"));
        assert_eq!(split_term("reg.example/x"), ("reg.example", "x"));
    }
}
