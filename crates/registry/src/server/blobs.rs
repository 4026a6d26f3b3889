//! Blobs: get (ranges, mapped bodies) and delete.

use super::*;

pub(crate) fn parse_digest(s: &str) -> Result<Digest> {
    Digest::parse(s).map_err(|e| match e {
        DigestError::Unsupported(_) => err(Code::Unsupported, e.to_string()),
        DigestError::Invalid(_) => err(Code::DigestInvalid, e.to_string()),
    })
}

/// A `Range: bytes=...` header against a blob of `size`: the inclusive
/// range, or None for a range that cannot be served.
pub(crate) fn parse_range(h: &str, size: u64) -> Option<(u64, u64)> {
    let spec = h.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().ok()?;
            if n == 0 || size == 0 {
                return None;
            }
            (size.saturating_sub(n), size - 1)
        }
        (a, "") => (a.parse().ok()?, size.checked_sub(1)?),
        (a, b) => (
            a.parse().ok()?,
            b.parse::<u64>().ok()?.min(size.checked_sub(1)?),
        ),
    };
    (start <= end && start < size).then_some((start, end))
}

pub(super) async fn get_blob(
    reg: &Arc<Registry>,
    name: &str,
    digest: &str,
    req: &Request<Incoming>,
    head: bool,
) -> std::result::Result<Response<Body>, Reply> {
    let d = parse_digest(digest)?;
    let Some(size) = reg.storage.repo_blob_size(name, &d) else {
        return Err(
            err(Code::BlobUnknown, format!("blob unknown to registry: {d}"))
                .with_detail(json!({ "digest": d.to_string() }))
                .into(),
        );
    };
    let range = req.headers().get("Range").and_then(|h| h.to_str().ok());
    let (status, start, end) = match range {
        None => (StatusCode::OK, 0, size.saturating_sub(1)),
        Some(h) => match parse_range(h, size) {
            Some((s, e)) => (StatusCode::PARTIAL_CONTENT, s, e),
            None => {
                let resp = error_response(&err(
                    Code::RangeInvalid,
                    format!("invalid range {h:?} for a blob of {size} bytes"),
                ));
                let mut resp = resp;
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                    resp.headers_mut().insert("Content-Range", v);
                }
                return Ok(resp);
            }
        },
    };
    let len = if size == 0 { 0 } else { end - start + 1 };
    let mut b = builder(status)
        .header(CONTENT_TYPE, "application/octet-stream")
        .header("Content-Length", len)
        .header("Accept-Ranges", "bytes")
        .header("Docker-Content-Digest", d.to_string())
        .header("Etag", format!("\"{d}\""))
        .header("Cache-Control", "max-age=31536000");
    if status == StatusCode::PARTIAL_CONTENT {
        b = b.header("Content-Range", format!("bytes {start}-{end}/{size}"));
    }
    if head || len == 0 {
        return Ok(finish(b, empty_body()));
    }
    let path = reg
        .storage
        .blob_file(&d)
        .ok_or_else(|| err(Code::BlobUnknown, format!("blob unknown to registry: {d}")))?;
    let data = blocking(move || map_range(&path, start, len)).await?;
    // Frames of a few MiB: hyper writes each straight from the mapping.
    let frames = (0..len.div_ceil(SEND_CHUNK)).map(move |i| {
        let a = (i * SEND_CHUNK) as usize;
        let b = ((i + 1) * SEND_CHUNK).min(len) as usize;
        Ok::<_, io::Error>(Frame::data(data.slice(a..b)))
    });
    let stream = futures_util::stream::iter(frames);
    Ok(finish(b, BodyExt::boxed(StreamBody::new(stream))))
}

/// Blob bodies are sent in frames of this size.
pub(super) const SEND_CHUNK: u64 = 4 << 20;
/// Blobs up to this size are read into memory rather than mapped.
pub(super) const MAP_MIN: u64 = 1 << 20;

/// A read-only mapping of part of a file, unmapped on drop.
pub(super) struct Mapping {
    ptr: *mut libc::c_void,
    map_len: usize,
    /// Where the wanted range starts in the mapping, and its length.
    offset: usize,
    len: usize,
}

// SAFETY: the mapping is read-only and owned by this value alone; reading
// it from any thread is sound.
unsafe impl Send for Mapping {}
// SAFETY: as above: shared references only ever read.
unsafe impl Sync for Mapping {}

impl AsRef<[u8]> for Mapping {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: `ptr` maps `map_len` readable bytes for as long as self
        // lives, and `offset + len <= map_len` (checked in map_range).
        unsafe { std::slice::from_raw_parts((self.ptr as *const u8).add(self.offset), self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`map_len` are exactly what mmap returned.
        unsafe {
            libc::munmap(self.ptr, self.map_len);
        }
    }
}

/// `len` bytes of `path` from `start`, without copying them through a
/// buffer: large blobs are memory-mapped (the kernel then copies straight
/// from the page cache to the socket), small ones read. Blob files are
/// never modified in place (content-addressed, replaced only by rename),
/// so the mapping cannot shrink under a reader.
pub(super) fn map_range(path: &std::path::Path, start: u64, len: u64) -> io::Result<Bytes> {
    use std::io::{Read, Seek};
    let mut f = std::fs::File::open(path)?;
    let size = f.metadata()?.len();
    if start.checked_add(len).is_none_or(|end| end > size) {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "blob shorter than its range",
        ));
    }
    if len < MAP_MIN {
        f.seek(io::SeekFrom::Start(start))?;
        let mut buf = vec![0u8; len as usize];
        f.read_exact(&mut buf)?;
        return Ok(Bytes::from(buf));
    }
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u64;
    let base = start - start % page;
    let offset = (start - base) as usize;
    let map_len = offset + len as usize;
    use std::os::fd::AsRawFd as _;
    // SAFETY: a fresh read-only private mapping of an open file; the
    // result is checked before use.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            map_len,
            libc::PROT_READ,
            libc::MAP_PRIVATE,
            f.as_raw_fd(),
            base as libc::off_t,
        )
    };
    if ptr == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `ptr` maps `map_len` bytes; advice only.
    unsafe {
        libc::madvise(ptr, map_len, libc::MADV_SEQUENTIAL);
    }
    Ok(Bytes::from_owner(Mapping {
        ptr,
        map_len,
        offset,
        len: len as usize,
    }))
}

pub(super) async fn delete_blob(
    reg: &Arc<Registry>,
    name: &str,
    digest: &str,
) -> std::result::Result<Response<Body>, Reply> {
    if !reg.delete_enabled {
        return Err(err(
            Code::Unsupported,
            "deletes are disabled (storage.delete.enabled)",
        )
        .into());
    }
    let d = parse_digest(digest)?;
    if !reg.storage.unlink_blob(name, &d)? {
        return Err(err(Code::BlobUnknown, format!("blob unknown to registry: {d}")).into());
    }
    Ok(finish(
        builder(StatusCode::ACCEPTED).header("Content-Length", 0),
        empty_body(),
    ))
}
