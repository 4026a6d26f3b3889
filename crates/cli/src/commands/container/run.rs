//! `create`, `run`, `start` and `attach`: the create request, the
//! image pull when it is missing, and the attached streams.

use berth_api::types::WaitResponse;
use std::io::Write;

use http_body_util::BodyExt;
use serde_json::Value;

use super::{run_failure, DEFAULT_DETACH_KEYS};
use crate::client::{q, Client, ClientError};
use crate::commands::opts::{create_body, CreateOpts};
use crate::commands::stream::{
    parse_detach_keys, proxy_signals, relay, term_size, watch_size, RawTerminal,
};
use crate::Failure;

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
pub(super) async fn create_container(
    c: &Client,
    opts: &CreateOpts,
    attach: bool,
) -> Result<String, Failure> {
    let console = if opts.tty { term_size() } else { None };
    let body = create_body(opts, attach, console)?;
    crate::commands::network::check_create_version(c, &body).await?;
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
    // A wait that fails (the daemon went away) reads as exit 0, as before.
    let waited: Option<WaitResponse> = c.post(&format!("/containers/{id}/wait"), &()).await.ok();
    Ok(waited.map_or(0, |w| w.status_code as i32))
}
