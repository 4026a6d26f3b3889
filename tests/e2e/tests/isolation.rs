//! A container's processes are really isolated, and its writes stay its own.

use std::path::Path;

use berth_e2e::Daemon;

fn ns(pid: &str, kind: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/ns/{kind}: {e}"))
        .to_string_lossy()
        .into_owned()
}

#[test]
fn own_pid_1_and_process_table() {
    let d = Daemon::start();
    d.docker(&["run", "--rm", "busybox", "sh", "-c", "echo $$"])
        .ok()
        .stdout_is("1\n");
    // Only the container's own processes are visible.
    d.docker(&["run", "--rm", "busybox", "ps", "-o", "pid,args"])
        .ok()
        .stdout_is("PID   COMMAND\n    1 ps -o pid,args\n");
    d.docker(&["run", "-d", "--name", "iso", "busybox", "sleep", "1000"])
        .ok();
    let pid = d.inspect("iso", "{{.State.Pid}}");
    for kind in ["pid", "mnt", "uts", "ipc", "net"] {
        assert_ne!(
            ns(&pid, kind),
            ns("self", kind),
            "{kind} namespace of the container is the host's"
        );
    }
    // The host pid maps to pid 1 inside.
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let nspid = status
        .lines()
        .find(|l| l.starts_with("NSpid:"))
        .unwrap_or_default();
    assert_eq!(
        nspid.split_whitespace().skip(1).collect::<Vec<_>>(),
        [pid.as_str(), "1"],
        "NSpid of the container's init"
    );
}

#[test]
fn own_hostname() {
    let d = Daemon::start();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    // The default hostname is the short container id (checked through `run`:
    // `exec` comes with the containers-in-depth work).
    let o = d.docker(&["run", "--name", "hn", "busybox", "hostname"]);
    o.ok();
    let id = d.inspect("hn", "{{.Id}}");
    o.stdout_is(&format!("{}\n", &id[..12]));
    assert_ne!(format!("{}\n", &id[..12]), host);
    d.docker(&["run", "--rm", "--hostname", "h1", "busybox", "hostname"])
        .ok()
        .stdout_is("h1\n");
    d.docker(&[
        "run",
        "--rm",
        "--hostname",
        "h1",
        "busybox",
        "cat",
        "/etc/hostname",
    ])
    .ok()
    .stdout_is("h1\n");
    // Without CAP_SYS_ADMIN the container may not change it.
    d.docker(&["run", "--rm", "busybox", "hostname", "changed-inside"])
        .code_is(1)
        .stderr_has("sethostname: Operation not permitted");
    // With it, the change stays inside the container's UTS namespace.
    d.docker(&[
        "run",
        "--rm",
        "--cap-add",
        "SYS_ADMIN",
        "busybox",
        "sh",
        "-c",
        "hostname changed-inside && hostname",
    ])
    .ok()
    .stdout_is("changed-inside\n");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(),
        host
    );
}

#[test]
fn own_mounts() {
    let d = Daemon::start();
    // A file only the host has is not visible inside.
    let marker = d.tmp().join("host-only-marker");
    std::fs::write(&marker, "host").unwrap();
    let m = marker.to_str().unwrap();
    d.docker(&["run", "--rm", "busybox", "ls", m])
        .code_is(1)
        .stderr_has("No such file or directory");
    // The container's mount table holds its own mounts only.
    let o = d.docker(&["run", "--rm", "busybox", "cat", "/proc/self/mountinfo"]);
    o.ok();
    let points: Vec<&str> = o
        .stdout
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .collect();
    assert_eq!(points.first(), Some(&"/"), "first mount is the rootfs\n{o}");
    let allowed = [
        "/",
        "/proc",
        "/dev",
        "/sys",
        "/etc/resolv.conf",
        "/etc/hostname",
        "/etc/hosts",
    ];
    for p in &points {
        let ok = allowed
            .iter()
            .any(|a| p == a || (*a != "/" && p.starts_with(&format!("{a}/"))));
        assert!(ok, "unexpected mount point {p} in the container\n{o}");
    }
    for want in ["/proc", "/dev", "/sys", "/dev/pts", "/dev/shm"] {
        assert!(
            points.contains(&want),
            "no {want} mount in the container\n{o}"
        );
    }
    // Mounting inside does not show on the host.
    let o = d.docker(&[
        "run",
        "--rm",
        "--cap-add",
        "SYS_ADMIN",
        "--security-opt",
        "apparmor=unconfined",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /mnt/x && mount -t tmpfs none /mnt/x && echo mounted",
    ]);
    o.ok().stdout_is("mounted\n");
    let host = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !host.contains("/mnt/x "),
        "a container's mount leaked to the host"
    );
}

#[test]
fn rootfs_writes_never_reach_the_image() {
    let d = Daemon::start();
    let before = d.inspect("busybox", "{{.Id}} {{.Size}}");
    d.docker(&[
        "run",
        "--name",
        "wr",
        "busybox",
        "sh",
        "-c",
        "echo new > /bin/newfile && rm /bin/ls && echo changed > /etc/passwd",
    ])
    .ok();
    d.docker(&["run", "--rm", "busybox", "ls", "/bin/newfile"])
        .code_is(1)
        .stderr_has("No such file or directory");
    d.docker(&["run", "--rm", "busybox", "ls", "/bin/ls"])
        .ok()
        .stdout_is("/bin/ls\n");
    d.docker(&["run", "--rm", "busybox", "head", "-c", "5", "/etc/passwd"])
        .ok()
        .stdout_is("root:");
    assert_eq!(d.inspect("busybox", "{{.Id}} {{.Size}}"), before);
    // The writing container still sees its own changes: run again, its
    // `rm /bin/ls` fails because its own layer already lacks the file.
    d.docker(&["start", "-a", "wr"]).code_is(1);
    // And the image's files on disk are untouched: the layer in a fresh save.
    let save = d.tmp().join("s.tar");
    d.docker(&["save", "-o", save.to_str().unwrap(), "busybox"])
        .ok();
    let outer = berth_e2e::fixture::tar_entries(&std::fs::read(&save).unwrap()).unwrap();
    let mut names = Vec::new();
    for (name, _, _, data) in &outer {
        if name.ends_with("layer.tar") || name.starts_with("blobs/sha256/") {
            if let Ok(inner) = berth_e2e::fixture::tar_entries(data) {
                names.extend(inner.into_iter().map(|e| e.0));
            }
        }
    }
    let has = |n: &str| names.iter().any(|x| x.trim_start_matches("./") == n);
    assert!(has("bin/ls"), "bin/ls missing from the saved layer");
    assert!(
        !has("bin/newfile"),
        "a container's write reached the image layer"
    );
    assert!(Path::new(&save).exists());
}
