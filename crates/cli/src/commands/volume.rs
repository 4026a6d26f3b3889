//! `berth volume create|ls|inspect|rm|prune`, as docker 28 prints them.

use berth_api::model::{VolumeCreateOptions, VolumePruneResponse};
use indexmap::IndexMap;
use serde_json::{json, Value};

use crate::client::{q, Client};
use crate::commands::container::{each, filters_json};
use crate::commands::opts::parse_labels;
use crate::format::template::Template;
use crate::format::{human_size_prec, render_rows};
use crate::Failure;

/// `-o key=value` into the driver options (docker's `map` flag).
pub fn parse_opts(opts: &[String]) -> Result<IndexMap<String, String>, Failure> {
    let mut out = IndexMap::new();
    for o in opts {
        let (k, v) = o.split_once('=').ok_or_else(|| {
            Failure::usage(format!(
                "invalid argument \"{o}\" for \"-o, --opt\" flag: bad format for opt: {o}"
            ))
        })?;
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

pub async fn create(
    c: &Client,
    name: Option<String>,
    driver: Option<String>,
    labels: Vec<String>,
    opts: Vec<String>,
) -> Result<i32, Failure> {
    let options = VolumeCreateOptions {
        name: name.unwrap_or_default(),
        driver: driver.unwrap_or_else(|| "local".into()),
        driver_opts: Some(parse_opts(&opts)?),
        labels: Some(parse_labels(&labels)),
        cluster_volume_spec: None,
    };
    println!("{}", c.create_volume(&options).await?.name);
    Ok(0)
}

fn labels_text(v: &Value) -> String {
    let mut l: Vec<String> = v
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    l.sort();
    l.join(",")
}

/// One row of `volume ls`, with docker's field names.
fn row(v: &Value) -> Value {
    let usage = &v["UsageData"];
    let (links, size) = if usage.is_object() {
        (
            usage["RefCount"].to_string(),
            human_size_prec(usage["Size"].as_f64().unwrap_or(0.0), 4),
        )
    } else {
        ("N/A".to_string(), "N/A".to_string())
    };
    json!({
        "Availability": "N/A",
        "Driver": v["Driver"],
        "Group": "N/A",
        "Labels": labels_text(&v["Labels"]),
        "Links": links,
        "Mountpoint": v["Mountpoint"],
        "Name": v["Name"],
        "Scope": v["Scope"],
        "Size": size,
        "Status": "N/A",
    })
}

pub async fn ls(
    c: &Client,
    quiet: bool,
    filters: Vec<String>,
    format: Option<String>,
) -> Result<i32, Failure> {
    let mut path = "/volumes".to_string();
    if !filters.is_empty() {
        path.push_str(&format!("?filters={}", q(&filters_json(&filters)?)));
    }
    let v = c.get_json(&path).await?;
    let mut vols = v["Volumes"].as_array().cloned().unwrap_or_default();
    vols.sort_by(|a, b| {
        a["Name"]
            .as_str()
            .unwrap_or("")
            .cmp(b["Name"].as_str().unwrap_or(""))
    });
    let rows: Vec<Value> = vols.iter().map(row).collect();
    let format = if quiet
        && format
            .as_deref()
            .is_none_or(|f| f.is_empty() || f == "table")
    {
        Some("{{.Name}}".to_string())
    } else {
        format
    };
    let text = render_rows(
        format.as_deref(),
        "table {{.Driver}}\t{{.Name}}",
        &json!({"Driver": "DRIVER", "Name": "VOLUME NAME", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT", "Labels": "LABELS", "Links": "LINKS", "Size": "SIZE", "Group": "GROUP", "Availability": "AVAILABILITY", "Status": "STATUS"}),
        &rows,
        "*formatter.volumeContext",
    )
    .map_err(Failure::msg)?;
    print!("{text}");
    Ok(0)
}

pub async fn inspect(
    c: &Client,
    names: Vec<String>,
    format: Option<String>,
) -> Result<i32, Failure> {
    let template = match format.as_deref() {
        None | Some("") | Some("json") => None,
        Some(f) => Some(
            Template::parse(f).map_err(|e| Failure::msg(format!("template parsing error: {e}")))?,
        ),
    };
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for n in &names {
        match c.get_json(&format!("/volumes/{}", q(n))).await {
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

pub async fn rm(c: &Client, names: Vec<String>, force: bool) -> Result<i32, Failure> {
    each(&names, |n| async move {
        c.call(
            "DELETE",
            &format!("/volumes/{}?force={}", q(&n), force as u8),
        )
        .await
        .map(|_| n)
    })
    .await
}

pub async fn prune(
    c: &Client,
    all: bool,
    force: bool,
    filters: Vec<String>,
) -> Result<i32, Failure> {
    let warning = if all {
        "WARNING! This will remove all local volumes not used by at least one container."
    } else {
        "WARNING! This will remove anonymous local volumes not used by at least one container."
    };
    let mut filters = filters;
    if all {
        filters.push("all=true".into());
    }
    let Some(v): Option<VolumePruneResponse> =
        crate::commands::prune_post(c, "volumes", warning, force, || filters_json(&filters))
            .await?
    else {
        return Ok(0);
    };
    crate::commands::print_deleted("Deleted Volumes:", &v.volumes_deleted);
    println!(
        "Total reclaimed space: {}",
        human_size_prec(v.space_reclaimed as f64, 4)
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opts_and_rows() {
        let o = parse_opts(&["type=tmpfs".into(), "o=size=1m,uid=0".into()]).unwrap();
        assert_eq!(
            serde_json::to_value(o).unwrap(),
            json!({"type": "tmpfs", "o": "size=1m,uid=0"})
        );
        assert!(parse_opts(&["novalue".into()]).is_err());
        let r = row(
            &json!({"Name": "v", "Driver": "local", "Labels": {"b": "2", "a": "1"}, "Scope": "local", "Mountpoint": "/m", "UsageData": {"RefCount": 2, "Size": 13}}),
        );
        assert_eq!(r["Labels"], "a=1,b=2");
        assert_eq!(r["Links"], "2");
        assert_eq!(r["Size"], "13B");
        let r = row(&json!({"Name": "v", "Labels": null}));
        assert_eq!(
            (r["Links"].as_str(), r["Labels"].as_str()),
            (Some("N/A"), Some(""))
        );
    }
}
