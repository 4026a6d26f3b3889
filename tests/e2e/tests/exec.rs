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
