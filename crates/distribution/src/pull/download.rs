//! One layer's download: hashed, kept and unpacked as it streams in.

use std::path::PathBuf;
use std::sync::Arc;

use berth_api::{Error, Result};
use berth_store::StagedLayer;
use futures_util::StreamExt;
use reqwest::Method;
use sha2::{Digest, Sha256};

use super::{short, Descriptor, HasStore};
use crate::progress::{self, Sink};
use crate::session::{error_chain, Reply, Session};

/// The compressed stream of a layer as it arrives: each chunk is hashed
/// and copied to the kept blob file on its way to the decompressor.
pub(super) struct Incoming {
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
pub(super) async fn download(
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
