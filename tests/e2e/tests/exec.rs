//! `docker exec` into running containers.

use berth_e2e::Daemon;

#[test]
fn exec_runs_in_the_container_with_its_exit_code() {
    let d = Daemon::start();
    let o = d.docker(&["run", "-d", "--name", "ex", "busybox", "sleep", "1000"]);
    o.ok();
    let id = o.stdout.trim().to_string();
    // The container's own namespaces: its hostname, its pid 1.
    d.docker(&["exec", "ex", "hostname"])
        .ok()
        .stdout_is(&format!("{}\n", &id[..12]));
    d.docker(&["exec", "ex", "cat", "/proc/1/comm"])
        .ok()
        .stdout_is("sleep\n");
    d.docker(&["exec", "ex", "sh", "-c", "echo out; echo err >&2; exit 3"])
        .code_is(3)
        .stdout_is("out\n")
        .stderr_has("err");
    d.docker_stdin(&["exec", "-i", "ex", "cat"], b"piped\n")
        .ok()
        .stdout_is("piped\n");
    d.docker(&[
        "exec",
        "-w",
        "/tmp",
        "-e",
        "FOO=bar",
        "-u",
        "65534",
        "ex",
        "sh",
        "-c",
        "pwd; echo $FOO; id -u",
    ])
    .ok()
    .stdout_is("/tmp\nbar\n65534\n");
    for cli in d.clis() {
        d.run(cli, &["exec", "ex", "sh", "-c", "echo via-exec; exit 4"])
            .code_is(4)
            .stdout_is("via-exec\n");
    }
    // Not found: dockerd's message in the stream and exit code 126.
    d.docker(&["exec", "ex", "nope"]).code_is(126).stdout_has(
        "OCI runtime exec failed: exec failed: unable to start container process: exec: \"nope\": executable file not found in $PATH: unknown",
    );
    // Detached exec, then a stopped container refuses exec.
    d.docker(&["exec", "-d", "ex", "sleep", "1"]).ok();
    d.docker(&["stop", "-t", "0", "ex"]).ok();
    d.docker(&["exec", "ex", "true"])
        .code_is(1)
        .stderr_has("is not running");
}

#[test]
fn top_lists_the_container_processes_only() {
    let d = Daemon::start();
    d.docker(&[
        "run",
        "-d",
        "--name",
        "tp",
        "busybox",
        "sh",
        "-c",
        "sleep 100 & sleep 200",
    ])
    .ok();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let o = d.docker(&["top", "tp", "-o", "pid,args"]);
    o.ok();
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert!(
        lines[0].starts_with("PID") && lines[0].contains("COMMAND"),
        "{}",
        o.stdout
    );
    let mut cmds: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        .map(|s| {
            if s.contains("200") {
                "sleep 200"
            } else if s.contains("100") {
                "sleep 100"
            } else {
                "other"
            }
        })
        .collect();
    cmds.sort();
    assert_eq!(cmds, ["sleep 100", "sleep 200"], "{}", o.stdout);
    d.docker(&["stop", "-t", "0", "tp"]).ok();
    d.docker(&["top", "tp"])
        .code_is(1)
        .stderr_has("is not running");
}

/// What `id` prints in a container with `--group-add`: dockerd gives every
/// process, init and exec alike, the gid itself, the user's member groups
/// (`/etc/group` as it is when the process starts) and the added groups.
/// The expected lines are what dockerd 20.10 with runc printed here.
#[test]
fn exec_gets_the_containers_added_groups() {
    let d = Daemon::start();
    d.docker(&[
        "run",
        "-d",
        "--name",
        "exg",
        "--group-add",
        "4242",
        "--group-add",
        "nogroup",
        "busybox",
        "sleep",
        "1000",
    ])
    .ok();
    // Member groups made after the start: an exec that names a user sees
    // them; one that runs as the container's (unnamed) user keeps the
    // groups its init got at start.
    d.docker(&[
        "exec",
        "exg",
        "sh",
        "-c",
        "echo staff:x:50:nobody,root >> /etc/group; echo ops:x:51:nobody >> /etc/group",
    ])
    .ok();
    let cases: &[(&[&str], &str)] = &[
        (
            &[],
            "uid=0(root) gid=0(root) groups=0(root),4242,65534(nogroup)",
        ),
        (
            &["-u", "nobody"],
            "uid=65534(nobody) gid=65534(nogroup) groups=50(staff),51(ops),4242,65534(nogroup)",
        ),
        // An explicit group takes no member groups.
        (
            &["-u", "nobody:root"],
            "uid=65534(nobody) gid=0(root) groups=0(root),4242,65534(nogroup)",
        ),
        (
            &["-u", "nobody:51"],
            "uid=65534(nobody) gid=51(ops) groups=51(ops),4242,65534(nogroup)",
        ),
        (
            &["-u", "0"],
            "uid=0(root) gid=0(root) groups=0(root),50(staff),4242,65534(nogroup)",
        ),
        (
            &["-u", "1234"],
            "uid=1234 gid=0(root) groups=0(root),4242,65534(nogroup)",
        ),
    ];
    for (flags, want) in cases {
        let mut args = vec!["exec"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["exg", "id"]);
        d.docker(&args).ok().stdout_is(&format!("{want}\n"));
    }
    // A container with a user: exec without -u resolves that user anew.
    d.docker(&[
        "run",
        "-d",
        "--name",
        "exg2",
        "-u",
        "nobody",
        "--group-add",
        "4242",
        "busybox",
        "sleep",
        "1000",
    ])
    .ok();
    d.docker(&[
        "exec",
        "-u",
        "0",
        "exg2",
        "sh",
        "-c",
        "echo staff:x:50:nobody,root >> /etc/group",
    ])
    .ok();
    d.docker(&["exec", "exg2", "id"])
        .ok()
        .stdout_is("uid=65534(nobody) gid=65534(nogroup) groups=50(staff),4242,65534(nogroup)\n");
    d.docker(&["exec", "-u", "root", "exg2", "id"])
        .ok()
        .stdout_is("uid=0(root) gid=0(root) groups=0(root),50(staff),4242\n");
    // The init process: the gid is among the groups too.
    d.docker(&[
        "run",
        "--rm",
        "-u",
        "nobody:root",
        "--group-add",
        "4242",
        "busybox",
        "id",
    ])
    .ok()
    .stdout_is("uid=65534(nobody) gid=0(root) groups=0(root),4242\n");
    d.docker(&["run", "--rm", "-u", "1234", "busybox", "id"])
        .ok()
        .stdout_is("uid=1234 gid=0(root) groups=0(root)\n");
    for cli in d.clis() {
        d.run(cli, &["exec", "-u", "nobody", "exg2", "id", "-G"])
            .ok()
            .stdout_is("65534 50 4242\n");
    }
}
