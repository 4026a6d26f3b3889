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

/// The layer is compressed in windows of this much input; each window is
/// either deflated or stored.
const WINDOW: u64 = 4 << 20;

/// Gzips the layer tar `src` into `dst`, hashing the compressed bytes.
///
/// One gzip member, written by hand around raw deflate streams: input goes
/// in windows of [`WINDOW`] bytes, each ending on a sync flush (a byte
/// boundary). A window is deflated at the default level (dockerd's) when
/// samples of it shrink at the fastest level ([`worth_compressing`]), and
/// otherwise stored: already compressed files and random bytes, for which
/// deflate at level 6 would mostly emit stored blocks anyway after paying
/// to search for matches, cost a fraction of the CPU and come out the same
/// size. Every window is judged on its own, so text after a large
/// compressed file is compressed again. Streams switched at a sync flush
/// concatenate into one valid deflate stream (each new one has no preset
/// dictionary, as in pigz). The output depends only on the input (no
/// mtime in the header), so a re-push finds the blob already there.
fn compress(src: PathBuf, dst: PathBuf) -> Result<Compressed> {
    use flate2::{Compress, Compression, Crc, FlushCompress, Status};
    use std::io::{Read, Write};
    let mut out = Compressed {
        path: dst,
        digest: String::new(),
        size: 0,
        keep: false,
    };
    let mut input = std::fs::File::open(&src)
        .map_err(|e| Error::internal(format!("layer {}: {e}", src.display())))?;
    let mut file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&out.path)?);
    let mut h = Sha256::new();
    let mut n = 0u64;
    let mut emit = |b: &[u8], n: &mut u64| -> std::io::Result<()> {
        h.update(b);
        *n += b.len() as u64;
        file.write_all(b)
    };
    // Magic, deflate, no flags, mtime 0, no extra flags, OS unknown.
    emit(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff], &mut n)?;
    let mut zbuf: Vec<u8> = Vec::with_capacity(256 * 1024);
    // Feeds `data` through the compressor with `flush`, emitting all output.
    let mut deflate = |z: &mut Compress,
                       mut data: &[u8],
                       flush: FlushCompress,
                       n: &mut u64,
                       emit: &mut dyn FnMut(&[u8], &mut u64) -> std::io::Result<()>|
     -> std::io::Result<()> {
        loop {
            zbuf.clear();
            let before = z.total_in();
            let st = z
                .compress_vec(data, &mut zbuf, flush)
                .map_err(std::io::Error::other)?;
            data = &data[(z.total_in() - before) as usize..];
            emit(&zbuf, n)?;
            let drained = zbuf.len() < zbuf.capacity();
            let done = match flush {
                FlushCompress::Finish => st == Status::StreamEnd,
                _ => data.is_empty() && drained,
            };
            if done {
                return Ok(());
            }
        }
    };
    let mut storing = false;
    let mut z = Compress::new(Compression::default(), false);
    let mut crc = Crc::new();
    let mut buf = vec![0u8; WINDOW as usize];
    loop {
        // One window of input (short only at the end).
        let mut k = 0;
        while k < buf.len() {
            let r = input.read(&mut buf[k..])?;
            if r == 0 {
                break;
            }
            k += r;
        }
        if k == 0 {
            break;
        }
        crc.update(&buf[..k]);
        let store = !worth_compressing(&buf[..k]);
        if store != storing {
            storing = store;
            let level = if storing {
                Compression::none()
            } else {
                Compression::default()
            };
            z = Compress::new(level, false);
        }
        deflate(&mut z, &buf[..k], FlushCompress::Sync, &mut n, &mut emit)?;
    }
    deflate(&mut z, &[], FlushCompress::Finish, &mut n, &mut emit)?;
    let mut trailer = [0u8; 8];
    trailer[..4].copy_from_slice(&crc.sum().to_le_bytes());
    trailer[4..].copy_from_slice(&(crc.amount()).to_le_bytes());
    emit(&trailer, &mut n)?;
    file.flush()?;
    drop(file);
    out.digest = format!("sha256:{}", hex::encode(h.finalize()));
    out.size = n;
    Ok(out)
}

/// Whether deflating `window` pays: [`SAMPLES`] slices of [`SAMPLE`] bytes
/// spread over it, each compressed on its own at the fastest level, shrink
/// by at least 5% in all. About 1.5% of the window's bytes at a fast
/// level: cheap next to storing it, and much cheaper than deflating
/// random bytes at level 6. Short windows (the end of a layer) are
/// compressed.
fn worth_compressing(window: &[u8]) -> bool {
    use flate2::{Compress, Compression, FlushCompress};
    if window.len() < SAMPLES * SAMPLE * 4 {
        return true;
    }
    let mut z = Compress::new(Compression::fast(), false);
    let mut out = Vec::with_capacity(SAMPLE + SAMPLE / 2);
    let mut total = 0;
    for i in 0..SAMPLES {
        let at = i * (window.len() - SAMPLE) / (SAMPLES - 1);
        out.clear();
        z.reset();
        // An error or an output that does not fit counts as not shrinking.
        total += match z.compress_vec(&window[at..at + SAMPLE], &mut out, FlushCompress::Finish) {
            Ok(flate2::Status::StreamEnd) => out.len(),
            _ => SAMPLE,
        };
    }
    total * 100 <= SAMPLES * SAMPLE * 95
}

/// How many slices of a window [`worth_compressing`] tries, and their size.
const SAMPLES: usize = 4;
const SAMPLE: usize = 16 << 10;

pub(crate) async fn blob_exists(s: &Session, digest: &str) -> Result<bool> {
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
pub(crate) async fn upload(
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
    // must grant pull on them for the mounts `push_layer` tries.
    let mut sources: Vec<String> = Vec::new();
    for d in &img.diff_ids {
        for (_, _, repo) in owner.image_store().blob_sources(d, &target.domain) {
            if repo != target.path && !sources.contains(&repo) {
                sources.push(repo);
            }
        }
    }
    session.add_pull_scopes(&sources).await;
    let layers = push_layers(&owner, &session, &img.diff_ids, &target.domain, tx).await?;
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
    berth_store::crash::point("push.blobs-uploaded");
    let (digest, size) = put_manifest(&session, &tag, &img, &layers).await?;
    let mut by_digest = target.clone();
    by_digest.tag = None;
    by_digest.digest = Some(digest.clone());
    {
        let o = owner.clone();
        let id = img.id.clone();
        let _ = tokio::task::spawn_blocking(move || o.image_store().tag(&id, &by_digest)).await;
    }
    progress::status(tx, &format!("{tag}: digest: {digest} size: {size}"), None);
    let _ = tx.send(berth_api::progress::Message::pushed(tag, digest, size));
    Ok(())
}

/// A layer as the manifest names it: (digest, size, media type).
type Pushed = (String, u64, String);

/// Pushes every layer (top first, at most [`MAX_UPLOADS`] at a time, as
/// dockerd reports them); answers them bottom first, or the first error
/// once all ended.
async fn push_layers(
    owner: &Arc<dyn HasStore>,
    session: &Arc<Session>,
    diff_ids: &[String],
    domain: &str,
    tx: &Sink,
) -> Result<Vec<Pushed>> {
    let tmp = owner.image_store().root().join("image/tmp");
    let mut tasks = Vec::new();
    let sem = Arc::new(tokio::sync::Semaphore::new(MAX_UPLOADS));
    for d in diff_ids.iter().rev() {
        progress::status(tx, "Preparing", Some(&short(d)));
    }
    for (i, d) in diff_ids.iter().enumerate().rev() {
        if diff_ids.len() - i > MAX_UPLOADS {
            progress::status(tx, "Waiting", Some(&short(d)));
        }
        let layer = Layer {
            session: session.clone(),
            owner: owner.clone(),
            diff_id: d.clone(),
            domain: domain.to_string(),
            tx: tx.clone(),
        };
        let sem = sem.clone();
        let dst = tmp.join(format!("push-{:016x}", rand::random::<u64>()));
        tasks.push((
            i,
            tokio::spawn(async move {
                let _p = sem
                    .acquire_owned()
                    .await
                    .map_err(|e| Error::internal(e.to_string()))?;
                layer.push(dst).await
            }),
        ));
    }
    let mut layers = vec![(String::new(), 0u64, String::new()); diff_ids.len()];
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
    match first_err {
        Some(e) => Err(e),
        None => Ok(layers),
    }
}

/// One layer's push, in its own task.
struct Layer {
    session: Arc<Session>,
    owner: Arc<dyn HasStore>,
    diff_id: String,
    domain: String,
    tx: Sink,
}

/// Where [`Layer::find`] left a layer.
enum Found {
    /// In the target repository already, or mounted there.
    Done(Pushed),
    /// To upload, into this upload when a mount opened one; with the
    /// digests already looked for.
    Upload(Option<String>, Vec<String>),
}

impl Layer {
    fn id(&self) -> String {
        short(&self.diff_id)
    }

    /// Records that the registry has this layer as `digest` in the target
    /// repository, for later mounts.
    fn record(&self, digest: &str, size: u64) {
        self.owner.image_store().add_blob_source(
            &self.diff_id,
            digest,
            size,
            &self.domain,
            &self.session.repo,
        )
    }

    /// Finds the layer on the registry, else gzips (or reuses the blob a
    /// pull kept) and uploads it; `dst` is the temp file to gzip into.
    async fn push(self, dst: PathBuf) -> Result<Pushed> {
        let (open_upload, seen) = match self.find().await? {
            Found::Done(p) => return Ok(p),
            Found::Upload(loc, seen) => (loc, seen),
        };
        let (s, tx, id) = (&self.session, &self.tx, self.id());
        let c = self.compressed(dst).await?;
        let media = LAYER_GZIP.to_string();
        if !seen.contains(&c.digest) && blob_exists(s, &c.digest).await? {
            progress::status(tx, "Layer already exists", Some(&id));
            self.record(&c.digest, c.size);
            return Ok((c.digest.clone(), c.size, media));
        }
        progress::bytes(tx, "Pushing", &id, 0, c.size);
        let f = tokio::fs::File::open(&c.path).await?;
        let body =
            reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(f, 1 << 20));
        upload(s, &c.digest, body, c.size, open_upload).await?;
        self.record(&c.digest, c.size);
        let mut c = c;
        if !c.keep {
            // Kept (fsynced in the background, off the push's path), so a
            // push elsewhere sends it without gzip.
            c.keep = true;
            let (o, path, digest, diff) = (
                self.owner.clone(),
                c.path.clone(),
                c.digest.clone(),
                self.diff_id.clone(),
            );
            tokio::task::spawn_blocking(move || {
                o.image_store()
                    .keep_compressed_blob(&path, &digest, LAYER_GZIP, &diff)
            });
        }
        progress::bytes(tx, "Pushing", &id, c.size, c.size);
        progress::status(tx, "Pushed", Some(&id));
        Ok((c.digest.clone(), c.size, media))
    }

    /// As dockerd: blobs this layer is known by on this registry are
    /// looked for in the target repository (HEAD), then mounted from
    /// where they are; only then is it uploaded.
    async fn find(&self) -> Result<Found> {
        let (s, tx, id) = (&self.session, &self.tx, self.id());
        let known = self
            .owner
            .image_store()
            .blob_sources(&self.diff_id, &self.domain);
        let mut seen = Vec::new();
        for (digest, size, _) in &known {
            if seen.contains(digest) {
                continue;
            }
            seen.push(digest.clone());
            if blob_exists(s, digest).await? {
                progress::status(tx, "Layer already exists", Some(&id));
                self.record(digest, *size);
                return Ok(Found::Done((digest.clone(), *size, LAYER_GZIP.to_string())));
            }
        }
        for (digest, size, from) in known.iter().filter(|k| k.2 != s.repo) {
            match mount(s, digest, from).await? {
                Mount::Done => {
                    progress::status(tx, &format!("Mounted from {from}"), Some(&id));
                    self.record(digest, *size);
                    return Ok(Found::Done((digest.clone(), *size, LAYER_GZIP.to_string())));
                }
                Mount::Upload(loc) => return Ok(Found::Upload(Some(loc), seen)),
                Mount::Refused => {}
            }
        }
        Ok(Found::Upload(None, seen))
    }

    /// The blob a pull brought, byte for byte; else the layer gzipped into
    /// `dst`. Docker schema2 knows gzip layers only: a kept zstd blob is
    /// not reused.
    async fn compressed(&self, dst: PathBuf) -> Result<Compressed> {
        let kept = self
            .owner
            .image_store()
            .compressed_for(&self.diff_id)
            .filter(|k| k.3.is_empty() || k.3.contains("gzip"));
        if let Some((path, digest, size, _)) = kept {
            return Ok(Compressed {
                path,
                digest,
                size,
                keep: true,
            });
        }
        let src = self.owner.image_store().layer_tar(&self.diff_id);
        tokio::task::spawn_blocking(move || compress(src, dst))
            .await
            .map_err(|e| Error::internal(e.to_string()))?
    }
}

/// PUTs the Docker schema2 manifest of `img` and `layers` under `tag`;
/// answers its digest and size.
async fn put_manifest(
    session: &Session,
    tag: &str,
    img: &berth_store::Image,
    layers: &[Pushed],
) -> Result<(String, u64)> {
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
    Ok((digest, body.len() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gunzip(p: &std::path::Path) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(std::fs::File::open(p).expect("open"))
            .read_to_end(&mut out)
            .expect("valid gzip");
        out
    }

    #[test]
    fn compress_is_valid_gzip_deterministic_and_fast_only_where_it_pays() {
        let dir = std::env::temp_dir().join(format!("berth-push-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).expect("dir");
        // Random bytes (switches to the fast level after the probe) and
        // text (keeps the default level), both longer than the probe.
        let random: Vec<u8> = (0..(WINDOW as usize * 3 + 12345))
            .map(|_| rand::random::<u8>())
            .collect();
        let text: Vec<u8> = (0..400_000u32)
            .flat_map(|i| format!("line {i} of a layer\n").into_bytes())
            .collect();
        for (name, data) in [("random", &random), ("text", &text)] {
            let src = dir.join(name);
            std::fs::write(&src, data).expect("write");
            let a = compress(src.clone(), dir.join(format!("{name}.a.gz"))).expect("compress");
            let b = compress(src.clone(), dir.join(format!("{name}.b.gz"))).expect("compress");
            assert_eq!(a.digest, b.digest, "{name}: same bytes every time");
            assert_eq!(a.size, std::fs::metadata(&a.path).expect("meta").len());
            assert_eq!(
                a.digest,
                format!(
                    "sha256:{}",
                    hex::encode(Sha256::digest(std::fs::read(&a.path).expect("read")))
                )
            );
            assert!(gunzip(&a.path) == *data, "{name}: round trip");
            let ok = std::process::Command::new("gzip")
                .arg("-t")
                .arg(&a.path)
                .status()
                .map(|s| s.success());
            assert!(ok.unwrap_or(true), "{name}: gzip -t accepts it");
            if name == "text" {
                assert!(
                    a.size * 5 < data.len() as u64,
                    "text compresses at the default level"
                );
            } else {
                assert!(
                    a.size < data.len() as u64 + 4096,
                    "random data barely grows"
                );
            }
        }
        // Random then compressible, and the reverse: both switches.
        let text_big: Vec<u8> = text
            .iter()
            .cycle()
            .take(WINDOW as usize * 6)
            .copied()
            .collect();
        let mixed: Vec<u8> = random.iter().chain(&text_big).copied().collect();
        let src = dir.join("mixed");
        std::fs::write(&src, &mixed).expect("write");
        let c = compress(src, dir.join("mixed.gz")).expect("compress");
        assert!(gunzip(&c.path) == mixed, "mixed: round trip");
        assert!(
            c.size < random.len() as u64 + text_big.len() as u64 / 3,
            "the text after random data is compressed again: {}",
            c.size
        );
        let mixed: Vec<u8> = text_big.iter().chain(&random).copied().collect();
        let src = dir.join("mixed2");
        std::fs::write(&src, &mixed).expect("write");
        let c = compress(src, dir.join("mixed2.gz")).expect("compress");
        assert!(gunzip(&c.path) == mixed, "mixed2: round trip");
        assert!(
            c.size < text_big.len() as u64 / 3 + random.len() as u64 + 4096,
            "text then random: {}",
            c.size
        );
        // Random, text, random, text (a layer of a big binary and then
        // sources): every stretch of text is compressed.
        let mixed: Vec<u8> = [&random, &text_big, &random, &text_big]
            .into_iter()
            .flatten()
            .copied()
            .collect();
        let src = dir.join("mixed3");
        std::fs::write(&src, &mixed).expect("write");
        let c = compress(src, dir.join("mixed3.gz")).expect("compress");
        assert!(gunzip(&c.path) == mixed, "mixed3: round trip");
        assert!(
            c.size < 2 * (random.len() as u64 + text_big.len() as u64 / 3),
            "mixed3: {}",
            c.size
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[cfg(test)]
mod speed {
    use super::*;

    /// `cargo test --release -p berth-distribution compress_speed -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn compress_speed() {
        let dir = std::env::temp_dir().join(format!("berth-push-speed-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).expect("dir");
        let src = dir.join("random");
        let data: Vec<u8> = (0..(128usize << 20))
            .map(|_| rand::random::<u8>())
            .collect();
        std::fs::write(&src, &data).expect("write");
        let t = std::time::Instant::now();
        let c = compress(src.clone(), dir.join("out.gz")).expect("compress");
        let el = t.elapsed();
        eprintln!(
            "128 MiB random: {:?}, {:.0} MiB/s, size {}",
            el,
            128.0 / el.as_secs_f64(),
            c.size
        );
        for lvl in [1u32, 6] {
            let t = std::time::Instant::now();
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(lvl));
            std::io::Write::write_all(&mut e, &data).expect("gz");
            let out = e.finish().expect("gz");
            eprintln!(
                "GzEncoder level {lvl}: {:?} size {}",
                t.elapsed(),
                out.len()
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
