//! Healthchecks: `--health-*` probes run as execs on schedule; State.Health
//! goes starting -> healthy -> unhealthy with the right streak, events and
//! `docker ps` output; timeouts kill the probe; the loop stops with the
//! container and resumes after a daemon crash (live restore).

use std::time::{Duration, Instant};

use berth_e2e::{wait_for, Daemon};

fn health(d: &Daemon, name: &str) -> serde_json::Value {
    let s = d.inspect(name, "{{json .State.Health}}");
    serde_json::from_str(&s).unwrap_or_else(|e| panic!("State.Health {s:?}: {e}"))
}

fn wait_status(d: &Daemon, name: &str, want: &str) -> serde_json::Value {
    wait_for(Duration::from_secs(20), || {
        let h = health(d, name);
        (h["Status"] == want).then_some(h)
    })
    .unwrap_or_else(|| panic!("{name} never {want}: {}", health(d, name)))
}

fn ps_status(d: &Daemon, name: &str) -> String {
    let o = d.docker(&[
        "ps",
        "--filter",
        &format!("name={name}"),
        "--format",
        "{{.Status}}",
    ]);
    o.ok();
    o.stdout.trim().to_string()
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[test]
fn starting_healthy_unhealthy() {
    let d = Daemon::start();
    let since = now_unix().to_string();
    d.docker(&[
        "run",
        "-d",
        "--name",
        "bsec-h",
        "--health-cmd",
        "test -e /tmp/ok",
        "--health-interval",
        "1s",
        "--health-retries",
        "2",
        "--health-timeout",
        "5s",
        "busybox",
        "sleep",
        "1000",
    ])
    .ok();
    // Before any probe has passed.
    assert_eq!(health(&d, "bsec-h")["Status"], "starting");
    assert!(
        ps_status(&d, "bsec-h").ends_with("(health: starting)"),
        "ps: {}",
        ps_status(&d, "bsec-h")
    );
    // Failures while starting count: the streak reaches the retries.
    let h = wait_status(&d, "bsec-h", "unhealthy");
    assert!(h["FailingStreak"].as_i64().unwrap_or(0) >= 2, "{h}");
    d.docker(&["exec", "bsec-h", "touch", "/tmp/ok"]).ok();
    let h = wait_status(&d, "bsec-h", "healthy");
    assert_eq!(h["FailingStreak"], 0);
    let last = h["Log"]
        .as_array()
        .and_then(|l| l.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(last["ExitCode"], 0, "{h}");
    assert!(last["Start"].as_str().is_some_and(|s| s.starts_with("20")));
    let st = ps_status(&d, "bsec-h");
    assert!(
        st.starts_with("Up ") && st.ends_with("(healthy)"),
        "ps: {st}"
    );
    let o = d.docker(&["ps", "--filter", "health=healthy", "--format", "{{.Names}}"]);
    o.ok().stdout_is("bsec-h\n");
    d.docker(&[
        "ps",
        "--filter",
        "health=unhealthy",
        "--format",
        "{{.Names}}",
    ])
    .ok()
    .stdout_is("");
    // Failing again: streak grows, unhealthy after 2.
    d.docker(&["exec", "bsec-h", "rm", "/tmp/ok"]).ok();
    let h = wait_status(&d, "bsec-h", "unhealthy");
    assert!(h["FailingStreak"].as_i64().unwrap_or(0) >= 2, "{h}");
    assert!(ps_status(&d, "bsec-h").ends_with("(unhealthy)"));
    // Only the last five results are kept.
    std::thread::sleep(Duration::from_secs(4));
    let h = health(&d, "bsec-h");
    let log = h["Log"].as_array().cloned().unwrap_or_default();
    assert_eq!(log.len(), 5, "{h}");
    assert!(log.iter().all(|e| e["ExitCode"] == 1), "{h}");
    assert!(h["FailingStreak"].as_i64().unwrap_or(0) >= 5, "{h}");
    // Events: the transitions, and the probes as execs.
    let until = (now_unix() + 1).to_string();
    let ev = d.docker(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--format",
        "{{.Action}}",
    ]);
    ev.ok();
    for want in [
        "health_status: unhealthy",
        "health_status: healthy",
        "exec_start: /bin/sh -c test -e /tmp/ok",
    ] {
        assert!(
            ev.lines().contains(&want),
            "no {want:?} in events:\n{}",
            ev.stdout
        );
    }
    // Stopping ends the probes.
    d.docker(&["stop", "-t", "1", "bsec-h"]).ok();
    let before = health(&d, "bsec-h");
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        health(&d, "bsec-h")["Log"],
        before["Log"],
        "probes after stop"
    );
}

#[test]
fn probe_timeout_and_no_healthcheck() {
    let d = Daemon::start();
    d.docker(&[
        "run",
        "-d",
        "--name",
        "bsec-slow",
        "--health-cmd",
        "sleep 30",
        "--health-interval",
        "1s",
        "--health-timeout",
        "1s",
        "--health-retries",
        "1",
        "busybox",
        "sleep",
        "1000",
    ])
    .ok();
    let h = wait_status(&d, "bsec-slow", "unhealthy");
    let last = h["Log"]
        .as_array()
        .and_then(|l| l.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(last["ExitCode"], -1, "{h}");
    assert_eq!(last["Output"], "Health check exceeded timeout (1s)", "{h}");
    // The timed-out probes were killed: never more than one running.
    std::thread::sleep(Duration::from_secs(3));
    let o = d.docker(&["exec", "bsec-slow", "ps", "-o", "args"]);
    o.ok();
    let probes = o.lines().iter().filter(|l| l.contains("sleep 30")).count();
    assert!(probes <= 1, "probes left running: {}", o.stdout);
    // --no-healthcheck: no State.Health at all.
    d.docker(&[
        "run",
        "-d",
        "--name",
        "bsec-none",
        "--no-healthcheck",
        "busybox",
        "sleep",
        "1000",
    ])
    .ok();
    d.docker(&["inspect", "-f", "{{json .State.Health}}", "bsec-none"])
        .ok()
        .stdout_is("null\n");
    // Bad values: 400 with dockerd's message.
    let r = d.post_json(
        "/containers/create?name=bsec-hbad",
        r#"{"Image":"busybox","Healthcheck":{"Test":["CMD","true"],"Interval":5}}"#,
    );
    r.status_is(400);
    assert_eq!(
        r.message(),
        "Interval in Healthcheck cannot be less than 1ms"
    );
}

#[test]
fn health_resumes_after_a_daemon_crash() {
    let mut d = Daemon::start();
    if d.is_dockerd() {
        return; // the crash-and-restore path is berthd's (live_restore.rs)
    }
    d.docker(&[
        "run",
        "-d",
        "--name",
        "bsec-lr",
        "--health-cmd",
        "test -e /tmp/ok",
        "--health-interval",
        "1s",
        "--health-retries",
        "1",
        "busybox",
        "sh",
        "-c",
        "touch /tmp/ok; sleep 1000",
    ])
    .ok();
    wait_status(&d, "bsec-lr", "healthy");
    d.kill9();
    d.restart();
    assert_eq!(
        health(&d, "bsec-lr")["Status"],
        "healthy",
        "kept across the restart"
    );
    let t = Instant::now();
    d.docker(&["exec", "bsec-lr", "rm", "/tmp/ok"]).ok();
    wait_status(&d, "bsec-lr", "unhealthy");
    assert!(t.elapsed() < Duration::from_secs(15));
}
