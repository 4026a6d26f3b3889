//! attach as dockerd answers it: `logs=1&stream=0` returns the output the
//! container has written so far and ends, for an exited and for a running
//! container, through a hijacked connection, a plain request (no `Upgrade`
//! header: dockerd answers 200 and writes the stream). (docker-py's
//! `attach(logs=True, stream=False)` reads nothing from dockerd 20.10 either.)

use std::time::Duration;

use berth_e2e::{wait_for, Daemon};

fn frame(stream: u8, data: &[u8]) -> Vec<u8> {
    let mut f = vec![stream, 0, 0, 0];
    f.extend_from_slice(&(data.len() as u32).to_be_bytes());
    f.extend_from_slice(data);
    f
}

#[test]
fn attach_logs_without_stream_returns_the_output_so_far() {
    let d = Daemon::start();
    d.docker(&[
        "run",
        "--name",
        "atx",
        "busybox",
        "sh",
        "-c",
        "echo one; sleep 0.2; echo two >&2",
    ])
    .ok();
    // An exited container: stdout alone, then both streams in order.
    let path = "/containers/atx/attach?logs=1&stream=0&stdout=1";
    let (resp, out, closed) = d.hijack(path, "", b"", Duration::from_secs(20));
    resp.status_is(101);
    assert!(closed, "stream=0 ends once the logs are sent");
    assert_eq!(out, frame(1, b"one\n"));
    let path = "/containers/atx/attach?logs=1&stream=0&stdout=1&stderr=1";
    let (_, out, _) = d.hijack(path, "", b"", Duration::from_secs(20));
    assert_eq!(out, [frame(1, b"one\n"), frame(2, b"two\n")].concat());
    // A plain request with no Upgrade header gets the same bytes, 200.
    let r = d.http("POST", path, None, b"");
    r.status_is(200);
    assert_eq!(r.body, [frame(1, b"one\n"), frame(2, b"two\n")].concat());
    // A running container: what it has written so far, and the call ends.
    d.docker(&[
        "run",
        "-d",
        "--name",
        "atr",
        "busybox",
        "sh",
        "-c",
        "echo ready; sleep 300",
    ])
    .ok();
    wait_for(Duration::from_secs(20), || {
        d.docker(&["logs", "atr"])
            .stdout
            .contains("ready")
            .then_some(())
    })
    .expect("the container logged");
    let (_, out, closed) = d.hijack(
        "/containers/atr/attach?logs=1&stream=0&stdout=1",
        "",
        b"",
        Duration::from_secs(20),
    );
    assert!(closed, "stream=0 on a running container ends too");
    assert_eq!(out, frame(1, b"ready\n"));
    d.docker(&["rm", "-f", "atx", "atr"]).ok();
}

/// `GET /containers/{id}/attach/ws` through websocket-client (the library
/// docker-py's `attach_socket(ws=True)` uses, which cannot itself reach a
/// unix socket) over the daemon's socket: the output is never multiplexed
/// (the websocket keeps the messages apart), `logs=1` sends what was
/// written so far, and with `stdin=1` what the client sends reaches the
/// container.
#[test]
fn attach_over_a_websocket() {
    let d = Daemon::start();
    d.docker(&[
        "run",
        "-d",
        "-i",
        "--name",
        "wsc",
        "busybox",
        "sh",
        "-c",
        "echo hello; cat",
    ])
    .ok();
    wait_for(Duration::from_secs(20), || {
        d.docker(&["logs", "wsc"])
            .stdout
            .contains("hello")
            .then_some(())
    })
    .expect("the container logged");
    let script = r#"python3 - <<'EOF'
import os, socket, websocket
s = socket.socket(socket.AF_UNIX)
s.connect(os.environ["DOCKER_HOST"][len("unix://"):])
ws = websocket.create_connection(
    "ws://localhost/containers/wsc/attach/ws?stdout=1&stderr=1&stdin=1&logs=1&stream=1",
    socket=s, timeout=20)
print(repr(ws.recv()))
ws.send("ping\n")
print(repr(ws.recv()))
ws.close()
EOF"#;
    // Binary messages, as dockerd 20.10 sends them.
    d.sh(script).ok().stdout_is("b'hello\\n'\nb'ping\\n'\n");
    d.docker(&["rm", "-f", "wsc"]).ok();
}
