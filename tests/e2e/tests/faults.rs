//! Fault injection (issue 21), berthd only: berthd is killed (`kill -9`,
//! by its own `BERTH_TEST_CRASH_AT` hook, see `crates/store/src/crash.rs`)
//! at chosen points of pull, push, load, build, container create, start
//! and removal; restarted, it must hold nothing half-made or leaked
//! (`berth_e2e::faults::half_made`), and the operation must work when
//! tried again. dockerd has no such hook, and what a crash leaves in its
//! data root is its own layout: these tests return early on dockerd.

use std::time::Duration;

use berth_e2e::faults::{bridge_ports, half_made};
use berth_e2e::registry::{free_port, plain_registry};
use berth_e2e::{Daemon, Out};

/// Restarts `d` to die at `point`, runs `op` (which the crash interrupts),
/// restarts it normally and checks that nothing is half-made.
#[track_caller]
fn crash_at(d: &mut Daemon, point: &str, op: impl FnOnce(&Daemon) -> Out) -> Out {
    d.stop();
    d.restart_crashing_at(Some(point));
    let out = op(d);
    assert!(
        d.wait_crashed(Duration::from_secs(60)),
        "berthd never reached {point} (built without debug assertions?): {out}"
    );
    assert_ne!(out.code, Some(0), "{point}: the client saw success: {out}");
    d.restart_crashing_at(None);
    let bad = half_made(d);
    assert!(
        bad.is_empty(),
        "after a crash at {point}, berthd holds:\n{}",
        bad.join("\n")
    );
    out
}

fn berthd() -> Option<Daemon> {
    let d = Daemon::start();
    (!d.is_dockerd()).then_some(d)
}

fn build(d: &Daemon, tag: &str, dockerfile: &str) -> Out {
    let ctx = d.tmp().join(tag.replace([':', '/'], "_"));
    std::fs::create_dir_all(&ctx).expect("ctx");
    std::fs::write(ctx.join("Dockerfile"), dockerfile).expect("Dockerfile");
    d.docker(&["build", "-q", "-t", tag, ctx.to_str().expect("utf-8")])
}

const THREE_LAYERS: &str = "FROM busybox\nRUN echo one > /one\nRUN echo two > /two\n";

#[test]
fn pull_and_push_killed_midway_leave_nothing_half_made_and_work_again() {
    let Some(mut d) = berthd() else { return };
    let port = free_port();
    let (_reg, _) = plain_registry(&d, "/usr/bin/docker-registry", "faults-reg", port);
    let img = format!("127.0.0.1:{port}/faults/three:1");
    build(&d, &img, THREE_LAYERS).ok();

    // Push: the layers are up, the manifest is not.
    crash_at(&mut d, "push.blobs-uploaded", |d| d.docker(&["push", &img]));
    let manifest = d.host_sh(&format!(
        "curl -s -o /dev/null -w '%{{http_code}}' http://127.0.0.1:{port}/v2/faults/three/manifests/1"
    ));
    assert_eq!(manifest.stdout, "404", "a manifest after the crashed push");
    d.docker(&["push", &img]).ok();

    // Pull of an image none of whose layers is here (busybox goes too).
    d.docker(&["rmi", &img, "busybox"]).ok();
    for point in ["pull.staged", "pull.layer-registered"] {
        crash_at(&mut d, point, |d| d.docker(&["pull", &img]));
        let listed = d.docker(&["images", "-q", &img]);
        assert_eq!(listed.ok().stdout, "", "{point}: the image is listed");
    }
    d.docker(&["pull", &img]).ok();
    d.docker(&["run", "--rm", &img, "cat", "/one", "/two"])
        .ok()
        .stdout_is("one\ntwo\n");
    assert_eq!(half_made(&d), Vec::<String>::new());
}

#[test]
fn a_load_killed_midway_leaves_nothing_half_made_and_works_again() {
    let Some(mut d) = berthd() else { return };
    build(&d, "faults/three:1", THREE_LAYERS).ok();
    let tar = d.tmp().join("three.tar");
    let tar = tar.to_str().expect("utf-8");
    d.docker(&["save", "-o", tar, "faults/three:1"]).ok();
    d.docker(&["rmi", "faults/three:1", "busybox"]).ok();
    crash_at(&mut d, "load.layer-registered", |d| {
        d.docker(&["load", "-i", tar])
    });
    assert_eq!(d.docker(&["images", "-q"]).ok().stdout, "");
    d.docker(&["load", "-i", tar]).ok();
    d.docker(&["run", "--rm", "faults/three:1", "cat", "/two"])
        .ok()
        .stdout_is("two\n");
}

#[test]
fn a_build_killed_after_a_step_leaves_nothing_half_made_and_works_again() {
    let Some(mut d) = berthd() else { return };
    crash_at(&mut d, "build.step-committed", |d| {
        build(d, "faults/three:1", THREE_LAYERS)
    });
    let ps = d.docker(&["ps", "-aq"]);
    assert_eq!(ps.ok().stdout, "", "the step's container");
    build(&d, "faults/three:1", THREE_LAYERS).ok();
    d.docker(&["run", "--rm", "faults/three:1", "cat", "/one", "/two"])
        .ok()
        .stdout_is("one\ntwo\n");
}

#[test]
fn create_start_and_remove_killed_midway_leave_nothing_half_made_and_work_again() {
    let Some(mut d) = berthd() else { return };
    let sleeper = ["run", "-d", "--name", "fc", "-p", "18080:80", "busybox"];
    let sleeper: Vec<&str> = sleeper.into_iter().chain(["sleep", "300"]).collect();

    // Create: the rw layer is made, the record is not.
    crash_at(&mut d, "create.rw-layer", |d| d.docker(&sleeper));
    assert_eq!(d.docker(&["ps", "-aq"]).ok().stdout, "");

    // Start, before the shim: the rootfs is mounted.
    crash_at(&mut d, "start.mounted", |d| d.docker(&sleeper));
    assert_eq!(d.inspect("fc", "{{.State.Status}}"), "created");
    d.docker(&["start", "fc"]).ok();
    assert_eq!(d.inspect("fc", "{{.State.Running}}"), "true");
    d.docker(&["rm", "-f", "fc"]).ok();

    // Start, the shim still creating the container: it finds its daemon
    // gone when it reports, and undoes the container by itself.
    d.docker(&[
        "create", "--name", "fc", "-p", "18080:80", "busybox", "sleep", "300",
    ])
    .ok();
    crash_at(&mut d, "start.netns-ready", |d| d.docker(&["start", "fc"]));
    assert_eq!(d.inspect("fc", "{{.State.Status}}"), "created");
    let log = std::fs::read_to_string(&d.log).expect("daemon log");
    assert!(!log.contains("killing a shim"), "the shim had to be killed");
    d.docker(&["rm", "fc"]).ok();

    // Start, the container made and plugged but not started.
    crash_at(&mut d, "start.created", |d| d.docker(&sleeper));
    assert_ne!(d.inspect("fc", "{{.State.Status}}"), "running");
    assert_eq!(bridge_ports(&d), 0, "the container's veth");
    d.docker(&["start", "fc"]).ok();
    assert_eq!(d.inspect("fc", "{{.State.Running}}"), "true");

    // Removal of a running container: its rw layer went, its record not.
    crash_at(&mut d, "rm.rw-layer-removed", |d| {
        d.docker(&["rm", "-f", "fc"])
    });
    let ps = d.docker(&["ps", "-aq"]);
    assert_eq!(ps.ok().stdout, "", "the removed container is listed");
    d.docker(&sleeper).ok();
    d.docker(&["rm", "-f", "fc"]).ok();
    assert_eq!(half_made(&d), Vec::<String>::new());
}

/// One client's loop until `stop`: unnamed and named runs, detached ones
/// removed by force; failures are expected once the daemon is gone.
fn churn(d: &Daemon, w: usize, stop: &std::sync::atomic::AtomicBool) {
    let mut i = 0;
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        let name = format!("load{w}x{i}");
        match i % 3 {
            0 => {
                d.docker(&["run", "--rm", "busybox", "true"]);
            }
            1 => {
                d.docker(&[
                    "run", "-d", "--name", &name, "-p", "80", "busybox", "sleep", "2",
                ]);
                d.docker(&["rm", "-f", &name]);
            }
            _ => {
                d.docker(&["create", "--name", &name, "busybox", "true"]);
                d.docker(&["start", &name]);
                d.docker(&["rm", "-f", &name]);
            }
        }
        i += 1;
    }
}

/// A `kill -9` at whatever moment, while four clients create, start and
/// remove containers: restarted, berthd holds nothing half-made, and every
/// container it lists can be removed (what ran exits and is reaped).
#[test]
fn a_daemon_killed_under_load_holds_nothing_half_made() {
    let Some(mut d) = berthd() else { return };
    for round in 0..3 {
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            for w in 0..4 {
                let (d, stop) = (&d, &stop);
                s.spawn(move || churn(d, w, stop));
            }
            std::thread::sleep(Duration::from_millis(2000 + 700 * round));
            // SAFETY: kill(2) of the daemon the harness started.
            unsafe {
                libc::kill(d.pid().expect("pid"), libc::SIGKILL);
            }
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        assert!(d.wait_crashed(Duration::from_secs(10)));
        d.restart_crashing_at(None);
        // Containers that ran at the crash were adopted; let them finish.
        let quiet = berth_e2e::wait_for(Duration::from_secs(20), || {
            d.docker(&["ps", "-q"])
                .stdout
                .trim()
                .is_empty()
                .then_some(())
        });
        assert!(quiet.is_some(), "{}", d.docker(&["ps"]));
        let bad = half_made(&d);
        assert!(bad.is_empty(), "round {round}:\n{}", bad.join("\n"));
        let all = d.docker(&["ps", "-aq"]);
        for id in all.ok().stdout.split_whitespace() {
            d.docker(&["rm", "-f", id]).ok();
        }
        assert_eq!(half_made(&d), Vec::<String>::new());
        d.docker(&["run", "--rm", "-p", "80", "busybox", "true"])
            .ok();
    }
}
