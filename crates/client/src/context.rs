//! Docker contexts and endpoint resolution, exactly as the docker CLI 28
//! stores and resolves them, so contexts made by either CLI work in both.
//!
//! Store layout (under the configuration directory):
//! - `contexts/meta/<sha256 hex of the name>/meta.json`:
//!   `{"Name":..,"Metadata":{..},"Endpoints":{"docker":{"Host":..,"SkipTLSVerify":..}}}`
//! - `contexts/tls/<sha256 hex of the name>/docker/{ca,cert,key}.pem`
//!
//! The `default` context is not stored: it is made from `-H`/`DOCKER_HOST`
//! and the TLS flags and variables. Which context is used (docker's
//! `resolveContextName`): `--context`, else `default` when `-H` or
//! `DOCKER_HOST` is given, else `DOCKER_CONTEXT`, else `currentContext` of
//! `config.json`, else `default`. `--context` together with `-H` is an
//! error.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::client::{Transport, DEFAULT_HOST};
use crate::config::{go_io_error, write_atomic};
use crate::tls::TlsData;

pub const DEFAULT_NAME: &str = "default";
pub const DEFAULT_DESCRIPTION: &str = "Current DOCKER_HOST based configuration";
/// docker's `DefaultTLSHost`: the host when TLS is on and none is given.
pub const DEFAULT_TLS_HOST: &str = "tcp://localhost:2376";

/// The global options that choose the daemon (docker's `ClientOptions`).
#[derive(Debug, Clone, Default)]
pub struct GlobalOpts {
    /// `-H/--host`, each occurrence.
    pub hosts: Vec<String>,
    /// `-c/--context`.
    pub context: Option<String>,
    /// `--config`.
    pub config: Option<String>,
    /// `--tls` (given and true).
    pub tls: bool,
    /// `--tlsverify[=BOOL]`: `Some` when the flag was given.
    pub tlsverify: Option<bool>,
    pub tlscacert: Option<String>,
    pub tlscert: Option<String>,
    pub tlskey: Option<String>,
}

/// The environment, read through a function so tests can give their own.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment.
pub fn process_env(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

fn non_empty(env: Env, k: &str) -> Option<String> {
    env(k).filter(|v| !v.is_empty())
}

/// Where and how to reach a daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The host as docker shows it (`tcp://1.2.3.4:2376`, `unix:///x.sock`).
    pub host: String,
    pub skip_tls_verify: bool,
    /// TLS material; the connection uses TLS when this is `Some`.
    pub tls: Option<TlsData>,
}

impl Endpoint {
    /// True when the connection is made over TLS (docker: TLS material or
    /// `SkipTLSVerify`).
    pub fn uses_tls(&self) -> bool {
        self.tls.is_some() || self.skip_tls_verify
    }
}

/// An endpoint and the name of the context it came from.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub name: String,
    pub endpoint: Endpoint,
}

/// The name of the context in use (docker's `resolveContextName`).
pub fn current_name(opts: &GlobalOpts, env: Env, config_dir: &Path) -> String {
    if let Some(c) = opts.context.as_ref().filter(|c| !c.is_empty()) {
        return c.clone();
    }
    if !opts.hosts.is_empty() || non_empty(env, "DOCKER_HOST").is_some() {
        return DEFAULT_NAME.into();
    }
    if let Some(c) = non_empty(env, "DOCKER_CONTEXT") {
        return c;
    }
    let (cfg, _) = crate::config::load(config_dir);
    crate::config::current_context(&cfg).unwrap_or_else(|| DEFAULT_NAME.into())
}

/// `--context` with `-H`: docker refuses the pair before anything else.
pub fn check_conflict(opts: &GlobalOpts) -> Result<(), String> {
    if opts.context.as_ref().is_some_and(|c| !c.is_empty()) && !opts.hosts.is_empty() {
        return Err("conflicting options: cannot specify both --host and --context".into());
    }
    Ok(())
}

/// The endpoint to talk to, as the docker CLI resolves it at start. The
/// error is the text after docker's `Failed to initialize: `.
pub fn resolve(opts: &GlobalOpts, env: Env) -> Result<Resolved, String> {
    check_conflict(opts)?;
    let dir = crate::config::dir(opts.config.as_deref(), env);
    let name = current_name(opts, env, &dir);
    let endpoint = if name == DEFAULT_NAME {
        default_endpoint(opts, env, &dir)
    } else {
        Store::new(&dir).load(&name).map(|c| c.endpoint())
    }
    .map_err(|e| format!("unable to resolve docker endpoint: {e}"))?;
    Ok(Resolved { name, endpoint })
}

/// The TLS settings of the default context: (use TLS, verify the server).
/// `--tlsverify` given at all (even `=false`) or `DOCKER_TLS_VERIFY` set
/// turns TLS on; `--tls` and `DOCKER_TLS` turn it on without verifying.
pub fn tls_mode(opts: &GlobalOpts, env: Env) -> (bool, bool) {
    let verify = opts
        .tlsverify
        .unwrap_or_else(|| non_empty(env, "DOCKER_TLS_VERIFY").is_some());
    let tls =
        opts.tls || non_empty(env, "DOCKER_TLS").is_some() || opts.tlsverify.is_some() || verify;
    (tls, verify)
}

/// The host string of the default context, normalised.
pub fn default_host(opts: &GlobalOpts, env: Env) -> Result<String, String> {
    if opts.hosts.len() > 1 {
        return Err("Specify only one -H".into());
    }
    let (tls, _) = tls_mode(opts, env);
    let given = opts
        .hosts
        .first()
        .cloned()
        .filter(|h| !h.is_empty())
        .or_else(|| non_empty(env, "DOCKER_HOST"));
    match given {
        Some(h) => Transport::normalize(&h),
        None if tls => Ok(DEFAULT_TLS_HOST.into()),
        None => Ok(DEFAULT_HOST.into()),
    }
}

/// The default context's endpoint from the flags and environment: the CA
/// must exist when TLS is on (docker reads it even for `--tls`); the
/// client certificate and key are used when given or present.
pub fn default_endpoint(
    opts: &GlobalOpts,
    env: Env,
    config_dir: &Path,
) -> Result<Endpoint, String> {
    let host = default_host(opts, env)?;
    let (tls, verify) = tls_mode(opts, env);
    if !tls {
        return Ok(Endpoint {
            host,
            skip_tls_verify: false,
            tls: None,
        });
    }
    let cert_dir = non_empty(env, "DOCKER_CERT_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| config_dir.to_path_buf());
    let pick = |flag: &Option<String>, file: &str| -> (PathBuf, bool) {
        match flag {
            Some(f) => (PathBuf::from(f), true),
            None => (cert_dir.join(file), false),
        }
    };
    let read = |p: &Path| std::fs::read(p).map_err(|e| go_io_error("open", p, &e));
    let (ca, _) = pick(&opts.tlscacert, "ca.pem");
    let (cert, cert_given) = pick(&opts.tlscert, "cert.pem");
    let (key, key_given) = pick(&opts.tlskey, "key.pem");
    let mut data = TlsData {
        ca: Some(read(&ca)?),
        ..Default::default()
    };
    if cert_given || cert.exists() {
        data.cert = Some(read(&cert)?);
    }
    if key_given || key.exists() {
        data.key = Some(read(&key)?);
    }
    Ok(Endpoint {
        host,
        skip_tls_verify: !verify,
        tls: Some(data),
    })
}

/// A stored context: its `meta.json` (kept whole, so fields berth does not
/// know survive an update) and its docker endpoint's TLS material.
#[derive(Debug, Clone)]
pub struct Context {
    pub meta: Map<String, Value>,
    pub tls: TlsData,
}

impl Context {
    /// A new context with a docker endpoint.
    pub fn new(name: &str, description: Option<&str>, endpoint: &Endpoint) -> Context {
        let mut metadata = Map::new();
        if let Some(d) = description.filter(|d| !d.is_empty()) {
            metadata.insert("Description".into(), json!(d));
        }
        let mut meta = Map::new();
        meta.insert("Name".into(), json!(name));
        meta.insert("Metadata".into(), Value::Object(metadata));
        meta.insert("Endpoints".into(), json!({}));
        let mut c = Context {
            meta,
            tls: TlsData::default(),
        };
        c.set_endpoint(endpoint);
        c
    }

    pub fn name(&self) -> &str {
        self.meta.get("Name").and_then(Value::as_str).unwrap_or("")
    }

    pub fn description(&self) -> String {
        self.meta
            .get("Metadata")
            .and_then(|m| m.get("Description"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    }

    pub fn set_description(&mut self, d: &str) {
        let m = self
            .meta
            .entry("Metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if !m.is_object() {
            *m = Value::Object(Map::new());
        }
        if let Some(o) = m.as_object_mut() {
            if d.is_empty() {
                o.shift_remove("Description");
            } else {
                o.insert("Description".into(), json!(d));
            }
        }
    }

    fn docker(&self) -> Option<&Map<String, Value>> {
        self.meta
            .get("Endpoints")
            .and_then(|e| e.get("docker"))
            .and_then(Value::as_object)
    }

    pub fn host(&self) -> String {
        self.docker()
            .and_then(|d| d.get("Host"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    }

    pub fn endpoint(&self) -> Endpoint {
        let skip = self
            .docker()
            .and_then(|d| d.get("SkipTLSVerify"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        Endpoint {
            host: self.host(),
            skip_tls_verify: skip,
            tls: (!self.tls.is_empty()).then(|| self.tls.clone()),
        }
    }

    /// Replaces the docker endpoint (host, verification and TLS files).
    pub fn set_endpoint(&mut self, e: &Endpoint) {
        let eps = self
            .meta
            .entry("Endpoints")
            .or_insert_with(|| Value::Object(Map::new()));
        if !eps.is_object() {
            *eps = Value::Object(Map::new());
        }
        if let Some(o) = eps.as_object_mut() {
            o.insert(
                "docker".into(),
                json!({"Host": e.host, "SkipTLSVerify": e.skip_tls_verify}),
            );
        }
        self.tls = e.tls.clone().unwrap_or_default();
    }
}

/// docker's rule for context names.
pub fn validate_name(name: &str) -> Result<(), String> {
    if name == DEFAULT_NAME {
        return Err(format!("\"{name}\" is a reserved context name"));
    }
    let b = name.as_bytes();
    let first_ok = b.first().is_some_and(u8::is_ascii_alphanumeric);
    let rest_ok = b.len() >= 2
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'+' | b'-'));
    if !first_ok || !rest_ok {
        return Err(format!(
            "context name {name:?} is invalid, names are validated against regexp \"^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$\""
        ));
    }
    Ok(())
}

/// The context store under a configuration directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

const TLS_FILES: [&str; 3] = ["ca.pem", "cert.pem", "key.pem"];

impl Store {
    pub fn new(config_dir: &Path) -> Store {
        Store {
            root: config_dir.join("contexts"),
        }
    }

    /// A context's directory id: the sha256 of its name, in hex.
    pub fn id(name: &str) -> String {
        hex::encode(Sha256::digest(name.as_bytes()))
    }

    /// `contexts/meta/<id>`.
    pub fn meta_dir(&self, name: &str) -> PathBuf {
        self.root.join("meta").join(Self::id(name))
    }

    /// `contexts/tls/<id>`.
    pub fn tls_dir(&self, name: &str) -> PathBuf {
        self.root.join("tls").join(Self::id(name))
    }

    pub fn exists(&self, name: &str) -> bool {
        self.meta_dir(name).join("meta.json").is_file()
    }

    /// Loads one context; a missing one is docker's `context not found`.
    pub fn load(&self, name: &str) -> Result<Context, String> {
        let path = self.meta_dir(name).join("meta.json");
        let text = std::fs::read(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                format!(
                    "context {name:?}: context not found: {}",
                    go_io_error("open", &path, &e)
                )
            } else {
                format!("context {name:?}: {}", go_io_error("open", &path, &e))
            }
        })?;
        let meta = match serde_json::from_slice::<Value>(&text) {
            Ok(Value::Object(m)) => m,
            Ok(_) => return Err(format!("parsing {}: not a JSON object", path.display())),
            Err(e) => return Err(format!("parsing {}: {e}", path.display())),
        };
        let mut c = Context {
            meta,
            tls: TlsData::default(),
        };
        let dir = self.tls_dir(name).join("docker");
        for f in TLS_FILES {
            let p = dir.join(f);
            let data = match std::fs::read(&p) {
                Ok(d) => Some(d),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(go_io_error("open", &p, &e)),
            };
            match f {
                "ca.pem" => c.tls.ca = data,
                "cert.pem" => c.tls.cert = data,
                _ => c.tls.key = data,
            }
        }
        Ok(c)
    }

    /// Every stored context, sorted by name. A directory without a
    /// readable `meta.json` is skipped (docker skips them too).
    pub fn list(&self) -> Result<Vec<Context>, String> {
        let dir = self.root.join("meta");
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(go_io_error("open", &dir, &e)),
        };
        let mut out = Vec::new();
        for e in entries.flatten() {
            let Ok(text) = std::fs::read(e.path().join("meta.json")) else {
                continue;
            };
            let Ok(Value::Object(meta)) = serde_json::from_slice::<Value>(&text) else {
                continue;
            };
            let Some(name) = meta.get("Name").and_then(Value::as_str).map(str::to_string) else {
                continue;
            };
            // Load through the name so the TLS files come along.
            if let Ok(c) = self.load(&name) {
                out.push(c);
            }
        }
        out.sort_by(|a, b| a.name().cmp(b.name()));
        Ok(out)
    }

    /// Writes a context: `meta.json` atomically, then the TLS files
    /// (removing ones the context no longer has).
    pub fn save(&self, c: &Context) -> Result<(), String> {
        let name = c.name().to_string();
        let meta = serde_json::to_vec(&Value::Object(c.meta.clone())).map_err(|e| e.to_string())?;
        let tls_dir = self.tls_dir(&name).join("docker");
        let files = [
            (&c.tls.ca, "ca.pem"),
            (&c.tls.cert, "cert.pem"),
            (&c.tls.key, "key.pem"),
        ];
        for (data, f) in files {
            let p = tls_dir.join(f);
            match data {
                Some(d) => write_atomic(&p, d, 0o600)?,
                None => {
                    let _ = std::fs::remove_file(&p);
                }
            }
        }
        if c.tls.is_empty() {
            let _ = std::fs::remove_dir(&tls_dir);
            let _ = std::fs::remove_dir(self.tls_dir(&name));
        }
        write_atomic(&self.meta_dir(&name).join("meta.json"), &meta, 0o644)
    }

    /// Removes a context's metadata and TLS files.
    pub fn remove(&self, name: &str) -> Result<(), String> {
        for d in [self.meta_dir(name), self.tls_dir(name)] {
            match std::fs::remove_dir_all(&d) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(go_io_error("remove", &d, &e)),
            }
        }
        Ok(())
    }
}

/// Go's `strconv.ParseBool`.
pub fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// `--docker host=...,ca=...,cert=...,key=...,skip-tls-verify=...,from=...`
/// into an endpoint. `from` starts from another context's endpoint; the
/// files are read now (a context keeps copies). Errors are docker's text
/// after `unable to create docker endpoint config: `.
pub fn parse_docker_opt(
    spec: &str,
    lookup: &dyn Fn(&str) -> Result<Endpoint, String>,
) -> Result<Endpoint, String> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for field in split_csv(spec) {
        if field.is_empty() {
            continue;
        }
        let Some((k, v)) = field.split_once('=') else {
            return Err(format!("invalid value {field:?}: must be a key=value"));
        };
        let k = k.trim().to_ascii_lowercase();
        if !matches!(
            k.as_str(),
            "from" | "host" | "ca" | "cert" | "key" | "skip-tls-verify"
        ) {
            return Err(format!("unrecognized config key: {k}"));
        }
        fields.push((k, v.to_string()));
    }
    let get = |k: &str| {
        fields
            .iter()
            .rev()
            .find(|(fk, _)| fk == k)
            .map(|(_, v)| v.clone())
    };
    if let Some(from) = get("from") {
        return lookup(&from);
    }
    let skip = match get("skip-tls-verify") {
        Some(v) => parse_bool(&v)
            .ok_or_else(|| format!("skip-tls-verify: parsing {v:?}: invalid syntax"))?,
        None => false,
    };
    let read = |k: &str| -> Result<Option<Vec<u8>>, String> {
        match get(k).filter(|p| !p.is_empty()) {
            Some(p) => std::fs::read(&p)
                .map(Some)
                .map_err(|e| go_io_error("open", Path::new(&p), &e)),
            None => Ok(None),
        }
    };
    let data = TlsData {
        ca: read("ca")?,
        cert: read("cert")?,
        key: read("key")?,
    };
    if !data.is_empty() {
        crate::tls::validate(&data).map_err(|e| format!("invalid docker endpoint options: {e}"))?;
    }
    let host = get("host").unwrap_or_default();
    Ok(Endpoint {
        host,
        skip_tls_verify: skip,
        tls: (!data.is_empty()).then_some(data),
    })
}

/// Splits a CSV record (docker reads `--docker` with Go's csv reader):
/// commas separate fields, double quotes protect commas.
fn split_csv(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

#[cfg(test)]
mod tests;
