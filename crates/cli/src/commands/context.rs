//! `context create|ls|use|show|inspect|rm|update`: docker contexts in
//! docker's own store (see [`crate::context`]), with docker 28's output.
//! None of these talk to a daemon.

use std::path::PathBuf;

use serde_json::{json, Value};

use crate::config;
use crate::context::{
    self, current_name, default_endpoint, default_host, parse_docker_opt, validate_name, Context,
    Endpoint, Env, GlobalOpts, Store, DEFAULT_DESCRIPTION, DEFAULT_NAME,
};
use crate::format::{render_rows, Template};
use crate::Failure;

/// What every context command needs: the global options, the environment
/// and the configuration directory.
pub struct Ctx<'a> {
    pub opts: &'a GlobalOpts,
    pub env: Env<'a>,
    pub dir: PathBuf,
}

impl<'a> Ctx<'a> {
    pub fn new(opts: &'a GlobalOpts, env: Env<'a>) -> Ctx<'a> {
        Ctx {
            dir: config::dir(opts.config.as_deref(), env),
            opts,
            env,
        }
    }

    fn store(&self) -> Store {
        Store::new(&self.dir)
    }

    fn current(&self) -> String {
        current_name(self.opts, self.env, &self.dir)
    }

    fn docker_host_set(&self) -> bool {
        (self.env)("DOCKER_HOST").is_some_and(|h| !h.is_empty())
    }

    /// The endpoint of a context by name (`default` included).
    fn endpoint_of(&self, name: &str) -> Result<Endpoint, String> {
        if name == DEFAULT_NAME {
            default_endpoint(self.opts, self.env, &self.dir)
        } else {
            self.store().load(name).map(|c| c.endpoint())
        }
    }
}

const LS_TABLE: &str =
    "table {{.Name}}{{if .Current}} *{{end}}\t{{.Description}}\t{{.DockerEndpoint}}\t{{.Error}}";

/// `context ls`.
pub fn ls(c: &Ctx, format: Option<String>, quiet: bool) -> Result<i32, Failure> {
    let current = c.current();
    let mut rows = Vec::new();
    let default = default_host(c.opts, c.env);
    rows.push(json!({
        "Current": current == DEFAULT_NAME,
        "Description": DEFAULT_DESCRIPTION,
        "DockerEndpoint": default.as_ref().map(String::as_str).unwrap_or(""),
        "Error": default.as_ref().err().cloned().unwrap_or_default(),
        "Name": DEFAULT_NAME,
    }));
    let stored = c.store().list().map_err(Failure::msg)?;
    for ctx in &stored {
        rows.push(json!({
            "Current": ctx.name() == current,
            "Description": ctx.description(),
            "DockerEndpoint": ctx.host(),
            "Error": "",
            "Name": ctx.name(),
        }));
    }
    if current != DEFAULT_NAME && !stored.iter().any(|s| s.name() == current) {
        // docker lists a current context that cannot be loaded, with why.
        let err = c.store().load(&current).err().unwrap_or_default();
        rows.push(json!({
            "Current": true, "Description": "", "DockerEndpoint": "", "Error": err, "Name": current,
        }));
    }
    rows.sort_by(|a, b| {
        a["Name"]
            .as_str()
            .unwrap_or("")
            .cmp(b["Name"].as_str().unwrap_or(""))
    });
    // docker shortens errors to 45 characters, in every format.
    for r in &mut rows {
        let e = r["Error"].as_str().unwrap_or("").to_string();
        if e.chars().count() > 45 {
            r["Error"] = json!(format!("{}…", e.chars().take(44).collect::<String>()));
        }
    }
    if c.docker_host_set() {
        eprintln!("Warning: DOCKER_HOST environment variable overrides the active context. To use a context, either set the global --context flag, or unset DOCKER_HOST environment variable.");
    }
    if quiet {
        for r in &rows {
            println!("{}", r["Name"].as_str().unwrap_or(""));
        }
        return Ok(0);
    }
    // docker's header has no `Current`, so `{{if .Current}} *{{end}}`
    // adds nothing to the NAME title.
    let headers = json!({
        "Name": "NAME",
        "Description": "DESCRIPTION",
        "DockerEndpoint": "DOCKER ENDPOINT",
        "Error": "ERROR",
    });
    let text = render_rows(
        format.as_deref(),
        LS_TABLE,
        &headers,
        &rows,
        "*formatter.ClientContext",
    )
    .map_err(Failure::msg)?;
    print!("{text}");
    Ok(0)
}

/// `context show`: the name of the context in use.
pub fn show(c: &Ctx) -> Result<i32, Failure> {
    println!("{}", c.current());
    Ok(0)
}

/// `context use NAME`: records it as `currentContext` in config.json.
pub fn use_(c: &Ctx, name: &str) -> Result<i32, Failure> {
    if name != DEFAULT_NAME {
        c.store().load(name).map_err(Failure::msg)?;
    }
    config::set_current_context(&c.dir, Some(name)).map_err(Failure::msg)?;
    println!("{name}");
    eprintln!("Current context is now \"{name}\"");
    if name != DEFAULT_NAME && c.docker_host_set() {
        eprintln!("Warning: DOCKER_HOST environment variable overrides the active context. To use \"{name}\", either set the global --context flag, or unset DOCKER_HOST environment variable.");
    }
    Ok(0)
}

/// The document `context inspect` prints for one context.
fn inspect_doc(c: &Ctx, name: &str) -> Result<Value, String> {
    let store = c.store();
    if name == DEFAULT_NAME {
        let ep = default_endpoint(c.opts, c.env, &c.dir)?;
        let tls = ep.tls.clone().unwrap_or_default();
        return Ok(json!({
            "Name": DEFAULT_NAME,
            "Metadata": {},
            "Endpoints": {"docker": {"Host": ep.host, "SkipTLSVerify": ep.skip_tls_verify}},
            "TLSMaterial": tls_material(&tls.file_names()),
            "Storage": {"MetadataPath": "<IN MEMORY>", "TLSPath": "<IN MEMORY>"},
        }));
    }
    let ctx = store.load(name)?;
    let mut doc = serde_json::Map::new();
    doc.insert("Name".into(), json!(ctx.name()));
    doc.insert(
        "Metadata".into(),
        ctx.meta.get("Metadata").cloned().unwrap_or(json!({})),
    );
    doc.insert(
        "Endpoints".into(),
        ctx.meta.get("Endpoints").cloned().unwrap_or(json!({})),
    );
    doc.insert("TLSMaterial".into(), tls_material(&ctx.tls.file_names()));
    doc.insert(
        "Storage".into(),
        json!({
            "MetadataPath": store.meta_dir(name).display().to_string(),
            "TLSPath": store.tls_dir(name).display().to_string(),
        }),
    );
    Ok(Value::Object(doc))
}

fn tls_material(files: &[&str]) -> Value {
    if files.is_empty() {
        json!({})
    } else {
        json!({ "docker": files })
    }
}

/// `context inspect [NAME...]` (the current context when none is named).
pub fn inspect(c: &Ctx, names: Vec<String>, format: Option<String>) -> Result<i32, Failure> {
    let names = if names.is_empty() {
        vec![c.current()]
    } else {
        names
    };
    let template = match format.as_deref() {
        None | Some("") | Some("json") => None,
        Some(f) => Some(
            Template::parse(f).map_err(|e| Failure::msg(format!("template parsing error: {e}")))?,
        ),
    };
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for n in &names {
        match inspect_doc(c, n) {
            Ok(v) => found.push(v),
            Err(e) => errors.push(e),
        }
    }
    match template {
        Some(t) => {
            for v in &found {
                println!(
                    "{}",
                    t.render(v)
                        .map_err(|e| Failure::msg(format!("template parsing error: {e}")))?
                );
            }
        }
        None => {
            let mut out = Vec::new();
            let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
            let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
            serde::Serialize::serialize(&Value::Array(found), &mut ser)
                .map_err(|e| Failure::msg(e.to_string()))?;
            println!(
                "{}",
                crate::format::template::go_json_escape(&String::from_utf8_lossy(&out))
            );
        }
    }
    if errors.is_empty() {
        Ok(0)
    } else {
        Err(Failure::msg(errors.join("\n")))
    }
}

/// `context create NAME [--description D] [--docker SPEC] [--from CTX]`.
/// `--from` (or, without `--docker`, the current context) copies a
/// context: its endpoint, TLS files and metadata; `--description` still
/// applies.
pub fn create(
    c: &Ctx,
    name: &str,
    description: Option<String>,
    docker: Option<String>,
    from: Option<String>,
) -> Result<i32, Failure> {
    validate_name(name).map_err(Failure::msg)?;
    let store = c.store();
    if store.exists(name) {
        return Err(Failure::msg(format!("context \"{name}\" already exists")));
    }
    let ctx = match (docker, from) {
        (Some(spec), None) => {
            let endpoint = parse_docker_opt(&spec, &|from| c.endpoint_of(from)).map_err(|e| {
                Failure::msg(format!("unable to create docker endpoint config: {e}"))
            })?;
            Context::new(name, description.as_deref(), &endpoint)
        }
        (_, from) => {
            let source = from.unwrap_or_else(|| c.current());
            let mut ctx = if source == DEFAULT_NAME {
                let ep = c.endpoint_of(&source).map_err(|e| {
                    Failure::msg(format!("unable to create docker endpoint config: {e}"))
                })?;
                Context::new(name, None, &ep)
            } else {
                let mut ctx = store.load(&source).map_err(Failure::msg)?;
                ctx.meta.insert("Name".into(), json!(name));
                ctx
            };
            if let Some(d) = description.as_deref() {
                ctx.set_description(d);
            }
            ctx
        }
    };
    store.save(&ctx).map_err(Failure::msg)?;
    println!("{name}");
    eprintln!("Successfully created context \"{name}\"");
    Ok(0)
}

/// `context update NAME [--description D] [--docker SPEC]`.
pub fn update(
    c: &Ctx,
    name: &str,
    description: Option<String>,
    docker: Option<String>,
) -> Result<i32, Failure> {
    if name == DEFAULT_NAME {
        return Err(Failure::msg(format!(
            "\"{name}\" is a reserved context name"
        )));
    }
    let store = c.store();
    let mut ctx = store.load(name).map_err(Failure::msg)?;
    if let Some(spec) = docker {
        let ep = parse_docker_opt(&spec, &|from| c.endpoint_of(from))
            .map_err(|e| Failure::msg(format!("unable to create docker endpoint config: {e}")))?;
        ctx.set_endpoint(&ep);
    }
    if let Some(d) = description {
        ctx.set_description(&d);
    }
    store.save(&ctx).map_err(Failure::msg)?;
    println!("{name}");
    eprintln!("Successfully updated context \"{name}\"");
    Ok(0)
}

/// `context rm [-f] NAME...`: the one in use only with `-f`, which also
/// clears `currentContext`.
pub fn rm(c: &Ctx, names: Vec<String>, force: bool) -> Result<i32, Failure> {
    let current = c.current();
    let store = c.store();
    let mut errors = Vec::new();
    for name in names {
        if name == DEFAULT_NAME {
            errors.push(format!("context \"{name}\" cannot be removed"));
            continue;
        }
        if !store.exists(&name) {
            errors.push(format!("context \"{name}\" does not exist"));
            continue;
        }
        if name == current && !force {
            errors.push(format!(
                "context \"{name}\" is in use, set -f flag to force remove"
            ));
            continue;
        }
        if name == current {
            let (cfg, _) = config::load(&c.dir);
            if config::current_context(&cfg).as_deref() == Some(name.as_str()) {
                if let Err(e) = config::set_current_context(&c.dir, None) {
                    errors.push(e);
                    continue;
                }
            }
        }
        match store.remove(&name) {
            Ok(()) => println!("{name}"),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(0)
    } else {
        Err(Failure::msg(errors.join("\n")))
    }
}

/// Re-exported so `main` can check the `--host`/`--context` conflict.
pub use context::check_conflict;
