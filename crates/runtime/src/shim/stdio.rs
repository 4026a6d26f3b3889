//! A process's stdio, shared by the container's init and exec'd processes
//! and by both runtimes: pipes (stdout, stderr, and stdin when asked), or a
//! pty whose master the runtime sends over a console socket (libcontainer
//! and runc speak the same console-socket protocol).

use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener as StdUnixListener;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::io;
use crate::proto::{STREAM_STDERR, STREAM_STDOUT};

/// The process's ends, handed to the runtime: a console socket to send the
/// pty master to, or the fds that become its stdin, stdout and stderr.
pub(crate) enum ChildIo {
    Console {
        /// The socket's own path (libcontainer copes with its length).
        path: PathBuf,
        /// A path to it that fits `sun_path` and that another process (an
        /// external runtime) can connect to: through the shim's handle on
        /// the directory, `/proc/<shim>/fd/N/NAME`, when the path is long.
        reachable: PathBuf,
    },
    Pipes {
        stdin: OwnedFd,
        stdout: OwnedFd,
        stderr: OwnedFd,
    },
}

/// Our ends of the process's stdio, once it runs.
pub(super) struct Stdio {
    /// Output streams to read: stdout and stderr pipes, or the pty master as stdout.
    pub outputs: Vec<(u8, OwnedFd)>,
    /// Where input goes: a pipe's write end or a dup of the pty master.
    pub stdin: Option<OwnedFd>,
    /// The pty master, for resizes.
    pub master: Option<OwnedFd>,
    /// The listener, its path, and what keeps its short path valid.
    console: Option<(StdUnixListener, PathBuf, crate::proto::SocketPath)>,
}

/// Makes the stdio; `socket_name` names the console socket in `dir`.
pub(super) fn wire(
    tty: bool,
    stdin: bool,
    dir: &Path,
    socket_name: &str,
) -> anyhow::Result<(ChildIo, Stdio)> {
    let mut s = Stdio {
        outputs: Vec::new(),
        stdin: None,
        master: None,
        console: None,
    };
    if tty {
        let path = dir.join(socket_name);
        let _ = fs::remove_file(&path);
        let short = crate::proto::socket_path(dir, socket_name)?;
        let listener = StdUnixListener::bind(&short.path).context("console socket")?;
        let reachable = match short.path.strip_prefix("/proc/self") {
            Ok(rest) => PathBuf::from(format!("/proc/{}", std::process::id())).join(rest),
            Err(_) => short.path.clone(),
        };
        s.console = Some((listener, path.clone(), short));
        return Ok((ChildIo::Console { path, reachable }, s));
    }
    let (out_r, out_w) = nix::unistd::pipe()?;
    let (err_r, err_w) = nix::unistd::pipe()?;
    s.outputs.push((STREAM_STDOUT, out_r));
    s.outputs.push((STREAM_STDERR, err_r));
    let child_stdin = if stdin {
        let (in_r, in_w) = nix::unistd::pipe()?;
        s.stdin = Some(in_w);
        in_r
    } else {
        OwnedFd::from(fs::File::open("/dev/null")?)
    };
    let io = ChildIo::Pipes {
        stdin: child_stdin,
        stdout: out_w,
        stderr: err_w,
    };
    Ok((io, s))
}

impl Stdio {
    /// After the runtime has made the process: receives the pty master it
    /// sent, if any.
    pub(super) fn finish(mut self) -> anyhow::Result<Stdio> {
        if let Some((listener, path, _short)) = self.console.take() {
            let (conn, _) = listener.accept().context("console socket accept")?;
            let fd = io::recv_fd(conn.as_raw_fd()).context("receiving the pty master")?;
            let _ = fs::remove_file(&path);
            self.stdin = Some(io::dup(&fd)?);
            self.outputs.push((STREAM_STDOUT, io::dup(&fd)?));
            self.master = Some(fd);
        }
        Ok(self)
    }
}
