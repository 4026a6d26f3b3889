//! From the merged YAML tree to the typed model: `extends`, the typed
//! decode with errors located in the files, and the paths and `env_file`s
//! resolved against the project directory.

use std::path::Path;

use indexmap::IndexMap;
use serde_yaml_ng::Value;

use super::yaml::{path_string, Seg};
use super::Source;
use crate::model::{ComposeFile, Service};
use crate::Error;

fn to_segs(path: &serde_path_to_error::Path) -> Vec<Seg> {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|s| match s {
            Segment::Seq { index } => Some(Seg::Index(*index)),
            Segment::Map { key } => Some(Seg::Key(key.clone())),
            Segment::Enum { variant } => Some(Seg::Key(variant.clone())),
            Segment::Unknown => None,
        })
        .collect()
}

/// Decodes the merged tree; an error names the file and line of the key
/// at fault (the last file that has it: later files override earlier ones)
/// and the key, in compose's words for an unknown key.
pub(crate) fn typed(tree: Value, sources: &[Source]) -> Result<ComposeFile, Error> {
    serde_path_to_error::deserialize(tree).map_err(|e| {
        let mut segs = to_segs(e.path());
        let inner = e.inner().to_string();
        let unknown = inner
            .strip_prefix("unknown field `")
            .and_then(|r| r.split('`').next())
            .map(str::to_string);
        if let Some(k) = &unknown {
            if segs.last() != Some(&Seg::Key(k.clone())) {
                segs.push(Seg::Key(k.clone()));
            }
        }
        let at = sources
            .iter()
            .rev()
            .find(|s| super::yaml::locate(&s.text, &segs).is_some())
            .or(sources.last())
            .map(|s| s.at(&segs))
            .unwrap_or_default();
        match unknown {
            Some(k) => {
                let parent = path_string(&segs[..segs.len() - 1]);
                let parent = if parent.is_empty() {
                    "(root)".to_string()
                } else {
                    parent
                };
                Error::new(format!(
                    "validating {at}: {parent} additional properties '{k}' not allowed"
                ))
            }
            None => Error::new(format!("validating {at}: {}: {inner}", path_string(&segs))),
        }
    })
}

/// Applies `extends` in the services of `tree` (the file `src`): the base
/// service (from this file or `file:`) under the extending one.
pub(crate) fn apply_extends(
    tree: &mut Value,
    src: &Source,
    env: &IndexMap<String, String>,
    unset: &mut Vec<String>,
) -> Result<(), Error> {
    let Some(Value::Mapping(services)) = tree.get("services").cloned() else {
        return Ok(());
    };
    let mut resolved = services.clone();
    for (name, _) in services.iter() {
        let name = name.as_str().unwrap_or_default().to_string();
        let svc = extend_one(&name, &services, src, env, unset, &mut Vec::new())?;
        resolved.insert(Value::String(name), svc);
    }
    if let Value::Mapping(root) = tree {
        root.insert(Value::String("services".into()), Value::Mapping(resolved));
    }
    Ok(())
}

fn extend_one(
    name: &str,
    services: &serde_yaml_ng::Mapping,
    src: &Source,
    env: &IndexMap<String, String>,
    unset: &mut Vec<String>,
    chain: &mut Vec<String>,
) -> Result<Value, Error> {
    let svc = services.get(name).cloned().ok_or_else(|| {
        Error::new(format!(
            "{}: cannot extend service {name:?}: service not found",
            src.path.display()
        ))
    })?;
    let Some(ext) = svc.get("extends").cloned() else {
        return Ok(svc);
    };
    let key = format!("{}:{name}", src.path.display());
    if chain.contains(&key) {
        return Err(Error::new(format!(
            "{}: circular reference with extends in service {name:?}",
            src.at(&[Seg::Key("services".into()), Seg::Key(name.into())])
        )));
    }
    chain.push(key);
    let (base_name, file) = match &ext {
        Value::String(s) => (s.clone(), None),
        other => (
            other
                .get("service")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            other
                .get("file")
                .and_then(Value::as_str)
                .map(str::to_string),
        ),
    };
    let mut base = match file {
        None => extend_one(&base_name, services, src, env, unset, chain)?,
        Some(f) => {
            let dir = src.path.parent().unwrap_or(Path::new("."));
            let path = dir.join(f);
            let (other_src, other_tree, _) = super::read_file(&path, env, unset)?;
            let Some(Value::Mapping(other)) = other_tree.get("services").cloned() else {
                return Err(Error::new(format!(
                    "{}: cannot extend service {base_name:?}: service not found",
                    path.display()
                )));
            };
            extend_one(&base_name, &other, &other_src, env, unset, chain)?
        }
    };
    chain.pop();
    let mut svc = svc;
    if let Value::Mapping(m) = &mut svc {
        m.remove("extends");
    }
    if let Value::Mapping(b) = &mut base {
        // Never inherited, as in compose.
        b.remove("depends_on");
    }
    super::merge::merge(&mut base, svc);
    Ok(base)
}

pub(crate) fn abs(dir: &Path, p: &str) -> String {
    if let Some(rest) = p.strip_prefix("~/") {
        if let Ok(home) = std::env::var("HOME") {
            return Path::new(&home).join(rest).display().to_string();
        }
    }
    let path = Path::new(p);
    if path.is_absolute() {
        return p.to_string();
    }
    // Lexical join without `./` (compose prints a clean absolute path).
    let mut out = dir.to_path_buf();
    for c in path.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out.display().to_string()
}

/// Relative paths made absolute against the project directory, and each
/// service's `env_file`s read into its `environment` (the file's values
/// under the ones written in `environment`).
pub(crate) fn resolve(
    model: &mut ComposeFile,
    dir: &Path,
    env: &IndexMap<String, String>,
) -> Result<(), Error> {
    for (name, svc) in model.services.iter_mut() {
        resolve_service(name, svc, dir, env)?;
    }
    for def in model.secrets.values_mut().chain(model.configs.values_mut()) {
        if let Some(f) = &def.file {
            def.file = Some(abs(dir, f));
        }
    }
    Ok(())
}

fn resolve_service(
    name: &str,
    svc: &mut Service,
    dir: &Path,
    env: &IndexMap<String, String>,
) -> Result<(), Error> {
    if let Some(b) = &mut svc.build {
        if !b.context.contains("://") {
            b.context = abs(dir, &b.context);
        }
    }
    for v in &mut svc.volumes {
        if v.kind == "bind" {
            if let Some(s) = &v.source {
                v.source = Some(abs(dir, s));
            }
        }
    }
    let mut from_files: IndexMap<String, Option<String>> = IndexMap::new();
    for f in &mut svc.env_file {
        f.path = abs(dir, &f.path);
        let text = match std::fs::read_to_string(&f.path) {
            Ok(t) => t,
            Err(_) if !f.required => continue,
            Err(e) => {
                return Err(Error::new(format!(
                    "env file {} not found: stat {}: {}",
                    f.path,
                    f.path,
                    crate::io_words(&e)
                )))
            }
        };
        let parsed = super::interp::parse_env_file(&text, env)
            .map_err(|e| Error::new(format!("service {name:?}: failed to read {}: {e}", f.path)))?;
        from_files.extend(parsed);
    }
    for (k, v) in std::mem::take(&mut svc.environment) {
        from_files.insert(k, v);
    }
    // `KEY` without a value takes the interpolation environment's.
    for (k, v) in from_files.iter_mut() {
        if v.is_none() {
            *v = env.get(k).cloned();
        }
    }
    svc.environment = from_files;
    Ok(())
}

/// The names compose gives the project's objects: a service with no
/// `networks` (and no `network_mode`) is on `default`, which exists as
/// `PROJECT_default`; networks and volumes without a `name` are
/// `PROJECT_KEY`; external ones keep their key.
pub(crate) fn name_objects(model: &mut ComposeFile, project: &str) {
    let mut uses_default = false;
    for svc in model.services.values_mut() {
        if svc.network_mode.is_none() && svc.networks.is_empty() {
            svc.networks.insert("default".into(), None);
        }
        uses_default |= svc.networks.contains_key("default");
    }
    if uses_default && !model.networks.contains_key("default") {
        model.networks.insert("default".into(), Default::default());
    }
    for (key, net) in model.networks.iter_mut() {
        if net.name.is_none() {
            net.name = Some(if net.external {
                key.clone()
            } else {
                format!("{project}_{key}")
            });
        }
    }
    for (key, vol) in model.volumes.iter_mut() {
        if vol.name.is_none() {
            vol.name = Some(if vol.external {
                key.clone()
            } else {
                format!("{project}_{key}")
            });
        }
    }
    for (key, def) in model.secrets.iter_mut().chain(model.configs.iter_mut()) {
        if def.name.is_none() {
            def.name = Some(if def.external {
                key.clone()
            } else {
                format!("{project}_{key}")
            });
        }
    }
}
