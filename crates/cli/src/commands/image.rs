//! Image commands: images/ls, inspect, history, rm, prune, tag, import, save, load.

use berth_api::model::ImagePruneResponse;
use std::io::{IsTerminal, Read, Write};

use bytes::Bytes;
use http_body_util::BodyExt;
use serde_json::{json, Value};

use super::container::{ellipsis, filters_json, headers};
use crate::client::{q, Client};
use crate::format::{ago, go_time, human_size, human_size_prec, render_rows};
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

pub const IMAGE_HEADERS: &[(&str, &str)] = &[
    ("Containers", "CONTAINERS"),
    ("CreatedAt", "CREATED AT"),
    ("CreatedSince", "CREATED"),
    ("Digest", "DIGEST"),
    ("ID", "IMAGE ID"),
    ("Repository", "REPOSITORY"),
    ("SharedSize", "SHARED SIZE"),
    ("Size", "SIZE"),
    ("Tag", "TAG"),
    ("UniqueSize", "UNIQUE SIZE"),
    ("VirtualSize", "VIRTUAL SIZE"),
];

/// One `images` row per repository tag (or `<none>`): docker's ImageContext.
pub fn image_rows(img: &Value, trunc: bool, digests: bool) -> Vec<Value> {
    let id = img["Id"].as_str().unwrap_or("");
    let shown = if trunc { short(id) } else { id.to_string() };
    let strs = |k: &str| -> Vec<String> {
        img[k]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str().map(str::to_string))
            .filter(|t| t != "<none>:<none>" && t != "<none>@<none>")
            .collect()
    };
    let tags = strs("RepoTags");
    let repo_digests = strs("RepoDigests");
    let digest_of = |repo: &str| {
        repo_digests
            .iter()
            .find_map(|d| {
                d.split_once('@')
                    .filter(|(r, _)| *r == repo)
                    .map(|(_, d)| d.to_string())
            })
            .unwrap_or_else(|| "<none>".into())
    };
    let mut pairs: Vec<(String, String, String)> = Vec::new();
    for t in &tags {
        let (r, tag) = match t.rsplit_once(':').filter(|(_, tag)| !tag.contains('/')) {
            Some((r, tag)) => (r.to_string(), tag.to_string()),
            None => (t.clone(), "<none>".into()),
        };
        let d = digest_of(&r);
        pairs.push((r, tag, d));
    }
    if digests || tags.is_empty() {
        for d in &repo_digests {
            if let Some((r, dg)) = d.split_once('@') {
                if !pairs.iter().any(|(pr, _, _)| pr == r) {
                    pairs.push((r.to_string(), "<none>".into(), dg.to_string()));
                }
            }
        }
    }
    if pairs.is_empty() {
        pairs.push(("<none>".into(), "<none>".into(), "<none>".into()));
    }
    let created = img["Created"].as_i64().unwrap_or(0);
    let size = img["Size"].as_f64().unwrap_or(0.0);
    let n_a = |k: &str, f: &dyn Fn(f64) -> String| match img[k].as_f64() {
        Some(v) if v >= 0.0 => f(v),
        _ => "N/A".to_string(),
    };
    pairs
        .into_iter()
        .map(|(repo, tag, digest)| {
            json!({
                "Containers": n_a("Containers", &|v| format!("{}", v as i64)),
                "CreatedAt": go_time(created),
                "CreatedSince": ago(created),
                "Digest": digest,
                "ID": shown,
                "Repository": repo,
                "SharedSize": n_a("SharedSize", &human_size),
                "Size": human_size(size),
                "Tag": tag,
                "UniqueSize": match img["SharedSize"].as_f64() {
                    Some(s) if s >= 0.0 => human_size(size - s),
                    _ => "N/A".into(),
                },
                "VirtualSize": human_size_prec(size, 4),
            })
        })
        .collect()
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
    for img in list.as_array().into_iter().flatten() {
        rows.extend(image_rows(img, !o.no_trunc, o.digests));
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
    let default = if o.digests {
        "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    } else {
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    };
    let text = render_rows(
        o.format.as_deref(),
        default,
        &headers(IMAGE_HEADERS),
        &rows,
        "*formatter.ImageContext",
    )
    .map_err(Failure::msg)?;
    print!("{text}");
    Ok(0)
}

pub const HISTORY_HEADERS: &[(&str, &str)] = &[
    ("Comment", "COMMENT"),
    ("CreatedAt", "CREATED AT"),
    ("CreatedBy", "CREATED BY"),
    ("CreatedSince", "CREATED"),
    ("ID", "IMAGE"),
    ("Size", "SIZE"),
];

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
        .into_iter()
        .flatten()
        .map(|h| {
            let id = h["Id"].as_str().unwrap_or("");
            let created = h["Created"].as_i64().unwrap_or(0);
            let created_by = h["CreatedBy"].as_str().unwrap_or("").replace('\t', " ");
            let created_by = if no_trunc {
                created_by
            } else {
                ellipsis(&created_by, 45)
            };
            let size = h["Size"].as_f64().unwrap_or(0.0);
            let rfc = chrono::DateTime::from_timestamp(created, 0)
                .map(|t| {
                    t.with_timezone(&chrono::Local)
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                })
                .unwrap_or_default();
            json!({
                "Comment": h["Comment"].as_str().unwrap_or(""),
                "CreatedAt": rfc,
                "CreatedBy": created_by,
                "CreatedSince": if human { ago(created) } else { rfc.clone() },
                "ID": if id == "<missing>" || no_trunc { id.to_string() } else { short(id) },
                "Size": if human { human_size(size) } else { format!("{}", size as i64) },
            })
        })
        .collect();
    let format = if quiet {
        Some("{{.ID}}")
    } else {
        format.as_deref()
    };
    let text = render_rows(
        format,
        "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
        &headers(HISTORY_HEADERS),
        &rows,
        "*formatter.historyContext",
    )
    .map_err(Failure::msg)?;
    print!("{text}");
    Ok(0)
}

pub async fn rmi(
    c: &Client,
    names: Vec<String>,
    force: bool,
    no_prune: bool,
) -> Result<i32, Failure> {
    let mut code = 0;
    for n in names {
        let resp = c
            .send(
                "DELETE",
                &format!(
                    "/images/{}?force={}&noprune={}",
                    q(&n),
                    force as u8,
                    no_prune as u8
                ),
                None,
                "",
            )
            .await;
        match resp {
            Ok(r) => {
                let v: Value = crate::client::read_json(r).await?;
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
    c.tag_image(source, &repo, &tag).await?;
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
    print_messages(resp, "status", true).await
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
    print_messages(resp, "stream", false).await
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
    let mut filters = filters;
    if all {
        filters.push("dangling=false".into());
    }
    let Some(v): Option<ImagePruneResponse> =
        super::prune_post(c, "images", warning, force, || filters_json(&filters)).await?
    else {
        return Ok(0);
    };
    let deleted = v.images_deleted.unwrap_or_default();
    if !deleted.is_empty() {
        println!("Deleted Images:");
        // Each item has one of the two (dockerd leaves the other out).
        for d in deleted {
            if !d.untagged.is_empty() {
                println!("untagged: {}", d.untagged);
            }
            if !d.deleted.is_empty() {
                println!("deleted: {}", d.deleted);
            }
        }
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        human_size(v.space_reclaimed as f64)
    );
    Ok(0)
}

/// Prints the `key` field of each JSON message the daemon streams back
/// (import's `status`, load's `stream`); an `error` message fails.
async fn print_messages(
    resp: hyper::Response<hyper::body::Incoming>,
    key: &str,
    newline: bool,
) -> Result<i32, Failure> {
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
        if let Some(s) = v[key].as_str() {
            if newline {
                println!("{s}");
            } else {
                print!("{s}");
            }
        }
    }
    Ok(0)
}
