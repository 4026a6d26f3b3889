//! A process's stdio for libcontainer, shared by the container's init and
//! exec'd processes: pipes (stdout, stderr, and stdin when asked), or a pty
//! whose master libcontainer sends over a console socket.

use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener as StdUnixListener;
use std::path::{Path, PathBuf};

use anyhow::Context;
use libcontainer::container::builder::ContainerBuilder;

use super::io;
use crate::proto::{STREAM_STDERR, STREAM_STDOUT};

/// Our ends of the process's stdio, once it runs.
pub(super) struct Stdio {
    /// Output streams to read: stdout and stderr pipes, or the pty master as stdout.
    pub outputs: Vec<(u8, OwnedFd)>,
    /// Where input goes: a pipe's write end or a dup of the pty master.
    pub stdin: Option<OwnedFd>,
    /// The pty master, for resizes.
    pub master: Option<OwnedFd>,
    console: Option<(StdUnixListener, PathBuf)>,
}

/// Wires the builder's stdio; `socket_name` names the console socket in `dir`.
pub(super) fn wire(
    builder: ContainerBuilder,
    tty: bool,
    stdin: bool,
    dir: &Path,
    socket_name: &str,
) -> anyhow::Result<(ContainerBuilder, Stdio)> {
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
        s.console = Some((listener, path.clone()));
        return Ok((builder.with_console_socket(Some(&path)), s));
    }
    let (out_r, out_w) = nix::unistd::pipe()?;
    let (err_r, err_w) = nix::unistd::pipe()?;
    let mut builder = builder.with_stdout(out_w).with_stderr(err_w);
    s.outputs.push((STREAM_STDOUT, out_r));
    s.outputs.push((STREAM_STDERR, err_r));
    if stdin {
        let (in_r, in_w) = nix::unistd::pipe()?;
        builder = builder.with_stdin(in_r);
        s.stdin = Some(in_w);
    } else {
        builder = builder.with_stdin(OwnedFd::from(fs::File::open("/dev/null")?));
    }
    Ok((builder, s))
}

impl Stdio {
    /// After the build: receives the pty master libcontainer sent, if any.
    pub(super) fn finish(mut self) -> anyhow::Result<Stdio> {
        if let Some((listener, path)) = self.console.take() {
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
