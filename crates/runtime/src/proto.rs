//! The shim's protocol over its unix socket (`<state_dir>/shim.sock`).
//!
//! Each connection starts with one JSON [`Request`] line and gets one JSON
//! [`Response`] line. `Attach` then turns the connection into a stream: the
//! shim sends output as Docker's stdcopy frames (`[stream, 0, 0, 0, len u32
//! BE] payload`; stream 1 = stdout, 2 = stderr, always 1 with a TTY) and reads
//! raw stdin bytes; the peer's write half-close is stdin EOF.
//!
//! Hand-written because it is a dozen lines of framing between two of our own
//! processes; a general RPC crate would add more than it saves.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// What the daemon hands the shim, as JSON in `<state_dir>/shim.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ShimConfig {
    pub id: String,
    /// Holds `config.json`.
    pub bundle: PathBuf,
    /// Per-container runtime dir: `shim.sock`, `exit.json`, `netns`, ...
    pub state_dir: PathBuf,
    /// The runtime's state root: libcontainer's, or the external
    /// runtime's `--root`.
    pub runtime_root: PathBuf,
    /// json-file log; `None` when the log driver is `none`.
    pub log_path: Option<PathBuf>,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    /// Make a fresh network namespace with `lo` up at `<state_dir>/netns`.
    pub new_netns: bool,
    /// The log driver and what it needs; `log_path` above is the file the
    /// shim keeps for `docker logs` (json-file, local, or the dual-logging
    /// cache of a remote driver).
    #[serde(default)]
    pub log: LogSpec,
    /// Where compiled seccomp programs are kept, shared by every shim of
    /// the daemon; `None`: compile in memory only.
    #[serde(default)]
    pub seccomp_cache: Option<PathBuf>,
    /// The OCI runtime binary to run the container with; `None`: the
    /// built-in one (libcontainer in the shim). `runtime_root` is then
    /// that runtime's `--root`.
    #[serde(default)]
    pub runtime: Option<ExternalRuntime>,
}

/// The name of the built-in runtime (libcontainer in the shim), as
/// `HostConfig.Runtime` and `/info` name it. Not `runc`: `--runtime runc`
/// means the real runc, as with dockerd.
pub const BUILTIN_RUNTIME: &str = "berth";

/// An OCI runtime binary speaking runc's command line, from `daemon.json`
/// `runtimes` or `--add-runtime` (dockerd's `path` and `runtimeArgs`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExternalRuntime {
    /// The name containers choose it by (`--runtime NAME`).
    pub name: String,
    pub path: PathBuf,
    /// Global flags put before the command (`runtimeArgs`).
    #[serde(default)]
    pub args: Vec<String>,
}

/// A container's log driver, checked and filled in by the engine.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct LogSpec {
    /// `json-file`, `local`, `none`, `syslog`, `journald`, `fluentd`, `gelf`.
    pub driver: String,
    /// `--log-opt`s as given (already validated).
    pub opts: std::collections::BTreeMap<String, String>,
    /// The rendered `tag` template.
    pub tag: String,
    /// Extra attributes from `labels`/`env` options.
    pub attrs: std::collections::BTreeMap<String, String>,
    pub container_name: String,
    pub image_id: String,
    pub image_name: String,
    pub command: String,
    pub created: String,
    /// `max-size`/`max-file`/`compress` for the file the shim writes
    /// (json-file's own, or local/cache defaults).
    pub file_max_size: Option<u64>,
    pub file_max_count: u32,
    pub file_compress: bool,
    /// `max-buffer-size` in bytes (non-blocking mode).
    pub max_buffer_size: Option<u64>,
}

/// The line the shim prints once it has made the container's network
/// namespace, before its `ok <pid>` or `error: ...` report.
pub const NETNS_READY: &str = "netns";

impl ShimConfig {
    pub fn socket_path(state_dir: &Path) -> PathBuf {
        state_dir.join("shim.sock")
    }
    pub fn exit_path(state_dir: &Path) -> PathBuf {
        state_dir.join("exit.json")
    }
    pub fn netns_path(state_dir: &Path) -> PathBuf {
        state_dir.join("netns")
    }
    pub fn config_path(state_dir: &Path) -> PathBuf {
        state_dir.join("shim.json")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Run the created container's process.
    Start,
    /// Stream output (and take stdin when `stdin` is set).
    Attach { stdin: bool },
    /// Answer when the process has exited.
    Wait,
    /// Send a signal to the container's init (or every process with `all`).
    Kill { signal: i32, all: bool },
    /// Set the TTY's window size.
    Resize { height: u16, width: u16 },
    /// Current status.
    State,
    /// Freeze every process of the container (cgroup freezer).
    Pause,
    /// Thaw it.
    Resume,
    /// Run another process in the container (`docker exec`). The
    /// connection then streams like `Attach` and ends with an
    /// [`STREAM_EXIT`] frame carrying the exit code.
    Exec(ExecSpec),
    /// Resize an exec's TTY.
    ResizeExec {
        exec_id: String,
        height: u16,
        width: u16,
    },
}

/// A process to run inside a running container.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExecSpec {
    pub exec_id: String,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    #[serde(default)]
    pub additional_gids: Vec<u32>,
    pub tty: bool,
    pub stdin: bool,
    /// Capabilities; `None` keeps the container's.
    #[serde(default)]
    pub capabilities: Option<Vec<String>>,
    #[serde(default)]
    pub console_size: Option<(u16, u16)>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Response {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<ExitInfo>,
}

/// How the process ended; written to `exit.json` too, so a daemon that was
/// down when it happened still learns it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExitInfo {
    /// Exit status, or 128 + signal number when killed by a signal.
    pub exit_code: i32,
    /// RFC 3339 with nanoseconds.
    pub finished_at: String,
    #[serde(default)]
    pub oom_killed: bool,
}

/// A unix socket path that fits `sun_path` (108 bytes) however deep its
/// directory is: a long one goes through `/proc/self/fd/N/NAME` of an
/// `O_PATH` handle on the directory, which lives as long as this value, so
/// keep it until the bind or connect is done.
pub struct SocketPath {
    pub path: PathBuf,
    _dir: Option<std::fs::File>,
}

pub fn socket_path(dir: &Path, name: &str) -> std::io::Result<SocketPath> {
    let full = dir.join(name);
    if full.as_os_str().len() < 100 {
        return Ok(SocketPath {
            path: full,
            _dir: None,
        });
    }
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let handle = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
        .open(dir)?;
    let path = PathBuf::from(format!("/proc/self/fd/{}/{name}", handle.as_raw_fd()));
    Ok(SocketPath {
        path,
        _dir: Some(handle),
    })
}

/// The last frame of an exec stream: its payload is the exit code, in decimal.
pub const STREAM_EXIT: u8 = 255;
pub const STREAM_STDOUT: u8 = 1;
pub const STREAM_STDERR: u8 = 2;

/// The 8-byte stdcopy header for a frame of `len` bytes.
pub fn frame_header(stream: u8, len: usize) -> [u8; 8] {
    let l = (len as u32).to_be_bytes();
    [stream, 0, 0, 0, l[0], l[1], l[2], l[3]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_paths_fit_however_deep_the_dir() {
        let tmp = std::env::temp_dir().join(format!("berth-sock-{}", std::process::id()));
        let deep = tmp.join("a".repeat(60)).join("b".repeat(60));
        std::fs::create_dir_all(&deep).unwrap();
        let sp = socket_path(&deep, "shim.sock").unwrap();
        assert!(
            sp.path.starts_with("/proc/self/fd"),
            "{}",
            sp.path.display()
        );
        let listener = std::os::unix::net::UnixListener::bind(&sp.path).unwrap();
        assert!(deep.join("shim.sock").exists());
        let again = socket_path(&deep, "shim.sock").unwrap();
        std::os::unix::net::UnixStream::connect(&again.path).unwrap();
        drop(listener);
        let short = socket_path(&tmp, "x.sock").unwrap();
        assert_eq!(short.path, tmp.join("x.sock"));
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
