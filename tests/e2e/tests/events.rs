//! `docker events`: history with --since/--until, and the live stream.

use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::Duration;

use berth_e2e::{is_hex64, Cli, Daemon};

fn is_timestamp(s: &str) -> bool {
    // 2024-01-02T03:04:05.123456789Z
    let b = s.as_bytes();
    s.len() == 30
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && b[29] == b'Z'
        && s.chars()
            .enumerate()
            .all(|(i, c)| [4, 7, 10, 13, 16, 19, 29].contains(&i) || c.is_ascii_digit())
}

#[test]
fn events_since_until_lists_container_history() {
    let d = Daemon::start();
    d.docker(&[
        "run", "--rm", "--name", "ev1", "busybox", "sh", "-c", "exit 4",
    ])
    .code_is(4);
    let o = d.docker(&["create", "--name", "ev2", "busybox"]);
    o.ok();
    let id2 = o.stdout.trim().to_string();
    // As a user would: ask a moment later (dockerd cuts --until to whole
    // seconds, so events of the current second may not show yet).
    std::thread::sleep(std::time::Duration::from_millis(1500));

    let base = [
        "events",
        "--since",
        "1m",
        "--until",
        "0s",
        "--filter",
        "type=container",
    ];
    let mut args = base.to_vec();
    args.extend([
        "--format",
        "{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.image}}",
    ]);
    d.docker(&args).ok().stdout_is(
        "container create ev1 busybox\n\
         container attach ev1 busybox\n\
         container start ev1 busybox\n\
         container die ev1 busybox\n\
         container destroy ev1 busybox\n\
         container create ev2 busybox\n",
    );
    // The exit code rides on `die` as exitCode.
    let mut args = base.to_vec();
    args.extend([
        "--filter",
        "event=die",
        "--format",
        "{{.Actor.Attributes.exitCode}}",
    ]);
    d.docker(&args).ok().stdout_is("4\n");
    // The plain line format: time, type, action, ID, (attributes sorted).
    let mut args = base.to_vec();
    args.extend(["--filter", "container=ev2"]);
    let o = d.docker(&args);
    o.ok();
    let line = o
        .stdout
        .strip_suffix('\n')
        .unwrap_or_else(|| o.fail("one line"));
    let (ts, rest) = line
        .split_once(' ')
        .unwrap_or_else(|| o.fail("no timestamp"));
    assert!(is_timestamp(ts), "timestamp {ts:?}\n{o}");
    assert!(is_hex64(&id2), "{id2}");
    assert_eq!(
        rest,
        format!("container create {id2} (image=busybox, name=ev2)"),
        "{o}"
    );
    // The old CLI sees the same.
    let o = d.docker20(&[
        "events",
        "--since",
        "1m",
        "--until",
        "0s",
        "--filter",
        "container=ev2",
        "--format",
        "{{.Status}} {{.ID}}",
    ]);
    o.ok().stdout_is(&format!("create {id2}\n"));
}

#[test]
fn events_stream_live_and_flush_at_once() {
    let d = Daemon::start();
    let mut child = d.spawn_cli(
        Cli::Docker,
        &[
            "events",
            "--filter",
            "type=container",
            "--format",
            "{{.Action}} {{.Actor.Attributes.name}}",
        ],
    );
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
    // Give the client time to subscribe.
    std::thread::sleep(Duration::from_millis(700));
    d.docker(&["run", "-d", "--name", "live", "busybox", "sleep", "1000"])
        .ok();
    let mut got = Vec::new();
    while got.len() < 2 {
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(l) => got.push(l),
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        got,
        ["create live", "start live"],
        "live events from `docker events`"
    );
}
