//! `docker pull`: resolve (manifest, platform, config) before any progress
//! is streamed, so that errors there are HTTP errors as in dockerd; then
//! download the missing layers in parallel and hand them to the store.

use std::path::PathBuf;
use std::sync::Arc;

use berth_api::{Error, ErrorKind, Reference, Result};
use berth_store::{chain_ids, ImageConfig, ImageStore, StagedLayer};

/// Whatever owns the image store (the engine), shared with blocking tasks.
pub trait HasStore: Send + Sync + 'static {
    fn image_store(&self) -> &ImageStore;
}
use futures_util::StreamExt;
use reqwest::Method;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::auth::AuthConfig;
use crate::endpoint::{Endpoint, Endpoints, RegistryOptions};
use crate::progress::{self, Sink};
use crate::session::{error_chain, Failure, Reply, Session};
use crate::{MEDIA_LIST, MEDIA_OCI_INDEX, MEDIA_OCI_MANIFEST, MEDIA_SCHEMA2};

/// dockerd's default `max-concurrent-downloads`.
const MAX_DOWNLOADS: usize = 3;

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
struct Manifest {
    #[serde(rename = "schemaVersion", default)]
    schema_version: i64,
    #[serde(rename = "mediaType", default)]
    media_type: String,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

/// A pull whose manifest and config are known.
pub struct Resolved {
    session: Session,
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

fn normalize_arch(a: &str) -> String {
    match a.to_lowercase().as_str() {
        "x86_64" | "x86-64" => "amd64".into(),
        "aarch64" => "arm64".into(),
        "i386" => "386".into(),
        other => other.to_string(),
    }
}

fn platform_string(p: &Platform) -> String {
    match &p.variant {
        Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
        None => format!("{}/{}", p.os, p.architecture),
    }
}

fn matches(want: &Platform, have: &Platform) -> bool {
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

fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// The `manifest for X not found` family of errors, worded as dockerd.
fn manifest_error(r: &Reference, what: &str, f: &Failure) -> Error {
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

async fn fetch_manifest(
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

async fn read_limited(resp: reqwest::Response, limit: usize) -> Result<Vec<u8>> {
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

async fn resolve_on(
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

fn short(digest: &str) -> String {
    digest
        .trim_start_matches("sha256:")
        .chars()
        .take(12)
        .collect()
}

/// Temp files of one pull, removed however it ends.
struct TempFiles(Vec<PathBuf>);

impl Drop for TempFiles {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Downloads what is missing, stores the image and tags it, streaming
/// dockerd's messages into `tx`. Errors are returned (the caller turns
/// them into an `errorDetail` line).
pub async fn pull(owner: Arc<dyn HasStore>, r: Resolved, tx: &Sink) -> Result<()> {
    let store = owner.clone();
    let label = match (&r.reference.digest, &r.reference.tag) {
        (Some(d), _) => d.clone(),
        (None, Some(t)) => t.clone(),
        (None, None) => "latest".into(),
    };
    progress::status_id(tx, &format!("Pulling from {}", r.reference.path), &label);
    let chains = chain_ids(&r.config.rootfs.diff_ids);
    let mut present = Vec::new();
    for c in &chains {
        let s2 = store.clone();
        let c = c.clone();
        present.push(
            tokio::task::spawn_blocking(move || s2.image_store().has_layer(&c))
                .await
                .map_err(|e| Error::internal(e.to_string()))??,
        );
    }
    // A chain present means all below it are too.
    for (i, l) in r.layers.iter().enumerate() {
        if present[i] {
            progress::status(tx, "Already exists", Some(&short(&l.digest)));
        } else {
            progress::status(tx, "Pulling fs layer", Some(&short(&l.digest)));
        }
    }
    let tmp_dir = store.image_store().root().join("image/tmp");
    let mut temps = TempFiles(Vec::new());
    // The compressed blob of each downloaded layer: (path, digest, media).
    let mut files: Vec<Option<(PathBuf, String, String)>> = vec![None; r.layers.len()];
    let session = Arc::new(r.session);
    let sem = Arc::new(tokio::sync::Semaphore::new(MAX_DOWNLOADS));
    let mut tasks = Vec::new();
    for (i, l) in r.layers.iter().enumerate() {
        if present[i] {
            continue;
        }
        if i >= MAX_DOWNLOADS {
            progress::status(tx, "Waiting", Some(&short(&l.digest)));
        }
        let path = tmp_dir.join(format!("pull-{:016x}", rand::random::<u64>()));
        temps.0.push(path.clone());
        files[i] = Some((path.clone(), l.digest.clone(), l.media_type.clone()));
        let (s, sem, tx, l, o) = (
            session.clone(),
            sem.clone(),
            tx.clone(),
            l.clone(),
            store.clone(),
        );
        tasks.push((
            i,
            tokio::spawn(async move {
                let _permit = sem
                    .acquire_owned()
                    .await
                    .map_err(|e| Error::internal(e.to_string()))?;
                download(&s, &l, o, path, &tx).await
            }),
        ));
    }
    let mut staged: Vec<Option<StagedLayer>> = (0..r.layers.len()).map(|_| None).collect();
    let mut first_err = None;
    for (i, t) in tasks {
        match t
            .await
            .map_err(|e| Error::internal(e.to_string()))
            .and_then(|r| r)
        {
            Ok(st) => staged[i] = Some(st),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    let mut tags = Vec::new();
    if r.reference.digest.is_none() {
        tags.push(
            r.reference
                .with_tag(r.reference.tag.as_deref().unwrap_or("latest")),
        );
    }
    let mut by_digest = r.reference.clone();
    by_digest.tag = None;
    by_digest.digest = Some(r.digest.clone());
    tags.push(by_digest);
    let before = store.image_store().tag_target(&tags[0]).ok().flatten();
    let ids: Vec<String> = r.layers.iter().map(|l| short(&l.digest)).collect();
    let (raw, store2, tx2, present2) = (
        r.raw_config.clone(),
        store.clone(),
        tx.clone(),
        present.clone(),
    );
    berth_store::crash::point("pull.staged");
    let img = tokio::task::spawn_blocking(move || {
        store2
            .image_store()
            .add_pulled_staged(&raw, staged, &tags, &mut |i| {
                if !present2[i] {
                    progress::status(&tx2, "Pull complete", Some(&ids[i]));
                }
            })
    })
    .await
    .map_err(|e| Error::internal(e.to_string()))??;
    // The compressed blobs are kept for pushes in the background: each is
    // fsynced before it is recorded, which the pull need not wait for.
    temps.0.clear();
    {
        let s = store.clone();
        let kept: Vec<(PathBuf, String, String, String)> = files
            .into_iter()
            .zip(&img.diff_ids)
            .filter_map(|(f, d)| f.map(|(p, digest, media)| (p, digest, media, d.clone())))
            .collect();
        tokio::task::spawn_blocking(move || {
            for (path, digest, media, diff_id) in kept {
                s.image_store()
                    .keep_compressed_blob(&path, &digest, &media, &diff_id);
            }
        });
    }
    // Where each layer blob lives, for cross-repository mounts on push.
    {
        let (s, domain, repo) = (
            store.clone(),
            r.reference.domain.clone(),
            r.reference.path.clone(),
        );
        let pairs: Vec<(String, String, u64)> = img
            .diff_ids
            .iter()
            .zip(&r.layers)
            // A Docker schema2 push names gzip layers only.
            .filter(|(_, l)| l.media_type.contains("gzip"))
            .map(|(d, l)| (d.clone(), l.digest.clone(), l.size.max(0) as u64))
            .collect();
        let _ = tokio::task::spawn_blocking(move || {
            for (diff_id, digest, size) in pairs {
                s.image_store()
                    .add_blob_source(&diff_id, &digest, size, &domain, &repo);
            }
        })
        .await;
    }
    progress::status(tx, &format!("Digest: {}", r.digest), None);
    let name = r.reference.familiar_string();
    let name = if r.reference.digest.is_none() && r.reference.tag.is_none() {
        format!("{name}:latest")
    } else {
        name
    };
    if before.as_deref() == Some(img.id.as_str()) {
        progress::status(tx, &format!("Status: Image is up to date for {name}"), None);
    } else {
        progress::status(
            tx,
            &format!("Status: Downloaded newer image for {name}"),
            None,
        );
    }
    Ok(())
}

/// The compressed stream of a layer as it arrives: each chunk is hashed
/// and copied to the kept blob file on its way to the decompressor.
struct Incoming {
    rx: tokio::sync::mpsc::Receiver<std::result::Result<bytes::Bytes, String>>,
    cur: bytes::Bytes,
    out: std::io::BufWriter<std::fs::File>,
    hasher: Sha256,
}

impl std::io::Read for Incoming {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::io::Write as _;
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(Ok(b)) => {
                    self.hasher.update(&b);
                    self.out.write_all(&b)?;
                    self.cur = b;
                }
                Some(Err(e)) => return Err(std::io::Error::other(e)),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        bytes::Buf::advance(&mut self.cur, n);
        Ok(n)
    }
}

/// One layer: downloaded, and as it streams, hashed, copied to `path`
/// (the compressed blob, kept for pushes), decompressed and unpacked by
/// the store on a blocking thread; a digest mismatch is dockerd's
/// "filesystem layer verification failed" and leaves nothing.
async fn download(
    s: &Session,
    l: &Descriptor,
    owner: Arc<dyn HasStore>,
    path: PathBuf,
    tx: &Sink,
) -> Result<StagedLayer> {
    let id = short(&l.digest);
    let resp = match s
        .get(
            Method::GET,
            &format!("/v2/{}/blobs/{}", s.repo, l.digest),
            &[],
        )
        .await?
    {
        Reply::Ok(r) => r,
        Reply::Failed(f) => {
            return Err(Error::internal(format!(
                "fetching blob {}: {}",
                l.digest,
                f.describe()
            )))
        }
    };
    let total = if l.size > 0 {
        l.size as u64
    } else {
        resp.content_length().unwrap_or(0)
    };
    let (btx, brx) = tokio::sync::mpsc::channel(64);
    // The stream is read to its end even when unpacking fails, so that
    // corrupt content is reported as such (by its digest) first.
    let stager =
        tokio::task::spawn_blocking(move || -> Result<(Result<StagedLayer>, Option<String>)> {
            let out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
            let mut src = Incoming {
                rx: brx,
                cur: bytes::Bytes::new(),
                out,
                hasher: Sha256::new(),
            };
            let staged = owner.image_store().stage_layer(&mut src);
            let whole = std::io::copy(&mut src, &mut std::io::sink()).is_ok();
            std::io::Write::flush(&mut src.out)?;
            let digest = whole.then(|| format!("sha256:{}", hex::encode(src.hasher.finalize())));
            Ok((staged, digest))
        });
    let mut current: u64 = 0;
    let mut last_report: u64 = 0;
    let mut stream = resp.bytes_stream();
    let mut failed = None;
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                let msg = format!("downloading {}: {}", l.digest, error_chain(&e));
                let _ = btx.send(Err(msg.clone())).await;
                failed = Some(Error::internal(msg));
                break;
            }
        };
        current += chunk.len() as u64;
        if total > 0 && current > total {
            let msg = format!(
                "filesystem layer verification failed for digest {}",
                l.digest
            );
            let _ = btx.send(Err(msg.clone())).await;
            failed = Some(Error::internal(msg));
            break;
        }
        if btx.send(Ok(chunk)).await.is_err() {
            break; // the store gave up on the stream: its error is below
        }
        // dockerd reports about every 512 KiB.
        if current - last_report >= 512 * 1024 || last_report == 0 {
            progress::bytes(tx, "Downloading", &id, current, total);
            last_report = current.max(1);
        }
    }
    drop(btx);
    let staged = stager
        .await
        .map_err(|e| Error::internal(e.to_string()))
        .and_then(|r| r);
    if let Some(e) = failed {
        return Err(e);
    }
    progress::status(tx, "Verifying Checksum", Some(&id));
    let (staged, digest) = staged?;
    if digest.is_some_and(|d| d != l.digest) {
        return Err(Error::internal(format!(
            "filesystem layer verification failed for digest {}",
            l.digest
        )));
    }
    let staged = staged
        .map_err(|e| Error::new(e.kind(), format!("extracting {}: {}", l.digest, e.message)))?;
    progress::status(tx, "Download complete", Some(&id));
    Ok(staged)
}

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
) -> Result<serde_json::Value> {
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
    let mut platforms = Vec::new();
    if !m.manifests.is_empty() {
        for d in &m.manifests {
            if let Some(p) = &d.platform {
                let mut v = serde_json::json!({"architecture": p.architecture, "os": p.os});
                if let Some(var) = &p.variant {
                    v["variant"] = serde_json::json!(var);
                }
                platforms.push(v);
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
                let mut v = serde_json::json!({"architecture": cfg.architecture, "os": cfg.os});
                if let Some(var) = cfg.variant.filter(|v| !v.is_empty()) {
                    v["variant"] = serde_json::json!(var);
                }
                platforms.push(v);
            }
        }
    }
    Ok(serde_json::json!({
        "Descriptor": {"mediaType": media, "digest": sha256(&body), "size": body.len()},
        "Platforms": platforms,
    }))
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
