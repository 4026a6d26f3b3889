//! exec streams as dockerd writes them: whether the output is stdcopy
//! frames or raw bytes follows the start request's `Tty` (moby's exec start
//! route reads it there, not from the create body), and the detach keys of
//! a TTY exec (`DetachKeys` in the create body, ctrl-p ctrl-q by default,
//! and the client's `config.json` `detachKeys`) end the client's stream
//! while the process runs on.

use std::time::Duration;

use berth_e2e::Daemon;

/// Creates an exec in `ctr` from a JSON body and returns its id.
fn exec_create(d: &Daemon, ctr: &str, body: &str) -> String {
    let r = d.post_json(&format!("/containers/{ctr}/exec"), body);
    r.status_is(201);
    r.json()["Id"].as_str().expect("an exec id").to_string()
}

fn exec_running(d: &Daemon, id: &str) -> bool {
    let r = d.get(&format!("/exec/{id}/json"));
    r.status_is(200);
    r.json()["Running"].as_bool().expect("Running")
}

#[test]
fn exec_output_is_framed_by_the_start_requests_tty() {
    let d = Daemon::start();
    d.docker(&["run", "-d", "--name", "ex", "busybox", "sleep", "300"])
        .ok();
    let frame = |data: &[u8]| {
        let mut f = vec![1u8, 0, 0, 0, 0, 0, 0, data.len() as u8];
        f.extend_from_slice(data);
        f
    };
    let cases: [(bool, &str, Vec<u8>); 4] = [
        // Create and start agree.
        (true, r#"{"Detach":false,"Tty":true}"#, b"hi\r\n".to_vec()),
        (false, r#"{"Detach":false,"Tty":false}"#, frame(b"hi\n")),
        // They disagree: the start's word wins.
        (false, r#"{"Detach":false,"Tty":true}"#, b"hi\n".to_vec()),
        (true, r#"{"Detach":false}"#, frame(b"hi\r\n")),
    ];
    for (create_tty, start, want) in cases {
        let id = exec_create(
            &d,
            "ex",
            &format!(r#"{{"Cmd":["echo","hi"],"AttachStdout":true,"Tty":{create_tty}}}"#),
        );
        let (resp, out, closed) = d.hijack(
            &format!("/exec/{id}/start"),
            start,
            b"",
            Duration::from_secs(20),
        );
        resp.status_is(101);
        assert!(closed, "the stream ends with the exec");
        assert_eq!(
            out,
            want,
            "create Tty={create_tty}, start {start}: {:?}",
            String::from_utf8_lossy(&out)
        );
    }
    d.docker(&["rm", "-f", "ex"]).ok();
}

#[test]
fn exec_detach_keys_end_the_stream_and_the_process_runs_on() {
    let d = Daemon::start();
    d.docker(&["run", "-d", "--name", "exd", "busybox", "sleep", "300"])
        .ok();
    let start = r#"{"Detach":false,"Tty":true}"#;
    // (create body's DetachKeys, what the client types)
    for (keys, typed) in [("", &b"\x10\x11"[..]), ("ctrl-a,a", &b"\x01a"[..])] {
        let id = exec_create(
            &d,
            "exd",
            &format!(
                r#"{{"Cmd":["sh","-c","cat; sleep 30"],"AttachStdin":true,"AttachStdout":true,"AttachStderr":true,"Tty":true,"DetachKeys":"{keys}"}}"#
            ),
        );
        let (resp, _, closed) = d.hijack(
            &format!("/exec/{id}/start"),
            start,
            typed,
            Duration::from_secs(10),
        );
        resp.status_is(101);
        assert!(closed, "detach keys {keys:?}: the daemon ends the stream");
        // On dockerd 20.10 the process is gone once its client detached
        // (moby closes a TTY exec's output streams on a detach, which
        // seems to end it); berthd keeps it running, which is what a
        // detach means (and what attach's detach does on both).
        if !d.is_dockerd() {
            assert!(exec_running(&d, &id), "the detached exec runs on");
        }
    }
    // Without a TTY there are no detach keys: the bytes reach the process.
    let id = exec_create(
        &d,
        "exd",
        r#"{"Cmd":["cat"],"AttachStdin":true,"AttachStdout":true}"#,
    );
    let (_, out, closed) = d.hijack(
        &format!("/exec/{id}/start"),
        r#"{"Detach":false}"#,
        b"\x10\x11",
        Duration::from_secs(3),
    );
    assert!(!closed, "no detach without a TTY");
    assert!(out.ends_with(b"\x10\x11"), "cat echoes the keys: {out:?}");
    // Keys that do not parse are refused at create.
    let r = d.post_json(
        "/containers/exd/exec",
        r#"{"Cmd":["cat"],"AttachStdin":true,"Tty":true,"DetachKeys":"ctrl-1"}"#,
    );
    assert!(r.status >= 400, "bad detach keys accepted\n{r}");
    assert!(
        r.message().to_lowercase().contains("invalid escape keys"),
        "{r}"
    );
    d.docker(&["rm", "-f", "exd"]).ok();
}

#[test]
fn exec_detach_keys_from_the_clients_config_json() {
    let d = Daemon::start();
    d.docker(&["run", "-d", "--name", "exc", "busybox", "sleep", "300"])
        .ok();
    let conf = d.tmp().join("conf");
    std::fs::create_dir_all(&conf).expect("mkdir");
    std::fs::write(conf.join("config.json"), r#"{"detachKeys":"ctrl-a,a"}"#).expect("write");
    let conf = conf.display().to_string();
    for cli in d.clis() {
        let mut t = d.pty(
            cli,
            &["--config", &conf, "exec", "-it", "exc", "sh"],
            24,
            80,
        );
        if let Err(e) = t.expect("/ # ", Duration::from_secs(30)) {
            panic!("{cli:?}: {e}");
        }
        // ctrl-p ctrl-q is not the sequence any more: it reaches the shell.
        t.send(b"\x10\x11echo still\r").expect("send");
        if let Err(e) = t.expect("still\r\n", Duration::from_secs(30)) {
            panic!("{cli:?}: {e}");
        }
        t.send(b"\x01a").expect("send");
        // The docker CLI's word for a detach, and its status 1.
        let st = t.wait(Duration::from_secs(15));
        assert_eq!(
            st.and_then(|s| s.code()),
            Some(1),
            "{cli:?}: exec detaches with config.json's keys; terminal:\n{}",
            t.transcript()
        );
        assert!(
            t.transcript().contains("read escape sequence"),
            "{cli:?}: {:?}",
            t.transcript()
        );
    }
    // The shells still run in the container (on berthd; not on dockerd
    // 20.10, see above).
    if !d.is_dockerd() {
        let ps = d.docker(&["exec", "exc", "ps", "-o", "args"]);
        ps.ok();
        let shells = ps.stdout.lines().filter(|l| l.trim() == "sh").count();
        assert_eq!(shells, d.clis().len(), "{}", ps.stdout);
    }
    d.docker(&["rm", "-f", "exc"]).ok();
}
