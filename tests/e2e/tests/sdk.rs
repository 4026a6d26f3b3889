//! The Python Docker SDK (docker-py, from PyPI; `.ci/run` installs it)
//! against the daemon: a client whose code nobody here wrote.

use berth_e2e::Daemon;

#[test]
fn python_sdk_runs_inspects_and_stops_containers() {
    let d = Daemon::start();
    let script = r#"python3 - <<'EOF'
import docker
c = docker.from_env()
print(c.version()["ApiVersion"] >= "1.41")
print(c.containers.run("busybox", ["echo", "hello"], remove=True))
try:
    c.containers.run("busybox", ["sh", "-c", "echo bad >&2; exit 4"], remove=True)
except docker.errors.ContainerError as e:
    print("ContainerError", e.exit_status, e.stderr)
ct = c.containers.run("busybox", ["sleep", "30"], detach=True, name="py1")
print(c.containers.get("py1").attrs["State"]["Running"])
ct.stop(timeout=1)
ct.reload()
print(ct.status, ct.attrs["State"]["ExitCode"])
ct.remove()
print([t for i in c.images.list() for t in i.tags])
try:
    c.containers.get("py1")
except docker.errors.NotFound:
    print("NotFound")
EOF"#;
    d.sh(script).ok().stdout_is(
        "True\nb'hello\\n'\nContainerError 4 b'bad\\n'\nTrue\nexited 137\n['busybox:latest']\nNotFound\n",
    );
}
