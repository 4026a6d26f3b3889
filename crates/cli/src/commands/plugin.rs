//! `berth plugin create|ls|inspect|enable|disable|set|rm`, as docker 28
//! prints them.

use std::io::Write;
use std::path::Path;

use bytes::Bytes;
use serde_json::{json, Value};

use crate::args::PluginCmd;
use crate::client::{q, Client};
use crate::commands::container::{each, filters_json};
use crate::format::render_rows;
use crate::format::template::Template;
use crate::Failure;

pub async fn run(c: &Client, cmd: PluginCmd) -> Result<i32, Failure> {
    match cmd {
        PluginCmd::Create(a) => create(c, &a.plugin, &a.dir, a.compress).await,
        PluginCmd::Ls(a) => ls(c, a.quiet, a.no_trunc, a.filter, a.format).await,
        PluginCmd::Inspect(a) => inspect(c, a.names, a.format).await,
        PluginCmd::Enable(a) => {
            if a.timeout < 0 {
                return Err(Failure::msg(format!(
                    "negative timeout {} is invalid",
                    a.timeout
                )));
            }
            let path = format!("/plugins/{}/enable?timeout={}", a.plugin, a.timeout);
            c.post_json(&path, &Value::Null).await?;
            println!("{}", a.plugin);
            Ok(0)
        }
        PluginCmd::Disable(a) => {
            let force = if a.force { "?force=1" } else { "" };
            c.post_json(
                &format!("/plugins/{}/disable{force}", a.plugin),
                &Value::Null,
            )
            .await?;
            println!("{}", a.plugin);
            Ok(0)
        }
        PluginCmd::Set(a) => {
            c.post_json(&format!("/plugins/{}/set", a.plugin), &json!(a.settings))
                .await?;
            Ok(0)
        }
        PluginCmd::Rm(a) => {
            let force = a.force;
            each(&a.names, |n| async move {
                c.call("DELETE", &format!("/plugins/{n}?force={force}"))
                    .await
                    .map(|_| n)
            })
            .await
        }
    }
}

/// Checks the directory as the docker CLI does (a directory, a
/// `config.json` that decodes), then sends it as a tar.
async fn create(c: &Client, name: &str, dir: &str, compress: bool) -> Result<i32, Failure> {
    berth_api::reference::Reference::parse(name).map_err(|e| Failure::msg(e.message))?;
    let dir = Path::new(dir);
    let meta = std::fs::symlink_metadata(dir)
        .map_err(|e| Failure::msg(format!("stat {}: {}", dir.display(), os_words(&e))))?;
    if !meta.is_dir() {
        return Err(Failure::msg("context must be a directory"));
    }
    let config_path = dir.join("config.json");
    let config = std::fs::read(&config_path)
        .map_err(|e| Failure::msg(format!("open {}: {}", config_path.display(), os_words(&e))))?;
    berth_api::json::from_slice::<berth_api::views::PluginConfig>(&config)
        .map_err(|e| Failure::msg(e.message))?;
    let tar = tar_dir(dir, compress).map_err(|e| Failure::msg(e.to_string()))?;
    let path = format!("/plugins/create?name={}", q(name));
    c.send("POST", &path, Some(Bytes::from(tar)), "application/x-tar")
        .await?;
    println!("{name}");
    Ok(0)
}

/// The directory as a tar (gzip with `--compress`), symlinks kept.
fn tar_dir(dir: &Path, compress: bool) -> std::io::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    b.append_dir_all(".", dir)?;
    let tar = b.into_inner()?;
    if !compress {
        return Ok(tar);
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar)?;
    gz.finish()
}

fn os_words(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => nix::errno::Errno::from_raw(n).desc().to_ascii_lowercase(),
        None => e.to_string(),
    }
}

/// docker's `Ellipsis`: at most `max` characters, the last one `…`.
fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// One row of `plugin ls`, with docker's field names.
fn row(p: &Value, no_trunc: bool) -> Value {
    let id = p["Id"].as_str().unwrap_or("");
    let desc = p["Config"]["Description"].as_str().unwrap_or("");
    json!({
        "ID": if no_trunc { id.to_string() } else { id.chars().take(12).collect() },
        "Name": p["Name"],
        "Description": if no_trunc { desc.to_string() } else { ellipsis(desc, 45) },
        "Enabled": p["Enabled"],
        "PluginReference": p["PluginReference"],
    })
}

async fn ls(
    c: &Client,
    quiet: bool,
    no_trunc: bool,
    filters: Vec<String>,
    format: Option<String>,
) -> Result<i32, Failure> {
    let mut path = "/plugins".to_string();
    if !filters.is_empty() {
        path.push_str(&format!("?filters={}", q(&filters_json(&filters)?)));
    }
    let v = c.get_json(&path).await?;
    let rows: Vec<Value> = v
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| row(p, no_trunc))
        .collect();
    let format = if quiet
        && format
            .as_deref()
            .is_none_or(|f| f.is_empty() || f == "table")
    {
        Some("{{.ID}}".to_string())
    } else {
        format
    };
    let text = render_rows(
        format.as_deref(),
        "table {{.ID}}\t{{.Name}}\t{{.Description}}\t{{.Enabled}}",
        &json!({"ID": "ID", "Name": "NAME", "Description": "DESCRIPTION", "Enabled": "ENABLED", "PluginReference": "PLUGIN REFERENCE"}),
        &rows,
        "*formatter.pluginContext",
    )
    .map_err(Failure::msg)?;
    print!("{text}");
    Ok(0)
}

async fn inspect(c: &Client, names: Vec<String>, format: Option<String>) -> Result<i32, Failure> {
    let template = match format.as_deref() {
        None | Some("") | Some("json") => None,
        Some(f) => Some(
            Template::parse(f).map_err(|e| Failure::msg(format!("template parsing error: {e}")))?,
        ),
    };
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for n in &names {
        match c.get_json(&format!("/plugins/{n}/json")).await {
            Ok(v) => found.push(v),
            Err(e) => errors.push(e.to_string()),
        }
    }
    match template {
        Some(t) => {
            for v in &found {
                let s = t
                    .render(v)
                    .map_err(|e| Failure::msg(format!("template parsing error: {e}")))?;
                println!("{s}");
            }
        }
        None => {
            // docker indents inspect output by four spaces.
            let mut out = Vec::new();
            let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
            let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
            serde::Serialize::serialize(&Value::Array(found), &mut ser)
                .map_err(|e| Failure::msg(e.to_string()))?;
            println!("{}", String::from_utf8_lossy(&out));
        }
    }
    if errors.is_empty() {
        Ok(0)
    } else {
        Err(Failure::msg(errors.join("\n")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_are_cut_as_docker_cuts_them() {
        let d = "berth test volume plugin: a directory per volume";
        assert_eq!(
            ellipsis(d, 45),
            "berth test volume plugin: a directory per vo…"
        );
        assert_eq!(ellipsis("short", 45), "short");
        let r = row(
            &json!({"Id": "a".repeat(64), "Config": {"Description": d}}),
            false,
        );
        assert_eq!(r["ID"].as_str().map(str::len), Some(12));
    }
}
