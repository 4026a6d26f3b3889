//! Container lifecycle as a docker user types it.

use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::Duration;

use berth_e2e::{columns, is_hex64, Cli, Daemon};

#[test]
fn run_rm_echo_prints_hi_with_every_cli() {
    let d = Daemon::start();
    for cli in d.clis() {
        let o = d.run(cli, &["run", "--rm", "busybox", "echo", "hi"]);
        o.ok().stdout_is("hi\n");
        if !o.stderr.is_empty() {
            o.fail("docker run --rm printed on stderr");
        }
    }
    // --rm really removed them.
    d.docker(&["ps", "-a", "-q"]).ok().stdout_is("");
}

#[test]
fn run_propagates_exit_code_and_stdin() {
    let d = Daemon::start();
    d.docker(&["run", "--rm", "busybox", "sh", "-c", "exit 3"])
        .code_is(3);
    let o = d.docker_stdin(
        &["run", "--rm", "-i", "busybox", "tr", "a-z", "A-Z"],
        b"shout\n",
    );
    o.ok().stdout_is("SHOUT\n");
    // A command that does not exist in the image: 127 from the runtime, as docker.
    let o = d.docker(&["run", "--rm", "busybox", "/nonexistent"]);
    o.code_is(127);
}

#[test]
fn detached_ps_inspect_stop_rm() {
    let d = Daemon::start();
    let o = d.docker(&["run", "-d", "--name", "web", "busybox", "sleep", "1000"]);
    o.ok();
    let id = o.stdout.trim_end().to_string();
    if !is_hex64(&id) || o.stdout != format!("{id}\n") {
        o.fail("docker run -d must print the full container ID and a newline");
    }

    // docker ps: the header and one row, in docker's columns.
    let ps = d.docker(&["ps"]);
    ps.ok();
    let lines = ps.lines();
    if lines.len() != 2 {
        ps.fail("docker ps must show a header and exactly one row");
    }
    assert_eq!(
        columns(lines[0]),
        [
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES"
        ],
        "{ps}"
    );
    let row = columns(lines[1]);
    assert_eq!(row[0], id[..12], "{ps}");
    assert_eq!(row[1], "busybox", "{ps}");
    assert_eq!(row[2], "\"sleep 1000\"", "{ps}");
    assert!(row[4].starts_with("Up "), "status column: {ps}");
    assert_eq!(row.last().map(String::as_str), Some("web"), "{ps}");
    // Same through the old CLI, with a template.
    d.docker20(&["ps", "--format", "{{.Names}} {{.Image}} {{.Command}}"])
        .ok()
        .stdout_is("web busybox \"sleep 1000\"\n");

    // State.Pid is a real host process running the command.
    let pid: i32 = d
        .inspect("web", "{{.State.Pid}}")
        .parse()
        .expect("State.Pid is a number");
    assert!(pid > 1, "State.Pid {pid}");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).expect("State.Pid is alive");
    assert_eq!(cmdline, b"sleep\x001000\x00", "the process at State.Pid");
    assert_eq!(
        d.inspect("web", "{{.State.Status}} {{.State.Running}}"),
        "running true"
    );

    // `docker stop web`: sleep ignores SIGTERM as pid 1, so after the
    // 10s grace period it is killed: 137.
    d.docker(&["stop", "web"]).ok().stdout_is("web\n");
    assert_eq!(
        d.inspect(
            "web",
            "{{.State.Status}} {{.State.Running}} {{.State.ExitCode}} {{.State.Pid}}"
        ),
        "exited false 137 0"
    );
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the container's process {pid} is still there after stop"
    );
    d.docker(&["ps", "-q"]).ok().stdout_is("");
    d.docker(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"])
        .ok()
        .stdout_has("web Exited (137)");
    d.docker(&["rm", "web"]).ok().stdout_is("web\n");
    d.docker(&["ps", "-a", "-q"]).ok().stdout_is("");
    let o = d.docker(&["inspect", "web"]);
    o.code_is(1).stderr_has("No such object: web");
}

#[test]
fn stop_with_timeout_and_start_again() {
    let d = Daemon::start();
    d.docker(&[
        "create",
        "--name",
        "c1",
        "busybox",
        "sh",
        "-c",
        "echo run; sleep 1000",
    ])
    .ok();
    assert_eq!(d.inspect("c1", "{{.State.Status}}"), "created");
    d.docker(&["start", "c1"]).ok().stdout_is("c1\n");
    assert_eq!(d.inspect("c1", "{{.State.Status}}"), "running");
    d.docker(&["stop", "-t", "1", "c1"]).ok().stdout_is("c1\n");
    d.docker(&["start", "c1"]).ok().stdout_is("c1\n");
    d.docker(&["kill", "c1"]).ok().stdout_is("c1\n");
    assert_eq!(
        d.inspect("c1", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 137"
    );
    // Both runs logged.
    d.docker(&["logs", "c1"]).ok().stdout_is("run\nrun\n");
    d.docker(&["rm", "c1"]).ok().stdout_is("c1\n");
}

#[test]
fn logs_follow_streams_until_the_container_stops() {
    let d = Daemon::start();
    d.docker(&[
        "run",
        "-d",
        "--name",
        "web",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 0' TERM; i=0; while true; do echo line $i; i=$((i+1)); sleep 0.2; done",
    ])
    .ok();
    let mut child = d.spawn_cli(Cli::Docker, &["logs", "-f", "web"]);
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines() {
            let Ok(l) = l else { break };
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let mut got = Vec::new();
    while got.len() < 5 {
        match rx.recv_timeout(Duration::from_secs(15)) {
            Ok(l) => got.push(l),
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "docker logs -f web: no new line within 15s; got so far {got:?}\n--- daemon log:\n{}",
                    berth_e2e::cmd::log_tail(&d.log, 40)
                );
            }
        }
    }
    let want: Vec<String> = (0..5).map(|i| format!("line {i}")).collect();
    assert_eq!(got, want, "docker logs -f output");
    // Stopping the container ends `logs -f` with exit 0.
    d.docker(&["stop", "web"]).ok().stdout_is("web\n");
    let st = berth_e2e::wait_for(Duration::from_secs(15), || child.try_wait().ok().flatten());
    let Some(st) = st else {
        let _ = child.kill();
        panic!("docker logs -f did not end within 15s of the container stopping");
    };
    assert_eq!(st.code(), Some(0), "docker logs -f exit status");
    // Every line reached the follower, in order, no gaps.
    while let Ok(l) = rx.recv_timeout(Duration::from_millis(500)) {
        got.push(l);
    }
    for (i, l) in got.iter().enumerate() {
        assert_eq!(l, &format!("line {i}"), "follower lines: {got:?}");
    }
    assert_eq!(d.inspect("web", "{{.State.ExitCode}}"), "0");
    d.docker(&["rm", "web"]).ok().stdout_is("web\n");
}

#[test]
fn interactive_tty_and_detach_with_ctrl_p_ctrl_q() {
    let d = Daemon::start();
    let mut t = d.pty(
        Cli::Docker,
        &["run", "-it", "--name", "tty", "busybox", "sh"],
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
    t.send(b"echo hi\r").unwrap();
    // The terminal echoes what was typed, then the command's output, CRLF.
    step(&mut t, "echo hi\r\nhi\r\n/ # ");
    t.send(b"tty; stty size\r").unwrap();
    step(&mut t, "/dev/pts/0\r\n33 101\r\n/ # ");
    // A signal key reaches the shell, not the client.
    t.send(b"sleep 100\r").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    t.send(b"\x03").unwrap();
    step(&mut t, "/ # ");
    t.send(b"echo still here\r").unwrap();
    step(&mut t, "still here\r\n/ # ");
    // ctrl-p ctrl-q: the client detaches and exits 0; the container runs on.
    t.send(b"\x10\x11").unwrap();
    let st = t.wait(Duration::from_secs(15));
    let Some(st) = st else {
        panic!(
            "client did not exit after ctrl-p ctrl-q\n{}",
            t.transcript()
        );
    };
    assert_eq!(
        st.code(),
        Some(0),
        "exit status after detach; terminal:\n{}",
        t.transcript()
    );
    assert_eq!(d.inspect("tty", "{{.State.Status}}"), "running");
    // Attach again: the same shell, with its history of this session.
    let mut t2 = d.pty(Cli::Docker, &["attach", "tty"], 33, 101);
    std::thread::sleep(Duration::from_millis(500));
    t2.send(b"echo again\r").unwrap();
    step(&mut t2, "again\r\n/ # ");
    t2.send(b"\x10\x11").unwrap();
    let st = t2.wait(Duration::from_secs(15));
    assert_eq!(
        st.and_then(|s| s.code()),
        Some(1),
        "docker attach + ctrl-p ctrl-q exits 1 (\"read escape sequence\"); terminal:\n{}",
        t2.transcript()
    );
    assert!(
        t2.transcript().contains("read escape sequence"),
        "docker attach prints \"read escape sequence\" on detach; terminal:\n{:?}",
        t2.transcript()
    );
    assert_eq!(d.inspect("tty", "{{.State.Status}}"), "running");
    // Typing `exit` after re-attaching ends it with the shell's status.
    let mut t3 = d.pty(Cli::Docker, &["attach", "tty"], 24, 80);
    std::thread::sleep(Duration::from_millis(500));
    t3.send(b"exit 5\r").unwrap();
    let st = t3.wait(Duration::from_secs(15));
    assert_eq!(
        st.and_then(|s| s.code()),
        Some(5),
        "docker attach + exit 5; terminal:\n{}",
        t3.transcript()
    );
    assert_eq!(
        d.inspect("tty", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 5"
    );
}

/// A container's processes start with every signal at its default and none
/// blocked, whatever the daemon and the shim ignore (a Rust program ignores
/// SIGPIPE): `yes` ends when its reader does, in `run` and in `exec`.
#[test]
fn signals_start_at_their_defaults() {
    let d = Daemon::start();
    let status = ["grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status"];
    let defaults = "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n";
    let run = |args: &[&'static str]| [&["run", "--rm", "busybox"][..], args].concat();
    d.docker(&run(&status)).ok().stdout_is(defaults);
    // Under an ignored SIGPIPE `yes` would spin until the timeout (143).
    let pipe = ["timeout", "10", "sh", "-c", "yes | head -c 3"];
    d.docker(&run(&pipe)).ok().stdout_is("y\ny");
    d.docker(&["run", "-d", "--name", "bsig", "busybox", "sleep", "1000"])
        .ok();
    d.docker(&[&["exec", "bsig"][..], &status].concat())
        .ok()
        .stdout_is(defaults);
    d.docker(&[&["exec", "bsig"][..], &pipe].concat())
        .ok()
        .stdout_is("y\ny");
    d.docker(&["rm", "-f", "bsig"]).ok();
}
