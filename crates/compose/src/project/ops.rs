//! `start`, `stop`, `restart`, `kill`, `pause`, `unpause`, `rm` on the
//! project's existing containers (stop in reverse dependency order).

use super::*;
use crate::cli::RmArgs;
use crate::loader::validate_order;

/// The selected containers in dependency order (reversed for stopping).
async fn ordered(
    ctx: &Ctx,
    services: &[String],
    reverse: bool,
) -> Result<Vec<ContainerSummary>, Error> {
    check_services(&ctx.project, services)?;
    let list = containers(&ctx.client, &ctx.project.name, true).await?;
    let mut order = validate_order(&ctx.project.model);
    if reverse {
        order.reverse();
    }
    let mut out = Vec::new();
    for s in order
        .iter()
        .filter(|s| services.is_empty() || services.contains(s))
    {
        out.extend(list.iter().filter(|c| service_of(c) == s).cloned());
    }
    Ok(out)
}

pub async fn start(ctx: &Ctx, services: &[String]) -> Result<i32, Error> {
    for c in ordered(ctx, services, false).await? {
        if c.state != "running" {
            let name = name_of(&c);
            progress("Container", &name, "Starting");
            ctx.client.start_container(&c.id).await?;
            progress("Container", &name, "Started");
        }
    }
    Ok(0)
}

pub async fn stop(ctx: &Ctx, services: &[String], timeout: Option<i64>) -> Result<i32, Error> {
    for c in ordered(ctx, services, true).await? {
        let name = name_of(&c);
        progress("Container", &name, "Stopping");
        ctx.client.stop_container(&c.id, timeout).await?;
        progress("Container", &name, "Stopped");
    }
    Ok(0)
}

pub async fn restart(ctx: &Ctx, services: &[String], timeout: Option<i64>) -> Result<i32, Error> {
    for c in ordered(ctx, services, false).await? {
        let name = name_of(&c);
        progress("Container", &name, "Restarting");
        ctx.client.restart_container(&c.id, timeout).await?;
        progress("Container", &name, "Started");
    }
    Ok(0)
}

pub async fn kill(ctx: &Ctx, services: &[String], signal: Option<&str>) -> Result<i32, Error> {
    for c in ordered(ctx, services, true).await? {
        if c.state == "running" {
            let name = name_of(&c);
            progress("Container", &name, "Killing");
            ctx.client.kill_container(&c.id, signal).await?;
            progress("Container", &name, "Killed");
        }
    }
    Ok(0)
}

pub async fn pause(ctx: &Ctx, services: &[String], pause: bool) -> Result<i32, Error> {
    for c in ordered(ctx, services, !pause).await? {
        let name = name_of(&c);
        let (doing, done) = if pause {
            ("Pausing", "Paused")
        } else {
            ("Unpausing", "Unpaused")
        };
        progress("Container", &name, doing);
        ctx.client.pause_container(&c.id, pause).await?;
        progress("Container", &name, done);
    }
    Ok(0)
}

pub async fn rm(ctx: &Ctx, args: &RmArgs) -> Result<i32, Error> {
    let list = ordered(ctx, &args.services, true).await?;
    if args.stop {
        for c in list.iter().filter(|c| c.state == "running") {
            ctx.client.stop_container(&c.id, None).await?;
        }
    }
    let list = ordered(ctx, &args.services, true).await?;
    let stopped: Vec<&ContainerSummary> = list.iter().filter(|c| c.state != "running").collect();
    if stopped.is_empty() {
        eprintln!("No stopped containers");
        return Ok(0);
    }
    for c in stopped {
        let name = name_of(c);
        progress("Container", &name, "Removing");
        ctx.client.remove_container(&c.id, false).await?;
        progress("Container", &name, "Removed");
    }
    Ok(0)
}

pub async fn top(ctx: &Ctx, services: &[String]) -> Result<i32, Error> {
    for c in ordered(ctx, services, false).await? {
        if c.state != "running" {
            continue;
        }
        let top = ctx.client.top_container(&c.id).await?;
        println!("{}", name_of(&c));
        let titles = top.titles.unwrap_or_default();
        let rows = top.processes.unwrap_or_default();
        // Columns as wide as their widest cell, as compose prints them.
        let mut widths: Vec<usize> = titles.iter().map(String::len).collect();
        for r in &rows {
            for (i, cell) in r.iter().enumerate() {
                if i < widths.len() {
                    widths[i] = widths[i].max(cell.len());
                }
            }
        }
        let line = |cells: &[String]| {
            cells
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{c:<w$}", w = widths.get(i).copied().unwrap_or(0)))
                .collect::<Vec<_>>()
                .join("   ")
                .trim_end()
                .to_string()
        };
        println!("{}", line(&titles));
        for r in &rows {
            println!("{}", line(r));
        }
        println!();
    }
    Ok(0)
}

/// Blocks until the services' containers stop; the exit code is the
/// first container's.
pub async fn wait(ctx: &Ctx, services: &[String]) -> Result<i32, Error> {
    let list = ordered(ctx, services, false).await?;
    let waits = list
        .iter()
        .map(|c| ctx.client.wait_container(&c.id, "not-running"));
    let mut code = 0;
    for (i, r) in futures_util::future::join_all(waits)
        .await
        .into_iter()
        .enumerate()
    {
        let status = r?.status_code;
        if i == 0 {
            code = status as i32;
        }
    }
    Ok(code)
}
