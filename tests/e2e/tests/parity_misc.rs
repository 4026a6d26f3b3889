//! Smaller places where berthd once answered differently from dockerd:
//! a restarting container's state and removal, `POST /images/load` of
//! something that is no archive, and when log options are validated.

use std::time::Duration;

use berth_e2e::Daemon;

#[test]
fn a_restart_always_container_that_just_exited_is_restarting() {
    let d = Daemon::start();
    let o = d.docker(&[
        "run",
        "-d",
        "--name",
        "rs",
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "exit 3",
    ]);
    o.ok();
    let id = o.stdout.trim().to_string();
    // dockerd 20.10's wording, and moby 25+'s.
    let old = |state: &str| {
        format!("You cannot remove a {state} container {id}. Stop the container before attempting removal or force remove")
    };
    let new = |state: &str| {
        format!("cannot remove container \"/rs\": container is {state}: stop the container before removing or force remove")
    };
    // Between an exit and its restart the container is `restarting`
    // (State.Running and State.Restarting both true, as moby's SetRestarting).
    let mut refused = false;
    for _ in 0..100 {
        let st = d.inspect(
            "rs",
            "{{.State.Status}} {{.State.Running}} {{.State.Restarting}} {{.State.ExitCode}}",
        );
        if st == "restarting true true 3" {
            // Removal without force is refused, 409; the state may have
            // moved on to running by the time it lands.
            let r = d.http("DELETE", "/containers/rs", None, b"");
            r.status_is(409);
            let m = r.message();
            assert!(
                [
                    old("restarting"),
                    new("restarting"),
                    old("running"),
                    new("running")
                ]
                .contains(&m),
                "{m}"
            );
            if m.contains("restarting") {
                refused = true;
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        refused,
        "saw the container restarting and its removal refused"
    );
    let ps = d.docker(&["ps", "-a", "--filter", "name=rs", "--format", "{{.Status}}"]);
    ps.ok();
    assert!(
        ps.stdout.starts_with("Restarting (3)") || ps.stdout.starts_with("Up "),
        "{}",
        ps.stdout
    );
    d.docker(&["rm", "-f", "rs"]).ok();
}

#[test]
fn loading_something_that_is_no_archive_errs_in_the_stream() {
    let d = Daemon::start();
    // Raw: 200, and the error is a JSON message in the body.
    let r = d.http(
        "POST",
        "/images/load",
        Some("application/x-tar"),
        b"this is not a tar archive",
    );
    r.status_is(200);
    let last = r
        .text()
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .map(str::to_string)
        .unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&last).expect("a JSON message");
    assert!(v["errorDetail"]["message"].is_string(), "{r}");
    assert_eq!(v["error"], v["errorDetail"]["message"], "{r}");
    // docker-py raises its load error; the docker CLI fails.
    let script = r#"python3 - <<'EOF'
import docker
c = docker.from_env()
try:
    c.images.load(b"this is not a tar archive")
    print("loaded")
except docker.errors.ImageLoadError:
    print("ImageLoadError")
EOF"#;
    d.sh(script).ok().stdout_is("ImageLoadError\n");
    d.docker_stdin(&["load"], b"this is not a tar archive")
        .fails();
    // Nothing was loaded.
    d.docker(&["images", "-q"]).ok().stdout_is(&format!(
        "{}\n",
        d.inspect("busybox", "{{.Id}}")[7..19].to_owned()
    ));
}

#[test]
fn json_file_options_are_checked_by_name_at_create() {
    let d = Daemon::start();
    // dockerd checks only json-file's option names at create; max-file
    // alone is taken (it rotates nothing without max-size).
    d.docker(&[
        "run",
        "--name",
        "lo",
        "--log-opt",
        "max-file=3",
        "busybox",
        "echo",
        "logged",
    ])
    .ok()
    .stdout_is("logged\n");
    assert_eq!(
        d.inspect("lo", "{{index .HostConfig.LogConfig.Config \"max-file\"}}"),
        "3"
    );
    d.docker(&["logs", "lo"]).ok().stdout_is("logged\n");
    // A value the driver cannot use: created, and the start fails.
    d.docker(&[
        "create",
        "--name",
        "lb",
        "--log-opt",
        "max-size=abc",
        "busybox",
        "true",
    ])
    .ok();
    d.docker(&["start", "lb"])
        .fails()
        .stderr_has("failed to initialize logging driver: invalid size: 'abc'");
    assert_eq!(d.inspect("lb", "{{.State.Status}}"), "created");
    // An unknown option is still refused at create.
    d.docker(&["create", "--log-opt", "no-such-opt=1", "busybox", "true"])
        .fails()
        .stderr_has("unknown log opt 'no-such-opt' for json-file log driver");
    d.docker(&["rm", "lo", "lb"]).ok();
}
