//! System commands: version, info, df, events, and inspect (any object).

use std::io::Write;

use http_body_util::BodyExt;
use serde_json::{json, Value};

use super::container::{container_row, filters_json};
use crate::client::{q, Client};
use crate::format::{bytes_size, human_size, human_size_prec, render_rows, table, Template};
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

fn ansic(rfc: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc)
        .map(|t| t.format("%a %b %e %H:%M:%S %Y").to_string())
        .unwrap_or_else(|_| rfc.to_string())
}

pub async fn version(c: &Client, format: Option<String>) -> Result<i32, Failure> {
    let server = c.get_json("/version").await;
    let negotiated = c.api_version().await.unwrap_or_default();
    let ours = berth_api::version::API_VERSION;
    let api = if negotiated != ours && !negotiated.is_empty() {
        format!("{negotiated} (downgraded from {ours})")
    } else {
        ours.to_string()
    };
    let client = json!({
        "Platform": {"Name": ""},
        "Version": env!("CARGO_PKG_VERSION"),
        "ApiVersion": negotiated,
        "DefaultAPIVersion": ours,
        "GitCommit": "",
        "GoVersion": "",
        "Os": "linux",
        "Arch": crate::arch(),
        "BuildTime": "",
        "Context": c.context(),
    });
    if let Some(f) = format {
        // Without a server docker renders its empty server part.
        let empty = json!({
            "Platform": {"Name": ""}, "Components": null, "Version": "", "ApiVersion": "",
            "MinAPIVersion": "", "GitCommit": "", "GoVersion": "", "Os": "", "Arch": "",
            "KernelVersion": "", "BuildTime": "",
        });
        let v = json!({"Client": client, "Server": server.as_ref().ok().unwrap_or(&empty)});
        let t = Template::parse(&f)
            .map_err(|e| format!("template parsing error: {e}"))
            .map_err(Failure::msg)?;
        match t.render(&v) {
            Ok(s) => println!("{s}"),
            Err(e) if server.is_ok() => return Err(Failure::msg(e)),
            // docker prints the template's (empty) line, then why the
            // server part is missing.
            Err(_) => println!(),
        }
        return server.map(|_| 0).map_err(Failure::from);
    }
    let row = |k: &str, v: &str| format!("{:<20}{v}", k);
    println!("Client:");
    println!("{}", row(" Version:", env!("CARGO_PKG_VERSION")));
    println!("{}", row(" API version:", &api));
    println!("{}", row(" OS/Arch:", &format!("linux/{}", crate::arch())));
    println!("{}", row(" Context:", c.context()));
    println!();
    let s = server?;
    let name = s["Platform"]["Name"].as_str().unwrap_or("");
    if name.is_empty() {
        println!("Server:");
    } else {
        println!("Server: {name}");
    }
    let comps = s["Components"].as_array().cloned().unwrap_or_default();
    let st = |v: &Value, k: &str| v[k].as_str().unwrap_or("").to_string();
    let engine = comps.iter().find(|c| c["Name"] == "Engine");
    let d = engine.map(|e| e["Details"].clone()).unwrap_or(s.clone());
    println!(" Engine:");
    println!("{}", row("  Version:", &st(&s, "Version")));
    println!(
        "{}",
        row(
            "  API version:",
            &format!(
                "{} (minimum version {})",
                st(&d, "ApiVersion"),
                st(&d, "MinAPIVersion")
            )
        )
    );
    println!("{}", row("  Go version:", &st(&d, "GoVersion")));
    println!("{}", row("  Git commit:", &st(&d, "GitCommit")));
    println!("{}", row("  Built:", &ansic(&st(&d, "BuildTime"))));
    println!(
        "{}",
        row(
            "  OS/Arch:",
            &format!("{}/{}", st(&d, "Os"), st(&d, "Arch"))
        )
    );
    println!(
        "{}",
        row(
            "  Experimental:",
            &d["Experimental"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| d["Experimental"].as_bool().unwrap_or(false).to_string())
        )
    );
    for comp in comps.iter().filter(|c| c["Name"] != "Engine") {
        println!(" {}:", st(comp, "Name"));
        println!("{}", row("  Version:", &st(comp, "Version")));
        for (k, v) in comp["Details"].as_object().into_iter().flatten() {
            println!("{}", row(&format!("  {k}:"), v.as_str().unwrap_or("")));
        }
    }
    Ok(0)
}

pub async fn info(c: &Client, format: Option<String>) -> Result<i32, Failure> {
    let v = c.get_json("/info").await?;
    if let Some(f) = format {
        let t = Template::parse(&f)
            .map_err(|e| Failure::msg(format!("template parsing error: {e}")))?;
        println!("{}", t.render(&v).map_err(Failure::msg)?);
        return Ok(0);
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
    if let Ok(swarm) = serde_json::from_value::<berth_api::views::SwarmInfo>(v["Swarm"].clone()) {
        for line in crate::commands::swarm::info_lines(&swarm) {
            println!("{line}");
        }
    }
    println!(" Kernel Version: {}", s("KernelVersion"));
    println!(" Operating System: {}", s("OperatingSystem"));
    println!(" OSType: {}", s("OSType"));
    println!(" Architecture: {}", s("Architecture"));
    println!(" CPUs: {}", s("NCPU"));
    println!(
        " Total Memory: {}",
        bytes_size(v["MemTotal"].as_f64().unwrap_or(0.0))
    );
    println!(" Name: {}", s("Name"));
    println!(" ID: {}", s("ID"));
    println!(" Docker Root Dir: {}", s("DockerRootDir"));
    println!(" Debug Mode: {}", s("Debug"));
    println!(" Live Restore Enabled: {}", s("LiveRestoreEnabled"));
    Ok(0)
}

pub async fn df(c: &Client, verbose: bool, format: Option<String>) -> Result<i32, Failure> {
    let v = c.get_json("/system/df").await?;
    let images = v["Images"].as_array().cloned().unwrap_or_default();
    let containers = v["Containers"].as_array().cloned().unwrap_or_default();
    let volumes = v["Volumes"].as_array().cloned().unwrap_or_default();
    if format.is_some() || !verbose {
        let rows = df_rows(&v, &images, &containers, &volumes);
        let text = render_rows(
            format.as_deref(),
            "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
            &json!({"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE"}),
            &rows,
            "*formatter.diskUsageImagesContext",
        )
        .map_err(Failure::msg)?;
        print!("{text}");
        return Ok(0);
    }
    df_images(&images);
    df_containers(&containers);
    df_volumes_and_cache(&volumes);
    Ok(0)
}

fn vol_size(v: &Value) -> f64 {
    v["UsageData"]["Size"].as_f64().unwrap_or(0.0).max(0.0)
}

fn vol_refs(v: &Value) -> i64 {
    v["UsageData"]["RefCount"].as_i64().unwrap_or(0)
}

/// The summary rows of `system df` (one per kind of object). Rows over
/// JSON because `--format` templates run over them, as docker's formatter
/// runs over its context's dynamic fields.
fn df_rows(v: &Value, images: &[Value], containers: &[Value], volumes: &[Value]) -> Vec<Value> {
    let vols_total: f64 = volumes.iter().map(vol_size).sum();
    let vols_reclaim: f64 = volumes
        .iter()
        .filter(|v| vol_refs(v) == 0)
        .map(vol_size)
        .sum();
    let vols_active = volumes.iter().filter(|v| vol_refs(v) > 0).count();
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
    vec![
        json!({"Type": "Images", "TotalCount": images.len(), "Active": active_images, "Size": human_size_prec(total_images, 4), "Reclaimable": format!("{}{}", human_size((total_images - used).max(0.0)), if total_images > 0.0 { pct((total_images - used).max(0.0), total_images) } else { " (0%)".into() })}),
        json!({"Type": "Containers", "TotalCount": containers.len(), "Active": active_ctr, "Size": human_size_prec(ctr_size, 4), "Reclaimable": format!("{}{}", human_size_prec(ctr_reclaim, 4), pct(ctr_reclaim, ctr_size))}),
        json!({"Type": "Local Volumes", "TotalCount": volumes.len(), "Active": vols_active, "Size": human_size_prec(vols_total, 4), "Reclaimable": format!("{}{}", human_size_prec(vols_reclaim, 4), pct(vols_reclaim, vols_total))}),
        json!({"Type": "Build Cache", "TotalCount": 0, "Active": 0, "Size": "0B", "Reclaimable": "0B"}),
    ]
}

/// `system df -v`: the images' section.
fn df_images(images: &[Value]) {
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
                human_size_prec(i["SharedSize"].as_f64().unwrap_or(0.0).max(0.0), 4),
                human_size_prec(
                    i["Size"].as_f64().unwrap_or(0.0)
                        - i["SharedSize"].as_f64().unwrap_or(0.0).max(0.0),
                    4,
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
}

/// `system df -v`: the containers' section.
fn df_containers(containers: &[Value]) {
    println!("\nContainers space usage:\n");
    let cells: Vec<Vec<String>> = containers
        .iter()
        .map(|c| {
            let r = container_row(c, true);
            vec![
                r["ID"].as_str().unwrap_or("").into(),
                r["Image"].as_str().unwrap_or("").into(),
                r["Command"].as_str().unwrap_or("").into(),
                r["LocalVolumes"].as_str().unwrap_or("0").into(),
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
}

/// `system df -v`: the volumes' section, and the (empty) build cache's.
fn df_volumes_and_cache(volumes: &[Value]) {
    println!("\nLocal Volumes space usage:\n");
    let cells: Vec<Vec<String>> = volumes
        .iter()
        .map(|v| {
            vec![
                v["Name"].as_str().unwrap_or("").into(),
                vol_refs(v).to_string(),
                human_size_prec(vol_size(v), 4),
            ]
        })
        .collect();
    print!("{}", table(&["VOLUME NAME", "LINKS", "SIZE"], &cells));
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
        Some(f) if f == "json" => Some(Template::parse("{{json .}}").map_err(Failure::usage)?),
        Some(f) => Some(
            Template::parse(f)
                .map_err(|e| Failure::usage(format!("template parsing error: {e}")))?,
        ),
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
                Some(t) => t
                    .render(&ev)
                    .map_err(|e| Failure::msg(format!("template parsing error: {e}")))?,
                None => {
                    let nanos = ev["timeNano"].as_i64().unwrap_or(0);
                    let t = chrono::DateTime::from_timestamp(
                        nanos / 1_000_000_000,
                        (nanos % 1_000_000_000) as u32,
                    )
                    .map(|t| rfc3339_nano_fixed(&t.with_timezone(&chrono::Local)))
                    .unwrap_or_default();
                    let mut attrs: Vec<String> = ev["Actor"]["Attributes"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                        .collect();
                    attrs.sort();
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

/// docker's `RFC3339NanoFixed` (events): always nine fraction digits.
pub fn rfc3339_nano_fixed<Tz: chrono::TimeZone>(t: &chrono::DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let off = t.format("%:z").to_string();
    let off = if off == "+00:00" {
        "Z".to_string()
    } else {
        off
    };
    format!("{}{off}", t.format("%Y-%m-%dT%H:%M:%S%.9f"))
}

/// `inspect`: each name as a container, then as an image (as docker
/// looks them up, unless `--type` says which).
pub async fn inspect(
    c: &Client,
    names: Vec<String>,
    format: Option<String>,
    kind: Option<String>,
    size: bool,
) -> Result<i32, Failure> {
    if let Some(k) = kind.as_deref() {
        if !matches!(k, "container" | "image" | "network") {
            return Err(Failure::msg(format!(
                "\"{k}\" is not a valid value for --type"
            )));
        }
    }
    let template = match format.as_deref() {
        None | Some("") => None,
        Some("json") => None,
        Some(f) => Some(
            Template::parse(f).map_err(|e| Failure::msg(format!("template parsing error: {e}")))?,
        ),
    };
    let mut found = Vec::new();
    // Which of `found` are networks (templates see docker's typed network).
    let mut networks = Vec::new();
    let mut errors = Vec::new();
    for n in &names {
        let mut v = None;
        if kind.as_deref().is_none_or(|k| k == "container") {
            v = c
                .get_json(&format!("/containers/{}/json?size={}", q(n), size as u8))
                .await
                .ok();
        }
        if v.is_none() && kind.as_deref().is_none_or(|k| k == "image") {
            v = c.get_json(&format!("/images/{}/json", q(n))).await.ok();
        }
        let mut network = false;
        if v.is_none() && kind.as_deref().is_none_or(|k| k == "network") {
            match c.get_json(&format!("/networks/{}", q(n))).await {
                Ok(x) => {
                    v = Some(x);
                    network = true;
                }
                // `--type network` reports the daemon's own answer.
                Err(e) if kind.as_deref() == Some("network") => {
                    errors.push(e.to_string());
                    continue;
                }
                Err(_) => {}
            }
        }
        match v {
            Some(v) => {
                found.push(v);
                networks.push(network);
            }
            None => errors.push(match kind.as_deref() {
                Some("container") => format!("Error: No such container: {n}"),
                Some("image") => format!("Error: No such image: {n}"),
                _ => format!("Error: No such object: {n}"),
            }),
        }
    }
    match template {
        Some(t) => {
            for (v, network) in found.iter().zip(&networks) {
                let typed;
                let v = if *network {
                    typed = super::network::typed_network(v);
                    &typed
                } else {
                    v
                };
                match t.render(v) {
                    Ok(s) => println!("{s}"),
                    Err(e) => {
                        // docker flushes the failed element's empty line first.
                        println!();
                        return Err(Failure::msg(format!("template parsing error: {e}")));
                    }
                }
            }
        }
        None => {
            // docker indents inspect output by four spaces.
            let mut out = Vec::new();
            let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
            let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
            serde::Serialize::serialize(&Value::Array(found), &mut ser)
                .map_err(|e| Failure::msg(e.to_string()))?;
            println!("{}", go_escape(&String::from_utf8_lossy(&out)));
        }
    }
    if errors.is_empty() {
        Ok(0)
    } else {
        Err(Failure::msg(errors.join("\n")))
    }
}

/// Go's JSON encoder escapes `<`, `>` and `&` (they only occur in strings).
fn go_escape(s: &str) -> String {
    s.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}
