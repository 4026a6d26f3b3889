//! An OCI runtime binary with runc's command line (runc, crun), named in
//! `daemon.json` `runtimes`: `RUNTIME [runtimeArgs] --root R --log L
//! --log-format json VERB ...`, the grammar containerd's runc shim speaks.
//!
//! The runtime applies the spec as the engine wrote it, seccomp included;
//! the process stdio it is given (its own fds 0-2, or a console socket) is
//! passed through to the container's process. `create` and `exec --detach`
//! return once the process exists, leaving it to the shim, the subreaper.
//! Each call runs to completion before the shim goes on: the shim is
//! single-threaded and nothing else may reap the runtime's process.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{anyhow, bail, Context};
use nix::sys::signal::Signal;
use serde::Deserialize;
use serde_json::Value;

use super::oci::OciRuntime;
use super::stdio::ChildIo;
use crate::proto::{ExternalRuntime, ShimConfig};

pub(super) struct External {
    rt: ExternalRuntime,
    id: String,
    root: PathBuf,
    bundle: PathBuf,
    state_dir: PathBuf,
}

/// One line of the runtime's `--log-format json` log.
#[derive(Deserialize)]
struct LogLine {
    #[serde(default)]
    level: String,
    #[serde(default)]
    msg: String,
}

impl External {
    pub(super) fn new(cfg: &ShimConfig, rt: &ExternalRuntime) -> External {
        External {
            rt: rt.clone(),
            id: cfg.id.clone(),
            root: cfg.runtime_root.clone(),
            bundle: cfg.bundle.clone(),
            state_dir: cfg.state_dir.clone(),
        }
    }

    fn log_path(&self) -> PathBuf {
        self.state_dir.join("runtime.log")
    }

    fn command(&self, verb: &str) -> Command {
        let mut c = Command::new(&self.rt.path);
        c.args(&self.rt.args)
            .arg("--root")
            .arg(&self.root)
            .arg("--log")
            .arg(self.log_path())
            .arg("--log-format")
            .arg("json")
            .arg(verb);
        c.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        c
    }

    /// Runs `c` to its end; a failure carries the runtime's own words.
    fn run(&self, mut c: Command, verb: &str) -> anyhow::Result<()> {
        let _ = fs::remove_file(self.log_path());
        let out = c
            .output()
            .with_context(|| format!("running {} {verb}", self.rt.path.display()))?;
        if out.status.success() {
            return Ok(());
        }
        let logged = self.logged_error();
        let why = if !logged.is_empty() {
            logged
        } else {
            let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
            if stderr.is_empty() {
                format!("{} {verb}: {}", self.rt.name, out.status)
            } else {
                stderr
            }
        };
        bail!("{why}")
    }

    fn logged_error(&self) -> String {
        last_error(&fs::read_to_string(self.log_path()).unwrap_or_default())
    }

    /// `command`'s stdio set to the process's: with pipes, the runtime's
    /// own fds 0-2, which it passes through.
    fn with_io(c: &mut Command, io: ChildIo) {
        match io {
            ChildIo::Console { reachable, .. } => {
                // Nothing may keep the pipe `output` reads to its end: the
                // runtime's errors are in its log.
                c.arg("--console-socket")
                    .arg(reachable)
                    .stderr(Stdio::null());
            }
            ChildIo::Pipes {
                stdin,
                stdout,
                stderr,
            } => {
                c.stdin(Stdio::from(stdin))
                    .stdout(Stdio::from(stdout))
                    .stderr(Stdio::from(stderr));
            }
        }
    }

    fn read_pid(path: &Path) -> anyhow::Result<i32> {
        let text = fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
        let pid = text
            .trim()
            .parse()
            .map_err(|_| anyhow!("bad pid file {}: {text:?}", path.display()))?;
        let _ = fs::remove_file(path);
        Ok(pid)
    }
}

impl OciRuntime for External {
    fn create(&mut self, io: ChildIo) -> anyhow::Result<i32> {
        let pid_file = self.state_dir.join("init.pid");
        let mut c = self.command("create");
        c.arg("--bundle")
            .arg(&self.bundle)
            .arg("--pid-file")
            .arg(&pid_file);
        Self::with_io(&mut c, io);
        c.arg(&self.id);
        self.run(c, "create")?;
        Self::read_pid(&pid_file)
    }

    fn start(&mut self) -> anyhow::Result<()> {
        let mut c = self.command("start");
        c.arg(&self.id);
        self.run(c, "start")
    }

    fn kill(&mut self, sig: Signal, all: bool) -> anyhow::Result<()> {
        let mut c = self.command("kill");
        if all {
            c.arg("--all");
        }
        c.arg(&self.id).arg((sig as i32).to_string());
        self.run(c, "kill")
    }

    fn pause(&mut self) -> anyhow::Result<()> {
        let mut c = self.command("pause");
        c.arg(&self.id);
        self.run(c, "pause")
    }

    fn resume(&mut self) -> anyhow::Result<()> {
        let mut c = self.command("resume");
        c.arg(&self.id);
        self.run(c, "resume")
    }

    fn exec(&mut self, process: Value, process_path: &Path, io: ChildIo) -> anyhow::Result<i32> {
        fs::write(process_path, serde_json::to_vec(&process)?)?;
        let pid_file = process_path.with_extension("pid");
        let mut c = self.command("exec");
        c.arg("--process")
            .arg(process_path)
            .arg("--pid-file")
            .arg(&pid_file)
            .arg("--detach");
        Self::with_io(&mut c, io);
        c.arg(&self.id);
        let result = self.run(c, "exec");
        let _ = fs::remove_file(process_path);
        result?;
        Self::read_pid(&pid_file)
    }

    fn delete(&mut self) -> anyhow::Result<()> {
        let mut c = self.command("delete");
        c.arg("--force").arg(&self.id);
        self.run(c, "delete")
    }
}

/// The last error in a runtime's JSON log, without runc's words up to the
/// cause (`runc create failed: unable to start container process: `), so
/// the engine words it as it words the built-in runtime's.
fn last_error(log: &str) -> String {
    let last = log
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<LogLine>(l).ok())
        .find(|l| l.level == "error" || l.level == "fatal")
        .map(|l| l.msg)
        .unwrap_or_default();
    match last.rsplit_once("unable to start container process: ") {
        Some((_, cause)) => cause.to_string(),
        None => last,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_cause_of_the_last_logged_error() {
        let log = concat!(
            r#"{"level":"debug","msg":"nsexec-0[1]: ok","time":"t"}"#,
            "\n",
            r#"{"level":"error","msg":"runc create failed: unable to start container process: exec: \"nope\": executable file not found in $PATH","time":"t"}"#,
            "\nnot json\n",
        );
        assert_eq!(
            super::last_error(log),
            r#"exec: "nope": executable file not found in $PATH"#
        );
        let log = r#"{"level":"error","msg":"container not running"}"#;
        assert_eq!(super::last_error(log), "container not running");
        assert_eq!(super::last_error(""), "");
    }
}
