//! Log drivers: lines reach real listeners speaking syslog, GELF and
//! fluentd's forward protocol (run by the test on loopback, inside the
//! daemon's network view), json-file rotation, `none`, non-blocking
//! delivery that never stalls the container, and bad options.

use std::io::Read;
use std::net::{TcpListener, UdpSocket};
use std::time::{Duration, Instant};

use berth_e2e::Daemon;

/// Runs `f` with the daemon's network namespace (dockerd runs in its own),
/// so sockets made in it are where the daemon's log drivers connect.
fn in_daemon_netns<T: Send>(d: &Daemon, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            if d.is_dockerd() {
                let ns = std::fs::File::open(format!("/run/netns/{}", d.net_name)).unwrap();
                nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            }
            f()
        })
        .join()
        .unwrap()
    })
}

fn udp(d: &Daemon) -> (UdpSocket, u16) {
    let s = in_daemon_netns(d, || UdpSocket::bind("127.0.0.1:0").unwrap());
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let port = s.local_addr().unwrap().port();
    (s, port)
}

fn recv_all(s: &UdpSocket, want: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65536];
    while out.len() < want {
        match s.recv(&mut buf) {
            Ok(n) => out.push(buf[..n].to_vec()),
            Err(_) => break,
        }
    }
    out
}

#[test]
fn syslog_lines_reach_a_listener_and_docker_logs_still_works() {
    let d = Daemon::start();
    let (sock, port) = udp(&d);
    let addr = format!("syslog-address=udp://127.0.0.1:{port}");
    d.docker(&[
        "run",
        "--name",
        "sl",
        "--log-driver",
        "syslog",
        "--log-opt",
        &addr,
        "--log-opt",
        "syslog-facility=local3",
        "--log-opt",
        "tag={{.Name}}",
        "busybox",
        "sh",
        "-c",
        "echo to-syslog; echo err-line >&2",
    ])
    .ok();
    let got: Vec<String> = recv_all(&sock, 2)
        .into_iter()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .collect();
    assert_eq!(got.len(), 2, "{got:?}");
    let out = got
        .iter()
        .find(|l| l.ends_with("to-syslog"))
        .expect("stdout line");
    let err = got
        .iter()
        .find(|l| l.ends_with("err-line"))
        .expect("stderr line");
    // local3 = 19: info 19*8+6 = 158, err 19*8+3 = 155; the tag template.
    assert!(out.starts_with("<158>") && out.contains(" sl["), "{out}");
    assert!(err.starts_with("<155>"), "{err}");
    // Dual logging: docker logs reads the local cache.
    let logs = d.docker(&["logs", "sl"]).ok().stdout.clone();
    assert!(logs.contains("to-syslog"), "{logs}");
}

#[test]
fn gelf_and_fluentd_listeners_get_structured_records() {
    let d = Daemon::start();
    let (sock, port) = udp(&d);
    let addr = format!("gelf-address=udp://127.0.0.1:{port}");
    d.docker(&[
        "run",
        "--rm",
        "--name",
        "gl",
        "--label",
        "team=blue",
        "--log-driver",
        "gelf",
        "--log-opt",
        &addr,
        "--log-opt",
        "labels=team",
        "busybox",
        "echo",
        "gelf-line",
    ])
    .ok();
    let msgs = recv_all(&sock, 1);
    assert_eq!(msgs.len(), 1);
    let mut json = String::new();
    flate2::read::GzDecoder::new(&msgs[0][..])
        .read_to_string(&mut json)
        .expect("gzip'd GELF");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["short_message"], "gelf-line");
    assert_eq!(v["version"], "1.1");
    assert_eq!(v["_container_name"], "gl");
    assert_eq!(v["_team"], "blue");
    assert_eq!(v["level"], 6);

    // fluentd's forward protocol over TCP: [tag, time, record].
    let listener = in_daemon_netns(&d, || TcpListener::bind("127.0.0.1:0").unwrap());
    let fport = listener.local_addr().unwrap().port();
    let reader = std::thread::spawn(move || {
        listener.set_nonblocking(false).unwrap();
        let mut records = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(15);
        while records.is_empty() && Instant::now() < deadline {
            let (mut c, _) = listener.accept().unwrap();
            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut data = Vec::new();
            let _ = c.read_to_end(&mut data);
            let mut cur = std::io::Cursor::new(&data[..]);
            while (cur.position() as usize) < data.len() {
                let r: Result<(String, u64, std::collections::BTreeMap<String, String>), _> =
                    rmp_serde::from_read(&mut cur);
                match r {
                    Ok(x) => records.push(x),
                    Err(_) => break,
                }
            }
        }
        records
    });
    let faddr = format!("fluentd-address=127.0.0.1:{fport}");
    d.docker(&[
        "run",
        "--rm",
        "--name",
        "fl",
        "--log-driver",
        "fluentd",
        "--log-opt",
        &faddr,
        "--log-opt",
        "tag=app.{{.Name}}",
        "busybox",
        "echo",
        "fluent-line",
    ])
    .ok();
    let records = reader.join().unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    let (tag, _time, rec) = &records[0];
    assert_eq!(tag, "app.fl");
    assert_eq!(rec["log"], "fluent-line");
    assert_eq!(rec["source"], "stdout");
    assert_eq!(rec["container_name"], "/fl");
    // Nobody listening: the start is refused, as dockerd refuses it.
    let dead = format!("fluentd-address=127.0.0.1:{}", fport);
    d.docker(&[
        "run",
        "--rm",
        "--log-driver",
        "fluentd",
        "--log-opt",
        &dead,
        "busybox",
        "true",
    ])
    .fails();
}

#[test]
fn json_file_rotation_none_and_bad_options() {
    let d = Daemon::start();
    d.docker(&[
        "run",
        "--name",
        "rot",
        "--log-opt",
        "max-size=1k",
        "--log-opt",
        "max-file=3",
        "busybox",
        "sh",
        "-c",
        "for i in $(seq 1 300); do echo line-$i; done",
    ])
    .ok();
    let logs = d.docker(&["logs", "rot"]).ok().stdout.clone();
    let lines: Vec<&str> = logs.lines().collect();
    assert_eq!(lines.last(), Some(&"line-300"));
    assert!(
        lines.len() < 300 && lines.len() > 20,
        "{} lines kept",
        lines.len()
    );
    let path = d.inspect("rot", "{{.LogPath}}");
    let size = d
        .host_sh(&format!("stat -c %s {path}"))
        .stdout
        .trim()
        .parse::<u64>()
        .unwrap_or(0);
    assert!(size <= 1024, "{size}");
    // none: nothing to read.
    d.docker(&[
        "run",
        "--name",
        "quiet",
        "--log-driver",
        "none",
        "busybox",
        "echo",
        "x",
    ])
    .ok();
    d.docker(&["logs", "quiet"])
        .fails()
        .stderr_has("configured logging driver does not support reading");
    // Bad drivers and options: 400 at create, nothing made.
    d.docker(&[
        "create",
        "--name",
        "bad1",
        "--log-driver",
        "bogus",
        "busybox",
    ])
    .fails()
    .stderr_has("error looking up logging plugin bogus: plugin \"bogus\" not found");
    d.docker(&["create", "--name", "bad2", "--log-opt", "nope=1", "busybox"])
        .fails()
        .stderr_has("unknown log opt 'nope'");
    let ps = d
        .docker(&["ps", "-a", "--format", "{{.Names}}"])
        .ok()
        .stdout
        .clone();
    assert!(!ps.contains("bad"), "{ps}");
    // json-file's values are read when the container starts (dockerd
    // checks only their names at create): created, then the start fails.
    d.docker(&[
        "create",
        "--name",
        "bad3",
        "--log-opt",
        "max-size=lots",
        "busybox",
    ])
    .ok();
    d.docker(&["start", "bad3"])
        .fails()
        .stderr_has("failed to initialize logging driver: invalid size: 'lots'");
}

#[test]
fn non_blocking_mode_never_stalls_the_container() {
    let d = Daemon::start();
    // A fluentd "server" that accepts and never reads: a blocking driver
    // would hold the container back once the socket buffers fill.
    let listener = in_daemon_netns(&d, || TcpListener::bind("127.0.0.1:0").unwrap());
    let port = listener.local_addr().unwrap().port();
    let hold = std::thread::spawn(move || {
        let mut conns = Vec::new();
        listener.set_nonblocking(true).unwrap();
        let deadline = Instant::now() + Duration::from_secs(40);
        while Instant::now() < deadline {
            if let Ok((c, _)) = listener.accept() {
                conns.push(c);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(conns);
    });
    let addr = format!("fluentd-address=127.0.0.1:{port}");
    let t = Instant::now();
    d.docker(&[
        "run", "--rm", "--log-driver", "fluentd", "--log-opt", &addr, "--log-opt",
        "mode=non-blocking", "--log-opt", "max-buffer-size=64k", "busybox", "sh", "-c",
        "i=0; while [ $i -lt 200000 ]; do echo aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa; i=$((i+1)); done > /dev/stdout",
    ])
    .ok();
    let took = t.elapsed();
    assert!(
        took < Duration::from_secs(30),
        "non-blocking run took {took:?}"
    );
    drop(hold);
}
