//! Blob uploads: start (and cross-repository mounts), status, patch,
//! finish and cancel, with the spec's ranges.

use super::*;

pub(super) fn upload_response(
    status: StatusCode,
    name: &str,
    id: &str,
    size: u64,
) -> Response<Body> {
    finish(
        builder(status)
            .header("Location", format!("/v2/{name}/blobs/uploads/{id}"))
            .header("Range", format!("0-{}", size.saturating_sub(1)))
            .header("Docker-Upload-UUID", id)
            .header("Content-Length", 0),
        empty_body(),
    )
}

pub(super) fn blob_created(name: &str, d: &Digest) -> Response<Body> {
    finish(
        builder(StatusCode::CREATED)
            .header("Location", format!("/v2/{name}/blobs/{d}"))
            .header("Docker-Content-Digest", d.to_string())
            .header("Content-Length", 0),
        empty_body(),
    )
}

/// Appends the request body to `path` (created if missing), hashing it
/// on the way when `hasher` is given (the state of what `path` already
/// holds); answers the bytes written and the updated hasher. The file is
/// written and hashed on a blocking thread while the body streams in, so
/// the data is read from the network once and never read back. A body cut
/// short keeps what arrived (the client resumes from the upload's Range)
/// and answers an error.
pub(super) async fn append_body(
    path: PathBuf,
    req: Request<Incoming>,
    hasher: Option<sha2::Sha256>,
) -> Result<(u64, Option<sha2::Sha256>)> {
    // The body's frames go to a blocking thread in batches of about
    // [`WRITE_BATCH`] bytes, written there with one writev each: a wake-up
    // of that thread per frame (tens of KiB each) was a context switch per
    // frame, and a buffered writer a second copy of every byte.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Bytes>>(4);
    let writer = tokio::task::spawn_blocking(move || -> io::Result<(u64, Option<sha2::Sha256>)> {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        let mut h = hasher;
        let mut n = 0u64;
        while let Some(batch) = rx.blocking_recv() {
            for data in &batch {
                if let Some(h) = h.as_mut() {
                    h.update(data);
                }
                n += data.len() as u64;
            }
            write_all_batch(&mut f, &batch)?;
        }
        Ok((n, h))
    });
    let mut body = req.into_body();
    let mut failure = None;
    let mut batch = Vec::new();
    let mut batched = 0;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(fr) => {
                if let Ok(data) = fr.into_data() {
                    batched += data.len();
                    batch.push(data);
                    if batched >= WRITE_BATCH {
                        batched = 0;
                        if tx.send(std::mem::take(&mut batch)).await.is_err() {
                            break; // the writer failed: its error is below
                        }
                    }
                }
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    // What came before a cut is kept too: a resumed upload goes on from it.
    if !batch.is_empty() {
        let _ = tx.send(batch).await;
    }
    drop(tx);
    let written = match writer.await {
        Ok(r) => r?,
        Err(e) => return Err(err(Code::Unknown, format!("internal error: {e}"))),
    };
    match failure {
        None => Ok(written),
        Some(e) => Err(err(
            Code::BlobUploadInvalid,
            format!("the upload body was cut: {e}"),
        )),
    }
}

/// Upload bytes handed to the writing thread at a time.
pub(super) const WRITE_BATCH: usize = 1 << 20;

/// Writes every buffer of `batch`, in order, with as few writev calls as
/// the kernel allows (std's `write_all_vectored` is not stable yet).
pub(super) fn write_all_batch(f: &mut std::fs::File, batch: &[Bytes]) -> io::Result<()> {
    use std::io::{IoSlice, Write as _};
    let mut slices: Vec<IoSlice<'_>> = batch.iter().map(|b| IoSlice::new(b)).collect();
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        match f.write_vectored(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(k) => IoSlice::advance_slices(&mut rest, k),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

pub(super) struct BusyGuard<'a> {
    reg: &'a Registry,
    id: String,
}

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut b) = self.reg.busy.lock() {
            b.remove(&self.id);
        }
    }
}

pub(super) fn claim<'a>(reg: &'a Registry, id: &str) -> Result<BusyGuard<'a>> {
    let mut b = reg
        .busy
        .lock()
        .map_err(|_| err(Code::Unknown, "internal lock poisoned"))?;
    if !b.insert(id.to_string()) {
        return Err(err(
            Code::BlobUploadInvalid,
            "another request is writing to this upload",
        ));
    }
    Ok(BusyGuard {
        reg,
        id: id.to_string(),
    })
}

/// Stores the finished upload `tmp` as the blob `d` of `name`: checked
/// against `hashed` (the digest taken as it streamed in), or hashed again
/// when that was lost. The blob is pending until a background fsync makes
/// it durable (a manifest PUT waits for that).
pub(super) async fn commit(
    reg: &Arc<Registry>,
    name: &str,
    tmp: PathBuf,
    d: &Digest,
    hashed: Option<sha2::Sha256>,
) -> Result<()> {
    let s = reg.storage.clone();
    let (d2, n) = (d.clone(), name.to_string());
    let res = blocking(move || {
        let r = match hashed {
            Some(h) => {
                let got = Digest::from_hasher(h);
                if got == d2 {
                    s.commit_verified(&tmp, &d2)?;
                    Ok(())
                } else {
                    let _ = std::fs::remove_file(&tmp);
                    Err(got)
                }
            }
            None => s.commit_file(&tmp, &d2)?.map(|_| ()),
        };
        if r.is_ok() {
            s.link_blob(&n, &d2)?;
        }
        Ok(r)
    })
    .await?;
    match res {
        Ok(()) => {
            let (s, d2) = (reg.storage.clone(), d.clone());
            tokio::task::spawn_blocking(move || {
                if let Err(e) = s.make_durable(&d2) {
                    tracing::warn!(digest = %d2, error = %e, "making a blob durable");
                }
            });
            Ok(())
        }
        Err(got) => Err(err(
            Code::DigestInvalid,
            format!("the content's digest is {got}, not {d}"),
        )
        .with_detail(json!({ "digest": d.to_string() }))),
    }
}

pub(super) async fn start_upload(
    reg: &Arc<Registry>,
    name: &str,
    q: &[(String, String)],
    req: Request<Incoming>,
) -> std::result::Result<Response<Body>, Reply> {
    if let (Some(m), Some(from)) = (query(q, "mount"), query(q, "from")) {
        if let (Ok(d), true) = (Digest::parse(m), valid_repo_name(from)) {
            if reg.storage.repo_blob_size(from, &d).is_some() {
                reg.storage.link_blob(name, &d)?;
                return Ok(blob_created(name, &d));
            }
        }
    }
    if let Some(ds) = query(q, "digest") {
        let d = parse_digest(ds)?;
        let tmp = reg.storage.temp_path();
        let hashed = match append_body(tmp.clone(), req, Some(sha2::Sha256::new())).await {
            Ok((_, h)) => h,
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(e.into());
            }
        };
        commit(reg, name, tmp, &d, hashed).await?;
        return Ok(blob_created(name, &d));
    }
    let s = reg.storage.clone();
    let n = name.to_string();
    let up = blocking(move || s.new_upload(&n)).await?;
    Ok(upload_response(StatusCode::ACCEPTED, name, &up.id, 0))
}

pub(super) fn upload_unknown(id: &str) -> ApiError {
    err(
        Code::BlobUploadUnknown,
        format!("blob upload unknown to registry: {id}"),
    )
}

pub(super) async fn upload_status(
    reg: &Arc<Registry>,
    name: &str,
    id: &str,
) -> std::result::Result<Response<Body>, Reply> {
    let up = reg
        .storage
        .upload(name, id)?
        .ok_or_else(|| upload_unknown(id))?;
    Ok(upload_response(StatusCode::NO_CONTENT, name, id, up.size))
}

/// Checks a `Content-Range: START-END` against the upload's size.
pub(super) fn check_content_range(req: &Request<Incoming>, size: u64) -> Result<()> {
    let header = |name: &str| req.headers().get(name).and_then(|h| h.to_str().ok());
    content_range(header("Content-Range"), header("Content-Length"), size)
}

/// [`check_content_range`] on the header values: a missing range is fine;
/// one that is malformed, does not continue the upload at `size`, or
/// disagrees with the length is `RANGE_INVALID`.
pub(crate) fn content_range(range: Option<&str>, length: Option<&str>, size: u64) -> Result<()> {
    let Some(h) = range else {
        return Ok(());
    };
    let h = h
        .trim()
        .trim_start_matches("bytes ")
        .trim_start_matches("bytes=");
    let range = h.split('/').next().unwrap_or("");
    let parsed = range
        .split_once('-')
        .and_then(|(a, b)| Some((a.trim().parse::<u64>().ok()?, b.trim().parse::<u64>().ok()?)));
    let Some((start, end)) = parsed else {
        return Err(err(
            Code::RangeInvalid,
            format!("invalid Content-Range {h:?}"),
        ));
    };
    if start != size || end < start {
        return Err(err(
            Code::RangeInvalid,
            format!("Content-Range {start}-{end} does not continue the upload at {size}"),
        ));
    }
    if let Some(len) = length.and_then(|s| s.parse::<u64>().ok()) {
        // `end - start + 1` overflows for `0-18446744073709551615`: compare
        // without adding.
        if len.checked_sub(1) != Some(end - start) {
            return Err(err(
                Code::RangeInvalid,
                "Content-Range and Content-Length disagree",
            ));
        }
    }
    Ok(())
}

pub(super) fn range_error(e: ApiError, name: &str, id: &str, size: u64) -> Reply {
    let mut resp = error_response(&e);
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("/v2/{name}/blobs/uploads/{id}")) {
        h.insert("Location", v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("0-{}", size.saturating_sub(1))) {
        h.insert("Range", v);
    }
    Reply::Raw(Box::new(resp))
}

pub(super) async fn patch_upload(
    reg: &Arc<Registry>,
    name: &str,
    id: &str,
    req: Request<Incoming>,
) -> std::result::Result<Response<Body>, Reply> {
    let _busy = claim(reg, id)?;
    let up = reg
        .storage
        .upload(name, id)?
        .ok_or_else(|| upload_unknown(id))?;
    if let Err(e) = check_content_range(&req, up.size) {
        return Err(range_error(e, name, id, up.size));
    }
    let hasher = reg.take_hasher(id, up.size);
    let (n, hasher) = append_body(reg.storage.upload_data(id), req, hasher).await?;
    if let Some(h) = hasher {
        reg.put_hasher(id, up.size + n, h);
    }
    let up = reg
        .storage
        .upload(name, id)?
        .ok_or_else(|| upload_unknown(id))?;
    Ok(upload_response(StatusCode::ACCEPTED, name, id, up.size))
}

pub(super) async fn finish_upload(
    reg: &Arc<Registry>,
    name: &str,
    id: &str,
    q: &[(String, String)],
    req: Request<Incoming>,
) -> std::result::Result<Response<Body>, Reply> {
    let _busy = claim(reg, id)?;
    let up = reg
        .storage
        .upload(name, id)?
        .ok_or_else(|| upload_unknown(id))?;
    let Some(ds) = query(q, "digest") else {
        return Err(err(Code::DigestInvalid, "the digest parameter is missing").into());
    };
    let d = parse_digest(ds)?;
    if let Err(e) = check_content_range(&req, up.size) {
        return Err(range_error(e, name, id, up.size));
    }
    let hasher = reg.take_hasher(id, up.size);
    let (_, hasher) = append_body(reg.storage.upload_data(id), req, hasher).await?;
    let res = commit(reg, name, reg.storage.upload_data(id), &d, hasher).await;
    // Committed or refused, the upload is over (a refused one stored nothing).
    reg.storage.remove_upload(id)?;
    reg.drop_hasher(id);
    res?;
    Ok(blob_created(name, &d))
}

pub(super) async fn cancel_upload(
    reg: &Arc<Registry>,
    name: &str,
    id: &str,
) -> std::result::Result<Response<Body>, Reply> {
    if reg.storage.upload(name, id)?.is_none() {
        return Err(upload_unknown(id).into());
    }
    reg.storage.remove_upload(id)?;
    reg.drop_hasher(id);
    Ok(finish(builder(StatusCode::NO_CONTENT), empty_body()))
}
