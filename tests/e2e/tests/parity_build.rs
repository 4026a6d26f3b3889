//! The classic builder as dockerd runs it: `--add-host` (`extrahosts`)
//! reaches the RUN steps' `/etc/hosts`, and a RUN step's stderr is in the
//! build's output with its stdout.

use berth_e2e::build::{build, context};
use berth_e2e::Daemon;

#[test]
fn build_add_host_and_run_stderr() {
    let d = Daemon::start();
    let dir = context(
        &d,
        "addhost",
        &[(
            "Dockerfile",
            "FROM busybox\nRUN echo to-out; echo to-err >&2\nRUN grep myhost /etc/hosts\n",
        )],
    );
    let out = build(
        &d,
        &dir,
        "--no-cache --add-host myhost:10.1.2.3 --add-host other:10.9.9.9 -t ah",
    );
    out.ok();
    for want in ["to-out\n", "to-err\n", "10.1.2.3\tmyhost\n"] {
        assert!(
            out.stdout.contains(want),
            "{want:?} missing\n{}",
            out.stdout
        );
    }
    // Through docker-py, which sends the hosts as a dict.
    let script = format!(
        r#"python3 - <<'EOF'
import docker
c = docker.from_env()
lines = []
for chunk in c.api.build(path="{}", extra_hosts={{"myhost": "10.1.2.4"}}, nocache=True, decode=True):
    lines.append(chunk.get("stream", "") + chunk.get("error", ""))
print("10.1.2.4\tmyhost" in "".join(lines), "to-err" in "".join(lines))
EOF"#,
        dir.display()
    );
    d.sh(&script).ok().stdout_is("True True\n");
}

/// `--cache-from`: after the build's own images are gone (the image saved,
/// removed and loaded back, so no parent chain is left to match), a build
/// naming it as a cache source takes every step from it, the last one
/// being the very image.
#[test]
fn build_cache_from_a_loaded_image() {
    let d = Daemon::start();
    let dir = context(
        &d,
        "cachefrom",
        &[
            (
                "Dockerfile",
                "FROM busybox\nENV A=1\nCOPY f /f\nRUN date +%s%N > /stamp\n",
            ),
            ("f", "content\n"),
        ],
    );
    build(&d, &dir, "-t cf").ok();
    let id = d.inspect("cf", "{{.Id}}");
    let stamp = d.docker(&["run", "--rm", "cf", "cat", "/stamp"]);
    stamp.ok();
    let tar = d.tmp().join("cf.tar").display().to_string();
    d.docker(&["save", "-o", &tar, "cf"]).ok();
    d.docker(&["rmi", "cf"]).ok();
    d.docker(&["load", "-i", &tar]).ok();
    // No intermediate image is left to serve as the local cache.
    let all = d.docker(&["images", "-a", "-q"]);
    all.ok();
    assert_eq!(
        all.stdout.lines().count(),
        2,
        "busybox and cf only\n{}",
        all.stdout
    );
    let out = build(&d, &dir, "--cache-from cf -t cf2");
    out.ok();
    assert_eq!(
        out.stdout.matches("Using cache").count(),
        3,
        "every step from the cache source\n{}",
        out.stdout
    );
    assert_eq!(d.inspect("cf2", "{{.Id}}"), id);
    d.docker(&["run", "--rm", "cf2", "cat", "/stamp"])
        .ok()
        .stdout_is(&stamp.stdout);
}
