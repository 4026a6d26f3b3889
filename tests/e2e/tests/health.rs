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

/// Probes counted by the probe itself: one line per run in /tmp/probes.
fn probes(d: &Daemon, name: &str) -> usize {
    let o = d.docker(&[
        "exec",
        name,
        "sh",
        "-c",
        "cat /tmp/probes 2>/dev/null | wc -l",
    ]);
    o.ok();
    o.stdout.trim().parse().unwrap_or(0)
}

/// `--health-start-interval` (API 1.44): while `starting` within the start
/// period, probes come every StartInterval; once healthy, or after the
/// start period, every Interval. The interval is 60s, so any second probe
/// within the test's few seconds can only come from the start interval.
#[test]
fn start_interval_paces_probes_during_the_start_period() {
    let d = Daemon::start();
    let run = |name: &str, start_period: &str| {
        d.docker(&[
            "run",
            "-d",
            "--name",
            name,
            "--health-cmd",
            "echo x >> /tmp/probes; test -e /tmp/ok",
            "--health-interval",
            "60s",
            "--health-start-period",
            start_period,
            "--health-start-interval",
            "300ms",
            "busybox",
            "sleep",
            "1000",
        ])
    };
    if d.is_dockerd() {
        // The peer here (dockerd 20.10, API 1.41) predates the flag: the
        // CLI refuses it rather than sending what would be dropped.
        run("bsec-si", "60s")
            .fails()
            .stderr_has("requires API version 1.44");
        return;
    }
    run("bsec-si", "60s").ok();
    assert_eq!(
        d.inspect("bsec-si", "{{.Config.Healthcheck.StartInterval}}"),
        "300ms"
    );
    // Failing probes within the start period: still starting, probed often.
    std::thread::sleep(Duration::from_secs(3));
    let n = probes(&d, "bsec-si");
    assert!(n >= 4, "{n} probes in 3s with a 300ms start interval");
    assert_eq!(health(&d, "bsec-si")["Status"], "starting");
    assert_eq!(health(&d, "bsec-si")["FailingStreak"], 0);
    // Healthy: back to the 60s interval, no more probes.
    d.docker(&["exec", "bsec-si", "touch", "/tmp/ok"]).ok();
    wait_status(&d, "bsec-si", "healthy");
    let n = probes(&d, "bsec-si");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(probes(&d, "bsec-si"), n, "probed again once healthy");
    // A start period over: the 60s interval although still starting.
    run("bsec-si2", "1500ms").ok();
    std::thread::sleep(Duration::from_secs(3));
    let n = probes(&d, "bsec-si2");
    assert!(n >= 2, "{n} probes in the 1.5s start period");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(probes(&d, "bsec-si2"), n, "probed after the start period");
    assert_eq!(health(&d, "bsec-si2")["Status"], "starting");
    // The berth CLI sends the flag too; a negative one is refused.
    for cli in d.clis() {
        if cli == berth_e2e::Cli::Docker20 {
            continue;
        }
        let name = format!("bsec-si-{cli:?}").to_lowercase();
        d.run(
            cli,
            &[
                "create",
                "--name",
                &name,
                "--health-cmd",
                "true",
                "--health-start-interval",
                "2s",
                "busybox",
            ],
        )
        .ok();
        assert_eq!(
            d.inspect(&name, "{{.Config.Healthcheck.StartInterval}}"),
            "2s"
        );
        d.run(
            cli,
            &[
                "create",
                "--health-cmd",
                "true",
                "--health-start-interval",
                "-1s",
                "busybox",
            ],
        )
        .code_is(125);
    }
    // API 1.43 and older know no StartInterval: it is dropped, as dockerd does.
    let r = d.post_json(
        "/v1.43/containers/create?name=bsec-si-old",
        r#"{"Image":"busybox","Healthcheck":{"Test":["CMD","true"],"StartInterval":2000000000}}"#,
    );
    r.status_is(201);
    assert_eq!(
        d.inspect("bsec-si-old", "{{.Config.Healthcheck.StartInterval}}"),
        "0s"
    );
}
