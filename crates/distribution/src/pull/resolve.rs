//! Resolving a pull before any progress is streamed, so that errors here
//! are HTTP errors as in dockerd: the manifest by tag or digest (schema2,
//! manifest list, OCI manifest and index), the platform's pick, the config.

use berth_api::{Error, ErrorKind, Reference, Result};
use berth_store::ImageConfig;
use futures_util::StreamExt;
use reqwest::Method;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::auth::AuthConfig;
use crate::endpoint::{Endpoint, Endpoints, RegistryOptions};
use crate::session::{error_chain, Failure, Reply, Session};
use crate::{MEDIA_LIST, MEDIA_OCI_INDEX, MEDIA_OCI_MANIFEST, MEDIA_SCHEMA2};

#[derive(Debug, Clone, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub digest: String,
    #[serde(default)]
    pub size: i64,
    #[serde(default)]
    pub platform: Option<Platform>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct Platform {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub variant: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Manifest {
    #[serde(rename = "schemaVersion", default)]
    pub(super) schema_version: i64,
    #[serde(rename = "mediaType", default)]
    pub(super) media_type: String,
    #[serde(default)]
    pub(super) config: Option<Descriptor>,
    #[serde(default)]
    pub(super) layers: Vec<Descriptor>,
    #[serde(default)]
    pub(super) manifests: Vec<Descriptor>,
}

/// A pull whose manifest and config are known.
pub struct Resolved {
    pub(super) session: Session,
    pub reference: Reference,
    /// The digest the reference resolved to (the index's, for an index).
    pub digest: String,
    pub raw_config: Vec<u8>,
    pub config: ImageConfig,
    pub layers: Vec<Descriptor>,
}

/// `os/arch[/variant]` as `--platform` gives it; empty parts are the host's.
pub(crate) fn wanted_platform(platform: Option<&str>) -> Result<Platform> {
    let host_arch = berth_store::arch().to_string();
    let host_variant = (host_arch == "arm64").then(|| "v8".to_string());
    let Some(p) = platform.map(str::trim).filter(|p| !p.is_empty()) else {
        return Ok(Platform {
            architecture: host_arch,
            os: "linux".into(),
            variant: host_variant,
        });
    };
    let parts: Vec<&str> = p.split('/').collect();
    let bad = || {
        Error::invalid(format!(
            "\"{p}\": unknown operating system or architecture: invalid argument"
        ))
    };
    match parts.as_slice() {
        [os] if !os.is_empty() => Ok(Platform {
            os: os.to_lowercase(),
            architecture: host_arch,
            variant: host_variant,
        }),
        [os, arch] if !os.is_empty() && !arch.is_empty() => Ok(Platform {
            os: os.to_lowercase(),
            architecture: normalize_arch(arch),
            variant: None,
        }),
        [os, arch, variant] if !os.is_empty() && !arch.is_empty() && !variant.is_empty() => {
            Ok(Platform {
                os: os.to_lowercase(),
                architecture: normalize_arch(arch),
                variant: Some(variant.to_lowercase()),
            })
        }
        _ => Err(bad()),
    }
}

pub(super) fn normalize_arch(a: &str) -> String {
    match a.to_lowercase().as_str() {
        "x86_64" | "x86-64" => "amd64".into(),
        "aarch64" => "arm64".into(),
        "i386" => "386".into(),
        other => other.to_string(),
    }
}

pub(super) fn platform_string(p: &Platform) -> String {
    match &p.variant {
        Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
        None => format!("{}/{}", p.os, p.architecture),
    }
}

pub(super) fn matches(want: &Platform, have: &Platform) -> bool {
    if want.os != have.os || want.architecture != normalize_arch(&have.architecture) {
        return false;
    }
    match (&want.variant, &have.variant) {
        (Some(w), Some(h)) => w == h,
        // arm64 images often leave v8 implicit.
        (Some(w), None) => w == "v8" && want.architecture == "arm64",
        (None, _) => true,
    }
}

pub(super) fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// The `manifest for X not found` family of errors, worded as dockerd.
pub(super) fn manifest_error(r: &Reference, what: &str, f: &Failure) -> Error {
    let code = f.code();
    let familiar = r.familiar_name();
    if f.status == reqwest::StatusCode::UNAUTHORIZED
        || f.status == reqwest::StatusCode::FORBIDDEN
        || code == "DENIED"
        || code == "UNAUTHORIZED"
    {
        return Error::not_found(format!(
            "pull access denied for {familiar}, repository does not exist or may require 'docker login': {}",
            f.describe()
        ));
    }
    if code == "NAME_UNKNOWN" {
        return Error::not_found(format!("repository {familiar} not found: {}", f.describe()));
    }
    if f.status == reqwest::StatusCode::NOT_FOUND || code == "MANIFEST_UNKNOWN" {
        return Error::not_found(format!(
            "manifest for {familiar}{what} not found: {}",
            f.describe()
        ));
    }
    Error::internal(f.describe())
}

pub(super) async fn fetch_manifest(
    s: &Session,
    r: &Reference,
    what: &str,
    reference: &str,
) -> Result<(Vec<u8>, String)> {
    let path = format!("/v2/{}/manifests/{reference}", s.repo);
    match s
        .get(
            Method::GET,
            &path,
            &[
                MEDIA_SCHEMA2,
                MEDIA_LIST,
                MEDIA_OCI_MANIFEST,
                MEDIA_OCI_INDEX,
            ],
        )
        .await?
    {
        Reply::Failed(f) => Err(manifest_error(r, what, &f)),
        Reply::Ok(resp) => {
            let ct = resp
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_string();
            let body = read_limited(resp, 4 << 20).await?;
            if reference.starts_with("sha256:") && sha256(&body) != reference {
                return Err(Error::internal(format!(
                    "manifest verification failed for digest {reference}"
                )));
            }
            Ok((body, ct))
        }
    }
}

pub(super) async fn read_limited(resp: reqwest::Response, limit: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Error::internal(error_chain(&e)))?;
        if out.len() + chunk.len() > limit {
            return Err(Error::internal(format!(
                "manifest or config larger than {limit} bytes"
            )));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Resolves `reference` (tag or digest) to one image manifest and its
/// config, picking `platform` (else the host's) from an index.
pub async fn resolve(
    opts: &RegistryOptions,
    reference: &Reference,
    platform: Option<&str>,
    creds: AuthConfig,
) -> Result<Resolved> {
    wanted_platform(platform)?;
    let (mirrors, upstream): (Vec<Endpoint>, Vec<Endpoint>) =
        Endpoints::for_domain(opts, &reference.domain)?
            .into_iter()
            .partition(|e| e.mirror);
    // As dockerd: each mirror in turn, and on any failure there (down,
    // refusing, lacking the image) the next, then the registry itself,
    // whose error is the one reported.
    for m in mirrors {
        let base = m.base.clone();
        match resolve_on(opts, vec![m], reference, platform, creds.clone()).await {
            Ok(r) => return Ok(r),
            Err(e) => {
                tracing::info!(mirror = %base, image = %reference, "mirror failed, trying the next endpoint: {}", e.message)
            }
        }
    }
    resolve_on(opts, upstream, reference, platform, creds).await
}

pub(super) async fn resolve_on(
    opts: &RegistryOptions,
    endpoints: Vec<Endpoint>,
    reference: &Reference,
    platform: Option<&str>,
    creds: AuthConfig,
) -> Result<Resolved> {
    let want = wanted_platform(platform)?;
    let session = Session::open_on(
        opts,
        endpoints,
        &reference.domain,
        &reference.path,
        "pull",
        creds,
    )
    .await
    .map_err(|e| {
        // Not a 401 to the client: the docker CLI would prompt for a
        // login; dockerd answers 500 here too.
        if e.kind() == ErrorKind::Unauthorized {
            Error::new(
                ErrorKind::Internal,
                format!(
                    "Head \"{}/v2/{}/manifests/{}\": {}",
                    "https://".to_string() + &reference.domain,
                    reference.path,
                    reference.tag.as_deref().unwrap_or("latest"),
                    e.message
                ),
            )
        } else {
            e
        }
    })?;
    let (what, target) = match (&reference.digest, &reference.tag) {
        (Some(d), _) => (format!("@{d}"), d.clone()),
        (None, Some(t)) => (format!(":{t}"), t.clone()),
        (None, None) => (":latest".to_string(), "latest".to_string()),
    };
    let (body, ct) = fetch_manifest(&session, reference, &what, &target).await?;
    let digest = sha256(&body);
    let mut m: Manifest = serde_json::from_slice(&body).map_err(|e| {
        Error::internal(format!(
            "invalid manifest for {}: {e}",
            reference.familiar_name()
        ))
    })?;
    let mut media = if m.media_type.is_empty() {
        ct.clone()
    } else {
        m.media_type.clone()
    };
    if media == MEDIA_LIST
        || media == MEDIA_OCI_INDEX
        || (!m.manifests.is_empty() && m.config.is_none())
    {
        let chosen = m
            .manifests
            .iter()
            .find(|d| d.platform.as_ref().is_some_and(|p| matches(&want, p)))
            .cloned()
            .ok_or_else(|| {
                Error::not_found(format!(
                    "no matching manifest for {} in the manifest list entries",
                    platform_string(&want)
                ))
            })?;
        let (b, ct2) = fetch_manifest(&session, reference, &what, &chosen.digest).await?;
        m = serde_json::from_slice(&b)
            .map_err(|e| Error::internal(format!("invalid manifest {}: {e}", chosen.digest)))?;
        media = if m.media_type.is_empty() {
            ct2
        } else {
            m.media_type.clone()
        };
    }
    if m.schema_version == 1 || media.contains("manifest.v1+") {
        return Err(Error::invalid(format!(
            "{}: Docker Image manifest version 1 (schema 1) is not supported",
            reference.familiar_string()
        )));
    }
    let Some(config_desc) = m.config.clone() else {
        return Err(Error::internal(format!(
            "unsupported manifest media type {media:?} for {}",
            reference.familiar_string()
        )));
    };
    let raw_config = match session
        .get(
            Method::GET,
            &format!("/v2/{}/blobs/{}", session.repo, config_desc.digest),
            &[],
        )
        .await?
    {
        Reply::Ok(r) => read_limited(r, 8 << 20).await?,
        Reply::Failed(f) => {
            return Err(Error::internal(format!(
                "fetching the image config {}: {}",
                config_desc.digest,
                f.describe()
            )))
        }
    };
    if sha256(&raw_config) != config_desc.digest {
        return Err(Error::internal(format!(
            "image config verification failed for digest {}",
            config_desc.digest
        )));
    }
    let config: ImageConfig = serde_json::from_slice(&raw_config)
        .map_err(|e| Error::internal(format!("invalid image config: {e}")))?;
    if platform.is_some() {
        let have = Platform {
            os: config.os.clone(),
            architecture: config.architecture.clone(),
            variant: config.variant.clone(),
        };
        if !matches(&want, &have) {
            return Err(Error::not_found(format!(
                "image with reference {} was found but does not match the specified platform: wanted {}, actual: {}",
                reference.familiar_string(),
                platform_string(&want),
                platform_string(&have)
            )));
        }
    }
    if config.rootfs.diff_ids.len() != m.layers.len() {
        return Err(Error::internal(format!(
            "the manifest of {} has {} layers but its config {}",
            reference.familiar_string(),
            m.layers.len(),
            config.rootfs.diff_ids.len()
        )));
    }
    for l in &m.layers {
        berth_api::reference::validate_digest(&l.digest)
            .map_err(|_| Error::internal(format!("invalid layer digest {:?}", l.digest)))?;
    }
    Ok(Resolved {
        session,
        reference: reference.clone(),
        digest,
        raw_config,
        config,
        layers: m.layers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_parse_and_match() {
        let p = wanted_platform(Some("linux/arm64")).expect("parsed");
        assert!(matches(
            &p,
            &Platform {
                os: "linux".into(),
                architecture: "arm64".into(),
                variant: Some("v8".into())
            }
        ));
        assert!(!matches(
            &p,
            &Platform {
                os: "linux".into(),
                architecture: "amd64".into(),
                variant: None
            }
        ));
        let p = wanted_platform(Some("linux/arm/v7")).expect("parsed");
        assert!(!matches(
            &p,
            &Platform {
                os: "linux".into(),
                architecture: "arm".into(),
                variant: Some("v6".into())
            }
        ));
        assert!(wanted_platform(Some("linux//")).is_err());
        assert!(wanted_platform(Some("a/b/c/d")).is_err());
    }
}
