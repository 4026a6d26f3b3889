//! Image commands: images/ls, inspect, history, rm, prune, tag, import, save, load.

use std::io::{IsTerminal, Read, Write};

use bytes::Bytes;
use http_body_util::BodyExt;
use serde_json::{json, Value};

use super::container::{filters_json, print_template};
use crate::client::{q, Client};
use crate::format::{ago, human_size, table};
use crate::Failure;

fn short(id: &str) -> String {
    id.strip_prefix("sha256:")
        .unwrap_or(id)
        .chars()
        .take(12)
        .collect()
}

pub struct ImagesOpts {
    pub all: bool,
    pub quiet: bool,
    pub digests: bool,
    pub no_trunc: bool,
    pub filters: Vec<String>,
    pub format: Option<String>,
    pub reference: Option<String>,
}

pub async fn images(c: &Client, o: ImagesOpts) -> Result<i32, Failure> {
    let mut filters = o.filters.clone();
    if let Some(r) = &o.reference {
        filters.push(format!("reference={r}"));
    }
    let mut path = format!("/images/json?all={}", o.all as u8);
    if !filters.is_empty() {
        path.push_str(&format!("&filters={}", q(&filters_json(&filters)?)));
    }
    let list = c.get_json(&path).await?;
    let mut rows = Vec::new();
    for img in list.as_array().cloned().unwrap_or_default() {
        let id = img["Id"].as_str().unwrap_or("");
        let shown = if o.no_trunc {
            id.to_string()
        } else {
            short(id)
        };
        let tags: Vec<String> = img["RepoTags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str().map(str::to_string))
            .collect();
        let pairs: Vec<(String, String)> = if tags.is_empty() {
            vec![("<none>".into(), "<none>".into())]
        } else {
            tags.iter()
                .map(|t| match t.rsplit_once(':') {
                    Some((r, tag)) => (r.to_string(), tag.to_string()),
                    None => (t.clone(), "<none>".into()),
                })
                .collect()
        };
        for (repo, tag) in pairs {
            rows.push(json!({
                "ID": shown,
                "Repository": repo,
                "Tag": tag,
                "Digest": "<none>",
                "CreatedSince": ago(img["Created"].as_i64().unwrap_or(0)),
                "CreatedAt": chrono::DateTime::from_timestamp(img["Created"].as_i64().unwrap_or(0), 0).map(|t| t.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M:%S %z %Z").to_string()).unwrap_or_default(),
                "Size": human_size(img["Size"].as_f64().unwrap_or(0.0)),
                "Containers": img["Containers"],
            }));
        }
    }
    if o.quiet {
        let mut seen = std::collections::HashSet::new();
        for r in &rows {
            let id = r["ID"].as_str().unwrap_or("").to_string();
            if seen.insert(id.clone()) {
                println!("{id}");
            }
        }
        return Ok(0);
    }
    if let Some(f) = o.format.as_deref().filter(|f| *f != "table") {
        return print_template(f, &rows);
    }
    let mut header = vec!["REPOSITORY", "TAG"];
    if o.digests {
        header.push("DIGEST");
    }
    header.extend(["IMAGE ID", "CREATED", "SIZE"]);
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut keys = vec!["Repository", "Tag"];
            if o.digests {
                keys.push("Digest");
            }
            keys.extend(["ID", "CreatedSince", "Size"]);
            keys.iter()
                .map(|k| r[*k].as_str().unwrap_or("").to_string())
                .collect()
        })
        .collect();
    print!("{}", table(&header, &cells));
    Ok(0)
}

pub async fn history(
    c: &Client,
    name: &str,
    no_trunc: bool,
    quiet: bool,
    human: bool,
    format: Option<String>,
) -> Result<i32, Failure> {
    let list = c.get_json(&format!("/images/{}/history", q(name))).await?;
    let rows: Vec<Value> = list
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|h| {
            let id = h["Id"].as_str().unwrap_or("");
            let created_by = h["CreatedBy"].as_str().unwrap_or("").to_string();
            let created_by = if no_trunc || created_by.chars().count() <= 45 { created_by } else { format!("{}…", created_by.chars().take(44).collect::<String>()) };
            let size = h["Size"].as_f64().unwrap_or(0.0);
            json!({
                "ID": if id == "<missing>" || no_trunc { id.to_string() } else { short(id) },
                "CreatedSince": if human { ago(h["Created"].as_i64().unwrap_or(0)) } else { chrono::DateTime::from_timestamp(h["Created"].as_i64().unwrap_or(0), 0).map(|t| t.to_rfc3339()).unwrap_or_default() },
                "CreatedBy": created_by,
                "Size": if human { human_size(size) } else { format!("{}", size as i64) },
                "Comment": h["Comment"],
            })
        })
        .collect();
    if quiet {
        for r in &rows {
            println!("{}", r["ID"].as_str().unwrap_or(""));
        }
        return Ok(0);
    }
    if let Some(f) = format {
        return print_template(&f, &rows);
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            ["ID", "CreatedSince", "CreatedBy", "Size", "Comment"]
                .iter()
                .map(|k| r[*k].as_str().unwrap_or("").to_string())
                .collect()
        })
        .collect();
    print!(
        "{}",
        table(
            &["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"],
            &cells
        )
    );
    Ok(0)
}

pub async fn rmi(c: &Client, names: Vec<String>, force: bool) -> Result<i32, Failure> {
    let mut code = 0;
    for n in names {
        let resp = c
            .send(
                "DELETE",
                &format!("/images/{}?force={}", q(&n), force as u8),
                None,
                "",
            )
            .await;
        match resp {
            Ok(r) => {
                let v = crate::client::read_json(r).await?;
                for item in v.as_array().into_iter().flatten() {
                    if let Some(u) = item["Untagged"].as_str() {
                        println!("Untagged: {u}");
                    }
                    if let Some(d) = item["Deleted"].as_str() {
                        println!("Deleted: {d}");
                    }
                }
            }
            Err(e) => {
                eprintln!("{e}");
                code = 1;
            }
        }
    }
    Ok(code)
}

pub async fn tag(c: &Client, source: &str, target: &str) -> Result<i32, Failure> {
    let r = berth_api::Reference::parse(target).map_err(|e| Failure::msg(e.message))?;
    let repo = r.familiar_name();
    let tag = r.tag.clone().unwrap_or_else(|| "latest".into());
    c.call(
        "POST",
        &format!(
            "/images/{}/tag?repo={}&tag={}",
            q(source),
            q(&repo),
            q(&tag)
        ),
    )
    .await?;
    Ok(0)
}

async fn read_input(file: Option<&str>) -> Result<Bytes, Failure> {
    let mut data = Vec::new();
    match file {
        None | Some("-") => {
            std::io::stdin()
                .read_to_end(&mut data)
                .map_err(|e| Failure::msg(e.to_string()))?;
        }
        Some(f) => {
            data = std::fs::read(f).map_err(|e| Failure::msg(format!("open {f}: {e}")))?;
        }
    }
    Ok(Bytes::from(data))
}

pub async fn import(
    c: &Client,
    file: &str,
    reference: Option<String>,
    message: Option<String>,
    changes: Vec<String>,
) -> Result<i32, Failure> {
    let body = read_input(Some(file)).await?;
    let mut path = "/images/create?fromSrc=-".to_string();
    if let Some(r) = reference {
        let parsed = berth_api::Reference::parse(&r).map_err(|e| Failure::msg(e.message))?;
        path.push_str(&format!("&repo={}", q(&parsed.familiar_name())));
        if let Some(t) = parsed.tag {
            path.push_str(&format!("&tag={}", q(&t)));
        }
    }
    if let Some(m) = message {
        path.push_str(&format!("&message={}", q(&m)));
    }
    for ch in changes {
        path.push_str(&format!("&changes={}", q(&ch)));
    }
    let resp = c
        .send("POST", &path, Some(body), "application/x-tar")
        .await?;
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| Failure::msg(e.to_string()))?
        .to_bytes();
    for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let v: Value = serde_json::from_slice(line).unwrap_or(Value::Null);
        if let Some(e) = v["error"].as_str() {
            return Err(Failure::msg(e.to_string()));
        }
        if let Some(s) = v["status"].as_str() {
            println!("{s}");
        }
    }
    Ok(0)
}

pub async fn save(c: &Client, names: Vec<String>, output: Option<String>) -> Result<i32, Failure> {
    if output.is_none() && std::io::stdout().is_terminal() {
        return Err(Failure::msg(
            "cowardly refusing to save to a terminal. Use the -o flag or redirect",
        ));
    }
    let path = format!(
        "/images/get?{}",
        names
            .iter()
            .map(|n| format!("names={}", q(n)))
            .collect::<Vec<_>>()
            .join("&")
    );
    let resp = c.send("GET", &path, None, "").await?;
    let mut out: Box<dyn Write> = match &output {
        Some(f) => Box::new(
            std::fs::File::create(f)
                .map_err(|e| Failure::msg(format!("failed to save image: {e}")))?,
        ),
        None => Box::new(std::io::stdout()),
    };
    let mut body = resp.into_body();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Failure::msg(e.to_string()))?;
        if let Ok(d) = frame.into_data() {
            out.write_all(&d).map_err(|e| Failure::msg(e.to_string()))?;
        }
    }
    out.flush().map_err(|e| Failure::msg(e.to_string()))?;
    Ok(0)
}

pub async fn load(c: &Client, input: Option<String>, quiet: bool) -> Result<i32, Failure> {
    if input.is_none() && std::io::stdin().is_terminal() {
        return Err(Failure::msg(
            "requested load from stdin, but stdin is empty",
        ));
    }
    let body = read_input(input.as_deref()).await?;
    let resp = c
        .send(
            "POST",
            &format!("/images/load?quiet={}", quiet as u8),
            Some(body),
            "application/x-tar",
        )
        .await?;
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| Failure::msg(e.to_string()))?
        .to_bytes();
    for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let v: Value = serde_json::from_slice(line).unwrap_or(Value::Null);
        if let Some(e) = v["error"].as_str() {
            return Err(Failure::msg(e.to_string()));
        }
        if let Some(s) = v["stream"].as_str() {
            print!("{s}");
        }
    }
    Ok(0)
}

pub async fn prune(
    c: &Client,
    all: bool,
    force: bool,
    filters: Vec<String>,
) -> Result<i32, Failure> {
    let warning = if all {
        "WARNING! This will remove all images without at least one container associated to them."
    } else {
        "WARNING! This will remove all dangling images."
    };
    if !force && !crate::confirm(warning) {
        return Ok(0);
    }
    let mut filters = filters;
    if all {
        filters.push("dangling=false".into());
    }
    let v = c
        .post_json(
            &format!("/images/prune?filters={}", q(&filters_json(&filters)?)),
            &Value::Null,
        )
        .await?;
    let deleted = v["ImagesDeleted"].as_array().cloned().unwrap_or_default();
    if !deleted.is_empty() {
        println!("Deleted Images:");
        for d in deleted {
            if let Some(u) = d["Untagged"].as_str() {
                println!("untagged: {u}");
            }
            if let Some(x) = d["Deleted"].as_str() {
                println!("deleted: {x}");
            }
        }
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        human_size(v["SpaceReclaimed"].as_f64().unwrap_or(0.0))
    );
    Ok(0)
}
