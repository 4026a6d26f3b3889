//! `up`: networks and volumes, images, then each service converged in
//! dependency order: containers whose `config-hash` differs are
//! recreated, missing ones created, extra ones removed, stopped ones
//! started; a second `up` with nothing changed only lists and inspects.

use std::time::Duration;

use berth_api::model::{NetworkConnectRequest, VolumeCreateOptions};
use berth_api::types::ContainerSummary;
use berth_client::ClientError;
use indexmap::IndexMap;
use serde::Serialize;

use super::*;
use crate::cli::UpArgs;
use crate::loader::validate_order;
use crate::model::Condition;

/// `POST /networks/create` as compose sends it (only what it sets: the
/// generated request type would send `EnableIPv4: false`).
#[derive(Serialize)]
struct NetworkCreate {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Driver", skip_serializing_if = "String::is_empty")]
    driver: String,
    #[serde(rename = "Internal")]
    internal: bool,
    #[serde(rename = "Attachable")]
    attachable: bool,
    #[serde(rename = "EnableIPv6", skip_serializing_if = "std::ops::Not::not")]
    enable_ipv6: bool,
    #[serde(rename = "Options")]
    options: IndexMap<String, String>,
    #[serde(rename = "Labels")]
    labels: IndexMap<String, String>,
    #[serde(rename = "IPAM", skip_serializing_if = "Option::is_none")]
    ipam: Option<berth_api::model::IPAM>,
}

fn not_found(e: &ClientError) -> bool {
    e.status() == Some(404)
}

/// Checks that every external network and volume exists, before anything
/// is created: a missing one fails `up` with nothing made.
pub async fn check_external(ctx: &Ctx) -> Result<(), Error> {
    let p = &ctx.project;
    for net in p.model.networks.values().filter(|n| n.external) {
        let name = net.name.clone().unwrap_or_default();
        match ctx.client.inspect_network(&name).await {
            Err(e) if not_found(&e) => {
                return Err(Error::new(format!(
                    "network {name} declared as external, but could not be found"
                )))
            }
            other => {
                other?;
            }
        }
    }
    for vol in p.model.volumes.values().filter(|v| v.external) {
        let name = vol.name.clone().unwrap_or_default();
        match ctx.client.inspect_volume(&name).await {
            Err(e) if not_found(&e) => {
                return Err(Error::new(format!("external volume \"{name}\" not found")))
            }
            other => {
                other?;
            }
        }
    }
    Ok(())
}

pub async fn ensure_networks(ctx: &Ctx) -> Result<(), Error> {
    let p = &ctx.project;
    for (key, net) in &p.model.networks {
        let used = p
            .model
            .services
            .values()
            .any(|s| s.networks.contains_key(key));
        if !used {
            continue;
        }
        let name = net.name.clone().unwrap_or_default();
        match ctx.client.inspect_network(&name).await {
            Ok(_) => continue,
            Err(e) if not_found(&e) => {}
            Err(e) => return Err(e.into()),
        }
        if net.external {
            return Err(Error::new(format!(
                "network {name} declared as external, but could not be found"
            )));
        }
        let mut labels = net.labels.clone();
        labels.insert(NETWORK.into(), key.clone());
        labels.insert(PROJECT.into(), p.name.clone());
        labels.insert(VERSION.into(), COMPOSE_VERSION.into());
        let ipam = net.ipam.as_ref().map(|i| berth_api::model::IPAM {
            driver: i.driver.clone().unwrap_or_else(|| "default".into()),
            config: Some(
                i.config
                    .iter()
                    .map(|c| berth_api::model::IPAMConfig {
                        subnet: c.subnet.clone().unwrap_or_default(),
                        ip_range: c.ip_range.clone().unwrap_or_default(),
                        gateway: c.gateway.clone().unwrap_or_default(),
                        auxiliary_addresses: (!c.aux_addresses.is_empty())
                            .then(|| c.aux_addresses.clone()),
                    })
                    .collect(),
            ),
            options: (!i.options.is_empty()).then(|| i.options.clone()),
        });
        let body = NetworkCreate {
            name: name.clone(),
            driver: net.driver.clone().unwrap_or_default(),
            internal: net.internal,
            attachable: net.attachable,
            enable_ipv6: net.enable_ipv6,
            options: net.driver_opts.clone(),
            labels,
            ipam,
        };
        progress("Network", &name, "Creating");
        let _: berth_api::model::NetworkCreateResponse =
            ctx.client.post("/networks/create", &body).await?;
        progress("Network", &name, "Created");
    }
    Ok(())
}

pub async fn ensure_volumes(ctx: &Ctx) -> Result<(), Error> {
    let p = &ctx.project;
    for (key, vol) in &p.model.volumes {
        let name = vol.name.clone().unwrap_or_default();
        match ctx.client.inspect_volume(&name).await {
            Ok(_) => continue,
            Err(e) if not_found(&e) => {}
            Err(e) => return Err(e.into()),
        }
        if vol.external {
            return Err(Error::new(format!("external volume \"{name}\" not found")));
        }
        let mut labels = vol.labels.clone();
        labels.insert(VOLUME.into(), key.clone());
        labels.insert(PROJECT.into(), p.name.clone());
        labels.insert(VERSION.into(), COMPOSE_VERSION.into());
        progress("Volume", &format!("\"{name}\""), "Creating");
        ctx.client
            .create_volume(&VolumeCreateOptions {
                name: name.clone(),
                driver: vol.driver.clone().unwrap_or_else(|| "local".into()),
                driver_opts: (!vol.driver_opts.is_empty()).then(|| vol.driver_opts.clone()),
                labels: Some(labels),
                ..Default::default()
            })
            .await?;
        progress("Volume", &format!("\"{name}\""), "Created");
    }
    Ok(())
}

/// Waits until `dep`'s containers meet `cond`.
async fn wait_condition(ctx: &Ctx, dep: &str, cond: Condition) -> Result<(), Error> {
    if cond == Condition::ServiceStarted {
        return Ok(());
    }
    let list = containers(&ctx.client, &ctx.project.name, true).await?;
    for c in list.iter().filter(|c| service_of(c) == dep) {
        let name = name_of(c);
        if cond == Condition::ServiceHealthy {
            progress("Container", &name, "Waiting");
        }
        loop {
            let info = ctx.client.inspect_container(&c.id).await?;
            let st = &info.state;
            match cond {
                Condition::ServiceHealthy => {
                    let h = st.health.as_ref().map(|h| h.status.as_str());
                    match h {
                        Some("healthy") => {
                            progress("Container", &name, "Healthy");
                            break;
                        }
                        Some("unhealthy") => {
                            return Err(Error::new(format!(
                                "dependency failed to start: container {name} is unhealthy"
                            )))
                        }
                        None => {
                            return Err(Error::new(format!(
                                "dependency failed to start: container {name} has no healthcheck configured"
                            )))
                        }
                        _ => {}
                    }
                    if !st.running {
                        return Err(Error::new(format!(
                            "dependency failed to start: container {name} exited ({})",
                            st.exit_code
                        )));
                    }
                }
                _ => {
                    if !st.running && !st.restarting && st.status != "created" {
                        if st.exit_code != 0 {
                            return Err(Error::new(format!(
                                "service {dep:?} didn't complete successfully: exit {}",
                                st.exit_code
                            )));
                        }
                        progress("Container", &name, "Exited");
                        break;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

/// Creates container `n` of `service` (pulling its image when missing).
async fn create_one(
    ctx: &Ctx,
    service: &str,
    n: u64,
    hash: &str,
) -> Result<(String, String), Error> {
    let p = &ctx.project;
    let svc = &p.model.services[service];
    let name = container_name(&p.name, service, svc, n);
    let mut req = create::request(p, service, n, hash)?;
    // The image label holds the image's id, as compose v2 writes it.
    if let Ok(img) = ctx.client.inspect_image_json(&req.config.image).await {
        if let (Some(id), Some(labels)) = (img["Id"].as_str(), req.config.labels.as_mut()) {
            labels.insert(IMAGE.into(), id.to_string());
        }
    }
    progress("Container", &name, "Creating");
    let res = match ctx.client.create_container(Some(&name), &req).await {
        Err(e) if not_found(&e) && e.message().starts_with("No such image") => {
            images::pull_image(ctx, &req.config.image).await?;
            ctx.client.create_container(Some(&name), &req).await?
        }
        other => other?,
    };
    if let Some(tar) = create::inline_files(p, service)? {
        ctx.client.put_archive(&res.id, "/", tar).await?;
    }
    // The other networks, connected before start.
    for key in svc.networks.keys().skip(1) {
        let net = create::network_name(p, key);
        let body = NetworkConnectRequest {
            container: res.id.clone(),
            endpoint_config: create::endpoint(p, service, key),
        };
        ctx.client.connect_network(&net, &body).await?;
    }
    progress("Container", &name, "Created");
    Ok((res.id, name))
}

/// Converges one service: recreate changed containers, create missing
/// ones, remove extras; answers the ids to start.
async fn converge(
    ctx: &Ctx,
    service: &str,
    existing: &[ContainerSummary],
    args: &UpArgs,
    scale: &IndexMap<String, u64>,
) -> Result<Vec<(String, String)>, Error> {
    let svc = &ctx.project.model.services[service];
    let hash = config_hash(svc);
    let want = scale.get(service).copied().unwrap_or_else(|| replicas(svc));
    let mut mine: Vec<&ContainerSummary> = existing
        .iter()
        .filter(|c| service_of(c) == service)
        .collect();
    mine.sort_by_key(|c| number_of(c));
    // After `--build` a container of the old image is out of date even
    // with the same configuration (compose compares the image too).
    let image_id = if args.build && svc.build.is_some() {
        let image = image_name(&ctx.project.name, service, svc);
        ctx.client
            .inspect_image_json(&image)
            .await
            .ok()
            .and_then(|v| v["Id"].as_str().map(str::to_string))
    } else {
        None
    };
    let mut ids = Vec::new();
    for c in &mine {
        let n = number_of(c);
        if n > want || (n == 0 && ids.len() as u64 >= want) {
            let name = name_of(c);
            progress("Container", &name, "Stopping");
            ctx.client.stop_container(&c.id, args.timeout).await.ok();
            ctx.client.remove_container(&c.id, true).await?;
            progress("Container", &name, "Removed");
            continue;
        }
        let changed = c.labels.get(HASH) != Some(&hash)
            || image_id.as_ref().is_some_and(|i| *i != c.image_id);
        if (changed && !args.no_recreate) || args.force_recreate {
            let name = name_of(c);
            progress("Container", &name, "Recreate");
            ctx.client.stop_container(&c.id, args.timeout).await.ok();
            ctx.client.remove_container(&c.id, true).await?;
            ids.push(create_one(ctx, service, n, &hash).await?);
            progress("Container", &name, "Recreated");
        } else {
            if c.state != "running" {
                ids.push((c.id.clone(), name_of(c)));
            } else {
                progress("Container", &name_of(c), "Running");
            }
        }
    }
    let have: Vec<u64> = mine
        .iter()
        .map(|c| number_of(c))
        .filter(|n| *n <= want)
        .collect();
    for n in 1..=want {
        if !have.contains(&n) {
            ids.push(create_one(ctx, service, n, &hash).await?);
        }
    }
    Ok(ids)
}

fn parse_scale(args: &UpArgs) -> Result<IndexMap<String, u64>, Error> {
    args.scale
        .iter()
        .map(|s| {
            let (k, v) = s
                .split_once('=')
                .ok_or_else(|| Error::new(format!("invalid --scale value {s:?}")))?;
            let n = v
                .parse()
                .map_err(|_| Error::new(format!("invalid --scale value {s:?}")))?;
            Ok((k.to_string(), n))
        })
        .collect()
}

/// The services to bring up: the named ones and (without `--no-deps`)
/// what they depend on, in start order.
pub fn targets(ctx: &Ctx, named: &[String], no_deps: bool) -> Vec<String> {
    let order = validate_order(&ctx.project.model);
    if named.is_empty() {
        return order;
    }
    let mut want: Vec<String> = named.to_vec();
    if !no_deps {
        let mut i = 0;
        while i < want.len() {
            if let Some(s) = ctx.project.model.services.get(&want[i]) {
                for d in s.depends_on.keys() {
                    if !want.contains(d) {
                        want.push(d.clone());
                    }
                }
            }
            i += 1;
        }
    }
    order.into_iter().filter(|s| want.contains(s)).collect()
}

async fn orphans(ctx: &Ctx, existing: &[ContainerSummary], remove: bool) -> Result<(), Error> {
    let p = &ctx.project;
    let orphans: Vec<&ContainerSummary> = existing
        .iter()
        .filter(|c| {
            let s = service_of(c);
            !p.model.services.contains_key(s) && !p.disabled.contains_key(s)
        })
        .collect();
    if orphans.is_empty() {
        return Ok(());
    }
    if remove {
        for c in orphans {
            let name = name_of(c);
            progress("Container", &name, "Removing");
            ctx.client.remove_container(&c.id, true).await?;
            progress("Container", &name, "Removed");
        }
    } else {
        let names: Vec<String> = orphans.iter().map(|c| name_of(c)).collect();
        eprintln!(
            "WARN[0000] Found orphan containers ([{}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.",
            names.join(" ")
        );
    }
    Ok(())
}

/// Waits for a service's dependencies, converges it and starts what must
/// start.
async fn bring_up(
    ctx: &Ctx,
    service: &str,
    services: &[String],
    existing: &[ContainerSummary],
    args: &UpArgs,
    scale: &IndexMap<String, u64>,
) -> Result<(), Error> {
    let svc = &ctx.project.model.services[service];
    if !args.no_deps {
        for (dep, d) in &svc.depends_on {
            if services.contains(dep) {
                wait_condition(ctx, dep, d.condition).await?;
            }
        }
    }
    let todo = converge(ctx, service, existing, args, scale).await?;
    if args.no_start {
        return Ok(());
    }
    for (id, name) in todo {
        progress("Container", &name, "Starting");
        ctx.client.start_container(&id).await?;
        progress("Container", &name, "Started");
    }
    Ok(())
}

/// `services` grouped by dependency depth: each group only depends on
/// earlier ones, so a group's services are brought up in parallel.
fn start_levels(ctx: &Ctx, services: &[String]) -> Vec<Vec<String>> {
    let mut level: IndexMap<String, usize> = IndexMap::new();
    for s in services {
        let deps = &ctx.project.model.services[s].depends_on;
        let l = deps
            .keys()
            .filter_map(|d| level.get(d).map(|l| l + 1))
            .max()
            .unwrap_or(0);
        level.insert(s.clone(), l);
    }
    let mut groups: Vec<Vec<String>> = Vec::new();
    for (s, l) in level {
        if groups.len() <= l {
            groups.resize(l + 1, Vec::new());
        }
        groups[l].push(s);
    }
    groups
}

/// Services that need their image: those with a container to create.
fn needing_images(
    ctx: &Ctx,
    services: &[String],
    existing: &[ContainerSummary],
    args: &UpArgs,
) -> Vec<String> {
    services
        .iter()
        .filter(|s| {
            let hash = config_hash(&ctx.project.model.services[s.as_str()]);
            args.build
                || args.force_recreate
                || !existing
                    .iter()
                    .any(|c| service_of(c) == s.as_str() && c.labels.get(HASH) == Some(&hash))
        })
        .cloned()
        .collect()
}

pub async fn up(ctx: &Ctx, args: &UpArgs) -> Result<i32, Error> {
    check_services(&ctx.project, &args.services)?;
    let scale = parse_scale(args)?;
    let services = targets(ctx, &args.services, args.no_deps);
    check_external(ctx).await?;
    ensure_networks(ctx).await?;
    ensure_volumes(ctx).await?;
    let existing = containers(&ctx.client, &ctx.project.name, true).await?;
    images::ensure_images(
        ctx,
        &needing_images(ctx, &services, &existing, args),
        args.build,
    )
    .await?;
    orphans(ctx, &existing, args.remove_orphans).await?;
    for group in start_levels(ctx, &services) {
        let jobs = group
            .iter()
            .map(|s| bring_up(ctx, s, &services, &existing, args, &scale));
        for r in futures_util::future::join_all(jobs).await {
            r?;
        }
    }
    if args.wait {
        for service in &services {
            let svc = &ctx.project.model.services[service];
            let cond = if svc.healthcheck.as_ref().is_some_and(|h| !h.disable) {
                Condition::ServiceHealthy
            } else {
                Condition::ServiceStarted
            };
            wait_condition(ctx, service, cond).await?;
        }
    }
    if args.detach || args.wait || args.no_start {
        return Ok(0);
    }
    ps::attach_logs(ctx, &services, args).await
}
