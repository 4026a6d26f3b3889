//! Images: pulled when missing, built from `build:` (a tar of the context
//! posted to the engine's `/build`), listed for `images`.

use std::path::Path;

use super::*;

pub async fn pull_image(ctx: &Ctx, image: &str) -> Result<(), Error> {
    progress("Image", image, "Pulling");
    ctx.client.pull(image, None, |_| {}).await?;
    progress("Image", image, "Pulled");
    Ok(())
}

/// A tar of the build context (the `.dockerignore` is left to the
/// engine's builder, which reads it from the tar as dockerd does).
fn context_tar(dir: &Path) -> Result<Vec<u8>, Error> {
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    b.append_dir_all(".", dir)
        .map_err(|e| Error::new(format!("build context {}: {e}", dir.display())))?;
    b.into_inner()
        .map_err(|e| Error::new(format!("build context {}: {e}", dir.display())))
}

pub async fn build(ctx: &Ctx, service: &str) -> Result<(), Error> {
    let p = &ctx.project;
    let svc = &p.model.services[service];
    let Some(b) = &svc.build else { return Ok(()) };
    let image = image_name(&p.name, service, svc);
    let tar = context_tar(Path::new(&b.context))?;
    let mut q = form_query(&[("t", image.clone())]);
    if let Some(d) = &b.dockerfile {
        q.push_str(&format!("&{}", form_query(&[("dockerfile", d.clone())])));
    }
    if let Some(t) = &b.target {
        q.push_str(&format!("&{}", form_query(&[("target", t.clone())])));
    }
    if !b.args.is_empty() {
        let args: indexmap::IndexMap<&String, String> = b
            .args
            .iter()
            .filter_map(|(k, v)| v.clone().or_else(|| p.env.get(k).cloned()).map(|v| (k, v)))
            .collect();
        let json = serde_json::to_string(&args).unwrap_or_default();
        q.push_str(&format!("&{}", form_query(&[("buildargs", json)])));
    }
    let mut labels = b.labels.clone();
    labels.insert(PROJECT.into(), p.name.clone());
    labels.insert(SERVICE.into(), service.into());
    let json = serde_json::to_string(&labels).unwrap_or_default();
    q.push_str(&format!("&{}", form_query(&[("labels", json)])));
    if let Some(n) = &b.network {
        q.push_str(&format!("&{}", form_query(&[("networkmode", n.clone())])));
    }
    progress("Image", &image, "Building");
    ctx.client
        .build_image(&q, tar, |m| {
            if let Some(s) = &m.stream {
                eprint!("{s}");
            }
        })
        .await?;
    progress("Image", &image, "Built");
    Ok(())
}

fn form_query(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", berth_client::client::q(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Builds what must be built (`--build`, or a `build:` whose image is
/// missing) and pulls missing images of the others.
pub async fn ensure_images(ctx: &Ctx, services: &[String], force_build: bool) -> Result<(), Error> {
    let p = &ctx.project;
    for service in services {
        let svc = &p.model.services[service];
        let image = image_name(&p.name, service, svc);
        let present = ctx.client.inspect_image_json(&image).await.is_ok();
        if svc.build.is_some() && (force_build || !present) {
            build(ctx, service).await?;
        } else if !present {
            pull_image(ctx, &image).await?;
        }
    }
    Ok(())
}

pub async fn build_all(ctx: &Ctx, services: &[String]) -> Result<i32, Error> {
    check_services(&ctx.project, services)?;
    for service in ctx.project.model.services.keys() {
        if services.is_empty() || services.contains(service) {
            build(ctx, service).await?;
        }
    }
    Ok(0)
}

pub async fn pull(ctx: &Ctx, services: &[String]) -> Result<i32, Error> {
    check_services(&ctx.project, services)?;
    for (service, svc) in &ctx.project.model.services {
        if (services.is_empty() || services.contains(service)) && svc.image.is_some() {
            pull_image(ctx, &image_name(&ctx.project.name, service, svc)).await?;
        }
    }
    Ok(0)
}

pub async fn images(ctx: &Ctx, services: &[String]) -> Result<i32, Error> {
    check_services(&ctx.project, services)?;
    let list = containers(&ctx.client, &ctx.project.name, true).await?;
    println!(
        "{:<24}{:<32}{:<12}{:<16}",
        "CONTAINER", "REPOSITORY", "TAG", "IMAGE ID"
    );
    for c in selected(&list, services) {
        let (repo, tag) = match c.image.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r.to_string(), t.to_string()),
            _ => (c.image.clone(), "latest".to_string()),
        };
        let id = c
            .image_id
            .trim_start_matches("sha256:")
            .chars()
            .take(12)
            .collect::<String>();
        println!("{:<24}{:<32}{:<12}{:<16}", name_of(c), repo, tag, id);
    }
    Ok(0)
}
