//! `berth build`: the context (a directory, or a tar on stdin with `-`) is
//! sent as a tar to `POST /build`; the JSON stream is printed as docker's
//! classic builder output.

use berth_api::model::BuildPruneResponse;
use std::io::{Read, Write};
use std::path::Path;

use bytes::Bytes;
use http_body_util::BodyExt;
use serde_json::Value;

use crate::client::{q, Client};
use crate::Failure;

#[derive(Debug, Clone, Default)]
pub struct BuildOpts {
    pub path: String,
    pub tags: Vec<String>,
    pub file: Option<String>,
    pub build_args: Vec<String>,
    pub target: Option<String>,
    pub no_cache: bool,
    pub quiet: bool,
    pub iidfile: Option<String>,
    pub labels: Vec<String>,
    pub network: Option<String>,
    pub pull: bool,
}

/// The context directory as a tar (the Dockerfile named by `-f` outside
/// the context is added as `.berth-dockerfile`, as the docker CLI does
/// with a random name).
fn tar_context(
    dir: &Path,
    dockerfile: Option<&Path>,
) -> Result<(Vec<u8>, Option<String>), Failure> {
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    let err = |e: std::io::Error| Failure::msg(format!("error creating the build context: {e}"));
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| {
            Failure::msg(format!(
                "unable to prepare context: path {:?} not found: {e}",
                dir.display()
            ))
        })?
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        let name = e.file_name();
        if p.is_dir() && !p.is_symlink() {
            b.append_dir_all(&name, &p).map_err(err)?;
        } else {
            b.append_path_with_name(&p, &name).map_err(err)?;
        }
    }
    let mut df_name = None;
    if let Some(df) = dockerfile {
        match df.strip_prefix(dir) {
            Ok(rel) => df_name = Some(rel.display().to_string()),
            Err(_) => {
                let data = std::fs::read(df)
                    .map_err(|e| Failure::msg(format!("unable to prepare context: {e}")))?;
                let mut h = tar::Header::new_gnu();
                h.set_size(data.len() as u64);
                h.set_mode(0o644);
                b.append_data(&mut h, ".berth-dockerfile", &data[..])
                    .map_err(err)?;
                df_name = Some(".berth-dockerfile".into());
            }
        }
    }
    Ok((b.into_inner().map_err(err)?, df_name))
}

pub async fn build(c: &Client, o: BuildOpts) -> Result<i32, Failure> {
    let (body, df) = if o.path == "-" {
        let mut data = Vec::new();
        std::io::stdin()
            .read_to_end(&mut data)
            .map_err(|e| Failure::msg(e.to_string()))?;
        // A Dockerfile on stdin (not a tar): a context of just it.
        let is_tar = data.len() >= 262 && &data[257..262] == b"ustar";
        let is_gz = data.len() >= 2 && data[0] == 0x1f && data[1] == 0x8b;
        if is_tar || is_gz {
            (data, o.file.clone())
        } else {
            let mut b = tar::Builder::new(Vec::new());
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, "Dockerfile", &data[..])
                .map_err(|e| Failure::msg(e.to_string()))?;
            (
                b.into_inner().map_err(|e| Failure::msg(e.to_string()))?,
                None,
            )
        }
    } else {
        let dir = Path::new(&o.path);
        let df = o.file.as_ref().map(|f| {
            let p = Path::new(f);
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                std::env::current_dir().unwrap_or_default().join(p)
            }
        });
        let dir_abs = std::fs::canonicalize(dir).map_err(|_| {
            Failure::msg(format!(
                "unable to prepare context: path {:?} not found",
                o.path
            ))
        })?;
        let df_abs = df.map(|p| std::fs::canonicalize(&p).unwrap_or(p));
        tar_context(&dir_abs, df_abs.as_deref())?
    };
    let mut path = "/build?rm=1".to_string();
    for t in &o.tags {
        path.push_str(&format!("&t={}", q(t)));
    }
    if let Some(f) = &df {
        path.push_str(&format!("&dockerfile={}", q(f)));
    }
    if !o.build_args.is_empty() {
        let mut m = serde_json::Map::new();
        for a in &o.build_args {
            match a.split_once('=') {
                Some((k, v)) => m.insert(k.to_string(), Value::String(v.to_string())),
                // `--build-arg NAME`: the value from the environment, as docker.
                None => m.insert(
                    a.clone(),
                    std::env::var(a).map(Value::String).unwrap_or(Value::Null),
                ),
            };
        }
        path.push_str(&format!("&buildargs={}", q(&Value::Object(m).to_string())));
    }
    if !o.labels.is_empty() {
        let mut m = serde_json::Map::new();
        for l in &o.labels {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            m.insert(k.to_string(), Value::String(v.to_string()));
        }
        path.push_str(&format!("&labels={}", q(&Value::Object(m).to_string())));
    }
    if let Some(t) = &o.target {
        path.push_str(&format!("&target={}", q(t)));
    }
    if let Some(n) = &o.network {
        path.push_str(&format!("&networkmode={}", q(n)));
    }
    if o.no_cache {
        path.push_str("&nocache=1");
    }
    if o.quiet {
        path.push_str("&q=1");
    }
    if o.pull {
        path.push_str("&pull=1");
    }
    if !o.quiet {
        eprintln!("Sending build context to Docker daemon  {}B", body.len());
    }
    // Every registry's credentials: the daemon pulls `FROM` images with them.
    let creds = crate::credentials::all(&super::distribution::config_dir()).unwrap_or_default();
    let resp = c
        .send_with(
            "POST",
            &path,
            Some(Bytes::from(body)),
            "application/x-tar",
            &[(
                "X-Registry-Config",
                crate::credentials::registry_config_header(&creds),
            )],
        )
        .await?;
    let mut body = resp.into_body();
    let mut buf = Vec::new();
    let mut id = String::new();
    let mut out = std::io::stdout();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Failure::msg(e.to_string()))?;
        let Ok(d) = frame.into_data() else { continue };
        buf.extend_from_slice(&d);
        while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=nl).collect();
            let Ok(v) = serde_json::from_slice::<Value>(&line) else {
                continue;
            };
            if let Some(e) = v.get("error").and_then(Value::as_str) {
                return Err(Failure::msg(e.to_string()));
            }
            if let Some(s) = v.get("stream").and_then(Value::as_str) {
                let _ = out.write_all(s.as_bytes());
                let _ = out.flush();
            }
            // A `FROM` image's pull, drawn as the docker CLI does off a
            // terminal: the layer states, not the byte counts.
            if let Some(st) = v.get("status").and_then(Value::as_str) {
                let progress = v.get("progress").and_then(Value::as_str).unwrap_or("");
                if !o.quiet && progress.is_empty() {
                    let _ = match v.get("id").and_then(Value::as_str) {
                        Some(id) => writeln!(out, "{id}: {st}"),
                        None => writeln!(out, "{st}"),
                    };
                }
            }
            if let Some(i) = v.pointer("/aux/ID").and_then(Value::as_str) {
                id = i.to_string();
            }
        }
    }
    if let Some(f) = &o.iidfile {
        std::fs::write(f, &id)
            .map_err(|e| Failure::msg(format!("failed to write image ID to file: {e}")))?;
    }
    Ok(0)
}

/// `berth builder prune`: `POST /build/prune` with `all`, `filters` and
/// `keep-storage`, printed as docker prints it.
pub async fn prune(
    c: &Client,
    all: bool,
    force: bool,
    filters: Vec<String>,
    keep_storage: Option<String>,
) -> Result<i32, Failure> {
    let keep = match keep_storage.as_deref() {
        None | Some("") => 0,
        Some(s) => berth_api::units::ram_in_bytes(s).map_err(|e| {
            Failure::usage(format!(
                "invalid argument {s:?} for \"--keep-storage\" flag: {e}"
            ))
        })?,
    };
    let warning = if all {
        "WARNING! This will remove all build cache."
    } else {
        "WARNING! This will remove all dangling build cache."
    };
    if !force && !crate::confirm(warning) {
        return Ok(0);
    }
    let filters = super::container::filters_json(&filters)?;
    let mut path = format!("/build/prune?filters={}", q(&filters));
    if all {
        path.push_str("&all=1");
    }
    if keep > 0 {
        path.push_str(&format!("&keep-storage={keep}"));
    }
    let v: BuildPruneResponse = c.post(&path, &()).await?;
    super::print_deleted("Deleted build cache objects:", &v.caches_deleted);
    println!(
        "Total reclaimed space: {}",
        crate::format::human_size(v.space_reclaimed as f64)
    );
    Ok(0)
}
