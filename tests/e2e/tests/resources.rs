//! Resource limits hold for real (OOM kill, pids limit, CPU quota), `docker
//! update` changes a running container's cgroup, `docker stats` reports it,
//! and nonsense values are refused with dockerd's words. Limits are read
//! back from the container's own cgroup files on the host, found through
//! `/proc/<pid>/cgroup`, so the same test runs against dockerd.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use berth_e2e::{wait_for, Daemon};

/// The directory of `controller` for the cgroup of process `pid` (v1
/// hierarchy when the host has it, else the cgroup2 tree).
fn cgroup_dir(pid: &str, controller: &str) -> PathBuf {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("reading cgroup");
    let v1 = PathBuf::from("/sys/fs/cgroup").join(controller);
    let v1_ctrl = if controller == "cpu" {
        "cpu,cpuacct"
    } else {
        controller
    };
    if v1.is_dir() {
        for l in text.lines() {
            let mut parts = l.splitn(3, ':');
            let (_, ctrls, path) = (parts.next(), parts.next(), parts.next());
            if let (Some(ctrls), Some(path)) = (ctrls, path) {
                if ctrls.split(',').any(|c| c == controller) || ctrls == v1_ctrl {
                    return v1.join(path.trim_start_matches('/'));
                }
            }
        }
    }
    let path = text
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .expect("a cgroup2 line");
    PathBuf::from("/sys/fs/cgroup").join(path.trim_start_matches('/'))
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("reading {}/{file}: {e}", dir.display()))
        .trim()
        .to_string()
}

fn v2() -> bool {
    !PathBuf::from("/sys/fs/cgroup/memory").is_dir()
}

#[test]
fn memory_limit_oom_kills_and_says_so() {
    let d = Daemon::start();
    let o = d.docker(&[
        "run",
        "--name",
        "oom",
        "--memory",
        "32m",
        "busybox",
        "sh",
        "-c",
        "x=$(head -c 100m /dev/zero | tr '\\0' a); echo survived",
    ]);
    o.code_is(137);
    assert!(!o.stdout.contains("survived"), "{o}");
    assert_eq!(
        d.inspect("oom", "{{.State.OOMKilled}} {{.State.ExitCode}}"),
        "true 137"
    );
    // HostConfig echoes the limit; swap defaults to twice the memory where
    // the host can limit swap, as dockerd does.
    let hc = d.inspect("oom", "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}");
    let swap =
        if PathBuf::from("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists() || v2() {
            "67108864"
        } else {
            "-1"
        };
    assert_eq!(hc, format!("33554432 {swap}"));
    // A container that stays within its limit is not OOM-killed.
    d.docker(&[
        "run", "--name", "fine", "--memory", "32m", "busybox", "true",
    ])
    .ok();
    assert_eq!(d.inspect("fine", "{{.State.OOMKilled}}"), "false");
}

#[test]
fn pids_limit_stops_a_fork_loop() {
    let d = Daemon::start();
    d.docker(&[
        "run",
        "-d",
        "--name",
        "forky",
        "--pids-limit",
        "20",
        "busybox",
        "sh",
        "-c",
        // The loop's shell dies at the first failed fork; the outer one
        // then execs (no fork) so the container stays up to be looked at.
        "(for i in $(seq 1 60); do sleep 60 & done); echo looped; exec sleep 60",
    ])
    .ok();
    assert_eq!(d.inspect("forky", "{{.HostConfig.PidsLimit}}"), "20");
    let pid = d.inspect("forky", "{{.State.Pid}}");
    let dir = cgroup_dir(&pid, "pids");
    assert_eq!(read(&dir, "pids.max"), "20");
    let logs = wait_for(Duration::from_secs(20), || {
        let o = d.docker(&["logs", "forky"]);
        let all = format!("{}{}", o.stdout, o.stderr);
        all.contains("looped").then_some(all)
    })
    .expect("the loop ends");
    assert!(logs.contains("can't fork"), "no fork failure in {logs:?}");
    let current: u64 = read(&dir, "pids.current").parse().expect("number");
    assert!(current <= 20, "pids.current {current}");
    assert!(current >= 15, "the loop made only {current} processes");
    d.docker(&["rm", "-f", "forky"]).ok();
}

/// CPU time of the cgroup in nanoseconds.
fn cpu_usage_ns(dir: &Path) -> u64 {
    if dir.join("cpuacct.usage").exists() {
        read(dir, "cpuacct.usage").parse().expect("number")
    } else {
        read(dir, "cpu.stat")
            .lines()
            .find_map(|l| l.strip_prefix("usage_usec "))
            .and_then(|v| v.parse::<u64>().ok())
            .expect("usage_usec")
            * 1000
    }
}

#[test]
fn half_a_cpu_holds_a_busy_loop_near_half_a_core() {
    let d = Daemon::start();
    d.docker(&[
        "run",
        "-d",
        "--name",
        "busy",
        "--cpus",
        "0.5",
        "busybox",
        "sh",
        "-c",
        "while :; do :; done",
    ])
    .ok();
    assert_eq!(d.inspect("busy", "{{.HostConfig.NanoCpus}}"), "500000000");
    let pid = d.inspect("busy", "{{.State.Pid}}");
    let dir = if v2() {
        cgroup_dir(&pid, "cpu")
    } else {
        cgroup_dir(&pid, "cpuacct")
    };
    std::thread::sleep(Duration::from_millis(500));
    let (t0, u0) = (Instant::now(), cpu_usage_ns(&dir));
    std::thread::sleep(Duration::from_secs(2));
    let (t1, u1) = (Instant::now(), cpu_usage_ns(&dir));
    let ratio = (u1 - u0) as f64 / (t1 - t0).as_nanos() as f64;
    assert!(
        (0.35..=0.65).contains(&ratio),
        "busy loop used {ratio:.2} of a core"
    );
    d.docker(&["rm", "-f", "busy"]).ok();
}

#[test]
fn update_changes_a_running_containers_limits() {
    let d = Daemon::start();
    d.docker(&[
        "run", "-d", "--name", "upd", "--memory", "32m", "busybox", "sleep", "60",
    ])
    .ok();
    let pid = d.inspect("upd", "{{.State.Pid}}");
    let mem = cgroup_dir(&pid, "memory");
    let limit_file = if v2() {
        "memory.max"
    } else {
        "memory.limit_in_bytes"
    };
    assert_eq!(read(&mem, limit_file), "33554432");
    d.docker(&[
        "update",
        "--memory",
        "64m",
        "--memory-swap",
        "128m",
        "--pids-limit",
        "30",
        "--restart",
        "on-failure:2",
        "upd",
    ])
    .ok()
    .stdout_is("upd\n");
    assert_eq!(read(&mem, limit_file), "67108864");
    assert_eq!(read(&cgroup_dir(&pid, "pids"), "pids.max"), "30");
    assert_eq!(
        d.inspect(
            "upd",
            "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}"
        ),
        "67108864 30 on-failure:2"
    );
    // The answer's body, through the API.
    let r = d.post_json("/containers/upd/update", r#"{"CpuShares": 512}"#);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert!(v["Warnings"].is_array() || v["Warnings"].is_null(), "{v}");
    // Fields the update does not take are ignored, as dockerd's Go decoder
    // ignores them (`Init` is in the spec's `Resources`, not in moby's);
    // names match in any case.
    d.post_json(
        "/containers/upd/update",
        r#"{"Init": true, "Bogus": 1, "cpushares": 256}"#,
    )
    .status_is(200);
    assert_eq!(d.inspect("upd", "{{.HostConfig.CpuShares}}"), "256");
    // Bad values change nothing.
    d.docker(&["update", "--memory", "1m", "upd"])
        .fails()
        .stderr_has("Minimum memory limit allowed is 6MB");
    assert_eq!(read(&mem, limit_file), "67108864");
    d.docker(&["update", "--memory", "1g", "nosuch"]).fails();
    d.docker(&["rm", "-f", "upd"]).ok();
}

#[test]
fn nonsense_limits_are_refused_with_dockerds_words() {
    let d = Daemon::start();
    let cases: &[(&[&str], &str)] = &[
        (&["--memory", "1m"], "Minimum memory limit allowed is 6MB"),
        (
            &["--cpus", "0.5", "--cpu-period", "50000"],
            "Conflicting options: Nano CPUs and CPU Period cannot both be set",
        ),
        (&["--cpus", "64"], "Range of CPUs is from 0.01 to"),
        (
            &["--memory", "64m", "--memory-swap", "32m"],
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        ),
        (
            &["--memory-reservation", "1m"],
            "Minimum memory reservation allowed is 6MB",
        ),
        (
            &["--cpu-period", "10"],
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
        ),
        (
            &["--cpuset-cpus", "0-x"],
            "Invalid value 0-x for cpuset cpus",
        ),
        (&["--cpuset-cpus", "63"], "Requested CPUs are not available"),
    ];
    for (flags, msg) in cases {
        let mut args = vec!["create", "--name", "bad"];
        args.extend_from_slice(flags);
        args.push("busybox");
        d.docker(&args).code_is(1).stderr_has(msg);
    }
    // Nothing was made.
    d.docker(&["ps", "-aq"]).ok().stdout_is("");
}

#[test]
fn ulimits_and_limits_from_every_cli() {
    let d = Daemon::start();
    for (i, cli) in d.clis().into_iter().enumerate() {
        let name = format!("ul{i}");
        d.run(
            cli,
            &[
                "run",
                "--name",
                &name,
                "--ulimit",
                "nofile=100:200",
                "--pids-limit",
                "30",
                "--memory",
                "32m",
                "--memory-swap",
                "64m",
                "--cpuset-cpus",
                "0",
                "busybox",
                "sh",
                "-c",
                "ulimit -n; ulimit -Hn",
            ],
        )
        .ok()
        .stdout_is("100\n200\n");
        assert_eq!(
            d.inspect(
                &name,
                "{{.HostConfig.PidsLimit}} {{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.CpusetCpus}}"
            ),
            "30 33554432 67108864 0",
            "{cli:?}"
        );
        d.run(
            cli,
            &["run", "--rm", "--ulimit", "nofile=9:1", "busybox", "true"],
        )
        .fails();
    }
}

#[test]
fn stats_report_cpu_memory_and_pids() {
    let d = Daemon::start();
    d.docker(&[
        "run",
        "-d",
        "--name",
        "st",
        "--memory",
        "64m",
        "busybox",
        "sh",
        "-c",
        "sleep 60 & while :; do :; done",
    ])
    .ok();
    std::thread::sleep(Duration::from_millis(1500));
    let o = d.docker(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.PIDs}}",
        "st",
    ]);
    o.ok();
    let line = o.stdout.trim();
    let cols: Vec<&str> = line.split('|').collect();
    assert_eq!(cols.len(), 4, "{line}");
    assert_eq!(cols[0], "st");
    let cpu: f64 = cols[1].trim_end_matches('%').parse().expect("cpu %");
    assert!(cpu > 30.0, "a busy loop shows {cpu}% CPU");
    assert!(cols[2].ends_with("/ 64MiB"), "mem usage {}", cols[2]);
    assert_eq!(cols[3], "2");
    // The JSON document, one-shot and not streamed.
    let r = d.get("/containers/st/stats?stream=false");
    assert_eq!(r.status, 200);
    let v: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    for k in [
        "read",
        "preread",
        "pids_stats",
        "blkio_stats",
        "num_procs",
        "storage_stats",
        "cpu_stats",
        "precpu_stats",
        "memory_stats",
        "name",
        "id",
    ] {
        assert!(v.get(k).is_some(), "no {k} in {v}");
    }
    assert_eq!(v["name"], "/st");
    assert_eq!(v["memory_stats"]["limit"], 67108864);
    assert_eq!(v["pids_stats"]["current"], 2);
    assert!(v["cpu_stats"]["online_cpus"].as_u64().unwrap_or(0) >= 1);
    assert!(v["cpu_stats"]["system_cpu_usage"].as_u64().unwrap_or(0) > 0);
    assert!(
        v["cpu_stats"]["cpu_usage"]["total_usage"]
            .as_u64()
            .unwrap_or(0)
            > v["precpu_stats"]["cpu_usage"]["total_usage"]
                .as_u64()
                .unwrap_or(0)
    );
    // Streamed: several documents, a second apart.
    let o = d.sh(&format!(
        "timeout 3 curl -sN --unix-socket {} http://x/containers/st/stats | head -c 100000 | grep -c '\"read\"'",
        d.sock.display()
    ));
    let n: u32 = o.stdout.trim().parse().unwrap_or(0);
    assert!((2..=4).contains(&n), "streamed {n} documents in 3 s: {o}");
    d.docker(&["rm", "-f", "st"]).ok();
    d.docker(&["stats", "--no-stream", "nosuch"]).fails();
}

#[test]
fn every_cli_updates_and_shows_stats() {
    let d = Daemon::start();
    d.docker(&[
        "run", "-d", "--name", "cli", "--memory", "32m", "busybox", "sleep", "60",
    ])
    .ok();
    let pid = d.inspect("cli", "{{.State.Pid}}");
    let mem = cgroup_dir(&pid, "memory");
    let limit_file = if v2() {
        "memory.max"
    } else {
        "memory.limit_in_bytes"
    };
    for (i, cli) in d.clis().into_iter().enumerate() {
        let m = format!("{}m", 40 + i * 8);
        d.run(
            cli,
            &["update", "--memory", &m, "--memory-swap", "-1", "cli"],
        )
        .ok()
        .stdout_is("cli\n");
        assert_eq!(
            read(&mem, limit_file),
            ((40 + i * 8) << 20).to_string(),
            "{cli:?}"
        );
        let o = d.run(
            cli,
            &[
                "stats",
                "--no-stream",
                "--format",
                "{{.Name}} {{.PIDs}} {{.MemUsage}}",
                "cli",
            ],
        );
        o.ok();
        let line = o.stdout.trim().to_string();
        assert!(
            line.starts_with("cli 1 ") && line.ends_with(&format!("/ {}MiB", 40 + i * 8)),
            "{cli:?}: {line}"
        );
        // The default table's header.
        d.run(cli, &["stats", "--no-stream", "cli"])
            .ok()
            .stdout_has("CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT");
    }
    d.docker(&["rm", "-f", "cli"]).ok();
}

/// The block device holding the test's files (`/dev/NAME` and `MAJ:MIN`),
/// found through sysfs rather than assumed.
fn host_disk() -> (String, String) {
    use std::os::unix::fs::MetadataExt;
    let dev = std::fs::metadata("/tmp").expect("stat /tmp").dev();
    let (maj, min) = (nix::sys::stat::major(dev), nix::sys::stat::minor(dev));
    let uevent = std::fs::read_to_string(format!("/sys/dev/block/{maj}:{min}/uevent"))
        .unwrap_or_else(|e| panic!("/tmp is not on a block device ({maj}:{min}): {e}"));
    let name = uevent
        .lines()
        .find_map(|l| l.strip_prefix("DEVNAME="))
        .expect("DEVNAME in uevent");
    (format!("/dev/{name}"), format!("{maj}:{min}"))
}

/// Seconds a direct (uncached) read of a `mib` MiB file on the disk takes
/// inside a container run with `flags`, timed inside the container. (The
/// file, not the raw disk: opening the host's disk is refused here.)
fn timed_read(d: &Daemon, flags: &[&str], mib: usize) -> f64 {
    let dir = d.tmp().join("bk-data");
    std::fs::create_dir_all(&dir).unwrap();
    // Incompressible content, rewritten each time.
    let data: Vec<u8> = (0..mib << 20)
        .map(|i: usize| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(dir.join("f"), data).unwrap();
    let vol = format!("{}:/data:ro", dir.display());
    let script = "s=$(cut -d' ' -f1 /proc/uptime); \
         dd if=/data/f of=/dev/null bs=64k iflag=direct || exit 9; \
         e=$(cut -d' ' -f1 /proc/uptime); echo $s $e";
    let mut args = vec!["run", "--rm", "-v", &vol];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["busybox", "sh", "-c", script]);
    let o = d.docker(&args);
    o.ok();
    let t: Vec<f64> = o
        .stdout
        .split_whitespace()
        .map(|x| x.parse().expect("uptime"))
        .collect();
    t[1] - t[0]
}

#[test]
fn blkio_throttles_and_swappiness_reach_the_cgroup() {
    let d = Daemon::start();
    let (disk, majmin) = host_disk();
    let rate = |r: &str| format!("{disk}:{r}");
    d.docker(&[
        "run",
        "-d",
        "--name",
        "bk",
        "--memory-swappiness",
        "17",
        "--device-read-bps",
        &rate("1mb"),
        "--device-write-bps",
        &rate("2mb"),
        "--device-read-iops",
        &rate("100"),
        "--device-write-iops",
        &rate("200"),
        "busybox",
        "sleep",
        "1000",
    ])
    .ok();
    let pid = d.inspect("bk", "{{.State.Pid}}");
    if v2() {
        let io = cgroup_dir(&pid, "io");
        let max = read(&io, "io.max");
        assert!(
            max.contains(&format!(
                "{majmin} rbps=1048576 wbps=2097152 riops=100 wiops=200"
            )),
            "io.max: {max}"
        );
    } else {
        let blkio = cgroup_dir(&pid, "blkio");
        for (file, want) in [
            ("blkio.throttle.read_bps_device", "1048576"),
            ("blkio.throttle.write_bps_device", "2097152"),
            ("blkio.throttle.read_iops_device", "100"),
            ("blkio.throttle.write_iops_device", "200"),
        ] {
            assert_eq!(read(&blkio, file), format!("{majmin} {want}"), "{file}");
        }
        assert_eq!(read(&cgroup_dir(&pid, "memory"), "memory.swappiness"), "17");
        assert_eq!(d.inspect("bk", "{{.HostConfig.MemorySwappiness}}"), "17");
    }
    assert_eq!(
        d.inspect(
            "bk",
            "{{json .HostConfig.BlkioDeviceReadBps}} {{json .HostConfig.BlkioDeviceWriteIOps}}"
        ),
        format!(r#"[{{"Path":"{disk}","Rate":1048576}}] [{{"Path":"{disk}","Rate":200}}]"#)
    );
    // dockerd's update changes neither: accepted, ignored.
    d.post_json("/containers/bk/update", r#"{"MemorySwappiness": 50}"#)
        .status_is(200);
    if !v2() {
        assert_eq!(read(&cgroup_dir(&pid, "memory"), "memory.swappiness"), "17");
    }
    d.docker(&["rm", "-f", "bk"]).ok();
    // The limit holds for real: 3 MiB read uncached at 1 MiB/s takes about
    // 3s; unthrottled the same read takes a fraction of that.
    let free = timed_read(&d, &[], 3);
    let limited = timed_read(&d, &["--device-read-bps", &rate("1mb")], 3);
    eprintln!("3 MiB direct read: {free:.2}s unthrottled, {limited:.2}s at 1 MiB/s");
    assert!(
        (2.0..8.0).contains(&limited) && free < limited / 2.0,
        "3 MiB read: {free:.2}s free, {limited:.2}s at 1 MiB/s"
    );
    // Weight per device: applied where the host's blkio has it, else
    // dropped with dockerd's warning.
    let o = d.docker(&[
        "run",
        "-d",
        "--name",
        "bkw",
        "--blkio-weight-device",
        &rate("300"),
        "busybox",
        "sleep",
        "1000",
    ]);
    o.ok();
    if std::path::Path::new("/sys/fs/cgroup/blkio/blkio.weight_device").exists() {
        let pid = d.inspect("bkw", "{{.State.Pid}}");
        assert_eq!(
            read(&cgroup_dir(&pid, "blkio"), "blkio.weight_device"),
            format!("{majmin} 300")
        );
    } else if !v2() {
        assert!(
            o.stderr.contains("Weight-device discarded."),
            "stderr: {}",
            o.stderr
        );
        assert_eq!(
            d.inspect("bkw", "{{json .HostConfig.BlkioWeightDevice}}"),
            "[]"
        );
    }
    d.docker(&["rm", "-f", "bkw"]).ok();
}

#[test]
fn bad_blkio_devices_are_refused_with_dockerds_words() {
    let d = Daemon::start();
    // A path that is not there: the start fails (dockerd stats it then).
    d.docker(&[
        "run",
        "--name",
        "bknope",
        "--device-read-bps",
        "/dev/bk-nope:1mb",
        "busybox",
        "true",
    ])
    .fails()
    .stderr_has("stat /dev/bk-nope: no such file or directory");
    assert_eq!(d.inspect("bknope", "{{.State.Running}}"), "false");
    let r = d.post_json(
        "/containers/create?name=bkapi",
        r#"{"Image":"busybox","HostConfig":{"BlkioDeviceWriteIOps":[{"Path":"/dev/bk-nope","Rate":1}]}}"#,
    );
    r.status_is(201);
    let s = d.post_json("/containers/bkapi/start", "");
    s.status_is(500);
    assert_eq!(s.message(), "stat /dev/bk-nope: no such file or directory");
    // Wrong shapes never make a container.
    for body in [
        r#"{"Image":"busybox","HostConfig":{"BlkioDeviceReadBps":["x"]}}"#,
        r#"{"Image":"busybox","HostConfig":{"BlkioDeviceReadBps":[{"Path":"/dev/null","Rate":-1}]}}"#,
        r#"{"Image":"busybox","HostConfig":{"BlkioWeightDevice":[{"Path":"/dev/null","Weight":70000}]}}"#,
        r#"{"Image":"busybox","HostConfig":{"MemorySwappiness":-5}}"#,
    ] {
        let r = d.post_json("/containers/create?name=bkbad", body);
        assert!(r.status == 400 || r.status == 500, "{body}: {}", r.status);
    }
    d.docker(&["inspect", "bkbad"]).fails();
    // The CLIs check the flags first, with the docker CLI's words.
    for cli in d.clis() {
        if cli == berth_e2e::Cli::Docker20 {
            continue;
        }
        let cases: &[(&str, &str, &str)] = &[
            ("--device-read-bps", "vda:1mb", "bad format for device path: vda:1mb"),
            ("--device-write-bps", "/dev/vda", "bad format: /dev/vda"),
            (
                "--device-read-iops",
                "/dev/vda:1k",
                "invalid rate for device: /dev/vda:1k. The correct format is <device-path>:<number>. Number must be a positive integer",
            ),
            ("--blkio-weight-device", "/dev/vda:5", "invalid weight for device: /dev/vda:5"),
            (
                "--memory-swappiness",
                "101",
                "invalid value: 101. Valid memory swappiness range is 0-100",
            ),
        ];
        for (flag, value, msg) in cases {
            d.run(cli, &["create", flag, value, "busybox"])
                .code_is(125)
                .stderr_has(msg);
        }
    }
}
