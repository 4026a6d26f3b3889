//! Restart policies: counted restarts with back-off, and a user's stop wins.

use std::time::{Duration, Instant};

use berth_e2e::Daemon;

fn wait_for(d: &Daemon, name: &str, template: &str, want: &str, secs: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let got = d.inspect(name, template);
        if got == want || Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn on_failure_restarts_up_to_its_count() {
    let d = Daemon::start();
    d.docker(&[
        "run",
        "-d",
        "--restart",
        "on-failure:3",
        "--name",
        "rp",
        "busybox",
        "sh",
        "-c",
        "exit 1",
    ])
    .ok();
    let got = wait_for(
        &d,
        "rp",
        "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}",
        "3 exited 1",
        20,
    );
    assert_eq!(got, "3 exited 1");
    // And it stays there: the count is spent.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        d.inspect("rp", "{{.RestartCount}} {{.State.Status}}"),
        "3 exited"
    );
    d.docker(&[
        "inspect",
        "-f",
        "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}",
        "rp",
    ])
    .ok()
    .stdout_is("on-failure:3\n");
}

#[test]
fn a_stopped_always_container_stays_stopped() {
    let d = Daemon::start();
    d.docker(&[
        "run",
        "-d",
        "--restart",
        "always",
        "--name",
        "ra",
        "busybox",
        "sh",
        "-c",
        "sleep 0.3",
    ])
    .ok();
    let started = d.inspect("ra", "{{.State.StartedAt}}");
    // It comes back after exiting by itself, with a new start time...
    let deadline = Instant::now() + Duration::from_secs(20);
    while d.inspect("ra", "{{.RestartCount}}") == "0" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_ne!(d.inspect("ra", "{{.RestartCount}}"), "0");
    assert_ne!(d.inspect("ra", "{{.State.StartedAt}}"), started);
    // ...but not after `docker stop`.
    d.docker(&["stop", "-t", "1", "ra"]).ok();
    let count = d.inspect("ra", "{{.RestartCount}}");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        d.inspect("ra", "{{.RestartCount}} {{.State.Status}}"),
        format!("{count} exited")
    );
}
