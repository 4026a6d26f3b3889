//! `ps`, `logs` (and `up`'s attached output), `exec`, `port`.

use berth_api::model::ExecConfig;
use berth_client::client::Demux;
use http_body_util::BodyExt;
use std::io::Write;

use super::*;
use crate::cli::{ExecArgs, LogsArgs, PortArgs, PsArgs, UpArgs};

pub async fn ps(ctx: &Ctx, args: &PsArgs) -> Result<i32, Error> {
    check_services(&ctx.project, &args.service_names)?;
    if args.services {
        let list = containers(&ctx.client, &ctx.project.name, args.all).await?;
        let mut seen: Vec<&str> = Vec::new();
        for c in selected(&list, &args.service_names) {
            if !seen.contains(&service_of(c)) {
                seen.push(service_of(c));
                println!("{}", service_of(c));
            }
        }
        return Ok(0);
    }
    let list = containers(&ctx.client, &ctx.project.name, args.all).await?;
    let rows = selected(&list, &args.service_names);
    if args.quiet {
        for c in rows {
            println!("{}", c.id);
        }
        return Ok(0);
    }
    if args.format.as_deref() == Some("json") {
        for c in rows {
            let line = serde_json::json!({
                "ID": c.id, "Name": name_of(c), "Image": c.image, "Command": c.command,
                "Project": ctx.project.name, "Service": service_of(c), "State": c.state,
                "Status": c.status, "Labels": c.labels, "Ports": ports_text(c),
            });
            println!("{line}");
        }
        return Ok(0);
    }
    println!(
        "{:<24}{:<24}{:<24}{:<16}{:<24}{:<28}PORTS",
        "NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS"
    );
    for c in rows {
        println!(
            "{:<24}{:<24}{:<24}{:<16}{:<24}{:<28}{}",
            name_of(c),
            c.image,
            format!("\"{}\"", c.command.chars().take(20).collect::<String>()),
            service_of(c),
            created_ago(c.created),
            c.status,
            ports_text(c)
        );
    }
    Ok(0)
}

/// `2 minutes ago`, as docker prints a creation time.
fn created_ago(created: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(created);
    format!("{} ago", berth_api::units::human_duration(now - created))
}

fn ports_text(c: &ContainerSummary) -> String {
    c.ports
        .iter()
        .map(|p| match p.public_port {
            Some(pp) => format!(
                "{}:{pp}->{}/{}",
                if p.ip.is_empty() { "0.0.0.0" } else { &p.ip },
                p.private_port,
                p.r#type
            ),
            None => format!("{}/{}", p.private_port, p.r#type),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Streams one container's log with `prefix` before each line.
pub(crate) async fn stream_logs(
    ctx: &Ctx,
    c: &ContainerSummary,
    prefix: String,
    follow: bool,
    tail: Option<&str>,
    timestamps: bool,
) -> Result<(), Error> {
    let tty = ctx
        .client
        .inspect_container(&c.id)
        .await
        .map(|i| i.config.tty)
        .unwrap_or(false);
    let resp = ctx
        .client
        .logs_stream(&c.id, follow, tail, timestamps)
        .await?;
    let mut body = resp.into_body();
    let mut demux = Demux::default();
    let mut pending: Vec<u8> = Vec::new();
    let flush = |pending: &mut Vec<u8>, all: bool| {
        let mut out = std::io::stdout().lock();
        while let Some(nl) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=nl).collect();
            let _ = out.write_all(prefix.as_bytes());
            let _ = out.write_all(&line);
        }
        if all && !pending.is_empty() {
            let _ = out.write_all(prefix.as_bytes());
            let _ = out.write_all(pending);
            let _ = out.write_all(b"\n");
            pending.clear();
        }
        let _ = out.flush();
    };
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { break };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if tty {
            pending.extend_from_slice(&data);
        } else {
            for (_, chunk) in demux.push(&data) {
                pending.extend_from_slice(&chunk);
            }
        }
        flush(&mut pending, false);
    }
    flush(&mut pending, true);
    Ok(())
}

/// The name in front of a log line: the container's name without the
/// project (`web-1`), as docker compose v2 prints it.
fn log_name(ctx: &Ctx, c: &ContainerSummary) -> String {
    let name = name_of(c);
    let project = format!("{}-", ctx.project.name);
    name.strip_prefix(&project)
        .map(str::to_string)
        .unwrap_or(name)
}

/// The prefix column's width: the longest name and one space.
fn prefix_width(ctx: &Ctx, list: &[&ContainerSummary]) -> usize {
    list.iter()
        .map(|c| log_name(ctx, c).len())
        .max()
        .unwrap_or(0)
        + 1
}

pub async fn logs(ctx: &Ctx, args: &LogsArgs) -> Result<i32, Error> {
    check_services(&ctx.project, &args.services)?;
    let list = containers(&ctx.client, &ctx.project.name, true).await?;
    let rows = selected(&list, &args.services);
    let w = prefix_width(ctx, &rows);
    let tasks = rows.into_iter().map(|c| {
        let prefix = if args.no_log_prefix {
            String::new()
        } else {
            format!("{:<w$} | ", log_name(ctx, c))
        };
        stream_logs(
            ctx,
            c,
            prefix,
            args.follow,
            args.tail.as_deref(),
            args.timestamps,
        )
    });
    for r in futures_util::future::join_all(tasks).await {
        r?;
    }
    Ok(0)
}

/// `up` without `-d`: every container's output, prefixed, until they all
/// exit; Ctrl-C stops the project's containers, as docker compose does.
pub async fn attach_logs(ctx: &Ctx, services: &[String], args: &UpArgs) -> Result<i32, Error> {
    let list = containers(&ctx.client, &ctx.project.name, true).await?;
    let rows = selected(&list, services);
    let w = prefix_width(ctx, &rows);
    let tasks = rows.iter().map(|c| {
        let prefix = format!("{:<w$} | ", log_name(ctx, c));
        stream_logs(ctx, c, prefix, true, None, false)
    });
    let abort = args.abort_on_container_exit || args.exit_code_from.is_some();
    let stop_all = || async {
        for c in rows.iter().rev() {
            let name = name_of(c);
            progress("Container", &name, "Stopping");
            ctx.client.stop_container(&c.id, args.timeout).await.ok();
            progress("Container", &name, "Stopped");
        }
    };
    let tasks: Vec<_> = tasks.map(Box::pin).collect();
    let until = async {
        if abort {
            // The first container to exit ends the run, as
            // --abort-on-container-exit does.
            if !tasks.is_empty() {
                let (first, _, _) = futures_util::future::select_all(tasks).await;
                first?;
                eprintln!("Aborting on container exit...");
                stop_all().await;
            }
        } else {
            for r in futures_util::future::join_all(tasks).await {
                r?;
            }
        }
        Ok::<(), Error>(())
    };
    tokio::select! {
        res = until => res?,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("Gracefully stopping... (press Ctrl+C again to force)");
            stop_all().await;
            return Ok(130);
        }
    }
    let mut code = 0;
    for c in &rows {
        let info = ctx.client.inspect_container(&c.id).await?;
        println!(
            "{} exited with code {}",
            log_name(ctx, c),
            info.state.exit_code
        );
        if args.exit_code_from.as_deref() == Some(service_of(c)) {
            code = info.state.exit_code as i32;
        }
    }
    Ok(code)
}

pub async fn exec(ctx: &Ctx, args: &ExecArgs) -> Result<i32, Error> {
    check_services(&ctx.project, std::slice::from_ref(&args.service))?;
    let list = containers(&ctx.client, &ctx.project.name, false).await?;
    let c = list
        .iter()
        .find(|c| service_of(c) == args.service && number_of(c) == args.index)
        .ok_or_else(|| Error::new(format!("service {:?} is not running", args.service)))?;
    let config = ExecConfig {
        attach_stdout: !args.detach,
        attach_stderr: !args.detach,
        env: (!args.env.is_empty()).then(|| args.env.clone()),
        user: args.user.clone().unwrap_or_default(),
        working_dir: args.workdir.clone().unwrap_or_default(),
        cmd: Some(args.command.clone()),
        ..ExecConfig::default()
    };
    let id = ctx.client.create_exec(&c.id, &config).await?;
    if args.detach {
        ctx.client.start_exec_detached(&id).await?;
        return Ok(0);
    }
    let out = ctx.client.run_exec(&id, false).await?;
    std::io::stdout().write_all(&out.stdout).ok();
    std::io::stderr().write_all(&out.stderr).ok();
    let info = ctx.client.inspect_exec(&id).await?;
    Ok(info.exit_code as i32)
}

pub async fn port(ctx: &Ctx, args: &PortArgs) -> Result<i32, Error> {
    check_services(&ctx.project, std::slice::from_ref(&args.service))?;
    let list = containers(&ctx.client, &ctx.project.name, false).await?;
    let c = list
        .iter()
        .find(|c| service_of(c) == args.service && number_of(c) == args.index)
        .ok_or_else(|| Error::new(format!("service {:?} is not running", args.service)))?;
    let p = c
        .ports
        .iter()
        .find(|p| {
            p.private_port == args.private_port
                && p.r#type == args.protocol
                && p.public_port.is_some()
        })
        .ok_or_else(|| {
            Error::new(format!(
                "no port {}/{} for container {}",
                args.private_port,
                args.protocol,
                name_of(c)
            ))
        })?;
    let ip = if p.ip.is_empty() { "0.0.0.0" } else { &p.ip };
    println!("{ip}:{}", p.public_port.unwrap_or(0));
    Ok(0)
}
