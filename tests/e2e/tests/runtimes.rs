//! `--runtime NAME`: a container run by the OCI runtime binary the daemon
//! knows by that name (`runc` always, others from `daemon.json`
//! `runtimes` or `--add-runtime`), as dockerd runs it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use berth_e2e::Daemon;

/// A `daemon.json` naming `myrunc` (the host's runc, with a runtime arg)
/// and the daemon started with it.
fn daemon() -> (Daemon, ConfigFile) {
    daemon_with("")
}

/// [`daemon`], with more `daemon.json` keys (`"key": value, `).
fn daemon_with(keys: &str) -> (Daemon, ConfigFile) {
    let file = std::env::temp_dir().join(format!(
        "berth-e2e-runtimes-{}-{}.json",
        std::process::id(),
        berth_e2e::test_name()
    ));
    std::fs::write(
        &file,
        format!(
            r#"{{{keys}"runtimes": {{"myrunc": {{"path": "/usr/bin/runc", "runtimeArgs": ["--debug"]}}}}}}"#
        ),
    )
    .unwrap();
    let d = Daemon::start_with(
        &["--config-file".into(), file.display().to_string()],
        |_| {},
    );
    (d, ConfigFile(file))
}

/// The test's `daemon.json` (read again at each daemon restart), removed
/// when the test ends, passed or not.
struct ConfigFile(PathBuf);

impl Drop for ConfigFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// What the real runc says of container `id` (`running`, `paused`, ...),
/// from the state root the daemon gave the runtime named `runtime`: berthd
/// keeps `<exec-root>/runtime-NAME`; dockerd 20.10 gives every runtime
/// `<exec-root>/runtime-runc`, where containerd adds a `moby` folder.
fn runc_status(d: &Daemon, runtime: &str, id: &str) -> Option<String> {
    let root = if d.is_dockerd() {
        d.exec_root.join("runtime-runc").join("moby")
    } else {
        d.exec_root.join(format!("runtime-{runtime}"))
    };
    std::iter::once(root)
        .filter(|root| root.join(id).exists())
        .find_map(|root| {
            let out = Command::new("runc")
                .arg("--root")
                .arg(root)
                .args(["state", id])
                .output()
                .ok()?;
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
            Some(v["status"].as_str()?.to_string())
        })
}

fn wait_inspect(d: &Daemon, name: &str, template: &str, want: &str, secs: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let got = d.inspect(name, template);
        if got == want || Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `memory.limit_in_bytes` of the cgroup v1 memory hierarchy `pid` is in.
fn memory_limit(pid: i32) -> Option<u64> {
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let path = cgroups
        .lines()
        .find_map(|l| l.split_once(":memory:").map(|(_, p)| p.to_string()))?;
    let file = format!("/sys/fs/cgroup/memory{path}/memory.limit_in_bytes");
    std::fs::read_to_string(file).ok()?.trim().parse().ok()
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

#[test]
fn run_exec_pause_stop_under_runc() {
    let (d, _file) = daemon();
    foreground_runs(&d);
    let id = run_detached(&d);
    exec_with_pipes_and_a_tty(&d);
    pause_unpause(&d, &id);
    stop_restart_rm(&d, &id);
    a_restart_policy_brings_it_back(&d);
}

/// Foreground: output, exit code, stdin, a tty; by both names; the spec's
/// seccomp profile; a missing command.
fn foreground_runs(d: &Daemon) {
    // Foreground: output, exit code, stdin, a tty; by both names.
    for cli in d.clis() {
        d.run(
            cli,
            &["run", "--rm", "--runtime", "runc", "busybox", "echo", "hi"],
        )
        .ok()
        .stdout_is("hi\n");
    }
    d.docker(&[
        "run",
        "--rm",
        "--runtime",
        "myrunc",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ])
    .code_is(3)
    .stdout_is("out\n")
    .stderr_has("err\n");
    d.docker_stdin(
        &[
            "run",
            "--rm",
            "-i",
            "--runtime",
            "runc",
            "busybox",
            "tr",
            "a-z",
            "A-Z",
        ],
        b"shout\n",
    )
    .ok()
    .stdout_is("SHOUT\n");
    d.docker(&[
        "run",
        "--rm",
        "-t",
        "--runtime",
        "runc",
        "busybox",
        "sh",
        "-c",
        "test -t 1 && echo tty",
    ])
    .ok()
    .stdout_is("tty\r\n");
    // The spec's seccomp profile, applied by runc itself.
    d.docker(&[
        "run",
        "--rm",
        "--runtime",
        "runc",
        "busybox",
        "grep",
        "Seccomp:",
        "/proc/self/status",
    ])
    .ok()
    .stdout_is("Seccomp:\t2\n");
    // A missing command: runc's words and 127, as dockerd.
    d.docker(&[
        "run",
        "--rm",
        "--runtime",
        "runc",
        "busybox",
        "/nonexistent",
    ])
    .code_is(127)
    .stderr_has("/nonexistent: no such file or directory");
}

/// Detached: the real runc holds it, with its cgroup's limit. Returns its ID.
fn run_detached(d: &Daemon) -> String {
    // Detached: the real runc holds it.
    let o = d.docker(&[
        "run",
        "-d",
        "--name",
        "r1",
        "--runtime",
        "myrunc",
        "-m",
        "64m",
        "busybox",
        "sh",
        "-c",
        "echo started; exec sleep 1000",
    ]);
    o.ok();
    let id = o.stdout.trim().to_string();
    assert_eq!(d.inspect("r1", "{{.HostConfig.Runtime}}"), "myrunc");
    assert_eq!(runc_status(d, "myrunc", &id).as_deref(), Some("running"));
    d.docker(&["ps", "--format", "{{.Names}} {{.State}}"])
        .ok()
        .stdout_is("r1 running\n");
    d.docker(&["logs", "r1"]).ok().stdout_is("started\n");
    // Its cgroup (the spec's cgroupsPath, made by runc) has the limit.
    let pid: i32 = d.inspect("r1", "{{.State.Pid}}").parse().unwrap();
    assert_eq!(memory_limit(pid), Some(64 << 20));
    id
}

/// exec, with pipes and a tty; a missing binary as dockerd words it.
fn exec_with_pipes_and_a_tty(d: &Daemon) {
    d.docker(&[
        "exec",
        "r1",
        "sh",
        "-c",
        "tr '\\0' ' ' < /proc/1/cmdline; echo; exit 4",
    ])
    .code_is(4)
    .stdout_is("sleep 1000 \n");
    d.docker(&["exec", "-t", "r1", "sh", "-c", "test -t 0 && echo tty"])
        .ok()
        .stdout_is("tty\r\n");
    d.docker(&["exec", "r1", "nope"]).code_is(126).stdout_has(
        "OCI runtime exec failed: exec failed: unable to start container process: exec: \"nope\": executable file not found in $PATH: unknown",
    );
}

/// pause / unpause through the runtime.
fn pause_unpause(d: &Daemon, id: &str) {
    d.docker(&["pause", "r1"]).ok();
    assert_eq!(d.inspect("r1", "{{.State.Status}}"), "paused");
    assert_eq!(runc_status(d, "myrunc", id).as_deref(), Some("paused"));
    d.docker(&["unpause", "r1"]).ok();
    assert_eq!(runc_status(d, "myrunc", id).as_deref(), Some("running"));
}

/// stop (sleep as pid 1 ignores SIGTERM: killed), restart, rm.
fn stop_restart_rm(d: &Daemon, id: &str) {
    d.docker(&["stop", "-t", "1", "r1"]).ok().stdout_is("r1\n");
    assert_eq!(
        d.inspect("r1", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 137"
    );
    assert_eq!(runc_status(d, "myrunc", id), None);
    d.docker(&["restart", "-t", "0", "r1"]).ok();
    assert_eq!(d.inspect("r1", "{{.State.Status}}"), "running");
    assert_eq!(runc_status(d, "myrunc", id).as_deref(), Some("running"));
    d.docker(&["rm", "-f", "r1"]).ok();
    assert_eq!(runc_status(d, "myrunc", id), None);
}

/// A restart policy brings it back under runc.
fn a_restart_policy_brings_it_back(d: &Daemon) {
    d.docker(&[
        "run",
        "-d",
        "--restart",
        "on-failure:2",
        "--name",
        "rp",
        "--runtime",
        "runc",
        "busybox",
        "sh",
        "-c",
        "exit 1",
    ])
    .ok();
    assert_eq!(
        wait_inspect(
            d,
            "rp",
            "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}",
            "2 exited 1",
            20
        ),
        "2 exited 1"
    );
    d.docker(&["rm", "-f", "rp"]).ok();
}

#[test]
fn unknown_runtimes_are_refused_and_info_lists_them() {
    let (d, _file) = daemon();
    let r = d.post_json(
        "/containers/create",
        r#"{"Image": "busybox", "HostConfig": {"Runtime": "nope"}}"#,
    );
    r.status_is(400);
    // dockerd 20.10 words it as it did before API 1.45; berthd as the
    // dockerd of its API version (1.47) does.
    let want = if d.is_dockerd() {
        "Unknown runtime specified nope"
    } else {
        "unknown or invalid runtime name: nope"
    };
    assert_eq!(r.message(), want);
    d.docker(&["run", "--rm", "--runtime", "nope", "busybox", "true"])
        .code_is(125)
        .stderr_has(want);
    // Nothing was made.
    d.docker(&["ps", "-aq"]).ok().stdout_is("");

    let info = d.get("/info").json();
    assert_eq!(info["Runtimes"]["runc"]["path"], "runc");
    assert_eq!(info["Runtimes"]["myrunc"]["path"], "/usr/bin/runc");
    // The default is dockerd's runc there, berth's own runtime here (what
    // berth always ran containers with).
    let default = if d.is_dockerd() { "runc" } else { "berth" };
    assert_eq!(info["DefaultRuntime"], default);
    d.docker(&["create", "--name", "cd", "busybox", "true"])
        .ok();
    assert_eq!(d.inspect("cd", "{{.HostConfig.Runtime}}"), default);
    d.docker(&["rm", "cd"]).ok();
    d.docker(&["info", "--format", "{{json .Runtimes.myrunc}}"])
        .ok()
        .stdout_is("{\"path\":\"/usr/bin/runc\",\"runtimeArgs\":[\"--debug\"]}\n");
}

#[test]
fn a_runc_container_survives_a_daemon_crash() {
    let (mut d, _file) = daemon();
    let o = d.docker(&[
        "run",
        "-d",
        "--name",
        "lr",
        "--runtime",
        "runc",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 0' TERM; while true; do echo tick; sleep 0.2; done",
    ]);
    o.ok();
    let id = o.stdout.trim().to_string();
    let pid: i32 = d.inspect("lr", "{{.State.Pid}}").parse().unwrap();
    d.kill9();
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        alive(pid),
        "the container's process {pid} died with the daemon"
    );
    d.restart();
    assert_eq!(
        d.inspect("lr", "{{.State.Status}} {{.State.Pid}}"),
        format!("running {pid}")
    );
    assert_eq!(runc_status(&d, "runc", &id).as_deref(), Some("running"));
    d.docker(&["exec", "lr", "echo", "adopted"])
        .ok()
        .stdout_is("adopted\n");
    d.docker(&["stop", "lr"]).ok();
    assert_eq!(
        d.inspect("lr", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 0"
    );
    assert!(!alive(pid));

    // A daemon stop without live restore stops it. The harness always runs
    // dockerd with --live-restore (to survive the crash above), so only
    // berthd, run without it, is checked here.
    if !d.is_dockerd() {
        d.docker(&["start", "lr"]).ok();
        let pid: i32 = d.inspect("lr", "{{.State.Pid}}").parse().unwrap();
        d.stop();
        assert!(!alive(pid), "the container outlived a daemon stop");
        assert_eq!(runc_status(&d, "runc", &id), None);
        d.restart();
        assert_eq!(d.inspect("lr", "{{.State.Status}}"), "exited");
    }
    d.docker(&["rm", "-f", "lr"]).ok();
}

/// crun is judged only where it runs: on a hybrid cgroup layout (v1
/// controllers with a unified hierarchy beside them, as this CI host has)
/// it refuses every container, under dockerd as under berthd.
#[test]
fn crun_runs_or_says_why_not() {
    if !Path::new("/usr/bin/crun").exists() {
        eprintln!("SKIPPED: no crun");
        return;
    }
    let d = Daemon::start_with(
        &["--add-runtime".into(), "crun=/usr/bin/crun".into()],
        |_| {},
    );
    let o = d.docker(&["run", "--rm", "--runtime", "crun", "busybox", "echo", "hi"]);
    if o.code == Some(0) {
        o.stdout_is("hi\n");
    } else {
        o.code_is(125)
            .stderr_has("cgroups in hybrid mode not supported, drop all controllers from cgroupv2");
    }
}

#[test]
fn run_it_under_runc() {
    let (d, _file) = daemon();
    let mut t = d.pty(
        berth_e2e::Cli::Docker,
        &[
            "run",
            "-it",
            "--rm",
            "--name",
            "it",
            "--runtime",
            "runc",
            "busybox",
            "sh",
        ],
        33,
        101,
    );
    let step = |t: &mut berth_e2e::Pty, what: &str| {
        if let Err(e) = t.expect(what, Duration::from_secs(30)) {
            panic!(
                "{e}\n--- daemon log:\n{}",
                berth_e2e::cmd::log_tail(&d.log, 40)
            );
        }
    };
    step(&mut t, "/ # ");
    let id = d.inspect("it", "{{.Id}}");
    assert_eq!(runc_status(&d, "runc", &id).as_deref(), Some("running"));
    t.send(b"tty; stty size\r").unwrap();
    step(&mut t, "/dev/pts/0\r\n33 101\r\n/ # ");
    t.send(b"exit 5\r").unwrap();
    let st = t.wait(Duration::from_secs(15));
    assert_eq!(st.and_then(|s| s.code()), Some(5), "{}", t.transcript());
}

#[test]
fn default_runtime_runs_what_names_none() {
    let (d, _file) = daemon_with(r#""default-runtime": "myrunc", "#);
    assert_eq!(d.get("/info").json()["DefaultRuntime"], "myrunc");
    let o = d.docker(&["run", "-d", "--name", "dr", "busybox", "sleep", "1000"]);
    o.ok();
    let id = o.stdout.trim().to_string();
    assert_eq!(d.inspect("dr", "{{.HostConfig.Runtime}}"), "myrunc");
    assert_eq!(runc_status(&d, "myrunc", &id).as_deref(), Some("running"));
    d.docker(&["rm", "-f", "dr"]).ok();
}
