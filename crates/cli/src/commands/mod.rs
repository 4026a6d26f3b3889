//! One module per command group; `opts` and `stream` hold what `run`,
//! `create`, `start`, `attach` and `exec` share.

pub mod build;
pub mod commit;
pub mod container;
pub mod context;
pub mod cp;
pub mod distribution;
pub mod image;
pub mod mount;
pub mod network;
pub mod node;
pub mod opts;
pub mod plugin;
pub mod resources;
pub mod stream;
pub mod swarm;
pub mod system;
pub mod volume;

/// The part every `* prune` shares: docker's prompt unless `-f`, then
/// `POST /<kind>/prune?filters=` (no body), its answer as the API's prune
/// response `T`. `filters` runs after the prompt, as docker checks the
/// filter flags there. `None`: the user said no.
pub async fn prune_post<T: serde::de::DeserializeOwned>(
    c: &crate::client::Client,
    kind: &str,
    warning: &str,
    force: bool,
    filters: impl FnOnce() -> Result<String, crate::Failure>,
) -> Result<Option<T>, crate::Failure> {
    if !force && !crate::confirm(warning) {
        return Ok(None);
    }
    let path = format!("/{kind}/prune?filters={}", crate::client::q(&filters()?));
    Ok(Some(c.post(&path, &()).await?))
}

/// `Deleted Containers:` and the names, then a blank line; nothing when empty.
pub fn print_deleted(title: &str, names: &Option<Vec<String>>) {
    let names = names.as_deref().unwrap_or_default();
    if !names.is_empty() {
        println!("{title}");
        for n in names {
            println!("{n}");
        }
        println!();
    }
}

/// An `inspect` command's found objects: a JSON array indented by four
/// spaces as docker prints it, or each through `--format`.
pub fn print_inspect(
    found: Vec<serde_json::Value>,
    format: Option<&str>,
) -> Result<(), crate::Failure> {
    let template = match format {
        None | Some("") | Some("json") => None,
        Some(f) => Some(
            crate::format::template::Template::parse(f)
                .map_err(|e| crate::Failure::msg(format!("template parsing error: {e}")))?,
        ),
    };
    match template {
        Some(t) => {
            for v in &found {
                let s = t
                    .render(v)
                    .map_err(|e| crate::Failure::msg(format!("template parsing error: {e}")))?;
                println!("{s}");
            }
        }
        None => {
            let mut out = Vec::new();
            let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
            let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
            serde::Serialize::serialize(&serde_json::Value::Array(found), &mut ser)
                .map_err(|e| crate::Failure::msg(e.to_string()))?;
            println!("{}", String::from_utf8_lossy(&out));
        }
    }
    Ok(())
}
