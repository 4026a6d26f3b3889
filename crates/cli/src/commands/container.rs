//! Container commands: run, create, start, stop, kill, restart, rm,
//! rename, pause, unpause, ps, logs, attach, wait, exec, top, prune.

use std::io::Write;

use http_body_util::BodyExt;
use serde_json::{json, Value};

use super::opts::{create_body, CreateOpts};
use super::stream::{parse_detach_keys, proxy_signals, relay, term_size, watch_size, RawTerminal};
use crate::client::{q, Client, ClientError, Demux};
use crate::format::{ago, go_time, human_size, render_rows};
use crate::Failure;

const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

/// `run`/`create` errors as docker prints them, with its exit codes:
/// 125 for the CLI or daemon, 126 when the command cannot be run, 127
/// when it is not found.
pub fn run_failure(cmd: &str, e: impl Into<Failure>) -> Failure {
    let f: Failure = e.into();
    let code = if f.message.contains("executable file not found")
        || f.message.contains("no such file or directory")
    {
        127
    } else if f.message.contains("permission denied") {
        126
    } else {
        125
    };
    let message = if f.message.starts_with("invalid argument") {
        format!(
            "{}\n\n{}\n\nRun 'berth {cmd} --help' for more information",
            f.message,
            crate::usage::usage_line(cmd)
        )
    } else {
        format!(
            "berth: {}\n\nRun 'berth {cmd} --help' for more information",
            f.message
        )
    };
    Failure { message, code }
}

/// `POST /images/create?fromImage=`: prints the pull's status lines
/// (docker's non-TTY progress); a stream error fails the pull.
pub async fn pull(c: &Client, image: &str) -> Result<(), Failure> {
    let r =
        berth_api::Reference::parse_with_default_tag(image).map_err(|e| Failure::msg(e.message))?;
    let mut path = format!("/images/create?fromImage={}", q(&r.familiar_name()));
    if let Some(t) = &r.tag {
        path.push_str(&format!("&tag={}", q(t)));
    }
    let resp = c.send("POST", &path, None, "").await?;
    let mut body = resp.into_body();
    let mut pending = Vec::new();
    let mut err = std::io::stderr();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { break };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        pending.extend_from_slice(&data);
        while let Some(nl) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=nl).collect();
            let Ok(v) = serde_json::from_slice::<Value>(&line) else {
                continue;
            };
            if let Some(e) = v["errorDetail"]["message"].as_str().or(v["error"].as_str()) {
                return Err(Failure::msg(e.to_string()));
            }
            if let Some(s) = v["status"].as_str() {
                if v["progressDetail"]["current"].is_null() {
                    let id = v["id"]
                        .as_str()
                        .map(|i| format!("{i}: "))
                        .unwrap_or_default();
                    let _ = writeln!(err, "{id}{s}");
                }
            }
        }
    }
    Ok(())
}

/// Creates the container, pulling the image first when the daemon says
/// it has no such image (docker's "Unable to find image" flow).
async fn create_container(c: &Client, opts: &CreateOpts, attach: bool) -> Result<String, Failure> {
    let console = if opts.tty { term_size() } else { None };
    let body = create_body(opts, attach, console)?;
    super::network::check_create_version(c, &body).await?;
    let res = match c.create_container(opts.name.as_deref(), &body).await {
        Err(ClientError::Daemon(s, m)) if s.as_u16() == 404 && m.starts_with("No such image") => {
            let r = berth_api::Reference::parse_with_default_tag(&opts.image)
                .map(|r| r.familiar_string())
                .unwrap_or(opts.image.clone());
            eprintln!("Unable to find image '{r}' locally");
            pull(c, &opts.image).await?;
            c.create_container(opts.name.as_deref(), &body).await?
        }
        other => other?,
    };
    for w in &res.warnings {
        eprintln!("WARNING: {w}");
    }
    Ok(res.id)
}

pub async fn create(c: &Client, opts: CreateOpts) -> Result<i32, Failure> {
    let id = create_container(c, &opts, false).await.map_err(|e| {
        // The flags' own errors (125), as docker's `reportError`.
        if e.code == 125 && !e.message.starts_with("berth:") {
            run_failure("create", e)
        } else {
            e
        }
    })?;
    println!("{id}");
    Ok(0)
}

pub async fn run(
    c: &Client,
    opts: CreateOpts,
    detach: bool,
    detach_keys: Option<String>,
) -> Result<i32, Failure> {
    let keys_spec = detach_keys.unwrap_or_else(|| DEFAULT_DETACH_KEYS.into());
    let keys = parse_detach_keys(&keys_spec).map_err(|e| run_failure("run", Failure::msg(e)))?;
    if detach && opts.rm && !opts.attach.is_empty() {
        return Err(run_failure(
            "run",
            Failure::msg("conflicting options: cannot specify both --attach and --detach"),
        ));
    }
    let id = create_container(c, &opts, !detach)
        .await
        .map_err(|e| run_failure("run", e))?;
    if detach {
        c.start_container(&id)
            .await
            .map_err(|e| run_failure("run", e))?;
        println!("{id}");
        return Ok(0);
    }
    let want =
        |s: &str| opts.attach.is_empty() || opts.attach.iter().any(|a| a.eq_ignore_ascii_case(s));
    let stdin = opts.interactive && (opts.attach.is_empty() || want("stdin"));
    let mut path = format!("/containers/{id}/attach?stream=1");
    for (flag, on) in [
        ("stdin", stdin),
        ("stdout", want("stdout")),
        ("stderr", want("stderr")),
    ] {
        if on {
            path.push_str(&format!("&{flag}=1"));
        }
    }
    path.push_str(&format!("&detachKeys={}", q(&keys_spec)));
    let (up, _) = c
        .hijack(&path, None)
        .await
        .map_err(|e| run_failure("run", e))?;
    let condition = if opts.rm { "removed" } else { "next-exit" };
    let wait = c
        .send(
            "POST",
            &format!("/containers/{id}/wait?condition={condition}"),
            None,
            "",
        )
        .await
        .map_err(|e| run_failure("run", e))?;
    let wait_task = tokio::spawn(async move { crate::client::read_json::<Value>(wait).await });
    let raw = (opts.tty && stdin).then(RawTerminal::enable);
    if let Err(e) = c.start_container(&id).await {
        drop(raw);
        if opts.rm {
            let _ = wait_task.await;
        }
        return Err(run_failure("run", e));
    }
    let resize = opts.tty.then(|| watch_size(c, format!("/containers/{id}")));
    let signals = (opts.sig_proxy && !opts.tty).then(|| proxy_signals(c, id.clone()));
    let detached = relay(up, !opts.tty, stdin, keys).await;
    drop(raw);
    for t in [resize, signals].into_iter().flatten() {
        t.abort();
    }
    if detached {
        return Ok(0);
    }
    let v = match wait_task.await {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return Err(run_failure("run", e)),
        Err(_) => Value::Null,
    };
    if let Some(m) = v["Error"]["Message"].as_str().filter(|m| !m.is_empty()) {
        return Err(run_failure("run", Failure::msg(m.to_string())));
    }
    Ok(v["StatusCode"].as_i64().unwrap_or(0) as i32)
}

pub async fn start(
    c: &Client,
    ids: Vec<String>,
    attach: bool,
    interactive: bool,
    detach_keys: Option<String>,
) -> Result<i32, Failure> {
    if (attach || interactive) && ids.len() > 1 {
        return Err(Failure::msg(
            "you cannot start and attach multiple containers at once",
        ));
    }
    if attach || interactive {
        let id = &ids[0];
        let info = c.inspect_container_json(id).await?;
        let id = info["Id"].as_str().unwrap_or(id).to_string();
        let tty = info["Config"]["Tty"].as_bool().unwrap_or(false);
        let stdin = interactive && info["Config"]["OpenStdin"].as_bool().unwrap_or(false);
        let keys_spec = detach_keys.unwrap_or_else(|| DEFAULT_DETACH_KEYS.into());
        let keys = parse_detach_keys(&keys_spec).map_err(Failure::msg)?;
        let (up, _) = c
            .hijack(
                &format!(
                    "/containers/{id}/attach?stream=1&stdout=1&stderr=1{}&detachKeys={}",
                    if stdin { "&stdin=1" } else { "" },
                    q(&keys_spec)
                ),
                None,
            )
            .await?;
        let wait = c
            .send(
                "POST",
                &format!("/containers/{id}/wait?condition=next-exit"),
                None,
                "",
            )
            .await?;
        let raw = (tty && stdin).then(RawTerminal::enable);
        c.start_container(&id).await?;
        let resize = tty.then(|| watch_size(c, format!("/containers/{id}")));
        let detached = relay(up, !tty, stdin, keys).await;
        drop(raw);
        if let Some(r) = resize {
            r.abort();
        }
        if detached {
            return Ok(0);
        }
        let v: Value = crate::client::read_json(wait).await?;
        return Ok(v["StatusCode"].as_i64().unwrap_or(0) as i32);
    }
    let mut failed = Vec::new();
    for id in &ids {
        match c.start_container(id).await {
            Ok(()) => println!("{id}"),
            Err(e) => {
                eprintln!("{e}");
                failed.push(id.clone());
            }
        }
    }
    if failed.is_empty() {
        Ok(0)
    } else {
        Err(Failure::msg(format!(
            "Error: failed to start containers: {}",
            failed.join(", ")
        )))
    }
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

/// `stop`, `restart`, `kill`, `pause`, `unpause`: one POST per container.
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

pub async fn rename(c: &Client, container: &str, new_name: &str) -> Result<i32, Failure> {
    let new_name = new_name.trim();
    if new_name.is_empty() || new_name == "/" {
        return Err(Failure::msg(
            "Error: neither old nor new names may be empty",
        ));
    }
    c.call(
        "POST",
        &format!("/containers/{}/rename?name={}", q(container), q(new_name)),
    )
    .await?;
    Ok(0)
}

pub async fn attach(
    c: &Client,
    id: &str,
    no_stdin: bool,
    sig_proxy: bool,
    detach_keys: Option<String>,
) -> Result<i32, Failure> {
    let info = c.inspect_container_json(id).await?;
    if !info["State"]["Running"].as_bool().unwrap_or(false) {
        return Err(Failure::msg(
            "You cannot attach to a stopped container, start it first",
        ));
    }
    if info["State"]["Paused"].as_bool().unwrap_or(false) {
        return Err(Failure::msg(
            "You cannot attach to a paused container, unpause it first",
        ));
    }
    let id = info["Id"].as_str().unwrap_or(id).to_string();
    let tty = info["Config"]["Tty"].as_bool().unwrap_or(false);
    let stdin = !no_stdin && info["Config"]["OpenStdin"].as_bool().unwrap_or(false);
    let dk = detach_keys.unwrap_or_else(|| DEFAULT_DETACH_KEYS.into());
    let keys = parse_detach_keys(&dk).map_err(Failure::msg)?;
    let (up, _) = c
        .hijack(
            &format!(
                "/containers/{id}/attach?stream=1&stdout=1&stderr=1{}&detachKeys={}",
                if stdin { "&stdin=1" } else { "" },
                q(&dk)
            ),
            None,
        )
        .await?;
    let raw = (tty && stdin).then(RawTerminal::enable);
    let resize = tty.then(|| watch_size(c, format!("/containers/{id}")));
    let signals = (sig_proxy && !tty).then(|| proxy_signals(c, id.clone()));
    let detached = relay(up, !tty, stdin, keys).await;
    drop(raw);
    for t in [resize, signals].into_iter().flatten() {
        t.abort();
    }
    if detached {
        return Err(Failure::msg("read escape sequence"));
    }
    let v = c
        .post_json(&format!("/containers/{id}/wait"), &Value::Null)
        .await
        .unwrap_or(Value::Null);
    Ok(v["StatusCode"].as_i64().unwrap_or(0) as i32)
}

pub struct LogsOpts {
    pub follow: bool,
    pub tail: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub timestamps: bool,
    pub details: bool,
}

pub async fn logs(c: &Client, id: &str, o: LogsOpts) -> Result<i32, Failure> {
    let info = c.inspect_container_json(id).await?;
    let tty = info["Config"]["Tty"].as_bool().unwrap_or(false);
    let mut path = format!(
        "/containers/{}/logs?stdout=1&stderr=1&follow={}&timestamps={}&details={}",
        q(id),
        o.follow as u8,
        o.timestamps as u8,
        o.details as u8
    );
    if let Some(t) = &o.tail {
        path.push_str(&format!("&tail={}", q(t)));
    }
    for (k, v) in [("since", &o.since), ("until", &o.until)] {
        if let Some(v) = v {
            let t = crate::commands::system::timestamp(v).map_err(Failure::msg)?;
            path.push_str(&format!("&{k}={t}"));
        }
    }
    let resp = c.send("GET", &path, None, "").await?;
    let mut body = resp.into_body();
    let mut demux = Demux::default();
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
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
        for (stream, d) in demux.push(&data) {
            if stream == 2 {
                let _ = err.write_all(&d);
                let _ = err.flush();
            } else {
                let _ = out.write_all(&d);
            }
        }
        let _ = out.flush();
    }
    Ok(0)
}

pub async fn wait(c: &Client, ids: Vec<String>) -> Result<i32, Failure> {
    let mut code = 0;
    for id in ids {
        match c.wait_container(&id, "not-running").await {
            Ok(v) => println!("{}", v.status_code),
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

/// `-f key=value` flags into the API's `filters` JSON (`{"key":{"value":true}}`).
pub fn filters_json(filters: &[String]) -> Result<String, Failure> {
    let mut map: serde_json::Map<String, Value> = serde_json::Map::new();
    for f in filters {
        let (k, v) = f.split_once('=').ok_or_else(|| {
            Failure::usage(format!(
                "invalid argument \"{f}\" for \"-f, --filter\" flag: bad format of filter (expected name=value)"
            ))
        })?;
        let k = k.trim().to_ascii_lowercase();
        if let Some(m) = map.entry(k).or_insert_with(|| json!({})).as_object_mut() {
            m.insert(v.to_string(), json!(true));
        }
    }
    Ok(serde_json::to_string(&map).unwrap_or_default())
}

pub fn short_id(id: &str) -> String {
    id.strip_prefix("sha256:")
        .unwrap_or(id)
        .chars()
        .take(12)
        .collect()
}

/// go's `Ellipsis`: at most `n` runes, the last one `…` when cut.
pub fn ellipsis(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// docker's `DisplayablePorts`: published ports as `ip:public->private/proto`
/// (IPv6 bracketed), the rest as `private/proto`, sorted.
pub fn ports_text(ports: &Value) -> String {
    let mut list: Vec<&Value> = ports.as_array().into_iter().flatten().collect();
    list.sort_by(|a, b| {
        let k = |p: &Value| {
            (
                p["PrivatePort"].as_u64().unwrap_or(0),
                p["PublicPort"].as_u64().unwrap_or(0),
                p["Type"].as_str().unwrap_or("").to_string(),
                p["IP"].as_str().unwrap_or("").to_string(),
            )
        };
        k(a).cmp(&k(b))
    });
    let mut out: Vec<String> = Vec::new();
    for p in list {
        let private = p["PrivatePort"].as_u64().unwrap_or(0);
        let proto = p["Type"].as_str().unwrap_or("tcp");
        let s = match p["PublicPort"].as_u64().filter(|p| *p > 0) {
            Some(public) => {
                let ip = p["IP"].as_str().unwrap_or("");
                let ip = if ip.contains(':') {
                    format!("[{ip}]")
                } else {
                    ip.to_string()
                };
                format!("{ip}:{public}->{private}/{proto}")
            }
            None => format!("{private}/{proto}"),
        };
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out.join(", ")
}

/// One `ps` row: docker's ContainerContext fields.
pub fn container_row(v: &Value, trunc: bool) -> Value {
    let id = v["Id"].as_str().unwrap_or("");
    let cmd = v["Command"].as_str().unwrap_or("");
    let cmd = if trunc {
        ellipsis(cmd, 20)
    } else {
        cmd.to_string()
    };
    let mut names: Vec<String> = v["Names"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n.as_str())
        .map(|n| n.strip_prefix('/').unwrap_or(n).to_string())
        .collect();
    if trunc {
        // Link names (`other/alias`) are shown only with --no-trunc.
        names.retain(|n| !n.contains('/'));
        names.truncate(1);
    }
    let mut image = v["Image"].as_str().unwrap_or("").to_string();
    if image.is_empty() {
        image = "<no image>".into();
    }
    if trunc {
        if image.starts_with("sha256:") {
            image = short_id(&image);
        } else if let Some((name, _)) = image.split_once('@') {
            image = name.to_string();
        }
    }
    let rw = v["SizeRw"].as_i64().unwrap_or(0);
    let root = v["SizeRootFs"].as_i64().unwrap_or(0);
    let size = if root > 0 {
        format!(
            "{} (virtual {})",
            human_size(rw as f64),
            human_size(root as f64)
        )
    } else {
        human_size(rw as f64)
    };
    let mut labels: Vec<String> = v["Labels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    labels.sort();
    let mut networks: Vec<String> = v["NetworkSettings"]["Networks"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    networks.sort();
    let mounts = v["Mounts"].as_array().cloned().unwrap_or_default();
    let mount_names: Vec<String> = mounts
        .iter()
        .map(|m| {
            let n = m["Name"]
                .as_str()
                .filter(|n| !n.is_empty())
                .or(m["Source"].as_str())
                .unwrap_or("");
            if trunc {
                ellipsis(n, 15)
            } else {
                n.to_string()
            }
        })
        .collect();
    let local = mounts.iter().filter(|m| m["Driver"] == "local").count();
    let created = v["Created"].as_i64().unwrap_or(0);
    json!({
        "Command": format!("\"{}\"", cmd.replace('\\', "\\\\").replace('"', "\\\"")),
        "CreatedAt": go_time(created),
        "ID": if trunc { short_id(id) } else { id.to_string() },
        "Image": image,
        "Labels": labels.join(","),
        "LocalVolumes": local.to_string(),
        "Mounts": mount_names.join(","),
        "Names": names.join(","),
        "Networks": networks.join(","),
        "Platform": Value::Null,
        "Ports": ports_text(&v["Ports"]),
        "RunningFor": ago(created),
        "Size": size,
        "State": v["State"],
        "Status": v["Status"],
    })
}

pub const PS_HEADERS: &[(&str, &str)] = &[
    ("Command", "COMMAND"),
    ("CreatedAt", "CREATED AT"),
    ("ID", "CONTAINER ID"),
    ("Image", "IMAGE"),
    ("Labels", "LABELS"),
    ("LocalVolumes", "LOCAL VOLUMES"),
    ("Mounts", "MOUNTS"),
    ("Names", "NAMES"),
    ("Networks", "NETWORKS"),
    ("Platform", "PLATFORM"),
    ("Ports", "PORTS"),
    ("RunningFor", "CREATED"),
    ("Size", "SIZE"),
    ("State", "STATE"),
    ("Status", "STATUS"),
];

pub fn headers(pairs: &[(&str, &str)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect(),
    )
}

pub async fn ps(c: &Client, o: PsOpts) -> Result<i32, Failure> {
    // docker asks for sizes when the format prints them.
    let size = o.size
        || o.format
            .as_deref()
            .is_some_and(|f| f.contains(".Size") || f.contains("json"));
    let mut path = format!(
        "/containers/json?all={}&size={}",
        (o.all || o.latest || o.last.is_some_and(|n| n > 0)) as u8,
        (size && !o.quiet) as u8
    );
    if o.latest {
        path.push_str("&limit=1");
    } else if let Some(n) = o.last.filter(|n| *n > 0) {
        path.push_str(&format!("&limit={n}"));
    }
    if !o.filters.is_empty() {
        path.push_str(&format!("&filters={}", q(&filters_json(&o.filters)?)));
    }
    let list = c.get_json(&path).await?;
    let rows: Vec<Value> = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| container_row(v, !o.no_trunc))
        .collect();
    let mut default = String::from(
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}",
    );
    if o.size {
        default.push_str("\t{{.Size}}");
    }
    let format = if o.quiet {
        Some("{{.ID}}")
    } else {
        o.format.as_deref()
    };
    let text = render_rows(
        format,
        &default,
        &headers(PS_HEADERS),
        &rows,
        "*formatter.ContainerContext",
    )
    .map_err(Failure::msg)?;
    print!("{text}");
    Ok(0)
}

pub async fn prune(c: &Client, force: bool, filters: Vec<String>) -> Result<i32, Failure> {
    let warning = "WARNING! This will remove all stopped containers.";
    let Some(v) =
        super::prune_post(c, "containers", warning, force, || filters_json(&filters)).await?
    else {
        return Ok(0);
    };
    super::print_deleted("Deleted Containers:", &v["ContainersDeleted"]);
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
    let console = if o.tty { term_size() } else { None };
    let keys_spec = o
        .detach_keys
        .clone()
        .unwrap_or_else(|| DEFAULT_DETACH_KEYS.into());
    let keys = parse_detach_keys(&keys_spec).map_err(Failure::msg)?;
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
        "ConsoleSize": console.map(|(h, w)| vec![h, w]),
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
    let (up, _) = c
        .hijack(
            &format!("/exec/{id}/start"),
            Some(json!({"Detach": false, "Tty": o.tty})),
        )
        .await?;
    let raw = (o.tty && o.interactive).then(RawTerminal::enable);
    let resize = o.tty.then(|| watch_size(c, format!("/exec/{id}")));
    relay(up, !o.tty, o.interactive, keys).await;
    drop(raw);
    if let Some(r) = resize {
        r.abort();
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        assert_eq!(
            filters_json(&[
                "name=web".into(),
                "status=exited".into(),
                "status=created".into()
            ])
            .unwrap(),
            r#"{"name":{"web":true},"status":{"exited":true,"created":true}}"#
        );
        assert!(filters_json(&["bad".into()]).is_err());
        assert_eq!(filters_json(&[]).unwrap(), "{}");
    }

    #[test]
    fn rows_like_docker() {
        let v = json!({
            "Id": "e260463987cf0123456789", "Names": ["/web", "/other/alias"], "Image": "busybox",
            "ImageID": "sha256:ce7e", "Command": "sh -c 'echo \"a \\\"b\\\"\"'", "Created": 0,
            "Ports": [{"PrivatePort": 80, "PublicPort": 8080, "Type": "tcp", "IP": "::"},
                      {"PrivatePort": 80, "PublicPort": 8080, "Type": "tcp", "IP": "0.0.0.0"},
                      {"PrivatePort": 70, "Type": "tcp"}],
            "Labels": {"b": "2", "a": "1"}, "State": "running", "Status": "Up 2 seconds",
            "NetworkSettings": {"Networks": {"bridge": {}}}, "Mounts": []
        });
        let r = container_row(&v, true);
        assert_eq!(r["ID"], "e260463987cf");
        assert_eq!(r["Names"], "web");
        assert_eq!(r["Command"], "\"sh -c 'echo \\\"a \\\\\\\"b\\\\…\"");
        assert_eq!(
            r["Ports"],
            "70/tcp, 0.0.0.0:8080->80/tcp, [::]:8080->80/tcp"
        );
        assert_eq!(r["Labels"], "a=1,b=2");
        assert_eq!(r["Networks"], "bridge");
        assert_eq!(r["Size"], "0B");
        let full = container_row(&v, false);
        assert_eq!(full["Names"], "web,other/alias");
    }

    #[test]
    fn run_exit_codes() {
        assert_eq!(
            run_failure(
                "run",
                Failure::msg("exec: \"x\": executable file not found in $PATH")
            )
            .code,
            127
        );
        assert_eq!(
            run_failure("run", Failure::msg("permission denied")).code,
            126
        );
        let f = run_failure(
            "run",
            Failure::msg("Error response from daemon: No command specified"),
        );
        assert_eq!(f.code, 125);
        assert_eq!(f.message, "berth: Error response from daemon: No command specified\n\nRun 'berth run --help' for more information");
    }
}
