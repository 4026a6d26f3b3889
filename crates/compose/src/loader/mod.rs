//! The compose loader: which files (`-f`, `COMPOSE_FILE`, discovery), the
//! environment (`.env`, `--env-file`, the process), each file parsed
//! (`yaml`), interpolated (`interp`), normalised (`normalize`), the files
//! merged and `extends` applied (`merge`), decoded into the typed model
//! with errors naming file, line and key (`decode`), then checked
//! (`validate`) and narrowed to the active profiles.

mod decode;
mod include;
pub mod interp;
pub mod merge;
pub mod normalize;
mod validate;
pub use validate::{start_order as validate_order, stop_levels};
pub mod yaml;

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_yaml_ng::{Mapping, Value};

use crate::model::{ComposeFile, Project};
use crate::Error;
use yaml::Seg;

/// What the command line and the environment say about the project.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub files: Vec<PathBuf>,
    pub project_name: Option<String>,
    pub project_directory: Option<PathBuf>,
    pub env_files: Vec<PathBuf>,
    pub profiles: Vec<String>,
    /// The process environment.
    pub env: IndexMap<String, String>,
    pub cwd: PathBuf,
}

const DEFAULT_FILES: &[&str] = &[
    "compose.yaml",
    "compose.yml",
    "docker-compose.yml",
    "docker-compose.yaml",
];
const OVERRIDE_FILES: &[&str] = &[
    "compose.override.yaml",
    "compose.override.yml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
];

fn absolute(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        let joined = base.join(p);
        std::fs::canonicalize(&joined).unwrap_or(joined)
    }
}

/// The files to read: `-f`, else `COMPOSE_FILE`, else the first default
/// name found in the working directory or a parent, plus its override.
pub fn find_files(opts: &LoadOptions) -> Result<Vec<PathBuf>, Error> {
    if !opts.files.is_empty() {
        return Ok(opts.files.iter().map(|f| absolute(&opts.cwd, f)).collect());
    }
    if let Some(list) = opts.env.get("COMPOSE_FILE").filter(|l| !l.is_empty()) {
        let sep = opts
            .env
            .get("COMPOSE_PATH_SEPARATOR")
            .cloned()
            .unwrap_or_else(|| ":".into());
        return Ok(list
            .split(sep.as_str())
            .filter(|f| !f.is_empty())
            .map(|f| absolute(&opts.cwd, Path::new(f)))
            .collect());
    }
    let start = opts.project_directory.clone().unwrap_or(opts.cwd.clone());
    let mut dir = Some(start.as_path());
    while let Some(d) = dir {
        if let Some(f) = DEFAULT_FILES
            .iter()
            .map(|n| d.join(n))
            .find(|p| p.is_file())
        {
            let mut files = vec![f];
            if let Some(o) = OVERRIDE_FILES
                .iter()
                .map(|n| d.join(n))
                .find(|p| p.is_file())
            {
                files.push(o);
            }
            return Ok(files);
        }
        dir = d.parent();
    }
    Err(Error::new(
        "no configuration file provided: not found".to_string(),
    ))
}

/// compose v2's `NormalizeProjectName`: lower case, only `[a-z0-9_-]`,
/// starting with a letter or digit.
pub fn normalize_project_name(name: &str) -> String {
    let lower: String = name
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-')
        .collect();
    lower.trim_start_matches(['_', '-']).to_string()
}

fn valid_project_name(name: &str) -> bool {
    !name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// The interpolation environment: `.env` (or `--env-file`s) under the
/// process environment, which wins.
fn environment(opts: &LoadOptions, project_dir: &Path) -> Result<IndexMap<String, String>, Error> {
    let files: Vec<PathBuf> = if opts.env_files.is_empty() {
        let dotenv = project_dir.join(".env");
        if dotenv.is_file() {
            vec![dotenv]
        } else {
            vec![]
        }
    } else {
        opts.env_files
            .iter()
            .map(|f| absolute(&opts.cwd, f))
            .collect()
    };
    let mut env = IndexMap::new();
    for f in files {
        let text = std::fs::read_to_string(&f)
            .map_err(|e| Error::new(format!("couldn't find env file: {}: {e}", f.display())))?;
        let parsed = interp::parse_env_file(&text, &opts.env)
            .map_err(|e| Error::new(format!("failed to read {}: {e}", f.display())))?;
        for (k, v) in parsed {
            if let Some(v) = v {
                env.insert(k, v);
            }
        }
    }
    for (k, v) in &opts.env {
        env.insert(k.clone(), v.clone());
    }
    Ok(env)
}

/// One parsed file: its path, text (for error lines) and tree.
pub(crate) struct Source {
    pub path: PathBuf,
    pub text: String,
}

impl Source {
    pub fn at(&self, path: &[Seg]) -> String {
        match yaml::locate(&self.text, path) {
            Some(l) => format!("{}:{l}", self.path.display()),
            None => self.path.display().to_string(),
        }
    }
}

/// Takes the `x-` keys out of every mapping (they are free-form); returns
/// the top-level ones.
fn strip_extensions(v: &mut Value) -> IndexMap<String, Value> {
    let mut top = IndexMap::new();
    if let Value::Mapping(m) = v {
        let keys: Vec<Value> = m
            .keys()
            .filter(|k| k.as_str().is_some_and(|s| s.starts_with("x-")))
            .cloned()
            .collect();
        for k in keys {
            if let Some(val) = m.remove(&k) {
                top.insert(k.as_str().unwrap_or_default().to_string(), val);
            }
        }
        for (_, child) in m.iter_mut() {
            strip_extensions(child);
        }
    } else if let Value::Sequence(items) = v {
        for child in items {
            strip_extensions(child);
        }
    }
    top
}

/// Interpolates every string value (not keys) in place.
fn interpolate_tree(
    v: &mut Value,
    env: &IndexMap<String, String>,
    src: &Source,
    path: &mut Vec<Seg>,
    unset: &mut Vec<String>,
) -> Result<(), Error> {
    match v {
        Value::String(s) => {
            let out = interp::interpolate(s, env, unset).map_err(|e| {
                Error::new(format!(
                    "{}: error while interpolating {}: {e}",
                    src.at(path),
                    yaml::path_string(path)
                ))
            })?;
            *s = out;
        }
        Value::Mapping(m) => {
            for (k, child) in m.iter_mut() {
                path.push(Seg::Key(normalize::scalar_string(k).unwrap_or_default()));
                interpolate_tree(child, env, src, path, unset)?;
                path.pop();
            }
        }
        Value::Sequence(items) => {
            for (i, child) in items.iter_mut().enumerate() {
                path.push(Seg::Index(i));
                interpolate_tree(child, env, src, path, unset)?;
                path.pop();
            }
        }
        _ => {}
    }
    Ok(())
}

/// A version-1 file (services at the top level, no `services:` key, as
/// docker-compose 1.x still reads) is read as the services it lists.
fn upgrade_v1(v: &mut Value) {
    let Value::Mapping(m) = v else { return };
    if m.contains_key("services") || m.contains_key("version") || m.is_empty() {
        return;
    }
    let all_services = m.iter().all(|(k, svc)| {
        k.as_str().is_some_and(|k| !k.starts_with("x-"))
            && (svc.get("image").is_some() || svc.get("build").is_some())
    });
    if all_services {
        let mut root = Mapping::new();
        root.insert(Value::String("services".into()), Value::Mapping(m.clone()));
        *v = Value::Mapping(root);
    }
}

/// Reads, interpolates and normalises one file.
fn read_file(
    path: &Path,
    env: &IndexMap<String, String>,
    unset: &mut Vec<String>,
) -> Result<(Source, Value, IndexMap<String, Value>), Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::new(format!("open {}: {e}", path.display())))?;
    let src = Source {
        path: path.to_path_buf(),
        text,
    };
    let mut tree = yaml::parse(&path.display().to_string(), &src.text)?;
    upgrade_v1(&mut tree);
    let ext = strip_extensions(&mut tree);
    interpolate_tree(&mut tree, env, &src, &mut Vec::new(), unset)?;
    normalize::top_level(&mut tree);
    Ok((src, tree, ext))
}

/// Loads the project.
pub fn load(opts: &LoadOptions) -> Result<Project, Error> {
    let files = find_files(opts)?;
    let project_dir = match &opts.project_directory {
        Some(d) => absolute(&opts.cwd, d),
        None => files[0]
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or(opts.cwd.clone()),
    };
    let env = environment(opts, &project_dir)?;
    let mut unset = Vec::new();
    let mut sources = Vec::new();
    let mut merged = Value::Mapping(Mapping::new());
    let mut extensions = IndexMap::new();
    for f in &files {
        let (src, mut tree, ext) = read_file(f, &env, &mut unset)?;
        let (inc, inc_sources) = include::included(&mut tree, &src, &env, &mut unset, 0)?;
        merge::merge(&mut merged, inc);
        sources.extend(inc_sources);
        decode::apply_extends(&mut tree, &src, &env, &mut unset)?;
        merge::merge(&mut merged, tree);
        extensions.extend(ext);
        sources.push(src);
    }
    for name in &unset {
        eprintln!("WARN[0000] The \"{name}\" variable is not set. Defaulting to a blank string.");
    }
    let mut model: ComposeFile = decode::typed(merged, &sources)?;
    let name = match opts
        .project_name
        .clone()
        .or_else(|| env.get("COMPOSE_PROJECT_NAME").cloned().filter(|n| !n.is_empty()))
    {
        Some(n) if valid_project_name(&n) => n,
        Some(n) => {
            return Err(Error::new(format!(
                "invalid project name {n:?}: must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as start with a letter or number"
            )))
        }
        None => normalize_project_name(
            &model.name.clone().unwrap_or_else(|| {
                project_dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            }),
        ),
    };
    if name.is_empty() {
        return Err(Error::new("project name must not be empty".to_string()));
    }
    model.name = Some(name.clone());
    decode::resolve(&mut model, &project_dir, &env)?;
    decode::name_objects(&mut model, &name);
    validate::check(&model)?;
    let mut project = Project {
        name,
        working_dir: project_dir,
        config_files: files,
        model,
        extensions,
        env,
        ..Project::default()
    };
    let mut profiles = opts.profiles.clone();
    if let Some(p) = project.env.get("COMPOSE_PROFILES") {
        profiles.extend(p.split(',').filter(|p| !p.is_empty()).map(String::from));
    }
    validate::apply_profiles(&mut project, &profiles);
    Ok(project)
}

#[cfg(test)]
mod tests;
