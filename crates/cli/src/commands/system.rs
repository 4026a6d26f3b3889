//! System commands: version, info, df, events, and inspect (any object).

use std::io::Write;

use http_body_util::BodyExt;
use serde_json::{json, Value};

use super::container::{container_row, filters_json, print_template};
use crate::client::{q, Client, ClientError};
use crate::format::{human_size, table, Template};
use crate::Failure;

/// docker's `--since`/`--until` values: a duration before now (`10m`), a
/// unix timestamp, or RFC 3339; sent to the daemon as unix seconds.
pub fn timestamp(v: &str) -> Result<String, String> {
    if v.parse::<f64>().is_ok() {
        return Ok(v.to_string());
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Ok(format!(
            "{}.{:09}",
            t.timestamp(),
            t.timestamp_subsec_nanos()
        ));
    }
    let total =
        berth_api::units::parse_duration(v).ok_or_else(|| format!("invalid time value: {v}"))?;
    let now = chrono::Utc::now();
    let t = now.timestamp() as f64 + f64::from(now.timestamp_subsec_nanos()) / 1e9 - total;
    Ok(format!("{t:.9}"))
}

pub async fn version(c: &Client, format: Option<String>) -> Result<i32, Failure> {
    let server = c.get_json("/version").await;
    let client = json!({
        "Version": env!("CARGO_PKG_VERSION"),
        "ApiVersion": berth_api::version::API_VERSION,
        "Os": "linux",
        "Arch": std::env::consts::ARCH,
    });
    if let Some(f) = format {
        let v = json!({"Client": client, "Server": server.as_ref().ok()});
        return print_template(&f, &[v]);
    }
    println!("Client:");
    println!(" Version:           {}", env!("CARGO_PKG_VERSION"));
    println!(" API version:       {}", berth_api::version::API_VERSION);
    println!(" OS/Arch:           linux/{}", crate::arch());
    println!();
    let s = server?;
    println!("Server: berth");
    println!(" Engine:");
    println!(
        "  Version:          {}",
        s["Version"].as_str().unwrap_or("")
    );
    println!(
        "  API version:      {} (minimum version {})",
        s["ApiVersion"].as_str().unwrap_or(""),
        s["MinAPIVersion"].as_str().unwrap_or("")
    );
    println!(
        "  OS/Arch:          {}/{}",
        s["Os"].as_str().unwrap_or(""),
        s["Arch"].as_str().unwrap_or("")
    );
    println!(
        "  Kernel Version:   {}",
        s["KernelVersion"].as_str().unwrap_or("")
    );
    Ok(0)
}

pub async fn info(c: &Client, format: Option<String>) -> Result<i32, Failure> {
    let v = c.get_json("/info").await?;
    if let Some(f) = format {
        return print_template(&f, &[v]);
    }
    let s = |k: &str| {
        v[k].as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v[k].to_string())
    };
    println!(
        "Client:\n Version:    {}\n Context:    default\n Debug Mode: false\n",
        env!("CARGO_PKG_VERSION")
    );
    println!("Server:");
    println!(" Containers: {}", s("Containers"));
    println!("  Running: {}", s("ContainersRunning"));
    println!("  Paused: {}", s("ContainersPaused"));
    println!("  Stopped: {}", s("ContainersStopped"));
    println!(" Images: {}", s("Images"));
    println!(" Server Version: {}", s("ServerVersion"));
    println!(" Storage Driver: {}", s("Driver"));
    for pair in v["DriverStatus"].as_array().into_iter().flatten() {
        println!(
            "  {}: {}",
            pair[0].as_str().unwrap_or(""),
            pair[1].as_str().unwrap_or("")
        );
    }
    println!(" Logging Driver: {}", s("LoggingDriver"));
    println!(" Cgroup Driver: {}", s("CgroupDriver"));
    println!(" Cgroup Version: {}", s("CgroupVersion"));
    println!(" Kernel Version: {}", s("KernelVersion"));
    println!(" Operating System: {}", s("OperatingSystem"));
    println!(" OSType: {}", s("OSType"));
    println!(" Architecture: {}", s("Architecture"));
    println!(" CPUs: {}", s("NCPU"));
    println!(
        " Total Memory: {}",
        human_binary(v["MemTotal"].as_f64().unwrap_or(0.0))
    );
    println!(" Name: {}", s("Name"));
    println!(" ID: {}", s("ID"));
    println!(" Docker Root Dir: {}", s("DockerRootDir"));
    println!(" Debug Mode: {}", s("Debug"));
    println!(" Live Restore Enabled: {}", s("LiveRestoreEnabled"));
    Ok(0)
}

/// go-units BytesSize: binary units with two decimals (`23.47GiB`).
fn human_binary(size: f64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut s = size;
    let mut i = 0;
    while s >= 1024.0 && i < UNITS.len() - 1 {
        s /= 1024.0;
        i += 1;
    }
    format!("{s:.2}{}", UNITS[i]).replace(".00", "")
}

pub async fn df(c: &Client, verbose: bool, format: Option<String>) -> Result<i32, Failure> {
    let v = c.get_json("/system/df").await?;
    let images = v["Images"].as_array().cloned().unwrap_or_default();
    let containers = v["Containers"].as_array().cloned().unwrap_or_default();
    let total_images = v["LayersSize"].as_f64().unwrap_or(0.0);
    let used: f64 = images
        .iter()
        .filter(|i| i["Containers"].as_i64().unwrap_or(0) > 0)
        .map(|i| {
            i["Size"].as_f64().unwrap_or(0.0) - i["SharedSize"].as_f64().unwrap_or(0.0).max(0.0)
        })
        .sum();
    let active_images = images
        .iter()
        .filter(|i| i["Containers"].as_i64().unwrap_or(0) > 0)
        .count();
    let ctr_size: f64 = containers
        .iter()
        .map(|c| c["SizeRw"].as_f64().unwrap_or(0.0))
        .sum();
    let ctr_reclaim: f64 = containers
        .iter()
        .filter(|c| c["State"] != "running")
        .map(|c| c["SizeRw"].as_f64().unwrap_or(0.0))
        .sum();
    let active_ctr = containers
        .iter()
        .filter(|c| c["State"] == "running")
        .count();
    let pct = |part: f64, total: f64| {
        if total > 0.0 {
            format!(" ({}%)", ((part / total) * 100.0) as i64)
        } else {
            String::new()
        }
    };
    let rows = vec![
        json!({"Type": "Images", "TotalCount": images.len(), "Active": active_images, "Size": human_size(total_images), "Reclaimable": format!("{}{}", human_size((total_images - used).max(0.0)), if total_images > 0.0 { pct((total_images - used).max(0.0), total_images) } else { " (0%)".into() })}),
        json!({"Type": "Containers", "TotalCount": containers.len(), "Active": active_ctr, "Size": human_size(ctr_size), "Reclaimable": format!("{}{}", human_size(ctr_reclaim), pct(ctr_reclaim, ctr_size))}),
        json!({"Type": "Local Volumes", "TotalCount": 0, "Active": 0, "Size": "0B", "Reclaimable": "0B"}),
        json!({"Type": "Build Cache", "TotalCount": 0, "Active": 0, "Size": "0B", "Reclaimable": "0B"}),
    ];
    if let Some(f) = format {
        return print_template(&f, &rows);
    }
    if !verbose {
        let cells: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    r["Type"].as_str().unwrap_or("").into(),
                    r["TotalCount"].to_string(),
                    r["Active"].to_string(),
                    r["Size"].as_str().unwrap_or("").into(),
                    r["Reclaimable"].as_str().unwrap_or("").into(),
                ]
            })
            .collect();
        print!(
            "{}",
            table(&["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"], &cells)
        );
        return Ok(0);
    }
    println!("Images space usage:\n");
    let cells: Vec<Vec<String>> = images
        .iter()
        .map(|i| {
            let tag = i["RepoTags"][0].as_str().unwrap_or("<none>:<none>");
            let (repo, t) = tag.rsplit_once(':').unwrap_or((tag, "<none>"));
            vec![
                repo.into(),
                t.into(),
                i["Id"]
                    .as_str()
                    .unwrap_or("")
                    .trim_start_matches("sha256:")
                    .chars()
                    .take(12)
                    .collect(),
                crate::format::ago(i["Created"].as_i64().unwrap_or(0)),
                human_size(i["Size"].as_f64().unwrap_or(0.0)),
                human_size(i["SharedSize"].as_f64().unwrap_or(0.0).max(0.0)),
                human_size(
                    i["Size"].as_f64().unwrap_or(0.0)
                        - i["SharedSize"].as_f64().unwrap_or(0.0).max(0.0),
                ),
                i["Containers"].to_string(),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &[
                "REPOSITORY",
                "TAG",
                "IMAGE ID",
                "CREATED",
                "SIZE",
                "SHARED SIZE",
                "UNIQUE SIZE",
                "CONTAINERS"
            ],
            &cells
        )
    );
    println!("\nContainers space usage:\n");
    let cells: Vec<Vec<String>> = containers
        .iter()
        .map(|c| {
            let r = container_row(c, false);
            vec![
                r["ID"].as_str().unwrap_or("").into(),
                r["Image"].as_str().unwrap_or("").into(),
                r["Command"].as_str().unwrap_or("").into(),
                "0".into(),
                human_size(c["SizeRw"].as_f64().unwrap_or(0.0)),
                r["RunningFor"].as_str().unwrap_or("").into(),
                r["Status"].as_str().unwrap_or("").into(),
                r["Names"].as_str().unwrap_or("").into(),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &[
                "CONTAINER ID",
                "IMAGE",
                "COMMAND",
                "LOCAL VOLUMES",
                "SIZE",
                "CREATED",
                "STATUS",
                "NAMES"
            ],
            &cells
        )
    );
    println!("\nLocal Volumes space usage:\n");
    print!("{}", table(&["VOLUME NAME", "LINKS", "SIZE"], &[]));
    println!("\nBuild cache usage: 0B\n");
    print!(
        "{}",
        table(
            &[
                "CACHE ID",
                "CACHE TYPE",
                "SIZE",
                "CREATED",
                "LAST USED",
                "USAGE",
                "SHARED"
            ],
            &[]
        )
    );
    Ok(0)
}

pub async fn events(
    c: &Client,
    since: Option<String>,
    until: Option<String>,
    filters: Vec<String>,
    format: Option<String>,
) -> Result<i32, Failure> {
    let mut path = "/events?".to_string();
    if let Some(s) = since {
        path.push_str(&format!(
            "since={}&",
            timestamp(&s).map_err(Failure::usage)?
        ));
    }
    if let Some(u) = until {
        path.push_str(&format!(
            "until={}&",
            timestamp(&u).map_err(Failure::usage)?
        ));
    }
    if !filters.is_empty() {
        path.push_str(&format!("filters={}", q(&filters_json(&filters)?)));
    }
    let template = match &format {
        Some(f) => Some(Template::parse(f).map_err(Failure::usage)?),
        None => None,
    };
    let resp = c.send("GET", &path, None, "").await?;
    let mut body = resp.into_body();
    let mut pending = Vec::new();
    let mut out = std::io::stdout();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { break };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        pending.extend_from_slice(&data);
        while let Some(nl) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=nl).collect();
            let Ok(ev) = serde_json::from_slice::<Value>(&line) else {
                continue;
            };
            let text = match &template {
                Some(t) => t.render(&ev).map_err(Failure::msg)?,
                None => {
                    let nanos = ev["timeNano"].as_i64().unwrap_or(0);
                    let t = chrono::DateTime::from_timestamp(
                        nanos / 1_000_000_000,
                        (nanos % 1_000_000_000) as u32,
                    )
                    .map(|t| {
                        t.with_timezone(&chrono::Local)
                            .format("%Y-%m-%dT%H:%M:%S%.9f%:z")
                            .to_string()
                    })
                    .unwrap_or_default();
                    let attrs: Vec<String> = ev["Actor"]["Attributes"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                        .collect();
                    format!(
                        "{t} {} {} {} ({})",
                        ev["Type"].as_str().unwrap_or(""),
                        ev["Action"].as_str().unwrap_or(""),
                        ev["Actor"]["ID"].as_str().unwrap_or(""),
                        attrs.join(", ")
                    )
                }
            };
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
        }
    }
    Ok(0)
}

/// `inspect`: containers first, then images (as docker looks them up).
pub async fn inspect(
    c: &Client,
    names: Vec<String>,
    format: Option<String>,
    kind: Option<String>,
    size: bool,
) -> Result<i32, Failure> {
    let mut found = Vec::new();
    let mut code = 0;
    for n in &names {
        let container = if kind.as_deref().is_none_or(|k| k == "container") {
            c.get_json(&format!("/containers/{}/json?size={}", q(n), size as u8))
                .await
        } else {
            Err(ClientError::Other(String::new()))
        };
        let v = match container {
            Ok(v) => Some(v),
            Err(_) if kind.as_deref().is_none_or(|k| k == "image") => {
                c.get_json(&format!("/images/{}/json", q(n))).await.ok()
            }
            Err(_) => None,
        };
        match v {
            Some(v) => found.push(v),
            None => {
                eprintln!("Error: No such object: {n}");
                code = 1;
            }
        }
    }
    match format {
        Some(f) => {
            let t = Template::parse(&f).map_err(Failure::usage)?;
            for v in &found {
                println!("{}", t.render(v).map_err(Failure::msg)?);
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
    Ok(code)
}
