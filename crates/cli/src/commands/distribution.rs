//! `pull`, `push`, `login`, `logout`: credentials from config.json sent as
//! `X-Registry-Auth`, and the daemon's JSON progress drawn as the docker
//! CLI does (bars on a terminal, plain status lines otherwise).

use std::collections::HashMap;
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;

use http_body_util::BodyExt;
use serde_json::Value;

use crate::client::{q, Client};
use crate::credentials::{self, Creds};
use crate::Failure;

pub(crate) fn config_dir() -> PathBuf {
    crate::config::CONFIG_DIR
        .get()
        .cloned()
        .unwrap_or_else(|| crate::config::dir(None, &crate::context::process_env))
}

fn auth_for(domain: &str) -> String {
    let key = credentials::server_key(domain);
    let creds = credentials::get(&config_dir(), &key).ok().flatten();
    credentials::registry_auth_header(creds.as_ref(), &key)
}

/// Draws a JSON message stream; returns the first error.
async fn display(resp: hyper::Response<hyper::body::Incoming>, quiet: bool) -> Result<(), Failure> {
    let tty = std::io::stdout().is_terminal() && !quiet;
    let mut body = resp.into_body();
    let mut buf: Vec<u8> = Vec::new();
    // On a terminal: one line per id, redrawn in place.
    let mut lines: HashMap<String, usize> = HashMap::new();
    let mut count = 0usize;
    let mut out = std::io::stdout();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Failure::msg(e.to_string()))?;
        let Some(data) = frame.data_ref() else {
            continue;
        };
        buf.extend_from_slice(data);
        while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=nl).collect();
            let Ok(v) = serde_json::from_slice::<Value>(&line) else {
                continue;
            };
            if let Some(e) = v["error"].as_str() {
                return Err(Failure::msg(e.to_string()));
            }
            if quiet {
                continue;
            }
            let status = v["status"].as_str().unwrap_or("");
            if status.is_empty() {
                continue;
            }
            let progress = v["progress"].as_str().unwrap_or("");
            let id = v["id"].as_str().unwrap_or("");
            let text = if id.is_empty() {
                status.to_string()
            } else if progress.is_empty() {
                format!("{id}: {status}")
            } else {
                format!("{id}: {status} {progress}")
            };
            if !tty {
                // The docker CLI hides progress updates off a terminal.
                if progress.is_empty() {
                    let _ = writeln!(out, "{text}");
                }
                continue;
            }
            match (id.is_empty(), lines.get(id)) {
                (false, Some(&row)) => {
                    let up = count - row;
                    let _ = write!(out, "\x1b[{up}A\r\x1b[2K{text}\r\x1b[{up}B");
                }
                _ => {
                    if !id.is_empty() {
                        lines.insert(id.to_string(), count);
                    }
                    let _ = writeln!(out, "{text}");
                    count += 1;
                }
            }
            let _ = out.flush();
        }
    }
    Ok(())
}

pub async fn pull(
    c: &Client,
    name: &str,
    all_tags: bool,
    quiet: bool,
    platform: Option<String>,
) -> Result<i32, Failure> {
    let mut r = berth_api::Reference::parse(name).map_err(|e| Failure::msg(e.message))?;
    if all_tags && (r.tag.is_some() || r.digest.is_some()) {
        return Err(Failure::msg("tag can't be used with --all-tags/-a"));
    }
    if !all_tags && r.tag.is_none() && r.digest.is_none() {
        if !quiet {
            println!("Using default tag: latest");
        }
        r = r.with_tag("latest");
    }
    let mut path = format!("/images/create?fromImage={}", q(&r.familiar_name()));
    match (&r.digest, &r.tag) {
        (Some(d), _) => path.push_str(&format!("&tag={}", q(d))),
        (None, Some(t)) => path.push_str(&format!("&tag={}", q(t))),
        _ => {}
    }
    if let Some(p) = platform.filter(|p| !p.is_empty()) {
        path.push_str(&format!("&platform={}", q(&p)));
    }
    let resp = c
        .send_with(
            "POST",
            &path,
            None,
            "",
            &[("X-Registry-Auth", auth_for(&r.domain))],
        )
        .await?;
    display(resp, quiet).await?;
    if quiet || !all_tags {
        println!("{}", r.familiar_string());
    }
    Ok(0)
}

pub async fn push(c: &Client, name: &str, all_tags: bool, quiet: bool) -> Result<i32, Failure> {
    let mut r = berth_api::Reference::parse(name).map_err(|e| Failure::msg(e.message))?;
    if all_tags && r.tag.is_some() {
        return Err(Failure::msg("tag can't be used with --all-tags/-a"));
    }
    if !all_tags && r.tag.is_none() {
        if !quiet {
            println!("Using default tag: latest");
        }
        r = r.with_tag("latest");
    }
    let mut path = format!("/images/{}/push", r.familiar_name());
    if let Some(t) = &r.tag {
        path.push_str(&format!("?tag={}", q(t)));
    }
    let resp = c
        .send_with(
            "POST",
            &path,
            None,
            "",
            &[("X-Registry-Auth", auth_for(&r.domain))],
        )
        .await?;
    display(resp, quiet).await?;
    if quiet {
        println!("{}", r.familiar_string());
    }
    Ok(0)
}

fn prompt(label: &str) -> Result<String, Failure> {
    print!("{label}");
    let _ = std::io::stdout().flush();
    let mut s = String::new();
    std::io::stdin()
        .read_line(&mut s)
        .map_err(|e| Failure::msg(e.to_string()))?;
    Ok(s.trim_end_matches(['\r', '\n']).to_string())
}

pub async fn login(
    c: &Client,
    server: Option<String>,
    username: Option<String>,
    password: Option<String>,
    password_stdin: bool,
) -> Result<i32, Failure> {
    let server = server.unwrap_or_else(|| credentials::INDEX_SERVER.to_string());
    let key = credentials::server_key(&server);
    let dir = config_dir();
    let mut password = password;
    if password_stdin {
        if password.is_some() {
            return Err(Failure::msg(
                "--password and --password-stdin are mutually exclusive",
            ));
        }
        if username.is_none() {
            return Err(Failure::msg(
                "Must provide --username with --password-stdin",
            ));
        }
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| Failure::msg(e.to_string()))?;
        password = Some(s.trim_end_matches(['\r', '\n']).to_string());
    } else if password.is_some() {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
    }
    let stored = credentials::get(&dir, &key).ok().flatten();
    let username = match username {
        Some(u) => u,
        None => match &stored {
            Some(s) if password.is_none() => s.username.clone(),
            _ => prompt("Username: ")?,
        },
    };
    let password = match password {
        Some(p) => p,
        None => match &stored {
            Some(s) if s.username == username => s.password.clone(),
            _ => {
                let p = prompt("Password: ")?;
                if p.is_empty() {
                    return Err(Failure::msg("Error: Password Required"));
                }
                p
            }
        },
    };
    if username.is_empty() {
        return Err(Failure::msg("Error: Non-null Username Required"));
    }
    let auth = berth_api::model::AuthConfig {
        username: username.clone(),
        password: password.clone(),
        email: String::new(),
        serveraddress: key.clone(),
    };
    let answer = c.auth(&auth).await?;
    let creds = Creds { username, password };
    let helper = credentials::store(&dir, &key, &creds).map_err(Failure::msg)?;
    if !helper {
        eprintln!(
            "\nWARNING! Your credentials are stored unencrypted in '{}'.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n",
            dir.join(crate::config::CONFIG_FILE).display()
        );
    }
    // A daemon that words no status gets docker's.
    let status = Some(answer.status).filter(|s| !s.is_empty());
    println!("{}", status.as_deref().unwrap_or("Login Succeeded"));
    Ok(0)
}

pub async fn logout(server: Option<String>) -> Result<i32, Failure> {
    let server = server.unwrap_or_else(|| credentials::INDEX_SERVER.to_string());
    let key = credentials::server_key(&server);
    let dir = config_dir();
    match credentials::erase(&dir, &key) {
        Ok(true) => println!("Removing login credentials for {key}"),
        Ok(false) => println!("Not logged in to {key}"),
        Err(e) => return Err(Failure::msg(e)),
    }
    Ok(0)
}

pub const SEARCH_HEADERS: &[(&str, &str)] = &[
    ("Name", "NAME"),
    ("Description", "DESCRIPTION"),
    ("StarCount", "STARS"),
    ("IsOfficial", "OFFICIAL"),
    ("IsAutomated", "AUTOMATED"),
];

/// `search TERM`: the daemon asks the registry the term names (Docker
/// Hub's index, or `REGISTRY/term`); docker's table and `--format`.
pub async fn search(
    c: &Client,
    term: &str,
    limit: Option<i64>,
    filters: &[String],
    format: Option<String>,
    no_trunc: bool,
) -> Result<i32, Failure> {
    let mut path = format!("/images/search?term={}", q(term));
    if let Some(n) = limit.filter(|n| *n > 0) {
        path.push_str(&format!("&limit={n}"));
    }
    if !filters.is_empty() {
        path.push_str(&format!(
            "&filters={}",
            q(&super::container::filters_json(filters)?)
        ));
    }
    // The registry the term names, as the daemon splits it (a first
    // part with a dot, a port or `localhost`), for its credentials.
    let domain = match term.split_once('/') {
        Some((h, _)) if h.contains('.') || h.contains(':') || h == "localhost" => h,
        _ => "docker.io",
    };
    let resp = c
        .send_with(
            "GET",
            &path,
            None,
            "",
            &[("X-Registry-Auth", auth_for(domain))],
        )
        .await?;
    let list: Value = crate::client::read_json(resp).await?;
    let ok = |b: bool| if b { "[OK]" } else { "" };
    let rows: Vec<Value> = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let desc = r["description"]
                .as_str()
                .unwrap_or("")
                .replace(['\n', '\r'], " ");
            serde_json::json!({
                "Name": r["name"].as_str().unwrap_or(""),
                "Description": if no_trunc { desc } else { super::container::ellipsis(&desc, 45) },
                "StarCount": r["star_count"].as_i64().unwrap_or(0).to_string(),
                "IsOfficial": ok(r["is_official"].as_bool().unwrap_or(false)),
                "IsAutomated": ok(r["is_automated"].as_bool().unwrap_or(false)),
            })
        })
        .collect();
    let text = crate::format::render_rows(
        format.as_deref(),
        "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}",
        &super::container::headers(SEARCH_HEADERS),
        &rows,
        "*registry.searchContext",
    )
    .map_err(Failure::msg)?;
    print!("{text}");
    Ok(0)
}
