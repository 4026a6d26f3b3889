//! `docker push`: layers gzip-compressed in parallel (the same diff ids,
//! the digest of the compressed bytes), only blobs the registry lacks
//! uploaded (HEAD first), then the config and a Docker schema2 manifest.

use std::path::PathBuf;
use std::sync::Arc;

use berth_api::{Error, Reference, Result};
use reqwest::{Method, StatusCode};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::auth::AuthConfig;
use crate::endpoint::RegistryOptions;
use crate::progress::{self, Sink};
use crate::pull::HasStore;
use crate::session::{failure, Session};
use crate::MEDIA_SCHEMA2;

/// dockerd's default `max-concurrent-uploads`.
const MAX_UPLOADS: usize = 5;

fn short(d: &str) -> String {
    d.trim_start_matches("sha256:").chars().take(12).collect()
}

/// A gzip-compressed layer in a temp file, removed on drop.
struct Compressed {
    path: PathBuf,
    digest: String,
    size: u64,
    /// A blob the store keeps (from a pull): never removed here.
    keep: bool,
}

impl Drop for Compressed {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

const LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

fn compress(src: PathBuf, dst: PathBuf) -> Result<Compressed> {
    use std::io::{Read, Write};
    struct Hashing<W: Write> {
        inner: W,
        h: Sha256,
        n: u64,
    }
    impl<W: Write> Write for Hashing<W> {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            let n = self.inner.write(b)?;
            self.h.update(&b[..n]);
            self.n += n as u64;
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.inner.flush()
        }
    }
    let mut out = Compressed {
        path: dst,
        digest: String::new(),
        size: 0,
        keep: false,
    };
    let mut input = std::fs::File::open(&src)
        .map_err(|e| Error::internal(format!("layer {}: {e}", src.display())))?;
    let file = std::fs::File::create(&out.path)?;
    let hw = Hashing {
        inner: std::io::BufWriter::new(file),
        h: Sha256::new(),
        n: 0,
    };
    // Same bytes for the same layer every time (no mtime in the header),
    // so a re-push finds the blob already there.
    let mut gz = flate2::GzBuilder::new().write(hw, flate2::Compression::default());
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        gz.write_all(&buf[..n])?;
    }
    let mut hw = gz.finish()?;
    hw.flush()?;
    out.digest = format!("sha256:{}", hex::encode(hw.h.finalize()));
    out.size = hw.n;
    Ok(out)
}

async fn blob_exists(s: &Session, digest: &str) -> Result<bool> {
    let r = s
        .send(
            Method::HEAD,
            &format!("/v2/{}/blobs/{digest}", s.repo),
            &[],
            None,
        )
        .await?;
    Ok(r.status().is_success())
}

fn location(r: &reqwest::Response) -> Result<String> {
    r.headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .ok_or_else(|| Error::internal("upload answer without a Location"))
}

/// What a cross-repository mount request came to.
enum Mount {
    /// 201: the blob is now in the repository.
    Done,
    /// 202: the registry did not mount it but opened an upload there.
    Upload(String),
    /// Refused (e.g. no pull access to the source): upload as usual.
    Refused,
}

/// `POST /v2/REPO/blobs/uploads/?mount=DIGEST&from=SRC`.
async fn mount(s: &Session, digest: &str, from: &str) -> Result<Mount> {
    let r = s
        .send(
            Method::POST,
            &format!("/v2/{}/blobs/uploads/?mount={digest}&from={from}", s.repo),
            &[("Content-Length", "0".to_string())],
            None,
        )
        .await?;
    Ok(match r.status() {
        StatusCode::CREATED => Mount::Done,
        StatusCode::ACCEPTED => Mount::Upload(location(&r)?),
        st => {
            tracing::debug!(%digest, %from, status = %st, "mount refused");
            Mount::Refused
        }
    })
}

/// Uploads one blob (POST unless an upload is already open at `loc`,
/// then a monolithic PUT of the body).
async fn upload(
    s: &Session,
    digest: &str,
    body: reqwest::Body,
    size: u64,
    loc: Option<String>,
) -> Result<()> {
    let loc = match loc {
        Some(l) => l,
        None => {
            let r = s
                .send(
                    Method::POST,
                    &format!("/v2/{}/blobs/uploads/", s.repo),
                    &[],
                    None,
                )
                .await?;
            if r.status() != StatusCode::ACCEPTED {
                let f = failure(r).await;
                return Err(Error::internal(f.describe()));
            }
            location(&r)?
        }
    };
    let sep = if loc.contains('?') { '&' } else { '?' };
    let target = format!("{loc}{sep}digest={digest}");
    let r = s
        .send(
            Method::PUT,
            &target,
            &[
                ("Content-Type", "application/octet-stream".to_string()),
                ("Content-Length", size.to_string()),
            ],
            Some(body),
        )
        .await?;
    if r.status() != StatusCode::CREATED {
        let f = failure(r).await;
        return Err(Error::internal(f.describe()));
    }
    Ok(())
}

/// Pushes the local image `local` (its id or name) as `target` (with tag).
pub async fn push(
    owner: Arc<dyn HasStore>,
    opts: &RegistryOptions,
    target: &Reference,
    creds: AuthConfig,
    tx: &Sink,
) -> Result<()> {
    let tag = target.tag.clone().unwrap_or_else(|| "latest".into());
    let tagged = target.with_tag(&tag);
    let img = {
        let o = owner.clone();
        let name = tagged.to_string();
        tokio::task::spawn_blocking(move || o.image_store().get(&name))
            .await
            .map_err(|e| Error::internal(e.to_string()))??
    };
    let session =
        Arc::new(Session::open(opts, &target.domain, &target.path, "pull,push", creds).await?);
    // Other repositories of this registry that hold some layer: a token
    // must grant pull on them for the mounts below.
    let mut sources: Vec<String> = Vec::new();
    for d in &img.diff_ids {
        for (_, _, repo) in owner.image_store().blob_sources(d, &target.domain) {
            if repo != target.path && !sources.contains(&repo) {
                sources.push(repo);
            }
        }
    }
    session.add_pull_scopes(&sources).await;
    let tmp = owner.image_store().root().join("image/tmp");
    let mut tasks = Vec::new();
    let sem = Arc::new(tokio::sync::Semaphore::new(MAX_UPLOADS));
    for d in img.diff_ids.iter().rev() {
        progress::status(tx, "Preparing", Some(&short(d)));
    }
    for (i, d) in img.diff_ids.iter().enumerate().rev() {
        if img.diff_ids.len() - i > MAX_UPLOADS {
            progress::status(tx, "Waiting", Some(&short(d)));
        }
        let (s, sem, tx, o, d, domain) = (
            session.clone(),
            sem.clone(),
            tx.clone(),
            owner.clone(),
            d.clone(),
            target.domain.clone(),
        );
        let dst = tmp.join(format!("push-{:016x}", rand::random::<u64>()));
        tasks.push((
            i,
            tokio::spawn(async move {
                let _p = sem
                    .acquire_owned()
                    .await
                    .map_err(|e| Error::internal(e.to_string()))?;
                let id = short(&d);
                let record = |digest: &str, size: u64| {
                    o.image_store()
                        .add_blob_source(&d, digest, size, &domain, &s.repo)
                };
                // As dockerd: blobs this layer is known by on this registry
                // are looked for in the target repository (HEAD), then
                // mounted from where they are; only then uploaded.
                let known = o.image_store().blob_sources(&d, &domain);
                let mut seen = Vec::new();
                for (digest, size, _) in &known {
                    if seen.contains(digest) {
                        continue;
                    }
                    seen.push(digest.clone());
                    if blob_exists(&s, digest).await? {
                        progress::status(&tx, "Layer already exists", Some(&id));
                        record(digest, *size);
                        return Ok::<_, Error>((digest.clone(), *size, LAYER_GZIP.to_string()));
                    }
                }
                let mut open_upload = None;
                for (digest, size, from) in known.iter().filter(|k| k.2 != s.repo) {
                    match mount(&s, digest, from).await? {
                        Mount::Done => {
                            progress::status(&tx, &format!("Mounted from {from}"), Some(&id));
                            record(digest, *size);
                            return Ok((digest.clone(), *size, LAYER_GZIP.to_string()));
                        }
                        Mount::Upload(loc) => {
                            open_upload = Some(loc);
                            break;
                        }
                        Mount::Refused => {}
                    }
                }
                // The blob a pull brought, byte for byte; else gzip the layer.
                // Docker schema2 knows gzip layers only: a kept zstd blob
                // is not reused.
                let kept = o
                    .image_store()
                    .compressed_for(&d)
                    .filter(|k| k.3.is_empty() || k.3.contains("gzip"));
                let (c, media) = match kept {
                    Some((path, digest, size, _)) => (
                        Compressed {
                            path,
                            digest,
                            size,
                            keep: true,
                        },
                        LAYER_GZIP.to_string(),
                    ),
                    None => {
                        let src = o.image_store().layer_tar(&d);
                        let c = tokio::task::spawn_blocking(move || compress(src, dst))
                            .await
                            .map_err(|e| Error::internal(e.to_string()))??;
                        (c, LAYER_GZIP.to_string())
                    }
                };
                if !seen.contains(&c.digest) && blob_exists(&s, &c.digest).await? {
                    progress::status(&tx, "Layer already exists", Some(&id));
                    record(&c.digest, c.size);
                    return Ok((c.digest.clone(), c.size, media));
                }
                progress::bytes(&tx, "Pushing", &id, 0, c.size);
                let f = tokio::fs::File::open(&c.path).await?;
                let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(f));
                upload(&s, &c.digest, body, c.size, open_upload).await?;
                record(&c.digest, c.size);
                progress::bytes(&tx, "Pushing", &id, c.size, c.size);
                progress::status(&tx, "Pushed", Some(&id));
                Ok((c.digest.clone(), c.size, media))
            }),
        ));
    }
    let mut layers = vec![(String::new(), 0u64, String::new()); img.diff_ids.len()];
    let mut first_err = None;
    for (i, t) in tasks {
        match t
            .await
            .map_err(|e| Error::internal(e.to_string()))
            .and_then(|r| r)
        {
            Ok(v) => layers[i] = v,
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    if !blob_exists(&session, &img.id).await? {
        upload(
            &session,
            &img.id,
            reqwest::Body::from(img.raw_config.clone()),
            img.raw_config.len() as u64,
            None,
        )
        .await?;
    }
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_SCHEMA2,
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": img.raw_config.len(),
            "digest": img.id,
        },
        "layers": layers.iter().map(|(d, n, m)| json!({
            "mediaType": m,
            "size": n,
            "digest": d,
        })).collect::<Vec<_>>(),
    });
    let body = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::internal(e.to_string()))?;
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&body)));
    let r = session
        .send(
            Method::PUT,
            &format!("/v2/{}/manifests/{tag}", session.repo),
            &[("Content-Type", MEDIA_SCHEMA2.to_string())],
            Some(reqwest::Body::from(body.clone())),
        )
        .await?;
    if r.status() != StatusCode::CREATED {
        let f = failure(r).await;
        return Err(Error::internal(f.describe()));
    }
    let mut by_digest = target.clone();
    by_digest.tag = None;
    by_digest.digest = Some(digest.clone());
    {
        let o = owner.clone();
        let id = img.id.clone();
        let _ = tokio::task::spawn_blocking(move || o.image_store().tag(&id, &by_digest)).await;
    }
    progress::status(
        tx,
        &format!("{tag}: digest: {digest} size: {}", body.len()),
        None,
    );
    let _ = tx.send(
        json!({"progressDetail": {}, "aux": {"Tag": tag, "Digest": digest, "Size": body.len()}}),
    );
    Ok(())
}
