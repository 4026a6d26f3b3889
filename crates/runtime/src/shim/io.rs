//! Non-blocking I/O on raw fds (pipes and the pty master) inside the shim's
//! current-thread runtime, plus the fd plumbing for the console socket.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, UnixAddr};
use tokio::io::unix::AsyncFd;

/// A pipe end or pty master driven by the reactor.
pub struct AsyncFdIo {
    fd: AsyncFd<OwnedFd>,
}

impl AsyncFdIo {
    pub fn new(fd: OwnedFd) -> io::Result<AsyncFdIo> {
        let flags = OFlag::from_bits_truncate(fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL)?);
        fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
        // SAFETY: `fd` is an OwnedFd moved into the AsyncFd, so it stays open and
        // refers to the same file description for the AsyncFd's whole life.
        let fd = unsafe { AsyncFd::register(fd) }.map_err(|e| e.into_parts().1)?;
        Ok(AsyncFdIo { fd })
    }

    /// Reads some bytes; 0 is EOF. A pty master answers EIO once every slave
    /// is closed, which is EOF too.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|inner| {
                nix::unistd::read(inner.get_ref().as_raw_fd(), buf).map_err(io::Error::from)
            }) {
                Ok(Err(e)) if e.raw_os_error() == Some(libc::EIO) => return Ok(0),
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }

    pub async fn write_all(&self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let mut guard = self.fd.writable().await?;
            match guard.try_io(|inner| {
                nix::unistd::write(inner.get_ref().as_fd(), data).map_err(io::Error::from)
            }) {
                Ok(Ok(n)) => data = &data[n..],
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
        Ok(())
    }
}

pub fn dup(fd: &OwnedFd) -> io::Result<OwnedFd> {
    fd.try_clone()
}

/// Receives one fd sent with SCM_RIGHTS (libcontainer sends the pty master so).
pub fn recv_fd(sock: i32) -> io::Result<OwnedFd> {
    let mut buf = [0u8; 4096];
    let mut iov = [io::IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<UnixAddr>(sock, &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC)?;
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(&fd) = fds.first() {
                // SAFETY: the kernel just installed this fd in our table for us alone.
                return Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) });
            }
        }
    }
    Err(io::Error::other("no fd in the console socket message"))
}

pub fn set_winsize(master: &OwnedFd, height: u16, width: u16) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: height,
        ws_col: width,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize struct that lives for the call.
    let r = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
