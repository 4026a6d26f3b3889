//! Plugins in a registry, as dockerd keeps them there: a Docker schema2
//! manifest whose config blob is the plugin's config
//! (`application/vnd.docker.plugin.v1+json`) and whose layers are the
//! rootfs as gzip tars. Fetched whole into memory: plugin images are
//! small, and a plugin is unpacked once at install.

use berth_api::{Error, Reference, Result};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::auth::AuthConfig;
use crate::endpoint::RegistryOptions;
use crate::progress::{self, Sink};
use crate::push::{blob_exists, upload};
use crate::session::{failure, Reply, Session};
use crate::MEDIA_SCHEMA2;

/// The config media type of a plugin's manifest.
pub const MEDIA_PLUGIN_CONFIG: &str = "application/vnd.docker.plugin.v1+json";
/// A rootfs layer.
pub const MEDIA_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

#[derive(Debug, Deserialize)]
struct BlobRef {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
}

#[derive(Debug, Deserialize)]
struct Manifest {
    config: BlobRef,
    #[serde(default)]
    layers: Vec<BlobRef>,
}

/// A plugin fetched from a registry.
pub struct PluginArtifact {
    /// The manifest's digest (what `Digest:` shows).
    pub digest: String,
    /// The config blob: the plugin's `config.json`.
    pub config: Vec<u8>,
    /// The layers' gzip tars, bottom first (empty unless asked for).
    pub layers: Vec<Vec<u8>>,
}

fn short(d: &str) -> String {
    d.trim_start_matches("sha256:").chars().take(12).collect()
}

fn tag_of(r: &Reference) -> &str {
    r.tag.as_deref().unwrap_or("latest")
}

/// Fetches the plugin `r` names: its manifest and config, and its layers
/// when `with_layers` (reporting to `tx`). Every blob is checked against
/// its digest.
pub async fn fetch_plugin(
    opts: &RegistryOptions,
    r: &Reference,
    creds: AuthConfig,
    with_layers: bool,
    tx: Option<&Sink>,
) -> Result<PluginArtifact> {
    let s = Session::open(opts, &r.domain, &r.path, "pull", creds).await?;
    let reference = r.digest.clone().unwrap_or_else(|| tag_of(r).to_string());
    let manifest_path = format!("/v2/{}/manifests/{reference}", s.repo);
    let bytes = match s.get(Method::GET, &manifest_path, &[MEDIA_SCHEMA2]).await? {
        Reply::Ok(resp) => resp
            .bytes()
            .await
            .map_err(|e| Error::internal(e.to_string()))?,
        Reply::Failed(f) if f.status == StatusCode::NOT_FOUND => {
            return Err(Error::not_found(format!(
                "{}: {}",
                r.familiar_string(),
                f.describe()
            )))
        }
        Reply::Failed(f) => return Err(Error::internal(f.describe())),
    };
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
    let m: Manifest = serde_json::from_slice(&bytes)
        .map_err(|e| Error::invalid(format!("{}: bad manifest: {e}", r.familiar_string())))?;
    if m.config.media_type != MEDIA_PLUGIN_CONFIG {
        return Err(Error::invalid(format!(
            "{} is not a plugin: its config is {:?}, not {MEDIA_PLUGIN_CONFIG}",
            r.familiar_string(),
            m.config.media_type
        )));
    }
    if let Some(tx) = tx {
        // As an image pull: the repository's path, without the registry.
        progress::status_id(tx, &format!("Pulling from {}", r.path), tag_of(r));
    }
    let config = blob(&s, &m.config.digest).await?;
    let mut layers = Vec::new();
    if with_layers {
        for l in &m.layers {
            if let Some(tx) = tx {
                progress::status(tx, "Downloading", Some(&short(&l.digest)));
            }
            layers.push(blob(&s, &l.digest).await?);
            if let Some(tx) = tx {
                progress::status(tx, "Download complete", Some(&short(&l.digest)));
            }
        }
    }
    Ok(PluginArtifact {
        digest,
        config,
        layers,
    })
}

/// One blob, verified.
async fn blob(s: &Session, digest: &str) -> Result<Vec<u8>> {
    let path = format!("/v2/{}/blobs/{digest}", s.repo);
    let bytes = match s.get(Method::GET, &path, &[]).await? {
        Reply::Ok(r) => r
            .bytes()
            .await
            .map_err(|e| Error::internal(e.to_string()))?,
        Reply::Failed(f) => return Err(Error::internal(f.describe())),
    };
    let got = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
    if got != digest {
        return Err(Error::internal(format!(
            "digest mismatch for blob {digest}: got {got}"
        )));
    }
    Ok(bytes.to_vec())
}

/// Pushes a plugin as `r`: its rootfs layer (a gzip tar) and its config,
/// each only if the registry lacks it, then the manifest under the tag.
pub async fn push_plugin(
    opts: &RegistryOptions,
    r: &Reference,
    creds: AuthConfig,
    config: Vec<u8>,
    layer: Vec<u8>,
    tx: &Sink,
) -> Result<()> {
    progress::status(
        tx,
        &format!("The push refers to repository [{}]", r.full_name()),
        None,
    );
    let s = Session::open(opts, &r.domain, &r.path, "push,pull", creds).await?;
    let layer_digest = format!("sha256:{}", hex::encode(Sha256::digest(&layer)));
    let config_digest = format!("sha256:{}", hex::encode(Sha256::digest(&config)));
    let id = short(&layer_digest);
    progress::status(tx, "Preparing", Some(&id));
    let (layer_size, config_size) = (layer.len() as u64, config.len() as u64);
    if blob_exists(&s, &layer_digest).await? {
        progress::status(tx, "Layer already exists", Some(&id));
    } else {
        progress::status(tx, "Pushing", Some(&id));
        upload(
            &s,
            &layer_digest,
            reqwest::Body::from(layer),
            layer_size,
            None,
        )
        .await?;
        progress::status(tx, "Pushed", Some(&id));
    }
    if !blob_exists(&s, &config_digest).await? {
        upload(
            &s,
            &config_digest,
            reqwest::Body::from(config),
            config_size,
            None,
        )
        .await?;
    }
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_SCHEMA2,
        "config": {"mediaType": MEDIA_PLUGIN_CONFIG, "size": config_size, "digest": config_digest},
        "layers": [{"mediaType": MEDIA_LAYER_GZIP, "size": layer_size, "digest": layer_digest}],
    });
    let body = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::internal(e.to_string()))?;
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&body)));
    let size = body.len() as u64;
    let resp = s
        .send(
            Method::PUT,
            &format!("/v2/{}/manifests/{}", s.repo, tag_of(r)),
            &[("Content-Type", MEDIA_SCHEMA2.to_string())],
            Some(reqwest::Body::from(body)),
        )
        .await?;
    if resp.status() != StatusCode::CREATED {
        return Err(Error::internal(failure(resp).await.describe()));
    }
    // dockerd reports the digest in the aux message only (the docker CLI
    // prints no digest line for a plugin push).
    let _ = tx.send(berth_api::progress::Message::pushed(
        tag_of(r),
        digest,
        size,
    ));
    Ok(())
}
