//! `--init`: a real init (tini, as dockerd's `docker-init`) is pid 1, reaps
//! orphans the command never waits for, and forwards signals.

use std::time::{Duration, Instant};

use berth_e2e::{wait_for, Daemon};

/// Zombie (`Z`) processes in the container.
fn zombies(d: &Daemon, name: &str) -> usize {
    let o = d.docker(&["exec", name, "ps", "-o", "stat,comm"]);
    o.ok();
    o.lines()
        .iter()
        .filter(|l| l.trim_start().starts_with('Z'))
        .count()
}

#[test]
fn init_reaps_orphans() {
    let d = Daemon::start();
    // The subshell's `sleep` is orphaned to pid 1; pid 1 then becomes
    // `sleep 1000`, which never waits.
    let script = "(sleep 0.2 &); exec sleep 1000";
    d.docker(&[
        "run",
        "-d",
        "--name",
        "bsec-noinit",
        "busybox",
        "sh",
        "-c",
        script,
    ])
    .ok();
    d.docker(&[
        "run",
        "-d",
        "--init",
        "--name",
        "bsec-init",
        "busybox",
        "sh",
        "-c",
        script,
    ])
    .ok();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(zombies(&d, "bsec-noinit"), 1, "the zombie without --init");
    assert_eq!(zombies(&d, "bsec-init"), 0, "--init left a zombie");
    // pid 1 is the init, the command its child.
    let o = d.docker(&["exec", "bsec-init", "ps", "-o", "pid,comm"]);
    o.ok();
    let first = o
        .lines()
        .get(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .unwrap_or_default();
    assert_eq!(first, ["1", "docker-init"], "ps: {}", o.stdout);
    d.docker(&["inspect", "-f", "{{.HostConfig.Init}}", "bsec-init"])
        .ok()
        .stdout_is("true\n");
}

#[test]
fn init_forwards_sigterm() {
    let d = Daemon::start();
    // `sleep` as pid 1 ignores SIGTERM; under the init it is an ordinary
    // child, so the forwarded SIGTERM ends it at once.
    d.docker(&[
        "run",
        "-d",
        "--init",
        "--name",
        "bsec-term",
        "busybox",
        "sleep",
        "1000",
    ])
    .ok();
    // Until tini has started its child and set up its signal handling, it
    // is a pid 1 with SIGTERM at its default, which the kernel drops (on a
    // loaded machine the stop came first: dockerd's window is the same).
    wait_for(Duration::from_secs(10), || {
        let top = d.docker(&["top", "bsec-term"]);
        top.stdout.contains("sleep 1000").then_some(())
    })
    .expect("the init's child started");
    let t = Instant::now();
    d.docker(&["stop", "-t", "20", "bsec-term"]).ok();
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "stop took {:?}: SIGTERM was not forwarded",
        t.elapsed()
    );
    // tini exits with 128 + the signal that ended its child.
    d.docker(&["inspect", "-f", "{{.State.ExitCode}}", "bsec-term"])
        .ok()
        .stdout_is("143\n");
}
