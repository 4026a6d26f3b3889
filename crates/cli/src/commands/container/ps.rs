//! `ps`: docker's rows and columns, and the filters every `ls` shares.

use serde_json::{json, Value};

use crate::client::{q, Client};
use crate::format::{ago, go_time, human_size, render_rows};
use crate::Failure;

pub struct PsOpts {
    pub all: bool,
    pub quiet: bool,
    pub no_trunc: bool,
    pub size: bool,
    pub latest: bool,
    pub last: Option<i64>,
    pub filters: Vec<String>,
    pub format: Option<String>,
}

/// `-f key=value` flags into the API's `filters` JSON (`{"key":{"value":true}}`).
pub fn filters_json(filters: &[String]) -> Result<String, Failure> {
    let mut map: serde_json::Map<String, Value> = serde_json::Map::new();
    for f in filters {
        let (k, v) = f.split_once('=').ok_or_else(|| {
            Failure::usage(format!(
                "invalid argument \"{f}\" for \"-f, --filter\" flag: bad format of filter (expected name=value)"
            ))
        })?;
        let k = k.trim().to_ascii_lowercase();
        if let Some(m) = map.entry(k).or_insert_with(|| json!({})).as_object_mut() {
            m.insert(v.to_string(), json!(true));
        }
    }
    Ok(serde_json::to_string(&map).unwrap_or_default())
}

pub fn short_id(id: &str) -> String {
    id.strip_prefix("sha256:")
        .unwrap_or(id)
        .chars()
        .take(12)
        .collect()
}

/// go's `Ellipsis`: at most `n` runes, the last one `…` when cut.
pub fn ellipsis(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// docker's `DisplayablePorts`: published ports as `ip:public->private/proto`
/// (IPv6 bracketed), the rest as `private/proto`, sorted.
pub fn ports_text(ports: &Value) -> String {
    let mut list: Vec<&Value> = ports.as_array().into_iter().flatten().collect();
    list.sort_by(|a, b| {
        let k = |p: &Value| {
            (
                p["PrivatePort"].as_u64().unwrap_or(0),
                p["PublicPort"].as_u64().unwrap_or(0),
                p["Type"].as_str().unwrap_or("").to_string(),
                p["IP"].as_str().unwrap_or("").to_string(),
            )
        };
        k(a).cmp(&k(b))
    });
    let mut out: Vec<String> = Vec::new();
    for p in list {
        let private = p["PrivatePort"].as_u64().unwrap_or(0);
        let proto = p["Type"].as_str().unwrap_or("tcp");
        let s = match p["PublicPort"].as_u64().filter(|p| *p > 0) {
            Some(public) => {
                let ip = p["IP"].as_str().unwrap_or("");
                let ip = if ip.contains(':') {
                    format!("[{ip}]")
                } else {
                    ip.to_string()
                };
                format!("{ip}:{public}->{private}/{proto}")
            }
            None => format!("{private}/{proto}"),
        };
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out.join(", ")
}

/// One `ps` row: docker's ContainerContext fields.
pub fn container_row(v: &Value, trunc: bool) -> Value {
    let id = v["Id"].as_str().unwrap_or("");
    let cmd = v["Command"].as_str().unwrap_or("");
    let cmd = if trunc {
        ellipsis(cmd, 20)
    } else {
        cmd.to_string()
    };
    let mut names: Vec<String> = v["Names"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n.as_str())
        .map(|n| n.strip_prefix('/').unwrap_or(n).to_string())
        .collect();
    if trunc {
        // Link names (`other/alias`) are shown only with --no-trunc.
        names.retain(|n| !n.contains('/'));
        names.truncate(1);
    }
    let mut image = v["Image"].as_str().unwrap_or("").to_string();
    if image.is_empty() {
        image = "<no image>".into();
    }
    if trunc {
        if image.starts_with("sha256:") {
            image = short_id(&image);
        } else if let Some((name, _)) = image.split_once('@') {
            image = name.to_string();
        }
    }
    let rw = v["SizeRw"].as_i64().unwrap_or(0);
    let root = v["SizeRootFs"].as_i64().unwrap_or(0);
    let size = if root > 0 {
        format!(
            "{} (virtual {})",
            human_size(rw as f64),
            human_size(root as f64)
        )
    } else {
        human_size(rw as f64)
    };
    let mut labels: Vec<String> = v["Labels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    labels.sort();
    let mut networks: Vec<String> = v["NetworkSettings"]["Networks"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    networks.sort();
    let mounts = v["Mounts"].as_array().cloned().unwrap_or_default();
    let mount_names: Vec<String> = mounts
        .iter()
        .map(|m| {
            let n = m["Name"]
                .as_str()
                .filter(|n| !n.is_empty())
                .or(m["Source"].as_str())
                .unwrap_or("");
            if trunc {
                ellipsis(n, 15)
            } else {
                n.to_string()
            }
        })
        .collect();
    let local = mounts.iter().filter(|m| m["Driver"] == "local").count();
    let created = v["Created"].as_i64().unwrap_or(0);
    json!({
        "Command": format!("\"{}\"", cmd.replace('\\', "\\\\").replace('"', "\\\"")),
        "CreatedAt": go_time(created),
        "ID": if trunc { short_id(id) } else { id.to_string() },
        "Image": image,
        "Labels": labels.join(","),
        "LocalVolumes": local.to_string(),
        "Mounts": mount_names.join(","),
        "Names": names.join(","),
        "Networks": networks.join(","),
        "Platform": Value::Null,
        "Ports": ports_text(&v["Ports"]),
        "RunningFor": ago(created),
        "Size": size,
        "State": v["State"],
        "Status": v["Status"],
    })
}

pub fn headers(pairs: &[(&str, &str)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect(),
    )
}

pub const PS_HEADERS: &[(&str, &str)] = &[
    ("Command", "COMMAND"),
    ("CreatedAt", "CREATED AT"),
    ("ID", "CONTAINER ID"),
    ("Image", "IMAGE"),
    ("Labels", "LABELS"),
    ("LocalVolumes", "LOCAL VOLUMES"),
    ("Mounts", "MOUNTS"),
    ("Names", "NAMES"),
    ("Networks", "NETWORKS"),
    ("Platform", "PLATFORM"),
    ("Ports", "PORTS"),
    ("RunningFor", "CREATED"),
    ("Size", "SIZE"),
    ("State", "STATE"),
    ("Status", "STATUS"),
];

pub async fn ps(c: &Client, o: PsOpts) -> Result<i32, Failure> {
    // docker asks for sizes when the format prints them.
    let size = o.size
        || o.format
            .as_deref()
            .is_some_and(|f| f.contains(".Size") || f.contains("json"));
    let mut path = format!(
        "/containers/json?all={}&size={}",
        (o.all || o.latest || o.last.is_some_and(|n| n > 0)) as u8,
        (size && !o.quiet) as u8
    );
    if o.latest {
        path.push_str("&limit=1");
    } else if let Some(n) = o.last.filter(|n| *n > 0) {
        path.push_str(&format!("&limit={n}"));
    }
    if !o.filters.is_empty() {
        path.push_str(&format!("&filters={}", q(&filters_json(&o.filters)?)));
    }
    let list = c.get_json(&path).await?;
    let rows: Vec<Value> = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| container_row(v, !o.no_trunc))
        .collect();
    let mut default = String::from(
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}",
    );
    if o.size {
        default.push_str("\t{{.Size}}");
    }
    let format = if o.quiet {
        Some("{{.ID}}")
    } else {
        o.format.as_deref()
    };
    let text = render_rows(
        format,
        &default,
        &headers(PS_HEADERS),
        &rows,
        "*formatter.ContainerContext",
    )
    .map_err(Failure::msg)?;
    print!("{text}");
    Ok(0)
}
