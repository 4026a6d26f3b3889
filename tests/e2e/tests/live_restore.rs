//! kill -9 the daemon while a container runs; start it again.

use std::time::{Duration, Instant};

use berth_e2e::Daemon;

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

fn ticks(d: &Daemon) -> Vec<String> {
    let o = d.docker(&["logs", "lr"]);
    o.ok();
    o.lines().into_iter().map(str::to_string).collect()
}

#[test]
fn containers_survive_a_daemon_crash() {
    let mut d = Daemon::start();
    let o = d.docker(&[
        "run",
        "-d",
        "--name",
        "lr",
        "busybox",
        "sh",
        "-c",
        "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done",
    ]);
    o.ok();
    let id = o.stdout.trim().to_string();
    let pid: i32 = d.inspect("lr", "{{.State.Pid}}").parse().unwrap();
    std::thread::sleep(Duration::from_secs(1));

    d.kill9();
    let crashed = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        alive(pid),
        "the container's process {pid} died with the daemon"
    );
    d.restart();
    let down = crashed.elapsed();

    // Still running, same process, listed by ps.
    d.docker(&["ps", "--format", "{{.ID}} {{.Names}} {{.State}}"])
        .ok()
        .stdout_is(&format!("{} lr running\n", &id[..12]));
    assert_eq!(
        d.inspect("lr", "{{.State.Status}} {{.State.Pid}}"),
        format!("running {pid}")
    );

    // Logs kept flowing: consecutive ticks, covering the downtime.
    std::thread::sleep(Duration::from_secs(1));
    let t = ticks(&d);
    for (i, l) in t.iter().enumerate() {
        assert_eq!(
            l,
            &format!("tick {i}"),
            "log lines have a gap or garbage: {t:?}"
        );
    }
    // ~5 ticks a second; at least half of them for the time the daemon was down.
    let min = ((1.0 + down.as_secs_f64() + 1.0) * 5.0 * 0.5) as usize;
    assert!(
        t.len() >= min,
        "only {} log lines after {down:?} down (want >= {min}): {t:?}",
        t.len()
    );
    // ... and keep flowing after the restart.
    let n = t.len();
    std::thread::sleep(Duration::from_secs(1));
    assert!(ticks(&d).len() > n, "no new log lines after the restart");

    // stop works on the adopted container.
    d.docker(&["stop", "-t", "1", "lr"]).ok().stdout_is("lr\n");
    assert!(
        berth_e2e::wait_for(Duration::from_secs(5), || (!alive(pid)).then_some(())).is_some(),
        "process {pid} still alive after docker stop"
    );
    assert_eq!(
        d.inspect("lr", "{{.State.Status}} {{.State.Running}}"),
        "exited false"
    );
    d.docker(&["rm", "lr"]).ok().stdout_is("lr\n");
}

#[test]
fn exited_while_down_is_reported_exited() {
    let mut d = Daemon::start();
    d.docker(&[
        "run",
        "-d",
        "--name",
        "short",
        "busybox",
        "sh",
        "-c",
        "sleep 2; exit 7",
    ])
    .ok();
    d.kill9();
    std::thread::sleep(Duration::from_secs(4));
    d.restart();
    let st = berth_e2e::wait_for(Duration::from_secs(10), || {
        let s = d.inspect("short", "{{.State.Status}} {{.State.ExitCode}}");
        (s != "running 0").then_some(s)
    });
    assert_eq!(
        st.as_deref(),
        Some("exited 7"),
        "a container that exited while the daemon was down"
    );
    d.docker(&["ps", "-q"]).ok().stdout_is("");
}
