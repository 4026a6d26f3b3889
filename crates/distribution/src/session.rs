//! One repository on one registry: picks the endpoint that answers
//! `/v2/`, and answers `401` challenges once per session.

use std::sync::Mutex;

use berth_api::{Error, ErrorKind, Result};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use serde::Deserialize;

use crate::auth::{parse_challenge, AuthConfig, Challenge};
use crate::endpoint::{Endpoint, Endpoints, RegistryOptions};

pub struct Session {
    pub endpoint: Endpoint,
    /// Repository path (`library/busybox`).
    pub repo: String,
    /// `pull` or `pull,push`.
    actions: String,
    /// For the token service's own client (trust, insecure rules).
    opts: RegistryOptions,
    creds: AuthConfig,
    authorization: Mutex<Option<String>>,
    /// The Bearer challenge answered, to ask again with more scopes.
    bearer: Mutex<Option<Challenge>>,
    /// Scopes asked for besides this repository's (`repository:SRC:pull`
    /// for the sources of cross-repository mounts).
    extra_scopes: Mutex<Vec<String>>,
}

/// A registry's error body (`{"errors":[{"code":..,"message":..}]}`).
#[derive(Debug, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errors: Vec<RegistryError>,
}

#[derive(Debug, Deserialize, Clone)]
pub struct RegistryError {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
}

impl RegistryError {
    /// As Go's errcode prints it: `manifest unknown: manifest unknown`.
    pub fn describe(&self) -> String {
        let code = self.code.replace('_', " ").to_lowercase();
        if self.message.is_empty() {
            code
        } else {
            format!("{code}: {}", self.message)
        }
    }
}

/// A failed request: HTTP status and the registry's errors.
#[derive(Debug)]
pub struct Failure {
    pub status: StatusCode,
    pub errors: Vec<RegistryError>,
}

impl Failure {
    pub fn describe(&self) -> String {
        match self.errors.first() {
            Some(e) => e.describe(),
            None => match self.status {
                StatusCode::UNAUTHORIZED => "unauthorized: authentication required".into(),
                StatusCode::FORBIDDEN => {
                    "denied: requested access to the resource is denied".into()
                }
                StatusCode::NOT_FOUND => "not found".into(),
                s => format!("unexpected status {s}"),
            },
        }
    }

    pub fn code(&self) -> &str {
        self.errors.first().map(|e| e.code.as_str()).unwrap_or("")
    }
}

pub enum Reply {
    Ok(reqwest::Response),
    Failed(Failure),
}

impl Session {
    /// Opens a session: the first endpoint whose `/v2/` answers (200 or
    /// 401) wins, as dockerd's endpoint loop does; the last error otherwise.
    pub async fn open(
        opts: &RegistryOptions,
        domain: &str,
        repo: &str,
        actions: &str,
        creds: AuthConfig,
    ) -> Result<Session> {
        Session::open_on(
            opts,
            Endpoints::for_domain(opts, domain)?,
            domain,
            repo,
            actions,
            creds,
        )
        .await
    }

    /// As [`Session::open`], over the given endpoints only.
    pub async fn open_on(
        opts: &RegistryOptions,
        endpoints: Vec<Endpoint>,
        domain: &str,
        repo: &str,
        actions: &str,
        creds: AuthConfig,
    ) -> Result<Session> {
        let mut last = None;
        for ep in endpoints {
            let url = format!("{}/v2/", ep.base);
            match ep.client.get(&url).send().await {
                Ok(r) if r.status().is_success() || r.status() == StatusCode::UNAUTHORIZED => {
                    let s = Session {
                        endpoint: ep,
                        repo: repo.to_string(),
                        actions: actions.to_string(),
                        opts: opts.clone(),
                        creds,
                        authorization: Mutex::new(None),
                        bearer: Mutex::new(None),
                        extra_scopes: Mutex::new(Vec::new()),
                    };
                    if r.status() == StatusCode::UNAUTHORIZED {
                        // Authenticate now: a wrong password fails here,
                        // before any progress is streamed.
                        s.answer(r.headers()).await?;
                    }
                    return Ok(s);
                }
                // dockerd reports the first endpoint's error (https).
                Ok(r) => {
                    last.get_or_insert(format!("{url}: unexpected status {}", r.status()));
                }
                Err(e) => {
                    last.get_or_insert(format!("Get \"{url}\": {}", error_chain(&e)));
                }
            }
        }
        Err(Error::internal(last.unwrap_or_else(|| {
            format!("no endpoint for registry {domain}")
        })))
    }

    /// Under token auth, asks for a token that also grants pull on each
    /// of `repos` (a cross-repository mount needs it on the source, and
    /// dockerd asks the same way). Best effort: without it the mount is
    /// refused and the blob uploaded.
    pub async fn add_pull_scopes(&self, repos: &[String]) {
        let challenge = self
            .bearer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let Some(c) = challenge else {
            return;
        };
        if repos.is_empty() || !self.creds.registrytoken.is_empty() {
            return;
        }
        *self.extra_scopes.lock().unwrap_or_else(|e| e.into_inner()) = repos
            .iter()
            .map(|r| format!("repository:{r}:pull"))
            .collect();
        match self.fetch_token(&c).await {
            Ok(t) => {
                *self.authorization.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(format!("Bearer {t}"))
            }
            Err(e) => tracing::debug!("token with mount scopes: {}", e.message),
        }
    }

    fn auth_header(&self) -> Option<String> {
        self.authorization
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Answers a 401's challenge: Basic with the credentials, or a token
    /// from the Bearer realm for this repository's scope.
    async fn answer(&self, headers: &HeaderMap) -> Result<()> {
        let challenges: Vec<Challenge> = headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(parse_challenge)
            .collect();
        if let Some(c) = challenges.iter().find(|c| c.scheme == "bearer") {
            let token = self.fetch_token(c).await?;
            *self.authorization.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(format!("Bearer {token}"));
            *self.bearer.lock().unwrap_or_else(|e| e.into_inner()) = Some(c.clone());
            return Ok(());
        }
        if challenges.iter().any(|c| c.scheme == "basic") {
            if !self.creds.has_basic() {
                return Err(unauthorized("no basic auth credentials"));
            }
            // Check the credentials now so a wrong password is a clear error.
            let url = format!("{}/v2/", self.endpoint.base);
            let r = self
                .endpoint
                .client
                .get(&url)
                .header(AUTHORIZATION, self.creds.basic_header())
                .send()
                .await
                .map_err(|e| Error::internal(format!("Get \"{url}\": {}", error_chain(&e))))?;
            if r.status() == StatusCode::UNAUTHORIZED {
                // dockerd's wording for a refused Basic login.
                return Err(Error::new(
                    ErrorKind::Unauthorized,
                    format!("login attempt to {url} failed with status: 401 Unauthorized"),
                ));
            }
            *self.authorization.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(self.creds.basic_header());
            return Ok(());
        }
        Err(unauthorized("unauthorized: authentication required"))
    }

    async fn fetch_token(&self, c: &Challenge) -> Result<String> {
        if !self.creds.registrytoken.is_empty() {
            return Ok(self.creds.registrytoken.clone());
        }
        let realm = c
            .param("realm")
            .ok_or_else(|| Error::internal("bearer challenge without a realm"))?;
        let mut url = reqwest::Url::parse(realm)
            .map_err(|e| Error::internal(format!("bad token realm {realm:?}: {e}")))?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = c.param("service") {
                q.append_pair("service", s);
            }
            if !self.repo.is_empty() {
                q.append_pair(
                    "scope",
                    &format!("repository:{}:{}", self.repo, self.actions),
                );
            }
            for s in self
                .extra_scopes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
            {
                q.append_pair("scope", s);
            }
            if self.creds.has_basic() {
                q.append_pair("account", &self.creds.username);
            }
        }
        let host = url.host_str().unwrap_or("").to_string();
        let host_port = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host,
        };
        // The token service may live on another host, with its own trust
        // (certs.d) and insecure rules.
        let client = if self.endpoint.base.contains(&host_port) {
            self.endpoint.client.clone()
        } else {
            let insecure = crate::endpoint::is_insecure(&self.opts, &host_port);
            crate::endpoint::client_for(&self.opts, &host_port, insecure)?
        };
        let mut req = client.get(url.clone());
        if self.creds.has_basic() {
            req = req.header(AUTHORIZATION, self.creds.basic_header());
        }
        let r = req
            .send()
            .await
            .map_err(|e| Error::internal(format!("Get \"{url}\": {}", error_chain(&e))))?;
        if r.status() == StatusCode::UNAUTHORIZED || r.status() == StatusCode::FORBIDDEN {
            let f = failure(r).await;
            return Err(unauthorized(&f.describe()));
        }
        if !r.status().is_success() {
            return Err(Error::internal(format!(
                "token service {realm}: unexpected status {}",
                r.status()
            )));
        }
        #[derive(Deserialize)]
        struct Tok {
            #[serde(default)]
            token: String,
            #[serde(default)]
            access_token: String,
        }
        let body = r
            .bytes()
            .await
            .map_err(|e| Error::internal(format!("token service {realm}: {}", error_chain(&e))))?;
        let t: Tok = serde_json::from_slice(&body)
            .map_err(|e| Error::internal(format!("token service {realm}: {e}")))?;
        let tok = if t.token.is_empty() {
            t.access_token
        } else {
            t.token
        };
        if tok.is_empty() {
            return Err(Error::internal(format!(
                "token service {realm} answered no token"
            )));
        }
        Ok(tok)
    }

    /// Sends a request (no body) to `path` under the endpoint, answering
    /// one 401 challenge. Non-2xx answers come back as `Reply::Failed`.
    pub async fn get(&self, method: Method, path: &str, accept: &[&str]) -> Result<Reply> {
        let url = format!("{}{}", self.endpoint.base, path);
        for attempt in 0..2 {
            let mut req = self.endpoint.client.request(method.clone(), &url);
            if !accept.is_empty() {
                if let Ok(v) = HeaderValue::from_str(&accept.join(", ")) {
                    req = req.header(ACCEPT, v);
                }
            }
            if let Some(a) = self.auth_header() {
                req = req.header(AUTHORIZATION, a);
            }
            let r = req.send().await.map_err(|e| {
                Error::internal(format!("{} \"{url}\": {}", method, error_chain(&e)))
            })?;
            if r.status() == StatusCode::UNAUTHORIZED && attempt == 0 {
                self.answer(r.headers()).await?;
                continue;
            }
            if !r.status().is_success() {
                return Ok(Reply::Failed(failure(r).await));
            }
            return Ok(Reply::Ok(r));
        }
        Err(unauthorized("unauthorized: authentication required"))
    }
}

impl Session {
    /// A request with the session's authorization and an optional body;
    /// `target` is a path under the endpoint or an absolute URL (upload
    /// locations). No retry: bodies are streamed once.
    pub async fn send(
        &self,
        method: Method,
        target: &str,
        headers: &[(&str, String)],
        body: Option<reqwest::Body>,
    ) -> Result<reqwest::Response> {
        let url = if target.starts_with("http://") || target.starts_with("https://") {
            target.to_string()
        } else {
            format!("{}{}", self.endpoint.base, target)
        };
        let mut req = self.endpoint.client.request(method.clone(), &url);
        if let Some(a) = self.auth_header() {
            req = req.header(AUTHORIZATION, a);
        }
        for (k, v) in headers {
            req = req.header(*k, v.as_str());
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        req.send()
            .await
            .map_err(|e| Error::internal(format!("{method} \"{url}\": {}", error_chain(&e))))
    }
}

pub(crate) async fn failure(r: reqwest::Response) -> Failure {
    let status = r.status();
    let body = r.bytes().await.unwrap_or_default();
    let errors = serde_json::from_slice::<ErrorBody>(&body)
        .map(|b| b.errors)
        .unwrap_or_default();
    Failure { status, errors }
}

fn unauthorized(msg: &str) -> Error {
    Error::new(ErrorKind::Unauthorized, msg.to_string())
}

/// A reqwest error with its causes (`error sending request: tcp connect
/// error: Connection refused`), as Go prints wrapped errors.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
