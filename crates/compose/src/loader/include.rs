//! `include:`: other compose files loaded as part of this one. Their
//! relative paths are resolved against their own directory (as compose
//! does) before they are merged under the including file.

use std::path::Path;

use indexmap::IndexMap;
use serde_yaml_ng::Value;

use super::{decode, normalize, read_file, Source};
use crate::Error;

/// Paths of `include` entries (`- file.yaml`, `- path: file.yaml`,
/// `- path: [a.yaml, b.yaml]`), relative to `dir`.
fn entries(inc: &Value, dir: &Path, src: &Source) -> Result<Vec<std::path::PathBuf>, Error> {
    let bad = || Error::new(format!("{}: include: invalid entry", src.path.display()));
    let Value::Sequence(items) = inc else {
        return Err(bad());
    };
    let mut out = Vec::new();
    for item in items {
        let paths: Vec<String> = match item {
            Value::String(s) => vec![s.clone()],
            Value::Mapping(m) => match m.get("path") {
                Some(Value::String(s)) => vec![s.clone()],
                Some(Value::Sequence(ps)) => {
                    ps.iter().filter_map(normalize::scalar_string).collect()
                }
                _ => return Err(bad()),
            },
            _ => return Err(bad()),
        };
        out.extend(paths.into_iter().map(|p| dir.join(p)));
    }
    Ok(out)
}

fn absolute(dir: &Path, v: &mut Value) {
    if let Some(s) = v.as_str() {
        if s.starts_with('.') || !(s.starts_with('/') || s.starts_with('~') || s.contains("://")) {
            *v = Value::String(decode::abs(dir, s));
        }
    }
}

/// Makes the tree's relative paths absolute against `dir`.
fn rebase(tree: &mut Value, dir: &Path) {
    if let Some(Value::Mapping(svcs)) = tree.get_mut("services") {
        for (_, svc) in svcs.iter_mut() {
            if let Some(ctx) = svc.get_mut("build").and_then(|b| b.get_mut("context")) {
                absolute(dir, ctx);
            }
            if let Some(Value::Sequence(vols)) = svc.get_mut("volumes") {
                for v in vols.iter_mut() {
                    if v.get("type").and_then(Value::as_str) == Some("bind") {
                        if let Some(src) = v.get_mut("source") {
                            absolute(dir, src);
                        }
                    }
                }
            }
            if let Some(Value::Sequence(files)) = svc.get_mut("env_file") {
                for f in files.iter_mut() {
                    if let Some(p) = f.get_mut("path") {
                        absolute(dir, p);
                    }
                }
            }
        }
    }
    for key in ["secrets", "configs"] {
        if let Some(Value::Mapping(defs)) = tree.get_mut(key) {
            for (_, d) in defs.iter_mut() {
                if let Some(f) = d.get_mut("file") {
                    absolute(dir, f);
                }
            }
        }
    }
}

/// Takes `include` out of `tree` and answers the merged included trees
/// (to go under it), with their sources for error lines.
pub(crate) fn included(
    tree: &mut Value,
    src: &Source,
    env: &IndexMap<String, String>,
    unset: &mut Vec<String>,
    depth: usize,
) -> Result<(Value, Vec<Source>), Error> {
    let mut merged = Value::Mapping(Default::default());
    let mut sources = Vec::new();
    let Some(inc) = tree.as_mapping_mut().and_then(|m| m.remove("include")) else {
        return Ok((merged, sources));
    };
    if depth > 10 {
        return Err(Error::new(format!(
            "{}: include nested too deep (a cycle?)",
            src.path.display()
        )));
    }
    let dir = src.path.parent().unwrap_or(Path::new("."));
    for path in entries(&inc, dir, src)? {
        let (isrc, mut itree, _) = read_file(&path, env, unset)?;
        let (sub, subsrc) = included(&mut itree, &isrc, env, unset, depth + 1)?;
        decode::apply_extends(&mut itree, &isrc, env, unset)?;
        rebase(&mut itree, isrc.path.parent().unwrap_or(Path::new(".")));
        super::merge::merge(&mut merged, sub);
        super::merge::merge(&mut merged, itree);
        sources.extend(subsrc);
        sources.push(isrc);
    }
    Ok((merged, sources))
}
