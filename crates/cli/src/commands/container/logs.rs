//! `logs`.

use std::io::Write;

use http_body_util::BodyExt;

use crate::client::{q, Client, Demux};
use crate::Failure;

pub struct LogsOpts {
    pub follow: bool,
    pub tail: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub timestamps: bool,
    pub details: bool,
}

pub async fn logs(c: &Client, id: &str, o: LogsOpts) -> Result<i32, Failure> {
    let info = c.inspect_container_json(id).await?;
    let tty = info["Config"]["Tty"].as_bool().unwrap_or(false);
    let mut path = format!(
        "/containers/{}/logs?stdout=1&stderr=1&follow={}&timestamps={}&details={}",
        q(id),
        o.follow as u8,
        o.timestamps as u8,
        o.details as u8
    );
    if let Some(t) = &o.tail {
        path.push_str(&format!("&tail={}", q(t)));
    }
    for (k, v) in [("since", &o.since), ("until", &o.until)] {
        if let Some(v) = v {
            let t = crate::commands::system::timestamp(v).map_err(Failure::msg)?;
            path.push_str(&format!("&{k}={t}"));
        }
    }
    let resp = c.send("GET", &path, None, "").await?;
    let mut body = resp.into_body();
    let mut demux = Demux::default();
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { break };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if tty {
            let _ = out.write_all(&data);
            let _ = out.flush();
            continue;
        }
        for (stream, d) in demux.push(&data) {
            if stream == 2 {
                let _ = err.write_all(&d);
                let _ = err.flush();
            } else {
                let _ = out.write_all(&d);
            }
        }
        let _ = out.flush();
    }
    Ok(0)
}
