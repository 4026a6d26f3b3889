//! `berth diff`, `berth export`, `berth commit`.

use berth_api::model::IdResponse;
use std::io::{IsTerminal, Write};

use http_body_util::BodyExt;

use crate::client::{q, Client};
use crate::Failure;

/// `docker diff`: `A /path`, `C /path`, `D /path`, in the daemon's order.
pub async fn diff(c: &Client, container: &str) -> Result<i32, Failure> {
    let v = c
        .get_json(&format!("/containers/{}/changes", q(container)))
        .await?;
    for ch in v.as_array().cloned().unwrap_or_default() {
        let kind = match ch["Kind"].as_u64() {
            Some(0) => "C",
            Some(1) => "A",
            Some(2) => "D",
            _ => "?",
        };
        println!("{kind} {}", ch["Path"].as_str().unwrap_or(""));
    }
    Ok(0)
}

/// `docker export [-o FILE] CONTAINER`.
pub async fn export(c: &Client, container: &str, output: Option<String>) -> Result<i32, Failure> {
    if output.is_none() && std::io::stdout().is_terminal() {
        return Err(Failure::msg(
            "cowardly refusing to save to a terminal. Use the -o flag or redirect",
        ));
    }
    let resp = c
        .send(
            "GET",
            &format!("/containers/{}/export", q(container)),
            None,
            "",
        )
        .await?;
    let mut out: Box<dyn Write> = match &output {
        Some(f) => Box::new(
            std::fs::File::create(f)
                .map_err(|e| Failure::msg(format!("failed to export container: {e}")))?,
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

/// `docker commit [-a] [-m] [-c]... [-p=false] CONTAINER [REPO[:TAG]]`.
pub async fn commit(
    c: &Client,
    container: &str,
    reference: Option<String>,
    author: Option<String>,
    message: Option<String>,
    changes: Vec<String>,
    pause: bool,
) -> Result<i32, Failure> {
    let mut path = format!("/commit?container={}&pause={pause}", q(container));
    if let Some(r) = reference {
        let parsed = berth_api::Reference::parse(&r).map_err(|e| Failure::msg(e.message))?;
        path.push_str(&format!("&repo={}", q(&parsed.familiar_name())));
        if let Some(t) = parsed.tag {
            path.push_str(&format!("&tag={}", q(&t)));
        }
    }
    if let Some(a) = author {
        path.push_str(&format!("&author={}", q(&a)));
    }
    if let Some(m) = message {
        path.push_str(&format!("&comment={}", q(&m)));
    }
    for ch in changes {
        path.push_str(&format!("&changes={}", q(&ch)));
    }
    let created: IdResponse = c.post(&path, &()).await?;
    println!("{}", created.id);
    Ok(0)
}
