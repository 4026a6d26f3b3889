//! Zero-copy blob bodies on plain-TCP connections.
//!
//! A blob body is a memory mapping of the blob file (server.rs), handed to
//! hyper as `Bytes` frames. While a mapping lives, its address range is
//! registered here with the file behind it. [`SendfileStream`] wraps a
//! connection's `TcpStream`: a write whose buffer lies inside a registered
//! mapping is sent with sendfile(2) from the file at the same offset, so
//! the kernel moves page-cache pages to the socket without a copy through
//! user memory (and the mapping's pages are never even faulted in). Any
//! other write goes to the socket as usual. hyper queues body buffers
//! untouched when the IO supports vectored writes, which this one does.
//! (hyper gives no way to hand it a file; this keeps hyper's HTTP/1 while
//! getting what a sendfile-serving Go registry gets.)

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, IoSlice};
use std::os::fd::AsRawFd as _;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

struct Region {
    len: usize,
    file: Arc<File>,
    /// The file offset of the region's first byte.
    file_offset: u64,
}

/// Live mappings by start address.
static REGIONS: Mutex<BTreeMap<usize, Region>> = Mutex::new(BTreeMap::new());

fn regions() -> std::sync::MutexGuard<'static, BTreeMap<usize, Region>> {
    REGIONS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Registers the mapping at `addr` (`len` bytes of `file` from
/// `file_offset`); the caller unregisters it before unmapping.
pub fn register(addr: usize, len: usize, file: Arc<File>, file_offset: u64) {
    regions().insert(
        addr,
        Region {
            len,
            file,
            file_offset,
        },
    );
}

pub fn unregister(addr: usize) {
    regions().remove(&addr);
}

/// The file and offset behind `buf`, when it lies inside a live mapping.
fn lookup(buf: &[u8]) -> Option<(Arc<File>, u64)> {
    let p = buf.as_ptr() as usize;
    let map = regions();
    let (start, r) = map.range(..=p).next_back()?;
    (p + buf.len() <= start + r.len).then(|| (r.file.clone(), r.file_offset + (p - start) as u64))
}

/// A `TcpStream` whose writes of mapped blob bytes go out by sendfile(2).
pub struct SendfileStream {
    inner: TcpStream,
}

impl SendfileStream {
    pub fn new(inner: TcpStream) -> SendfileStream {
        SendfileStream { inner }
    }

    fn poll_sendfile(
        &self,
        cx: &mut Context<'_>,
        file: &File,
        offset: u64,
        len: usize,
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.inner.poll_write_ready(cx))?;
            let res = self.inner.try_io(Interest::WRITABLE, || {
                let mut off = offset as libc::off_t;
                // SAFETY: both descriptors are open for the call; `off` is
                // a valid out-pointer.
                let n = unsafe {
                    libc::sendfile(
                        self.inner.as_raw_fd(),
                        file.as_raw_fd(),
                        &mut off,
                        len.min(1 << 30),
                    )
                };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match res {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Ok(0) if len > 0 => {
                    // The file is shorter than its mapping said: never for
                    // an immutable blob, but never loop on it.
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "blob file shorter than its mapping",
                    )));
                }
                other => return Poll::Ready(other),
            }
        }
    }
}

impl AsyncRead for SendfileStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for SendfileStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some((file, offset)) = lookup(buf) {
            return self.poll_sendfile(cx, &file, offset, buf.len());
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        // Ordinary buffers up to the first mapped one go out together;
        // a mapped one first in line goes out alone, by sendfile.
        let found = bufs
            .iter()
            .enumerate()
            .find_map(|(i, b)| lookup(b).filter(|_| !b.is_empty()).map(|m| (i, m)));
        match found {
            Some((k, (file, offset))) if bufs[..k].iter().all(|b| b.is_empty()) => {
                self.poll_sendfile(cx, &file, offset, bufs[k].len())
            }
            Some((k, _)) => Pin::new(&mut self.inner).poll_write_vectored(cx, &bufs[..k]),
            None => Pin::new(&mut self.inner).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
