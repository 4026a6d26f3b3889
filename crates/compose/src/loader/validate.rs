//! Checks on the whole model, worded as docker compose v2 words them:
//! every service has an image or a build, references point at declared
//! services, networks, volumes, secrets and configs, and `depends_on` has
//! no cycle. Also the profile filter.

use crate::model::{ComposeFile, Project};
use crate::Error;

fn invalid(msg: String) -> Error {
    Error::new(format!("{msg}: invalid compose project"))
}

pub(crate) fn check(model: &ComposeFile) -> Result<(), Error> {
    for (name, svc) in &model.services {
        let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if name.is_empty() || !name.chars().all(valid) {
            return Err(invalid(format!(
                "service name {name:?} must only contain letters, digits, '.', '_' and '-'"
            )));
        }
        let replicas = svc.scale.or(svc.deploy.as_ref().and_then(|d| d.replicas));
        if svc.container_name.is_some() && replicas.is_some_and(|r| r > 1) {
            return Err(invalid(format!(
                "services.deploy.replicas: can't set container_name and {name} as container name must be unique"
            )));
        }
        if svc.image.is_none() && svc.build.is_none() {
            return Err(invalid(format!(
                "service {name:?} has neither an image nor a build context specified"
            )));
        }
        for dep in svc.depends_on.keys() {
            if !model.services.contains_key(dep) {
                return Err(invalid(format!(
                    "service {name:?} depends on undefined service {dep:?}"
                )));
            }
        }
        for net in svc.networks.keys() {
            if net != "default" && !model.networks.contains_key(net) {
                return Err(invalid(format!(
                    "service {name:?} refers to undefined network {net}"
                )));
            }
        }
        for v in &svc.volumes {
            if v.kind != "volume" {
                continue;
            }
            if let Some(src) = &v.source {
                if !model.volumes.contains_key(src) {
                    return Err(invalid(format!(
                        "service {name:?} refers to undefined volume {src}"
                    )));
                }
            }
        }
        for s in &svc.secrets {
            if !model.secrets.contains_key(&s.source) {
                return Err(invalid(format!(
                    "service {name:?} refers to undefined secret {}",
                    s.source
                )));
            }
        }
        for c in &svc.configs {
            if !model.configs.contains_key(&c.source) {
                return Err(invalid(format!(
                    "service {name:?} refers to undefined config {}",
                    c.source
                )));
            }
        }
    }
    check_cycles(model)
}

/// A depth-first walk over `depends_on`; a service met again on the
/// current path closes a cycle.
fn check_cycles(model: &ComposeFile) -> Result<(), Error> {
    fn visit<'a>(
        model: &'a ComposeFile,
        name: &'a str,
        path: &mut Vec<&'a str>,
        done: &mut Vec<&'a str>,
    ) -> Result<(), Error> {
        if done.contains(&name) {
            return Ok(());
        }
        if let Some(pos) = path.iter().position(|p| *p == name) {
            let mut cycle: Vec<&str> = path[pos..].to_vec();
            cycle.push(name);
            return Err(Error::new(format!(
                "dependency cycle detected: {}",
                cycle.join(" -> ")
            )));
        }
        path.push(name);
        if let Some(svc) = model.services.get(name) {
            for dep in svc.depends_on.keys() {
                visit(model, dep, path, done)?;
            }
        }
        path.pop();
        done.push(name);
        Ok(())
    }
    let mut done = Vec::new();
    for name in model.services.keys() {
        visit(model, name, &mut Vec::new(), &mut done)?;
    }
    Ok(())
}

/// Moves the services whose profiles are all inactive to
/// `project.disabled` (a service without profiles is always active).
pub(crate) fn apply_profiles(project: &mut Project, active: &[String]) {
    let all = active.iter().any(|p| p == "*");
    let names: Vec<String> = project.model.services.keys().cloned().collect();
    for name in names {
        let svc = &project.model.services[&name];
        let on = svc.profiles.is_empty() || all || svc.profiles.iter().any(|p| active.contains(p));
        if !on {
            if let Some(s) = project.model.services.shift_remove(&name) {
                project.disabled.insert(name, s);
            }
        }
    }
}

/// The services in start order: each after the ones it depends on
/// (the model has no cycle by then), otherwise in file order.
pub fn start_order(model: &ComposeFile) -> Vec<String> {
    fn visit(model: &ComposeFile, name: &str, out: &mut Vec<String>) {
        if out.iter().any(|o| o == name) {
            return;
        }
        if let Some(svc) = model.services.get(name) {
            for dep in svc.depends_on.keys() {
                visit(model, dep, out);
            }
            out.push(name.to_string());
        }
    }
    let mut out = Vec::new();
    for name in model.services.keys() {
        visit(model, name, &mut out);
    }
    out
}

/// The services in stop order, as groups that can stop together: a
/// service's group comes after the groups of every service depending on
/// it (docker compose stops dependents first, independent ones in
/// parallel).
pub fn stop_levels(model: &ComposeFile) -> Vec<Vec<String>> {
    fn level(model: &ComposeFile, name: &str, seen: &mut Vec<String>) -> usize {
        if seen.iter().any(|s| s == name) {
            return 0;
        }
        seen.push(name.to_string());
        let l = model
            .services
            .iter()
            .filter(|(_, s)| s.depends_on.contains_key(name))
            .map(|(d, _)| level(model, d, seen) + 1)
            .max()
            .unwrap_or(0);
        seen.pop();
        l
    }
    let mut groups: Vec<Vec<String>> = Vec::new();
    for name in model.services.keys() {
        let l = level(model, name, &mut Vec::new());
        if groups.len() <= l {
            groups.resize(l + 1, Vec::new());
        }
        groups[l].push(name.clone());
    }
    groups
}
