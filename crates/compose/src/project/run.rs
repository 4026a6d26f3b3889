//! `run`: a one-off container of a service (`PROJECT-SERVICE-run-ID`,
//! labelled `oneoff=True`), its dependencies brought up first; without
//! `-d` its output is streamed and its exit code is `run`'s.

use sha2::{Digest, Sha256};

use super::*;
use crate::cli::{RunArgs, UpArgs};

fn slug() -> String {
    let seed = format!("{:?}{}", std::time::SystemTime::now(), std::process::id());
    hex::encode(Sha256::digest(seed.as_bytes()))[..12].to_string()
}

pub async fn run(ctx: &Ctx, args: &RunArgs) -> Result<i32, Error> {
    let service = &args.service;
    check_services(&ctx.project, std::slice::from_ref(service))?;
    let svc = &ctx.project.model.services[service];
    if !args.no_deps && !svc.depends_on.is_empty() {
        let deps: Vec<String> = svc.depends_on.keys().cloned().collect();
        let up = UpArgs {
            detach: true,
            services: deps,
            ..UpArgs::default()
        };
        super::up::up(ctx, &up).await?;
    } else {
        super::up::check_external(ctx).await?;
        super::up::ensure_networks(ctx).await?;
        super::up::ensure_volumes(ctx).await?;
    }
    super::images::ensure_images(ctx, std::slice::from_ref(service), false).await?;
    let mut req = create::request(&ctx.project, service, 1, &config_hash(svc))?;
    let labels = req.config.labels.get_or_insert_with(Default::default);
    labels.insert(ONEOFF.into(), "True".into());
    labels.shift_remove(NUMBER);
    let id_slug = slug();
    labels.insert("com.docker.compose.slug".into(), id_slug.clone());
    if !args.command.is_empty() {
        req.config.cmd = Some(args.command.clone());
    }
    if let Some(e) = &args.entrypoint {
        req.config.entrypoint = Some(shlex::split(e).unwrap_or_else(|| vec![e.clone()]));
    }
    let env = req.config.env.get_or_insert_with(Vec::new);
    env.extend(args.env.iter().cloned());
    if let Some(u) = &args.user {
        req.config.user = u.clone();
    }
    if let Some(w) = &args.workdir {
        req.config.working_dir = w.clone();
    }
    if !args.service_ports {
        req.host_config.port_bindings = None;
    }
    req.host_config.auto_remove = false;
    req.config.attach_stdout = !args.detach;
    req.config.attach_stderr = !args.detach;
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| format!("{}-{service}-run-{id_slug}", ctx.project.name));
    let created = ctx.client.create_container(Some(&name), &req).await?;
    ctx.client.start_container(&created.id).await?;
    if args.detach {
        println!("{name}");
        return Ok(0);
    }
    let list = ctx
        .client
        .list_containers_labelled(true, &[format!("com.docker.compose.slug={id_slug}")])
        .await?;
    if let Some(c) = list.first() {
        super::ps::stream_logs(ctx, c, String::new(), true, None, false).await?;
    }
    let exit = ctx
        .client
        .wait_container(&created.id, "not-running")
        .await?
        .status_code;
    if args.rm {
        ctx.client.remove_container(&created.id, true).await?;
    }
    Ok(exit as i32)
}
