//! Making sockets inside a container's network namespace.
//!
//! A socket belongs to the namespace of the thread that created it, for its
//! whole life; binding, connecting and I/O may then happen anywhere. So one
//! dedicated thread (never a tokio worker: those are shared) enters a
//! namespace with `setns`, creates the socket, and returns to its own
//! namespace. Everything else runs on the async runtime.

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::mpsc;
use std::sync::Mutex;

use nix::sched::{setns, CloneFlags};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::sync::oneshot;

use crate::DnsError;

/// An open network namespace: holding it keeps the namespace (and its
/// identity) while the container is attached, even if a path is reused.
#[derive(Debug)]
pub(crate) struct Netns(OwnedFd);

impl Netns {
    pub(crate) fn open(path: &Path) -> Result<Netns, DnsError> {
        let file = File::open(path).map_err(|source| DnsError::Netns {
            path: path.display().to_string(),
            source,
        })?;
        Ok(Netns(OwnedFd::from(file)))
    }

    fn try_clone(&self) -> std::io::Result<Netns> {
        Ok(Netns(self.0.try_clone()?))
    }
}

struct Job {
    netns: Netns,
    domain: Domain,
    ty: Type,
    reply: oneshot::Sender<std::io::Result<Socket>>,
}

/// The thread that creates sockets in other namespaces.
#[derive(Debug)]
pub(crate) struct Maker {
    tx: Mutex<mpsc::Sender<Job>>,
}

impl Maker {
    pub(crate) fn start() -> Result<Maker, DnsError> {
        let home = Netns::open(Path::new("/proc/thread-self/ns/net"))?;
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("berth-dns-netns".into())
            .spawn(move || run(home, rx))
            .map_err(DnsError::Thread)?;
        Ok(Maker { tx: Mutex::new(tx) })
    }

    /// A new socket of `domain`/`ty` in `netns`, non-blocking, close-on-exec.
    pub(crate) async fn socket(
        &self,
        netns: &Netns,
        domain: Domain,
        ty: Type,
    ) -> std::io::Result<Socket> {
        let (reply, rx) = oneshot::channel();
        let job = Job {
            netns: netns.try_clone()?,
            domain,
            ty,
            reply,
        };
        let sent = self
            .tx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(job)
            .is_ok();
        if !sent {
            return Err(std::io::Error::other("the netns thread is gone"));
        }
        rx.await
            .unwrap_or_else(|_| Err(std::io::Error::other("the netns thread is gone")))
    }
}

fn run(home: Netns, rx: mpsc::Receiver<Job>) {
    // Ends when the Maker (so the Server) is dropped.
    while let Ok(job) = rx.recv() {
        let made = make(&job);
        let _ = job.reply.send(made);
        if let Err(e) = setns(home.0.as_fd(), CloneFlags::CLONE_NEWNET) {
            // Cannot happen while we hold `home`; if it did, every later
            // socket would land in the wrong namespace: stop instead.
            tracing::error!(error = %e, "berth-dns: cannot return to the daemon's network namespace");
            return;
        }
    }
}

fn make(job: &Job) -> std::io::Result<Socket> {
    setns(job.netns.0.as_fd(), CloneFlags::CLONE_NEWNET).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("not a network namespace ({e})"),
        )
    })?;
    let proto = if job.ty == Type::DGRAM {
        Protocol::UDP
    } else {
        Protocol::TCP
    };
    let socket = Socket::new(job.domain, job.ty.cloexec(), Some(proto))?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}
