//! berthd as a process: start-up refusals with their messages, and the
//! signals (SIGUSR1 dump, SIGHUP reload, SIGTERM shutdown). Real binary,
//! real sockets; root is needed for the data root under /tmp only.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BERTHD: &str = env!("CARGO_BIN_EXE_berthd");

fn dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("berthd-t")
        .tempdir_in("/tmp")
        .unwrap()
}

fn berthd(d: &Path, name: &str, extra: &[&str]) -> Command {
    let mut c = Command::new(BERTHD);
    c.args(["--data-root", d.join("root").to_str().unwrap()])
        .args([
            "--exec-root",
            d.join(format!("exec-{name}")).to_str().unwrap(),
        ])
        .args([
            "-H",
            &format!("unix://{}", d.join(format!("{name}.sock")).display()),
        ])
        .args(["--pidfile", d.join(format!("{name}.pid")).to_str().unwrap()])
        .args(["--config-file", d.join("daemon.json").to_str().unwrap()])
        .args(["--shim-binary", "/bin/true"])
        .args(extra);
    c
}

fn ping(sock: &Path) -> bool {
    let Ok(mut s) = UnixStream::connect(sock) else {
        return false;
    };
    let _ = s.write_all(b"GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.starts_with("HTTP/1.1 200") && out.ends_with("OK")
}

/// Stops the daemon when a test ends, pass or fail, so none is left running.
/// SIGTERM first: these daemons run in the host's network namespace with the
/// default bridge, and only a daemon that shuts down removes its link and
/// its nftables table (`berth-<digest>`); a SIGKILL left both behind.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(self.0.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(d: &Path, name: &str) -> Running {
    let log = std::fs::File::create(d.join(format!("{name}.log"))).unwrap();
    let child = Running(
        berthd(d, name, &[])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ping(&d.join(format!("{name}.sock"))) {
        assert!(
            Instant::now() < deadline,
            "berthd did not answer: {}",
            std::fs::read_to_string(d.join(format!("{name}.log"))).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn wait_log(d: &Path, name: &str, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let log = std::fs::read_to_string(d.join(format!("{name}.log"))).unwrap_or_default();
        if log.contains(needle) {
            return log;
        }
        assert!(Instant::now() < deadline, "log lacks {needle:?}:\n{log}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(c: &Running, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(c.0.id() as i32), sig).unwrap();
}

#[test]
fn a_second_daemon_on_the_same_data_root_is_refused() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("SKIPPED: needs root");
        return;
    }
    let d = dir();
    let mut first = start(d.path(), "a");
    let out = berthd(d.path(), "b", &[]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "another berthd (pid {}) is already using data root",
            first.0.id()
        )),
        "{err}"
    );
    assert!(
        !d.path().join("b.sock").exists(),
        "the refused daemon must not listen"
    );
    assert!(
        ping(&d.path().join("a.sock")),
        "the first daemon keeps serving"
    );
    signal(&first, nix::sys::signal::Signal::SIGTERM);
    assert!(first.0.wait().unwrap().success());
    assert!(
        !d.path().join("a.sock").exists() && !d.path().join("a.pid").exists(),
        "socket and pidfile removed"
    );
}

#[test]
fn flag_and_file_conflicts_are_refused_as_dockerd_words_them() {
    let d = dir();
    std::fs::write(
        d.path().join("daemon.json"),
        r#"{"hosts": ["unix:///tmp/other.sock"]}"#,
    )
    .unwrap();
    let out = berthd(d.path(), "a", &[]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the following directives are specified both as a flag and in the configuration file: hosts:"), "{err}");
    std::fs::write(d.path().join("daemon.json"), r#"{"no-such-option": true}"#).unwrap();
    let err =
        String::from_utf8_lossy(&berthd(d.path(), "a", &[]).output().unwrap().stderr).to_string();
    assert!(
        err.contains(
            "the following directives don't match any configuration option: no-such-option"
        ),
        "{err}"
    );
    std::fs::write(d.path().join("daemon.json"), "{not json").unwrap();
    let err =
        String::from_utf8_lossy(&berthd(d.path(), "a", &[]).output().unwrap().stderr).to_string();
    assert!(
        err.contains("unable to configure the daemon with file"),
        "{err}"
    );
    assert!(
        !d.path().join("root").exists(),
        "nothing is created when the configuration is refused"
    );
}

#[test]
fn signals_dump_reload_and_stop() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("SKIPPED: needs root");
        return;
    }
    let d = dir();
    let mut c = start(d.path(), "a");
    signal(&c, nix::sys::signal::Signal::SIGUSR1);
    wait_log(d.path(), "a", "=== END state dump ===");
    std::fs::write(
        d.path().join("daemon.json"),
        r#"{"debug": true, "labels": ["tier=test"]}"#,
    )
    .unwrap();
    signal(&c, nix::sys::signal::Signal::SIGHUP);
    wait_log(
        d.path(),
        "a",
        "reloaded configuration debug=true log_level=debug labels=[\"tier=test\"]",
    );
    signal(&c, nix::sys::signal::Signal::SIGTERM);
    assert!(c.0.wait().unwrap().success());
    wait_log(d.path(), "a", "daemon shutdown complete");
}

#[test]
fn storage_drivers_by_flag_and_file() {
    let d = dir();
    std::fs::write(d.path().join("daemon.json"), "{}").unwrap();
    let out = berthd(d.path(), "a", &["--storage-driver", "aufs"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("storage driver \"aufs\" is not supported (supported: overlay2, vfs)"),
        "{err}"
    );
    assert!(
        !d.path().join("root").exists(),
        "a refused start made the data root"
    );
    // `storage-driver: vfs` in daemon.json: the daemon says so in /info.
    std::fs::write(d.path().join("daemon.json"), r#"{"storage-driver": "vfs"}"#).unwrap();
    let _daemon = start(d.path(), "a");
    let mut s = UnixStream::connect(d.path().join("a.sock")).unwrap();
    s.write_all(b"GET /info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.contains("\"Driver\":\"vfs\""), "{out}");
}
