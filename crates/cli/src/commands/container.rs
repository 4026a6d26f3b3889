//! Container commands: run, create, start, stop, kill, restart, rm, rename,
//! ps, logs, attach, wait.

use std::io::Write;

use clap::Args;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::client::{q, Client, ClientError};
use crate::format::{ago, human_size, table, Template};
use crate::Failure;

#[derive(Debug, Args, Clone, Default)]
pub struct CreateOpts {
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Set environment variables
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file")]
    pub env_file: Vec<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    /// Container host name
    #[arg(short = 'h', long = "hostname")]
    pub hostname: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Set meta data on a container
    #[arg(short = 'l', long = "label")]
    pub label: Vec<String>,
    /// Connect a container to a network
    #[arg(long = "network", alias = "net")]
    pub network: Option<String>,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Automatically remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Restart policy to apply when a container exits
    #[arg(long)]
    pub restart: Option<String>,
    /// Give extended privileges to this container
    #[arg(long)]
    pub privileged: bool,
    /// Add Linux capabilities
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    /// Signal to stop the container
    #[arg(long = "stop-signal")]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container
    #[arg(long = "stop-timeout")]
    pub stop_timeout: Option<i64>,
    /// Mount the container's root filesystem as read only
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Security options
    #[arg(long = "security-opt")]
    pub security_opt: Vec<String>,
    /// Logging driver for the container
    #[arg(long = "log-driver")]
    pub log_driver: Option<String>,
    /// Print usage (`-h` is `--hostname` here, as in docker)
    #[arg(long = "help", action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// The image to run
    pub image: String,
    /// The command and its arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

fn parse_env_file(path: &str) -> Result<Vec<String>, Failure> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Failure::usage(format!("open {path}: {e}")))?;
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.contains('=') {
            out.push(line.to_string());
        } else if let Ok(v) = std::env::var(line) {
            out.push(format!("{line}={v}"));
        }
    }
    Ok(out)
}

fn env_list(opts: &CreateOpts) -> Result<Vec<String>, Failure> {
    let mut env = Vec::new();
    for f in &opts.env_file {
        env.extend(parse_env_file(f)?);
    }
    for e in &opts.env {
        if e.contains('=') {
            env.push(e.clone());
        } else if let Ok(v) = std::env::var(e) {
            env.push(format!("{e}={v}"));
        }
    }
    Ok(env)
}

fn restart_policy(spec: Option<&str>) -> Result<Value, Failure> {
    let Some(spec) = spec else {
        return Ok(json!({"Name": "no", "MaximumRetryCount": 0}));
    };
    let (name, count) = match spec.split_once(':') {
        Some((n, c)) => (
            n,
            c.parse::<i64>().map_err(|_| {
                Failure::usage(format!(
                    "invalid restart policy format: maximum retry count must be an integer: {c}"
                ))
            })?,
        ),
        None => (spec, 0),
    };
    Ok(json!({"Name": name, "MaximumRetryCount": count}))
}

fn term_size() -> Option<(u16, u16)> {
    let mut ws: libc::winsize = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes a winsize struct that lives for the call.
    let r = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) };
    (r == 0 && ws.ws_row > 0).then_some((ws.ws_row, ws.ws_col))
}

pub fn create_body(opts: &CreateOpts, attach: bool) -> Result<Value, Failure> {
    let labels: serde_json::Map<String, Value> = opts
        .label
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), json!(v)),
            None => (l.clone(), json!("")),
        })
        .collect();
    let entrypoint = opts.entrypoint.as_ref().map(|e| {
        if e.is_empty() {
            vec![String::new()]
        } else {
            vec![e.clone()]
        }
    });
    let console = if opts.tty {
        term_size().map(|(h, w)| vec![h, w]).unwrap_or(vec![0, 0])
    } else {
        vec![0, 0]
    };
    let log_config = json!({"Type": opts.log_driver.clone().unwrap_or_default(), "Config": {}});
    Ok(json!({
        "Hostname": opts.hostname.clone().unwrap_or_default(),
        "User": opts.user.clone().unwrap_or_default(),
        "AttachStdin": attach && opts.interactive,
        "AttachStdout": attach,
        "AttachStderr": attach,
        "Tty": opts.tty,
        "OpenStdin": opts.interactive,
        "StdinOnce": attach && opts.interactive,
        "Env": env_list(opts)?,
        "Cmd": if opts.command.is_empty() { Value::Null } else { json!(opts.command) },
        "Image": opts.image,
        "WorkingDir": opts.workdir.clone().unwrap_or_default(),
        "Entrypoint": entrypoint,
        "Labels": labels,
        "StopSignal": opts.stop_signal.clone().unwrap_or_default(),
        "StopTimeout": opts.stop_timeout,
        "HostConfig": {
            "NetworkMode": opts.network.clone().unwrap_or_else(|| "default".into()),
            "RestartPolicy": restart_policy(opts.restart.as_deref())?,
            "AutoRemove": opts.rm,
            "Privileged": opts.privileged,
            "CapAdd": opts.cap_add,
            "CapDrop": opts.cap_drop,
            "ReadonlyRootfs": opts.read_only,
            "SecurityOpt": opts.security_opt,
            "ConsoleSize": console,
            "LogConfig": log_config,
        }
    }))
}

async fn create_container(c: &Client, opts: &CreateOpts, attach: bool) -> Result<String, Failure> {
    let body = create_body(opts, attach)?;
    let path = match &opts.name {
        Some(n) => format!("/containers/create?name={}", q(n)),
        None => "/containers/create".into(),
    };
    match c.post_json(&path, &body).await {
        Ok(v) => {
            for w in v["Warnings"].as_array().into_iter().flatten() {
                eprintln!("WARNING: {}", w.as_str().unwrap_or(""));
            }
            Ok(v["Id"].as_str().unwrap_or("").to_string())
        }
        Err(ClientError::Daemon(s, m)) if s.as_u16() == 404 && m.starts_with("No such image") => {
            let r = berth_api::Reference::parse_with_default_tag(&opts.image)
                .map(|r| r.familiar_string())
                .unwrap_or(opts.image.clone());
            eprintln!("Unable to find image '{r}' locally");
            let path = format!("/images/create?fromImage={}", q(&r));
            c.call("POST", &path).await?;
            let v = c
                .post_json(
                    &match &opts.name {
                        Some(n) => format!("/containers/create?name={}", q(n)),
                        None => "/containers/create".into(),
                    },
                    &body,
                )
                .await?;
            Ok(v["Id"].as_str().unwrap_or("").to_string())
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn create(c: &Client, opts: CreateOpts) -> Result<i32, Failure> {
    let id = create_container(c, &opts, false)
        .await
        .map_err(Failure::run)?;
    println!("{id}");
    Ok(0)
}

/// Puts the local terminal in raw mode until dropped.
struct RawTerminal(Option<nix::sys::termios::Termios>);

impl RawTerminal {
    fn enable() -> RawTerminal {
        let stdin = std::io::stdin();
        match nix::sys::termios::tcgetattr(&stdin) {
            Ok(orig) => {
                let mut raw = orig.clone();
                nix::sys::termios::cfmakeraw(&mut raw);
                let _ =
                    nix::sys::termios::tcsetattr(&stdin, nix::sys::termios::SetArg::TCSANOW, &raw);
                RawTerminal(Some(orig))
            }
            Err(_) => RawTerminal(None),
        }
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if let Some(orig) = &self.0 {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin(),
                nix::sys::termios::SetArg::TCSANOW,
                orig,
            );
        }
    }
}

/// Relays an attach stream until the output ends. Returns true when the
/// user detached with the escape keys.
async fn relay(
    upgraded: hyper::upgrade::Upgraded,
    multiplexed: bool,
    send_stdin: bool,
    detach_keys: Vec<u8>,
) -> bool {
    let io = hyper_util::rt::TokioIo::new(upgraded);
    let (mut rd, mut wr) = tokio::io::split(io);
    let (detach_tx, mut detach_rx) = tokio::sync::mpsc::channel::<()>(1);
    if send_stdin {
        tokio::spawn(async move {
            let mut stdin = tokio::io::stdin();
            let mut buf = vec![0u8; 8192];
            let mut matched = 0usize;
            loop {
                match stdin.read(&mut buf).await {
                    Ok(0) | Err(_) => {
                        let _ = wr.shutdown().await;
                        return;
                    }
                    Ok(n) => {
                        for &b in &buf[..n] {
                            if !detach_keys.is_empty() && b == detach_keys[matched] {
                                matched += 1;
                                if matched == detach_keys.len() {
                                    let _ = wr.write_all(&detach_keys).await;
                                    let _ = detach_tx.try_send(());
                                    return;
                                }
                            } else {
                                matched = 0;
                            }
                        }
                        if wr.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }
    let mut stdout = std::io::stdout();
    let mut stderr = std::io::stderr();
    let mut buf = vec![0u8; 32 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    loop {
        tokio::select! {
            r = rd.read(&mut buf) => {
                let n = match r { Ok(0) | Err(_) => break, Ok(n) => n };
                if !multiplexed {
                    let _ = stdout.write_all(&buf[..n]);
                    let _ = stdout.flush();
                    continue;
                }
                pending.extend_from_slice(&buf[..n]);
                while pending.len() >= 8 {
                    let len = u32::from_be_bytes([pending[4], pending[5], pending[6], pending[7]]) as usize;
                    if pending.len() < 8 + len {
                        break;
                    }
                    let data = &pending[8..8 + len];
                    if pending[0] == 2 {
                        let _ = stderr.write_all(data);
                        let _ = stderr.flush();
                    } else {
                        let _ = stdout.write_all(data);
                        let _ = stdout.flush();
                    }
                    pending.drain(..8 + len);
                }
            }
            Some(()) = detach_rx.recv() => return true,
        }
    }
    false
}

pub async fn run(
    c: &Client,
    opts: CreateOpts,
    detach: bool,
    detach_keys: Option<String>,
) -> Result<i32, Failure> {
    let attach = !detach;
    let id = create_container(c, &opts, attach)
        .await
        .map_err(Failure::run)?;
    if detach {
        c.call("POST", &format!("/containers/{id}/start"))
            .await
            .map_err(Failure::run)?;
        println!("{id}");
        return Ok(0);
    }
    let keys = parse_detach_keys(detach_keys.as_deref().unwrap_or("ctrl-p,ctrl-q"));
    let dk = q(detach_keys.as_deref().unwrap_or("ctrl-p,ctrl-q"));
    let stdin = if opts.interactive { "&stdin=1" } else { "" };
    let (up, multiplexed) = c
        .hijack(&format!(
            "/containers/{id}/attach?stream=1&stdout=1&stderr=1{stdin}&detachKeys={dk}"
        ))
        .await
        .map_err(Failure::run)?;
    let condition = if opts.rm { "removed" } else { "next-exit" };
    let wait = c
        .send(
            "POST",
            &format!("/containers/{id}/wait?condition={condition}"),
            None,
            "",
        )
        .await
        .map_err(Failure::run)?;
    let wait_task = tokio::spawn(async move { crate::client::read_json(wait).await });
    let raw = if opts.tty && opts.interactive {
        Some(RawTerminal::enable())
    } else {
        None
    };
    if let Err(e) = c.call("POST", &format!("/containers/{id}/start")).await {
        drop(raw);
        if opts.rm {
            let _ = wait_task.await;
        }
        return Err(Failure::run(e));
    }
    if opts.tty {
        if let Some((h, w)) = term_size() {
            let _ = c
                .call("POST", &format!("/containers/{id}/resize?h={h}&w={w}"))
                .await;
        }
    }
    let detached = relay(up, multiplexed, opts.interactive, keys).await;
    drop(raw);
    if detached {
        return Ok(0);
    }
    let status = match wait_task.await {
        Ok(Ok(v)) => v["StatusCode"].as_i64().unwrap_or(0),
        _ => 0,
    };
    Ok(status as i32)
}

fn parse_detach_keys(spec: &str) -> Vec<u8> {
    spec.split(',')
        .filter_map(|p| {
            let p = p.trim();
            match p.strip_prefix("ctrl-") {
                Some(c) if c.len() == 1 && c.as_bytes()[0].is_ascii_lowercase() => {
                    Some(c.as_bytes()[0] - b'a' + 1)
                }
                Some(_) => None,
                None => p.bytes().next(),
            }
        })
        .collect()
}

pub async fn start(
    c: &Client,
    ids: Vec<String>,
    attach: bool,
    interactive: bool,
) -> Result<i32, Failure> {
    if attach && ids.len() == 1 {
        let id = &ids[0];
        let info = c.get_json(&format!("/containers/{}/json", q(id))).await?;
        let tty = info["Config"]["Tty"].as_bool().unwrap_or(false);
        let stdin = if interactive { "&stdin=1" } else { "" };
        let (up, multiplexed) = c
            .hijack(&format!(
                "/containers/{}/attach?stream=1&stdout=1&stderr=1{stdin}",
                q(id)
            ))
            .await?;
        let wait = c
            .send(
                "POST",
                &format!("/containers/{}/wait?condition=next-exit", q(id)),
                None,
                "",
            )
            .await?;
        let raw = if tty && interactive {
            Some(RawTerminal::enable())
        } else {
            None
        };
        c.call("POST", &format!("/containers/{}/start", q(id)))
            .await?;
        relay(
            up,
            multiplexed,
            interactive,
            parse_detach_keys("ctrl-p,ctrl-q"),
        )
        .await;
        drop(raw);
        let v = crate::client::read_json(wait).await?;
        return Ok(v["StatusCode"].as_i64().unwrap_or(0) as i32);
    }
    each(&ids, |id| async move {
        c.call("POST", &format!("/containers/{}/start", q(&id)))
            .await
            .map(|_| id)
    })
    .await
}

/// Runs `f` on each name, printing the name on success and the error
/// otherwise; exit 1 if any failed (docker's multi-object behaviour).
pub async fn each<F, Fut>(names: &[String], f: F) -> Result<i32, Failure>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<String, ClientError>>,
{
    let mut code = 0;
    for n in names {
        match f(n.clone()).await {
            Ok(out) => println!("{out}"),
            Err(e) => {
                eprintln!("{e}");
                code = 1;
            }
        }
    }
    Ok(code)
}

pub async fn attach(
    c: &Client,
    id: &str,
    no_stdin: bool,
    detach_keys: Option<String>,
) -> Result<i32, Failure> {
    let info = c.get_json(&format!("/containers/{}/json", q(id))).await?;
    if !info["State"]["Running"].as_bool().unwrap_or(false) {
        return Err(Failure::msg(
            "You cannot attach to a stopped container, start it first",
        ));
    }
    let tty = info["Config"]["Tty"].as_bool().unwrap_or(false);
    let stdin = !no_stdin && info["Config"]["OpenStdin"].as_bool().unwrap_or(false);
    let dk = detach_keys.unwrap_or_else(|| "ctrl-p,ctrl-q".into());
    let (up, multiplexed) = c
        .hijack(&format!(
            "/containers/{}/attach?stream=1&stdout=1&stderr=1{}&detachKeys={}",
            q(id),
            if stdin { "&stdin=1" } else { "" },
            q(&dk)
        ))
        .await?;
    let raw = if tty && stdin {
        Some(RawTerminal::enable())
    } else {
        None
    };
    if tty {
        if let Some((h, w)) = term_size() {
            let _ = c
                .call("POST", &format!("/containers/{}/resize?h={h}&w={w}", q(id)))
                .await;
        }
    }
    let detached = relay(up, multiplexed, stdin, parse_detach_keys(&dk)).await;
    drop(raw);
    if detached {
        eprintln!("read escape sequence");
        return Ok(1);
    }
    let info = c.get_json(&format!("/containers/{}/json", q(id))).await?;
    Ok(info["State"]["ExitCode"].as_i64().unwrap_or(0) as i32)
}

pub async fn logs(
    c: &Client,
    id: &str,
    follow: bool,
    tail: Option<String>,
    since: Option<String>,
    until: Option<String>,
    timestamps: bool,
) -> Result<i32, Failure> {
    let info = c.get_json(&format!("/containers/{}/json", q(id))).await?;
    let tty = info["Config"]["Tty"].as_bool().unwrap_or(false);
    let mut path = format!(
        "/containers/{}/logs?stdout=1&stderr=1&follow={}&timestamps={}",
        q(id),
        follow as u8,
        timestamps as u8
    );
    if let Some(t) = tail {
        path.push_str(&format!("&tail={}", q(&t)));
    }
    for (k, v) in [("since", since), ("until", until)] {
        if let Some(v) = v {
            let t = crate::commands::system::timestamp(&v).map_err(Failure::usage)?;
            path.push_str(&format!("&{k}={t}"));
        }
    }
    let resp = c.send("GET", &path, None, "").await?;
    let mut body = resp.into_body();
    let mut pending = Vec::new();
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    use http_body_util::BodyExt;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { break };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if tty {
            let _ = out.write_all(&data);
            let _ = out.flush();
            continue;
        }
        pending.extend_from_slice(&data);
        while pending.len() >= 8 {
            let len = u32::from_be_bytes([pending[4], pending[5], pending[6], pending[7]]) as usize;
            if pending.len() < 8 + len {
                break;
            }
            if pending[0] == 2 {
                let _ = err.write_all(&pending[8..8 + len]);
            } else {
                let _ = out.write_all(&pending[8..8 + len]);
            }
            pending.drain(..8 + len);
        }
        let _ = out.flush();
    }
    Ok(0)
}

pub async fn wait(c: &Client, ids: Vec<String>) -> Result<i32, Failure> {
    let mut code = 0;
    for id in ids {
        match c
            .post_json(&format!("/containers/{}/wait", q(&id)), &Value::Null)
            .await
        {
            Ok(v) => println!("{}", v["StatusCode"].as_i64().unwrap_or(0)),
            Err(e) => {
                eprintln!("{e}");
                code = 1;
            }
        }
    }
    Ok(code)
}

pub struct PsOpts {
    pub all: bool,
    pub quiet: bool,
    pub no_trunc: bool,
    pub size: bool,
    pub latest: bool,
    pub last: Option<i64>,
    pub filters: Vec<String>,
    pub format: Option<String>,
}

pub fn filters_json(filters: &[String]) -> Result<String, Failure> {
    let mut map: serde_json::Map<String, Value> = serde_json::Map::new();
    for f in filters {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| Failure::usage("bad format of filter (expected name=value)"))?;
        map.entry(k.to_string())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .map(|m| m.insert(v.to_string(), json!(true)));
    }
    Ok(serde_json::to_string(&map).unwrap_or_default())
}

fn short(id: &str) -> String {
    id.strip_prefix("sha256:")
        .unwrap_or(id)
        .chars()
        .take(12)
        .collect()
}

pub fn container_row(v: &Value, no_trunc: bool) -> Value {
    let id = v["Id"].as_str().unwrap_or("");
    let cmd = v["Command"].as_str().unwrap_or("");
    let command = if no_trunc || cmd.chars().count() <= 20 {
        format!("\"{cmd}\"")
    } else {
        format!("\"{}…\"", cmd.chars().take(19).collect::<String>())
    };
    let names: Vec<String> = v["Names"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n.as_str())
        .map(|n| n.trim_start_matches('/').to_string())
        .collect();
    let image = v["Image"].as_str().unwrap_or("");
    let image = if image.starts_with("sha256:") && !no_trunc {
        short(image)
    } else {
        image.to_string()
    };
    let size = match (v["SizeRw"].as_i64(), v["SizeRootFs"].as_i64()) {
        (Some(rw), Some(root)) => format!(
            "{} (virtual {})",
            human_size(rw as f64),
            human_size(root as f64)
        ),
        _ => String::new(),
    };
    json!({
        "ID": if no_trunc { id.to_string() } else { short(id) },
        "Image": image,
        "Command": command,
        "CreatedAt": chrono::DateTime::from_timestamp(v["Created"].as_i64().unwrap_or(0), 0).map(|t| t.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M:%S %z %Z").to_string()).unwrap_or_default(),
        "RunningFor": ago(v["Created"].as_i64().unwrap_or(0)),
        "Ports": "",
        "State": v["State"],
        "Status": v["Status"],
        "Size": size,
        "Names": names.join(","),
        "Labels": v["Labels"].as_object().map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect::<Vec<_>>().join(",")).unwrap_or_default(),
        "Mounts": "",
        "Networks": v["HostConfig"]["NetworkMode"],
    })
}

pub async fn ps(c: &Client, o: PsOpts) -> Result<i32, Failure> {
    let mut path = format!(
        "/containers/json?all={}&size={}",
        (o.all || o.latest || o.last.is_some()) as u8,
        o.size as u8
    );
    if o.latest {
        path.push_str("&limit=1");
    } else if let Some(n) = o.last {
        path.push_str(&format!("&limit={n}"));
    }
    if !o.filters.is_empty() {
        path.push_str(&format!("&filters={}", q(&filters_json(&o.filters)?)));
    }
    let list = c.get_json(&path).await?;
    let rows: Vec<Value> = list
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|v| container_row(v, o.no_trunc))
        .collect();
    if o.quiet {
        for r in &rows {
            println!("{}", r["ID"].as_str().unwrap_or(""));
        }
        return Ok(0);
    }
    if let Some(f) = o.format.as_deref().filter(|f| *f != "table") {
        return print_template(f, &rows);
    }
    let mut header = vec![
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ];
    if o.size {
        header.push("SIZE");
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut row: Vec<String> = [
                "ID",
                "Image",
                "Command",
                "RunningFor",
                "Status",
                "Ports",
                "Names",
            ]
            .iter()
            .map(|k| r[*k].as_str().unwrap_or("").to_string())
            .collect();
            if o.size {
                row.push(r["Size"].as_str().unwrap_or("").to_string());
            }
            row
        })
        .collect();
    print!("{}", table(&header, &cells));
    Ok(0)
}

/// `--format`: a Go template per row; `table ...` adds a header and aligns.
pub fn print_template(f: &str, rows: &[Value]) -> Result<i32, Failure> {
    let t = Template::parse(f).map_err(Failure::usage)?;
    let mut lines = Vec::new();
    for r in rows {
        lines.push(t.render(r).map_err(Failure::msg)?);
    }
    if t.table {
        let header = t.header();
        let cols: Vec<&str> = header.split('\t').collect();
        let cells: Vec<Vec<String>> = lines
            .iter()
            .map(|l| l.split('\t').map(str::to_string).collect())
            .collect();
        print!("{}", table(&cols, &cells));
    } else {
        for l in lines {
            println!("{l}");
        }
    }
    Ok(0)
}

pub async fn rm(c: &Client, ids: Vec<String>, force: bool, volumes: bool) -> Result<i32, Failure> {
    each(&ids, |id| async move {
        c.call(
            "DELETE",
            &format!(
                "/containers/{}?force={}&v={}",
                q(&id),
                force as u8,
                volumes as u8
            ),
        )
        .await
        .map(|_| id)
    })
    .await
}

pub async fn simple(
    c: &Client,
    ids: Vec<String>,
    action: &str,
    query: String,
) -> Result<i32, Failure> {
    each(&ids, |id| {
        let query = query.clone();
        async move {
            c.call("POST", &format!("/containers/{}/{action}{query}", q(&id)))
                .await
                .map(|_| id)
        }
    })
    .await
}

pub async fn prune(c: &Client, force: bool, filters: Vec<String>) -> Result<i32, Failure> {
    if !force && !crate::confirm("WARNING! This will remove all stopped containers.") {
        return Ok(0);
    }
    let path = format!("/containers/prune?filters={}", q(&filters_json(&filters)?));
    let v = c.post_json(&path, &Value::Null).await?;
    let deleted = v["ContainersDeleted"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !deleted.is_empty() {
        println!("Deleted Containers:");
        for d in deleted {
            println!("{}", d.as_str().unwrap_or(""));
        }
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        human_size(v["SpaceReclaimed"].as_f64().unwrap_or(0.0))
    );
    Ok(0)
}

pub struct ExecOpts {
    pub container: String,
    pub command: Vec<String>,
    pub interactive: bool,
    pub tty: bool,
    pub detach: bool,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub env: Vec<String>,
    pub privileged: bool,
    pub detach_keys: Option<String>,
}

/// `exec`: create, start (hijacked unless detached), then the exit code
/// from the exec's inspect, as the docker CLI does.
pub async fn exec(c: &Client, o: ExecOpts) -> Result<i32, Failure> {
    let console = if o.tty {
        term_size().map(|(h, w)| vec![h, w])
    } else {
        None
    };
    let body = json!({
        "User": o.user.clone().unwrap_or_default(),
        "Privileged": o.privileged,
        "Tty": o.tty,
        "AttachStdin": o.interactive && !o.detach,
        "AttachStdout": !o.detach,
        "AttachStderr": !o.detach,
        "DetachKeys": o.detach_keys.clone().unwrap_or_default(),
        "Env": o.env,
        "WorkingDir": o.workdir.clone().unwrap_or_default(),
        "Cmd": o.command,
        "ConsoleSize": console,
    });
    let created = c
        .post_json(&format!("/containers/{}/exec", q(&o.container)), &body)
        .await?;
    let id = created["Id"].as_str().unwrap_or("").to_string();
    if o.detach {
        c.post_json(
            &format!("/exec/{id}/start"),
            &json!({"Detach": true, "Tty": o.tty}),
        )
        .await?;
        return Ok(0);
    }
    let (up, multiplexed) = c.hijack(&format!("/exec/{id}/start")).await?;
    let raw = if o.tty && o.interactive {
        Some(RawTerminal::enable())
    } else {
        None
    };
    if o.tty {
        if let Some((h, w)) = term_size() {
            let _ = c
                .call("POST", &format!("/exec/{id}/resize?h={h}&w={w}"))
                .await;
        }
    }
    relay(
        up,
        multiplexed,
        o.interactive,
        parse_detach_keys(o.detach_keys.as_deref().unwrap_or("ctrl-p,ctrl-q")),
    )
    .await;
    drop(raw);
    let v = c.get_json(&format!("/exec/{id}/json")).await?;
    Ok(v["ExitCode"].as_i64().unwrap_or(0) as i32)
}

/// `top`: the daemon's `ps` rows for the container, as a table.
pub async fn top(c: &Client, id: &str, ps_args: &str) -> Result<i32, Failure> {
    let mut path = format!("/containers/{}/top", q(id));
    if !ps_args.is_empty() {
        path.push_str(&format!("?ps_args={}", q(ps_args)));
    }
    let v = c.get_json(&path).await?;
    let titles: Vec<&str> = v["Titles"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str())
        .collect();
    let rows: Vec<Vec<String>> = v["Processes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            r.as_array()
                .into_iter()
                .flatten()
                .map(|c| c.as_str().unwrap_or("").to_string())
                .collect()
        })
        .collect();
    print!("{}", crate::format::table_min(&titles, &rows, 20));
    Ok(0)
}
