//! The OCI runtime a shim drives: youki's libcontainer in the shim itself
//! (the built-in runtime, [`super::builtin`]), or a runtime binary speaking
//! runc's command line, named in `daemon.json` `runtimes` ([`super::external`]).
//!
//! Either way the shim stays the container's parent for what berth needs
//! of it: it holds the stdio, writes the log and reaps the exit statuses
//! (as a child subreaper, it inherits the init and exec'd processes an
//! external runtime leaves behind when it exits).

use std::path::Path;

use nix::sys::signal::Signal;
use serde_json::Value;

use super::stdio::ChildIo;

pub(crate) trait OciRuntime {
    /// Creates the container from its bundle, its init waiting to be
    /// started; returns init's pid.
    fn create(&mut self, io: ChildIo) -> anyhow::Result<i32>;
    /// Lets the created init run its process.
    fn start(&mut self) -> anyhow::Result<()>;
    /// Signals init, or with `all` every process of the container.
    fn kill(&mut self, sig: Signal, all: bool) -> anyhow::Result<()>;
    /// Freezes every process of the container (cgroup freezer).
    fn pause(&mut self) -> anyhow::Result<()>;
    fn resume(&mut self) -> anyhow::Result<()>;
    /// Runs `process` (an OCI `process` object) in the running container,
    /// written to `process_path` for the runtime; returns its pid.
    fn exec(&mut self, process: Value, process_path: &Path, io: ChildIo) -> anyhow::Result<i32>;
    /// Removes the runtime's state of the (stopped) container.
    fn delete(&mut self) -> anyhow::Result<()>;
}
