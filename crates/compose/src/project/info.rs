//! `config`, `version`, `ls`: what needs no project on the daemon (or no
//! project at all).

use std::collections::BTreeMap;

use super::*;
use crate::cli::{ConfigArgs, LsArgs, VersionArgs};

pub fn config(project: &Project, args: &ConfigArgs) -> Result<i32, Error> {
    if args.services {
        for s in project.model.services.keys() {
            println!("{s}");
        }
        return Ok(0);
    }
    if args.volumes {
        for v in project.model.volumes.keys() {
            println!("{v}");
        }
        return Ok(0);
    }
    if args.quiet {
        return Ok(0);
    }
    let text = if args.format == "json" {
        serde_json::to_string_pretty(&project.model).map_err(|e| Error::new(e.to_string()))?
    } else {
        serde_yaml_ng::to_string(&project.model).map_err(|e| Error::new(e.to_string()))?
    };
    print!("{text}");
    if !text.ends_with('\n') {
        println!();
    }
    Ok(0)
}

pub fn version(args: &VersionArgs) -> i32 {
    let v = env!("CARGO_PKG_VERSION");
    if args.short {
        println!("{v}");
    } else if args.format.as_deref() == Some("json") {
        println!("{}", serde_json::json!({ "version": format!("v{v}") }));
    } else {
        println!("Docker Compose version v{v} (berth)");
    }
    0
}

/// Projects found from the daemon's containers' labels.
pub async fn ls(c: &berth_client::Client, args: &LsArgs) -> Result<i32, Error> {
    let list = c
        .list_containers_labelled(true, &[PROJECT.to_string()])
        .await?;
    let mut projects: BTreeMap<String, (usize, usize, String)> = BTreeMap::new();
    for ct in &list {
        let Some(p) = ct.labels.get(PROJECT) else {
            continue;
        };
        let e = projects.entry(p.clone()).or_default();
        e.0 += 1;
        if ct.state == "running" {
            e.1 += 1;
        }
        if let Some(f) = ct.labels.get(CONFIG_FILES) {
            e.2 = f.clone();
        }
    }
    if args.quiet {
        for p in projects.keys() {
            println!("{p}");
        }
        return Ok(0);
    }
    if args.format.as_deref() == Some("json") {
        let rows: Vec<_> = projects
            .iter()
            .filter(|(_, (_, running, _))| args.all || *running > 0)
            .map(|(name, (_, running, files))| {
                serde_json::json!({"Name": name, "Status": format!("running({running})"), "ConfigFiles": files})
            })
            .collect();
        println!("{}", serde_json::Value::Array(rows));
        return Ok(0);
    }
    println!("{:<24}{:<24}CONFIG FILES", "NAME", "STATUS");
    for (name, (total, running, files)) in &projects {
        if !args.all && *running == 0 {
            continue;
        }
        let status = if *running == *total {
            format!("running({running})")
        } else {
            format!("exited({}), running({running})", total - running)
        };
        println!("{name:<24}{status:<24}{files}");
    }
    Ok(0)
}
