//! A fresh network namespace with only `lo`, up, bound at a path so the
//! runtime joins it (`--network none`), as Docker's sandbox has.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;

use anyhow::Context;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};

/// Must run while the process is single-threaded: unshare moves the calling
/// thread, and we move it back with setns.
pub fn create_with_loopback(path: &Path) -> anyhow::Result<()> {
    let original = File::open("/proc/self/ns/net").context("opening the current netns")?;
    File::create(path).with_context(|| format!("creating {}", path.display()))?;
    unshare(CloneFlags::CLONE_NEWNET).context("unshare(CLONE_NEWNET)")?;
    let result = loopback_up().and_then(|_| {
        mount(
            Some("/proc/self/ns/net"),
            path,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .context("binding the netns")
    });
    setns(&original, CloneFlags::CLONE_NEWNET).context("returning to the host netns")?;
    if result.is_err() {
        let _ = std::fs::remove_file(path);
    }
    result
}

pub fn remove(path: &Path) {
    let _ = umount2(path, MntFlags::MNT_DETACH);
    let _ = std::fs::remove_file(path);
}

fn loopback_up() -> anyhow::Result<()> {
    // SAFETY: a plain datagram socket for the interface ioctls; closed below.
    let sock = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if sock < 0 {
        return Err(std::io::Error::last_os_error()).context("socket for ioctl");
    }
    // SAFETY: sock was just opened and is owned here.
    let sock = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(sock) };
    // SAFETY: ifreq is plain old data; zeroed is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write the ifreq that lives for both calls.
    unsafe {
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) < 0 {
            return Err(std::io::Error::last_os_error()).context("SIOCGIFFLAGS lo");
        }
        req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) < 0 {
            return Err(std::io::Error::last_os_error()).context("SIOCSIFFLAGS lo");
        }
    }
    Ok(())
}
