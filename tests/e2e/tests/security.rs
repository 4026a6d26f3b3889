//! Security options: Docker's default seccomp profile, `--security-opt`
//! (`seccomp=unconfined|FILE`, `no-new-privileges`), masked and read-only
//! kernel paths, no host devices, and what `--privileged` lifts. Each test
//! also runs against dockerd (`BERTH_E2E_DAEMON=dockerd`).

use berth_e2e::Daemon;

/// `Seccomp:` and `NoNewPrivs:` of the container's own process.
fn status_field(d: &Daemon, extra: &[&str], field: &str) -> String {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["busybox", "grep", field, "/proc/self/status"]);
    let o = d.docker(&args);
    o.ok();
    o.stdout
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

#[test]
fn default_seccomp_profile_is_on() {
    let d = Daemon::start();
    // 2 = SECCOMP_MODE_FILTER.
    assert_eq!(status_field(&d, &[], "Seccomp:"), "2");
    assert_eq!(
        status_field(&d, &["--security-opt", "seccomp=unconfined"], "Seccomp:"),
        "0"
    );
    // dockerd 20.10 cannot run --privileged on these hosts (TESTING.md).
    if !d.is_dockerd() {
        assert_eq!(status_field(&d, &["--privileged"], "Seccomp:"), "0");
    }
    // docker exec runs under the container's filter too.
    d.docker(&["run", "-d", "--name", "bsec-ex", "busybox", "sleep", "1000"])
        .ok();
    d.docker(&["exec", "bsec-ex", "grep", "Seccomp:", "/proc/self/status"])
        .ok()
        .stdout_has("2");
    let info = d.docker(&["info", "--format", "{{json .SecurityOptions}}"]);
    info.ok().stdout_has("name=seccomp,profile=");
    if !d.is_dockerd() {
        info.stdout_has("name=seccomp,profile=builtin");
    }
}

#[test]
fn seccomp_refuses_what_docker_refuses() {
    let d = Daemon::start();
    // unshare(2) needs CAP_SYS_ADMIN in the profile: refused, although the
    // kernel lets anyone make a user namespace.
    d.docker(&["run", "--rm", "busybox", "unshare", "-U", "true"])
        .code_is(1)
        .stderr_has("Operation not permitted");
    d.docker(&[
        "run",
        "--rm",
        "--security-opt",
        "seccomp=unconfined",
        "busybox",
        "unshare",
        "-U",
        "true",
    ])
    .ok();
    // The same in `docker exec`, which runs under the container's filter
    // (compiled once per profile, see seccomp_bpf.rs), twice so the second
    // exec takes the cached program.
    d.docker(&["run", "-d", "--name", "bsec-un", "busybox", "sleep", "1000"])
        .ok();
    for _ in 0..2 {
        d.docker(&["exec", "bsec-un", "unshare", "-U", "true"])
            .code_is(1)
            .stderr_has("Operation not permitted");
        d.docker(&["exec", "bsec-un", "sh", "-c", "true | true && echo forked"])
            .ok()
            .stdout_has("forked");
    }
    d.docker(&[
        "run",
        "-d",
        "--name",
        "bsec-un2",
        "--security-opt",
        "seccomp=unconfined",
        "busybox",
        "sleep",
        "1000",
    ])
    .ok();
    d.docker(&["exec", "bsec-un2", "unshare", "-U", "true"])
        .ok();
    // With CAP_SYS_ADMIN the profile allows mount(2)...
    d.docker(&[
        "run",
        "--rm",
        "--cap-add",
        "SYS_ADMIN",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /m && mount -t tmpfs none /m && grep ' /m ' /proc/mounts",
    ])
    .ok()
    .stdout_has("tmpfs");
    // ...but never swapon(2) or pivot_root(2), which are not in it: EPERM
    // from the filter, where the kernel itself would say EINVAL.
    let swap = "dd if=/dev/zero of=/sw bs=4096 count=16 2>/dev/null; swapon /sw";
    d.docker(&[
        "run",
        "--rm",
        "--cap-add",
        "SYS_ADMIN",
        "busybox",
        "sh",
        "-c",
        swap,
    ])
    .fails()
    .stderr_has("Operation not permitted");
    let o = d.docker(&[
        "run",
        "--rm",
        "--cap-add",
        "SYS_ADMIN",
        "--security-opt",
        "seccomp=unconfined",
        "busybox",
        "sh",
        "-c",
        swap,
    ]);
    o.fails();
    assert!(
        !o.stderr.contains("Operation not permitted"),
        "unconfined swapon still refused by a filter: {}",
        o.stderr
    );
}

#[test]
fn cannot_mount_or_load_modules_without_privileges() {
    let d = Daemon::start();
    d.docker(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /m && mount -t tmpfs none /m",
    ])
    .fails()
    .stderr_has("mount: permission denied");
    // init_module/finit_module: refused before the kernel looks at the file.
    d.docker(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo garbage > /m.ko && insmod /m.ko",
    ])
    .fails()
    .stderr_has("Operation not permitted");
}

#[test]
fn custom_profile_from_a_file() {
    let d = Daemon::start();
    let dir = d.tmp();
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bsec-profile.json");
    std::fs::write(
        &file,
        r#"{
  "defaultAction": "SCMP_ACT_ALLOW",
  "syscalls": [
    {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"},
    {"name": "chmod", "action": "SCMP_ACT_ERRNO", "errnoRet": 13}
  ]
}"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", file.display());
    d.docker(&[
        "run",
        "--rm",
        "--security-opt",
        &opt,
        "busybox",
        "mkdir",
        "/newdir",
    ])
    .code_is(1)
    .stderr_has("Operation not permitted");
    d.docker(&[
        "run",
        "--rm",
        "--security-opt",
        &opt,
        "busybox",
        "sh",
        "-c",
        "touch /f; chmod 600 /f",
    ])
    .code_is(1)
    .stderr_has("Permission denied");
    // Everything else is allowed by that profile, unshare included.
    d.docker(&[
        "run",
        "--rm",
        "--security-opt",
        &opt,
        "busybox",
        "unshare",
        "-U",
        "true",
    ])
    .ok();
    let _ = std::fs::remove_file(&file);
}

#[test]
fn no_new_privileges() {
    let d = Daemon::start();
    assert_eq!(status_field(&d, &[], "NoNewPrivs:"), "0");
    assert_eq!(
        status_field(&d, &["--security-opt", "no-new-privileges"], "NoNewPrivs:"),
        "1"
    );
    assert_eq!(
        status_field(
            &d,
            &["--security-opt", "no-new-privileges=true"],
            "NoNewPrivs:"
        ),
        "1"
    );
    assert_eq!(
        status_field(
            &d,
            &["--security-opt", "no-new-privileges=false"],
            "NoNewPrivs:"
        ),
        "0"
    );
}

/// The filter is loaded without no_new_privs and without leaving the
/// process any capability beyond docker's set (berth lends CAP_SYS_ADMIN
/// for the load only): as root and as another user, in the container's
/// process and in an exec.
#[test]
fn seccomp_leaves_docker_capabilities_and_no_new_privs_off() {
    let d = Daemon::start();
    let fields = "grep -E '^(CapPrm|CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status";
    let docker_caps = "00000000a80425fb";
    let root = format!(
        "CapPrm:\t{docker_caps}\nCapEff:\t{docker_caps}\nCapBnd:\t{docker_caps}\nNoNewPrivs:\t0\nSeccomp:\t2\n"
    );
    let user = format!(
        "CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t{docker_caps}\nNoNewPrivs:\t0\nSeccomp:\t2\n"
    );
    let o = d.docker(&["run", "--rm", "busybox", "sh", "-c", fields]);
    assert_eq!(o.ok().stdout, root);
    let o = d.docker(&["run", "--rm", "-u", "1000", "busybox", "sh", "-c", fields]);
    assert_eq!(o.ok().stdout, user);
    d.docker(&[
        "run",
        "-d",
        "--name",
        "bsec-caps",
        "busybox",
        "sleep",
        "1000",
    ])
    .ok();
    let o = d.docker(&["exec", "bsec-caps", "sh", "-c", fields]);
    assert_eq!(o.ok().stdout, root);
    let o = d.docker(&["exec", "-u", "1000", "bsec-caps", "sh", "-c", fields]);
    assert_eq!(o.ok().stdout, user);
    // With CAP_SYS_ADMIN granted it stays, as docker does.
    let o = d.docker(&[
        "run",
        "--rm",
        "--cap-add",
        "SYS_ADMIN",
        "busybox",
        "sh",
        "-c",
        fields,
    ]);
    o.ok().stdout_has("CapEff:\t00000000a82425fb");
}

/// berthd answers 400 for a bad option; dockerd 20.10 answers 500 with
/// the same message (newer dockerd: 400).
fn refused(d: &Daemon, r: &berth_e2e::Resp) {
    if d.is_dockerd() {
        assert!(r.status == 400 || r.status == 500, "status {}", r.status);
    } else {
        r.status_is(400);
    }
}

#[test]
fn bad_security_opts_are_refused_at_create() {
    let d = Daemon::start();
    d.docker(&[
        "run",
        "--rm",
        "--name",
        "bsec-bad",
        "--security-opt",
        "foo=bar",
        "busybox",
        "true",
    ])
    .code_is(125)
    .stderr_has("invalid --security-opt 2: \"foo=bar\"");
    let body = |opt: &str| {
        serde_json::json!({"Image": "busybox", "Cmd": ["true"], "HostConfig": {"SecurityOpt": [opt]}})
            .to_string()
    };
    let r = d.post_json("/containers/create?name=bsec-bad1", &body("nonsense"));
    refused(&d, &r);
    assert_eq!(r.message(), "invalid --security-opt 1: \"nonsense\"");
    let r = d.post_json(
        "/containers/create?name=bsec-bad2",
        &body("no-new-privileges=perhaps"),
    );
    refused(&d, &r);
    assert_eq!(
        r.message(),
        "invalid --security-opt 2: \"no-new-privileges=perhaps\""
    );
    // A profile that is not JSON: dockerd refuses it at start, berthd
    // already at create; either way nothing runs and the message says why.
    let r = d.post_json("/containers/create?name=bsec-bad3", &body("seccomp={nope"));
    let msg = if r.status == 201 {
        let s = d.post_json("/containers/bsec-bad3/start", "");
        assert!(s.status >= 400, "started with a broken profile");
        s.message()
    } else {
        r.status_is(400);
        r.message()
    };
    assert!(
        msg.contains("Decoding seccomp profile failed"),
        "message: {msg}"
    );
    let ps = d.docker(&["ps", "-a", "--format", "{{.Names}}"]);
    ps.ok();
    for n in ["bsec-bad", "bsec-bad1", "bsec-bad2"] {
        assert!(!ps.lines().contains(&n), "{n} was created: {}", ps.stdout);
    }
}

/// What the masking script prints: each masked file the host's kernel has
/// (this one lacks `/proc/kcore` and `/proc/sched_debug`) reads as empty.
fn masked_expect() -> String {
    let mut want = String::new();
    for f in [
        "/proc/kcore",
        "/proc/keys",
        "/proc/timer_list",
        "/proc/sched_debug",
    ] {
        if std::path::Path::new(f).exists() {
            want.push_str(&format!("{f} 0\n"));
        }
    }
    want + "0\n0\n"
}

#[test]
fn masked_and_read_only_kernel_paths() {
    let d = Daemon::start();
    // Masked files read as empty, masked directories are empty.
    d.docker(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "for f in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug; do \
           [ -e $f ] || continue; printf '%s %s\\n' $f $(wc -c < $f); done; \
         ls -A /sys/firmware | wc -l; ls -A /proc/scsi 2>/dev/null | wc -l",
    ])
    .ok()
    .stdout_is(&masked_expect());
    // Read-only: /proc/sys and /proc/sysrq-trigger cannot be written.
    for f in ["/proc/sys/kernel/domainname", "/proc/sysrq-trigger"] {
        if !std::path::Path::new(f).exists() {
            continue; // this kernel has no magic SysRq
        }
        d.docker(&[
            "run",
            "--rm",
            "--cap-add",
            "SYS_ADMIN",
            "busybox",
            "sh",
            "-c",
            &format!("echo x > {f}"),
        ])
        .fails()
        .stderr_has("Read-only file system");
    }
    d.docker(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "grep -E ' /proc/(sys|bus|fs|irq|sysrq-trigger) ' /proc/mounts | grep -c '\\bro\\b'",
    ])
    .ok();
    // --privileged: nothing masked (dockerd 20.10 cannot run it here).
    if d.is_dockerd() {
        return;
    }
    let o = d.docker(&[
        "run",
        "--rm",
        "--privileged",
        "busybox",
        "wc",
        "-c",
        "/proc/timer_list",
    ]);
    o.ok();
    let n: u64 = o
        .stdout
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        n > 0,
        "/proc/timer_list masked under --privileged: {}",
        o.stdout
    );
}

#[test]
fn no_host_devices_without_privileged() {
    let d = Daemon::start();
    let o = d.docker(&["run", "--rm", "busybox", "ls", "/dev"]);
    o.ok();
    let mut devs: Vec<&str> = o.lines();
    devs.sort();
    let mut want = vec![
        "fd", "full", "mqueue", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin",
        "stdout", "tty", "urandom", "zero",
    ];
    // `/dev/core` links to `/proc/kcore`, made only where the host has it.
    if std::path::Path::new("/proc/kcore").exists() {
        want.insert(0, "core");
    }
    assert_eq!(devs, want, "/dev of an unprivileged container");
    // Even a made node of a host disk cannot be opened (device cgroup).
    d.docker(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "mknod /vda b 253 0 && head -c1 /vda",
    ])
    .fails()
    .stderr_has("Operation not permitted");
    // --privileged sees the host's devices (dockerd 20.10 cannot run it here).
    if d.is_dockerd() {
        return;
    }
    let o = d.docker(&["run", "--rm", "--privileged", "busybox", "ls", "/dev"]);
    o.ok();
    assert!(
        o.lines().len() > devs.len() + 5,
        "privileged /dev: {}",
        o.stdout
    );
}

#[test]
fn devices_and_device_cgroup_rules() {
    let d = Daemon::start();
    // --device HOST:CONTAINER: the node exists with the host's numbers and works.
    d.docker(&[
        "run",
        "--rm",
        "--device",
        "/dev/null:/dev/bsecnull",
        "busybox",
        "sh",
        "-c",
        "stat -c '%t:%T %F' /dev/bsecnull && echo hi > /dev/bsecnull && echo written",
    ])
    .ok()
    .stdout_is("1:3 character special file\nwritten\n");
    // :r only: the device cgroup refuses writing.
    d.docker(&[
        "run",
        "--rm",
        "--device",
        "/dev/loop0:/dev/bsecloop:r",
        "busybox",
        "sh",
        "-c",
        "head -c1 /dev/bsecloop >/dev/null && echo read; echo x > /dev/bsecloop",
    ])
    .fails()
    .stdout_is("read\n")
    .stderr_has("Operation not permitted");
    // A node made inside is useless without a rule that allows it...
    let script = "mknod /l b 7 0 && head -c1 /l >/dev/null && echo opened";
    d.docker(&["run", "--rm", "busybox", "sh", "-c", script])
        .fails()
        .stderr_has("Operation not permitted");
    // ...and usable with --device-cgroup-rule.
    d.docker(&[
        "run",
        "--rm",
        "--device-cgroup-rule",
        "b 7:* rmw",
        "busybox",
        "sh",
        "-c",
        script,
    ])
    .ok()
    .stdout_is("opened\n");
    // Bad input.
    // (the CLI turns "no such file or directory" into exit 127 itself)
    d.docker(&[
        "run",
        "--rm",
        "--device",
        "/dev/bsec-nope",
        "busybox",
        "true",
    ])
    .fails()
    .stderr_has("error gathering device information while adding custom device \"/dev/bsec-nope\"");
    let r = d.post_json(
        "/containers/create?name=bsec-devbad",
        r#"{"Image":"busybox","HostConfig":{"DeviceCgroupRules":["z 1:1 rwm"]}}"#,
    );
    // berthd refuses it at create; dockerd 20.10 only at start.
    let msg = if r.status == 201 {
        let s = d.post_json("/containers/bsec-devbad/start", "");
        assert!(s.status >= 400, "started with a bad rule");
        s.message()
    } else {
        r.status_is(400);
        r.message()
    };
    assert!(
        msg.contains("invalid device cgroup rule format: 'z 1:1 rwm'"),
        "message: {msg}"
    );
}

#[test]
fn sysctls_group_add_and_read_only() {
    let d = Daemon::start();
    // Namespaced sysctls are set inside the container only.
    d.docker(&[
        "run",
        "--rm",
        "--sysctl",
        "net.ipv4.ip_forward=1",
        "--sysctl",
        "kernel.shmmni=1234",
        "busybox",
        "sh",
        "-c",
        "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni",
    ])
    .ok()
    .stdout_is("1\n1234\n");
    // Others are refused (the CLI checks its own list first; the API is
    // checked by the daemon).
    let r = d.post_json(
        "/containers/create?name=bsec-sysctl",
        r#"{"Image":"busybox","HostConfig":{"Sysctls":{"kernel.pid_max":"100"}}}"#,
    );
    let msg = if r.status == 201 {
        let s = d.post_json("/containers/bsec-sysctl/start", "");
        assert!(s.status >= 400, "started with kernel.pid_max");
        s.message()
    } else {
        r.status_is(400);
        r.message()
    };
    assert!(
        msg.contains("\"kernel.pid_max\" is not in a separate kernel namespace"),
        "message: {msg}"
    );
    // --group-add by name (the image's /etc/group) and by number.
    let g = d.docker(&[
        "run",
        "--rm",
        "--group-add",
        "nogroup",
        "--group-add",
        "4242",
        "busybox",
        "id",
        "-G",
    ]);
    g.ok();
    let ids: Vec<&str> = g.stdout.split_whitespace().collect();
    assert!(ids.contains(&"4242"), "id -G: {}", g.stdout);
    assert!(ids.contains(&"65534"), "nogroup not added: {}", g.stdout);
    d.docker(&[
        "run",
        "--rm",
        "--group-add",
        "bsec-nogroup",
        "busybox",
        "true",
    ])
    .fails()
    .stderr_has("bsec-nogroup");
    // --read-only with a --tmpfs: the rootfs refuses writes, the tmpfs takes them.
    d.docker(&[
        "run",
        "--rm",
        "--read-only",
        "--tmpfs",
        "/scratch",
        "busybox",
        "sh",
        "-c",
        "echo ok > /scratch/f && cat /scratch/f; touch /f",
    ])
    .fails()
    .stdout_is("ok\n")
    .stderr_has("Read-only file system");
}

#[test]
fn every_cli_sends_the_flags() {
    let d = Daemon::start();
    let dir = d.tmp();
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bsec-clis.json");
    std::fs::write(
        &file,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", file.display());
    for cli in d.clis() {
        // The CLI sends the profile's content, not its path.
        d.run(
            cli,
            &[
                "run",
                "--rm",
                "--security-opt",
                &opt,
                "busybox",
                "mkdir",
                "/x",
            ],
        )
        .code_is(1)
        .stderr_has("Operation not permitted");
        d.run(
            cli,
            &[
                "run",
                "--rm",
                "--init",
                "--device",
                "/dev/null:/dev/bsecnull:rw",
                "--sysctl",
                "net.ipv4.ip_forward=1",
                "--group-add",
                "4242",
                "busybox",
                "sh",
                "-c",
                "cat /proc/sys/net/ipv4/ip_forward; id -G | tr ' ' '\\n' | grep -x 4242; \
                 echo x > /dev/bsecnull && cat /proc/1/comm",
            ],
        )
        .ok()
        .stdout_is("1\n4242\ndocker-init\n");
        let name = format!("bsec-cli-{cli:?}").to_lowercase();
        d.run(
            cli,
            &[
                "run",
                "-d",
                "--name",
                &name,
                "--health-cmd",
                "true",
                "--health-interval",
                "500ms",
                "--health-retries",
                "1",
                "busybox",
                "sleep",
                "1000",
            ],
        )
        .ok();
        let healthy = berth_e2e::wait_for(std::time::Duration::from_secs(15), || {
            (d.inspect(&name, "{{.State.Health.Status}}") == "healthy").then_some(())
        });
        assert!(healthy.is_some(), "{cli:?}: never healthy");
        d.run(cli, &["rm", "-f", &name]).ok();
    }
    let _ = std::fs::remove_file(&file);
}
