//! Registry queries beside a pull: the tags of a repository (`pull
//! --all-tags`), a login check, and a manifest's descriptor and platforms
//! (`/distribution/{name}/json`).

use berth_api::views::{DistributionDescriptor, DistributionInspect, DistributionPlatform};
use berth_api::{Error, ErrorKind, Reference, Result};
use berth_store::ImageConfig;
use reqwest::Method;
use serde::Deserialize;

use super::resolve::{fetch_manifest, manifest_error, read_limited, sha256, Manifest};
use crate::auth::AuthConfig;
use crate::endpoint::RegistryOptions;
use crate::session::{Reply, Session};

/// `GET /v2/REPO/tags/list` (following `Link` pages), for `pull --all-tags`.
pub async fn list_tags(
    opts: &RegistryOptions,
    reference: &Reference,
    creds: AuthConfig,
) -> Result<Vec<String>> {
    let session = Session::open(opts, &reference.domain, &reference.path, "pull", creds).await?;
    let mut path = format!("/v2/{}/tags/list", session.repo);
    let mut out = Vec::new();
    for _ in 0..1000 {
        let resp = match session.get(Method::GET, &path, &[]).await? {
            Reply::Ok(r) => r,
            Reply::Failed(f) => return Err(manifest_error(reference, "", &f)),
        };
        let next = resp
            .headers()
            .get(reqwest::header::LINK)
            .and_then(|v| v.to_str().ok())
            .and_then(|l| l.split(';').next())
            .map(|l| {
                l.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string()
            });
        #[derive(Deserialize)]
        struct Tags {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let body = read_limited(resp, 16 << 20).await?;
        let t: Tags = serde_json::from_slice(&body).map_err(|e| {
            Error::internal(format!("tags list of {}: {e}", reference.familiar_name()))
        })?;
        out.extend(t.tags.unwrap_or_default());
        match next {
            Some(n) if n.starts_with('/') => path = n,
            _ => break,
        }
    }
    Ok(out)
}

/// `POST /auth`: checks credentials against the registry's `/v2/`
/// (Basic, or a token without a repository scope, as dockerd's login).
pub async fn login(opts: &RegistryOptions, creds: AuthConfig) -> Result<()> {
    let server = creds.serveraddress.trim().to_string();
    let host = server
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or("")
        .to_string();
    let domain = match host.as_str() {
        "" | "index.docker.io" | "registry-1.docker.io" | "docker.io" => "docker.io".to_string(),
        h => h.to_string(),
    };
    let base = if domain == "docker.io" {
        "https://registry-1.docker.io".to_string()
    } else {
        format!("https://{domain}")
    };
    Session::open(opts, &domain, "", "", creds)
        .await
        .map(|_| ())
        .map_err(|e| {
            if e.kind() == ErrorKind::Unauthorized && !e.message.starts_with("login attempt") {
                Error::new(
                    ErrorKind::Unauthorized,
                    format!("Get \"{base}/v2/\": {}", e.message),
                )
            } else {
                e
            }
        })
}

/// `GET /distribution/NAME/json`: the descriptor the reference resolves
/// to and the platforms it offers.
pub async fn inspect(
    opts: &RegistryOptions,
    reference: &Reference,
    creds: AuthConfig,
) -> Result<DistributionInspect> {
    let session = Session::open(opts, &reference.domain, &reference.path, "pull", creds).await?;
    let (what, target) = match (&reference.digest, &reference.tag) {
        (Some(d), _) => (format!("@{d}"), d.clone()),
        (None, Some(t)) => (format!(":{t}"), t.clone()),
        (None, None) => (":latest".to_string(), "latest".to_string()),
    };
    let (body, ct) = fetch_manifest(&session, reference, &what, &target).await?;
    let m: Manifest = serde_json::from_slice(&body)
        .map_err(|e| Error::internal(format!("invalid manifest: {e}")))?;
    let media = if m.media_type.is_empty() {
        ct
    } else {
        m.media_type.clone()
    };
    let platform = |architecture: &str, os: &str, variant: Option<&String>| DistributionPlatform {
        architecture: architecture.to_string(),
        os: os.to_string(),
        variant: variant.cloned(),
    };
    let mut platforms = Vec::new();
    if !m.manifests.is_empty() {
        for d in &m.manifests {
            if let Some(p) = &d.platform {
                platforms.push(platform(&p.architecture, &p.os, p.variant.as_ref()));
            }
        }
    } else if let Some(c) = &m.config {
        if let Reply::Ok(r) = session
            .get(
                Method::GET,
                &format!("/v2/{}/blobs/{}", session.repo, c.digest),
                &[],
            )
            .await?
        {
            let raw = read_limited(r, 8 << 20).await?;
            if let Ok(cfg) = serde_json::from_slice::<ImageConfig>(&raw) {
                let variant = cfg.variant.filter(|v| !v.is_empty());
                platforms.push(platform(&cfg.architecture, &cfg.os, variant.as_ref()));
            }
        }
    }
    Ok(DistributionInspect {
        descriptor: DistributionDescriptor {
            media_type: media,
            digest: sha256(&body),
            size: body.len() as u64,
        },
        platforms,
    })
}
