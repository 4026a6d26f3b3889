//! A volume plugin for tests: it answers the plugin protocol
//! (`/Plugin.Activate`, `/VolumeDriver.*`: HTTP/1.1 POSTs of JSON over a
//! unix socket) and serves each volume as a directory under `DATA_DIR`
//! (default `/data`, the plugin's `PropagatedMount`).
//!
//! Run as a managed plugin's entrypoint: `berth-test-volume-plugin SOCKET`
//! (the socket under `/run/docker/plugins`, where the engine looks).
//! Faults the tests ask for through the plugin's settable env:
//! `HANG_ON=<method>` never answers that method (e.g. `Plugin.Activate`,
//! `VolumeDriver.Create`); `EXIT_AT_START=1` exits at once; `NO_SOCKET=1`
//! runs without ever listening.
//!
//! Hand-written HTTP on std: one request per connection, a handful of
//! lines; a server crate would be most of the static binary's size.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

/// Ends the plugin on SIGTERM: as its container's PID 1 it would
/// otherwise ignore the signal a disable sends, and wait out the grace.
extern "C" fn on_sigterm(_: libc::c_int) {
    // SAFETY: `_exit` is async-signal-safe.
    unsafe { libc::_exit(0) }
}

fn main() {
    // SAFETY: installs a handler that only calls `_exit`.
    unsafe {
        libc::signal(libc::SIGTERM, on_sigterm as *const () as libc::sighandler_t);
    }
    let socket = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/run/docker/plugins/vol.sock".into());
    if std::env::var("EXIT_AT_START").is_ok_and(|v| v == "1") {
        eprintln!("berth-test-volume-plugin: EXIT_AT_START=1, exiting");
        std::process::exit(3);
    }
    if std::env::var("NO_SOCKET").is_ok_and(|v| v == "1") {
        eprintln!("berth-test-volume-plugin: NO_SOCKET=1, never listening");
        std::thread::sleep(std::time::Duration::from_secs(24 * 3600));
    }
    let data = PathBuf::from(std::env::var("DATA_DIR").unwrap_or_else(|_| "/data".into()));
    if let Err(e) = std::fs::create_dir_all(&data) {
        eprintln!("creating {}: {e}", data.display());
        std::process::exit(1);
    }
    let hang_on = std::env::var("HANG_ON").unwrap_or_default();
    let _ = std::fs::remove_file(&socket);
    if let Some(dir) = Path::new(&socket).parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let listener = match UnixListener::bind(&socket) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("listening on {socket}: {e}");
            std::process::exit(1);
        }
    };
    eprintln!(
        "berth-test-volume-plugin: serving {socket}, volumes in {}",
        data.display()
    );
    for conn in listener.incoming().flatten() {
        let data = data.clone();
        let hang_on = hang_on.clone();
        std::thread::spawn(move || {
            if let Err(e) = serve(conn, &data, &hang_on) {
                eprintln!("connection: {e}");
            }
        });
    }
}

/// Reads one request, answers it, closes.
fn serve(conn: UnixStream, data: &Path, hang_on: &str) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = header.split_once(':') {
            if k.trim().eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    let method = path.trim_start_matches('/');
    eprintln!("{method} {}", String::from_utf8_lossy(&body));
    if !hang_on.is_empty() && method == hang_on {
        // Holds the connection open and never answers.
        std::thread::sleep(std::time::Duration::from_secs(24 * 3600));
    }
    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (status, answer) = match answer(method, &req, data) {
        Some(a) => ("200 OK", a),
        None => (
            "404 Not Found",
            json!({"Err": format!("unknown method {method}")}),
        ),
    };
    let body = answer.to_string();
    let mut conn = conn;
    write!(
        conn,
        "HTTP/1.1 {status}\r\nContent-Type: application/vnd.docker.plugins.v1+json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    conn.flush()
}

/// As an authorization plugin: refuses `POST /containers/create` of a
/// container labelled `bvp.deny`, allows everything else.
fn authz(req: &Value) -> Value {
    let body = req["RequestBody"]
        .as_str()
        .map(base64_decode)
        .unwrap_or_default();
    let create = req["RequestMethod"] == "POST"
        && req["RequestUri"]
            .as_str()
            .is_some_and(|u| u.contains("/containers/create"));
    if create && String::from_utf8_lossy(&body).contains("\"bvp.deny\"") {
        return json!({"Allow": false, "Msg": "containers labelled bvp.deny are not allowed"});
    }
    json!({"Allow": true})
}

/// Standard base64 (Go's encoding of `[]byte` in JSON); hand-written to
/// keep this std-only binary small.
fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for v in s.bytes().filter_map(val) {
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// The answer to one plugin protocol method; `None` for an unknown one.
fn answer(method: &str, req: &Value, data: &Path) -> Option<Value> {
    let name = req["Name"].as_str().unwrap_or("");
    let dir = data.join(name);
    let err = |e: std::io::Error| json!({"Err": e.to_string()});
    let valid = !name.is_empty() && !name.contains('/') && name != "." && name != "..";
    Some(match method {
        "Plugin.Activate" => json!({"Implements": ["VolumeDriver", "authz"]}),
        "AuthZPlugin.AuthZReq" => authz(req),
        "AuthZPlugin.AuthZRes" => json!({"Allow": true}),
        "VolumeDriver.Capabilities" => json!({"Capabilities": {"Scope": "local"}}),
        _ if !valid && method != "VolumeDriver.List" => {
            json!({"Err": format!("bad volume name {name:?}")})
        }
        "VolumeDriver.Create" => {
            let opts: BTreeMap<String, String> =
                serde_json::from_value(req["Opts"].clone()).unwrap_or_default();
            if let Some(msg) = opts.get("fail") {
                return Some(json!({"Err": msg}));
            }
            match std::fs::create_dir_all(&dir) {
                Ok(()) => json!({"Err": ""}),
                Err(e) => err(e),
            }
        }
        "VolumeDriver.Remove" => match std::fs::remove_dir_all(&dir) {
            Ok(()) => json!({"Err": ""}),
            Err(e) => err(e),
        },
        "VolumeDriver.Mount" | "VolumeDriver.Path" => {
            if dir.is_dir() {
                json!({"Mountpoint": dir, "Err": ""})
            } else {
                json!({"Err": format!("no such volume: {name}")})
            }
        }
        "VolumeDriver.Unmount" => json!({"Err": ""}),
        "VolumeDriver.Get" => {
            if dir.is_dir() {
                json!({"Volume": {"Name": name, "Mountpoint": dir, "Status": {"served": "directory"}}, "Err": ""})
            } else {
                json!({"Err": format!("no such volume: {name}")})
            }
        }
        "VolumeDriver.List" => {
            let mut vols = Vec::new();
            for e in std::fs::read_dir(data).ok()?.flatten() {
                if e.path().is_dir() {
                    let n = e.file_name().to_string_lossy().to_string();
                    vols.push(json!({"Name": n, "Mountpoint": e.path()}));
                }
            }
            json!({"Volumes": vols, "Err": ""})
        }
        _ => return None,
    })
}
