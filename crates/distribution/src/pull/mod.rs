//! `docker pull`: resolve (manifest, platform, config) before any progress
//! is streamed, so that errors there are HTTP errors as in dockerd; then
//! download the missing layers in parallel and hand them to the store.

use std::path::PathBuf;
use std::sync::Arc;

use berth_api::{Error, Reference, Result};
use berth_store::{chain_ids, Image, ImageStore, StagedLayer};

use crate::progress::{self, Sink};
use crate::session::Session;

mod download;
mod registry;
mod resolve;

use download::download;
pub use registry::{inspect, list_tags, login};
#[cfg(test)]
pub(crate) use resolve::wanted_platform;
pub use resolve::{resolve, Descriptor, Resolved};

/// Whatever owns the image store (the engine), shared with blocking tasks.
pub trait HasStore: Send + Sync + 'static {
    fn image_store(&self) -> &ImageStore;
}

/// dockerd's default `max-concurrent-downloads`.
const MAX_DOWNLOADS: usize = 3;

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

/// The compressed blob of a downloaded layer: (path, digest, media type).
type BlobFile = (PathBuf, String, String);

fn join_error(e: tokio::task::JoinError) -> Error {
    Error::internal(e.to_string())
}

/// Downloads what is missing, stores the image and tags it, streaming
/// dockerd's messages into `tx`. Errors are returned (the caller turns
/// them into an `errorDetail` line).
pub async fn pull(owner: Arc<dyn HasStore>, r: Resolved, tx: &Sink) -> Result<()> {
    let store = owner;
    let label = match (&r.reference.digest, &r.reference.tag) {
        (Some(d), _) => d.clone(),
        (None, Some(t)) => t.clone(),
        (None, None) => "latest".into(),
    };
    progress::status_id(tx, &format!("Pulling from {}", r.reference.path), &label);
    let present = present_layers(&store, &chain_ids(&r.config.rootfs.diff_ids)).await?;
    // A chain present means all below it are too.
    for (i, l) in r.layers.iter().enumerate() {
        if present[i] {
            progress::status(tx, "Already exists", Some(&short(&l.digest)));
        } else {
            progress::status(tx, "Pulling fs layer", Some(&short(&l.digest)));
        }
    }
    let Resolved {
        session,
        reference,
        digest,
        raw_config,
        layers,
        ..
    } = r;
    let mut temps = TempFiles(Vec::new());
    let (files, staged) =
        download_missing(&store, session, &layers, &present, &mut temps, tx).await?;
    let tags = pull_tags(&reference, &digest);
    let before = store.image_store().tag_target(&tags[0]).ok().flatten();
    let ids: Vec<String> = layers.iter().map(|l| short(&l.digest)).collect();
    let (store2, tx2, present2) = (store.clone(), tx.clone(), present.clone());
    berth_store::crash::point("pull.staged");
    let img = tokio::task::spawn_blocking(move || {
        store2
            .image_store()
            .add_pulled_staged(&raw_config, staged, &tags, &mut |i| {
                if !present2[i] {
                    progress::status(&tx2, "Pull complete", Some(&ids[i]));
                }
            })
    })
    .await
    .map_err(join_error)??;
    temps.0.clear();
    remember_blobs(&store, files, &img, &reference, &layers).await;
    progress::status(tx, &format!("Digest: {digest}"), None);
    let name = reference.familiar_string();
    let name = if reference.digest.is_none() && reference.tag.is_none() {
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

/// Whether each layer chain is already in the store (its blob is skipped).
async fn present_layers(store: &Arc<dyn HasStore>, chains: &[String]) -> Result<Vec<bool>> {
    let mut present = Vec::new();
    for c in chains {
        let (s, c) = (store.clone(), c.clone());
        present.push(
            tokio::task::spawn_blocking(move || s.image_store().has_layer(&c))
                .await
                .map_err(join_error)??,
        );
    }
    Ok(present)
}

/// Downloads the layers not `present`, at most [`MAX_DOWNLOADS`] at a
/// time, each staged by the store as it streams in. Answers, per layer,
/// its kept compressed blob and its staged unpacked layer (`None` where
/// present); the first error once all downloads ended.
async fn download_missing(
    store: &Arc<dyn HasStore>,
    session: Session,
    layers: &[Descriptor],
    present: &[bool],
    temps: &mut TempFiles,
    tx: &Sink,
) -> Result<(Vec<Option<BlobFile>>, Vec<Option<StagedLayer>>)> {
    let tmp_dir = store.image_store().root().join("image/tmp");
    let mut files: Vec<Option<BlobFile>> = vec![None; layers.len()];
    let session = Arc::new(session);
    let sem = Arc::new(tokio::sync::Semaphore::new(MAX_DOWNLOADS));
    let mut tasks = Vec::new();
    for (i, l) in layers.iter().enumerate() {
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
    let mut staged: Vec<Option<StagedLayer>> = (0..layers.len()).map(|_| None).collect();
    let mut first_err = None;
    for (i, t) in tasks {
        match t.await.map_err(join_error).and_then(|r| r) {
            Ok(st) => staged[i] = Some(st),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok((files, staged)),
    }
}

/// The references a pull points at the image: the tag (`:latest` when
/// none; none for a pull by digest), then `repo@digest`.
fn pull_tags(reference: &Reference, digest: &str) -> Vec<Reference> {
    let mut tags = Vec::new();
    if reference.digest.is_none() {
        tags.push(reference.with_tag(reference.tag.as_deref().unwrap_or("latest")));
    }
    let mut by_digest = reference.clone();
    by_digest.tag = None;
    by_digest.digest = Some(digest.to_string());
    tags.push(by_digest);
    tags
}

/// What a later push reuses: the compressed blobs, kept in the background
/// (each is fsynced before it is recorded, which the pull need not wait
/// for), and where each layer blob lives, for cross-repository mounts.
async fn remember_blobs(
    store: &Arc<dyn HasStore>,
    files: Vec<Option<BlobFile>>,
    img: &Image,
    reference: &Reference,
    layers: &[Descriptor],
) {
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
    let (s, domain, repo) = (
        store.clone(),
        reference.domain.clone(),
        reference.path.clone(),
    );
    let pairs: Vec<(String, String, u64)> = img
        .diff_ids
        .iter()
        .zip(layers)
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
