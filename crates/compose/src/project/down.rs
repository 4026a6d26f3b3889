//! `down`: the project's containers stopped in reverse dependency order
//! and removed, then its networks, and with `-v` its volumes, with
//! `--rmi` its images.

use super::*;
use crate::cli::DownArgs;
use crate::loader::stop_levels;

/// Stops then removes `list` all at once (one dependency level).
async fn remove_all(
    ctx: &Ctx,
    list: &[&ContainerSummary],
    timeout: Option<i64>,
) -> Result<(), Error> {
    let stops = list.iter().map(|c| async move {
        let name = name_of(c);
        if c.state == "running" || c.state == "paused" || c.state == "restarting" {
            progress("Container", &name, "Stopping");
            ctx.client.stop_container(&c.id, timeout).await?;
            progress("Container", &name, "Stopped");
        }
        progress("Container", &name, "Removing");
        ctx.client.remove_container(&c.id, true).await?;
        progress("Container", &name, "Removed");
        Ok::<(), Error>(())
    });
    for r in futures_util::future::join_all(stops).await {
        r?;
    }
    Ok(())
}

pub async fn down(ctx: &Ctx, args: &DownArgs) -> Result<i32, Error> {
    let p = &ctx.project;
    let list = with_one_offs(&ctx.client, &p.name).await?;
    let known = |s: &str| p.model.services.contains_key(s) || p.disabled.contains_key(s);
    let orphans: Vec<&ContainerSummary> = list.iter().filter(|c| !known(service_of(c))).collect();
    if args.remove_orphans {
        remove_all(ctx, &orphans, args.timeout).await?;
    } else if !orphans.is_empty() {
        let names: Vec<String> = orphans.iter().map(|c| name_of(c)).collect();
        eprintln!(
            "WARN[0000] Found orphan containers ([{}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.",
            names.join(" ")
        );
    }
    // Containers of disabled services (profiles) go too, as in compose.
    let disabled: Vec<&ContainerSummary> = list
        .iter()
        .filter(|c| p.disabled.contains_key(service_of(c)))
        .collect();
    remove_all(ctx, &disabled, args.timeout).await?;
    for level in stop_levels(&p.model) {
        let group: Vec<&ContainerSummary> = list
            .iter()
            .filter(|c| level.iter().any(|s| s == service_of(c)))
            .collect();
        remove_all(ctx, &group, args.timeout).await?;
    }
    for net in p.model.networks.values().filter(|n| !n.external) {
        let name = net.name.clone().unwrap_or_default();
        if ctx.client.inspect_network(&name).await.is_ok() {
            progress("Network", &name, "Removing");
            ctx.client.remove_network(&name).await?;
            progress("Network", &name, "Removed");
        }
    }
    if args.volumes {
        for vol in p.model.volumes.values().filter(|v| !v.external) {
            let name = vol.name.clone().unwrap_or_default();
            if ctx.client.inspect_volume(&name).await.is_ok() {
                progress("Volume", &name, "Removing");
                ctx.client.remove_volume(&name, false).await?;
                progress("Volume", &name, "Removed");
            }
        }
    }
    if let Some(which) = &args.rmi {
        for (service, svc) in &p.model.services {
            if which == "local" && svc.image.is_some() {
                continue;
            }
            let image = image_name(&p.name, service, svc);
            if ctx.client.remove_image(&image, false).await.is_ok() {
                progress("Image", &image, "Removed");
            }
        }
    }
    Ok(0)
}
