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
