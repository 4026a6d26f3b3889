//! `/_ping`, `/version`, `/info`, `/events`, `/system/df`.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{Method, Response, StatusCode};
use berth_api::types::EventMessage;
use berth_api::version::API_VERSION;
use berth_engine::{parse_time, Filters};
use bytes::Bytes;

use super::swarm::SwarmState;
use super::{blocking, json_response, stream_body, ApiResult, AppState};
use crate::params::Params;

pub async fn ping(State(swarm): State<SwarmState>, method: Method) -> Response<Body> {
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        Body::from("OK")
    };
    Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "text/plain; charset=utf-8")
        .header("Cache-Control", "no-cache, no-store, must-revalidate")
        .header("Pragma", "no-cache")
        .header("Api-Version", API_VERSION)
        // The classic builder: berth does not speak BuildKit's session protocol.
        .header("Builder-Version", "1")
        .header("Swarm", swarm.ping_state())
        .body(body)
        .unwrap_or_default()
}

pub async fn version(State(engine): State<AppState>) -> Response<Body> {
    json_response(StatusCode::OK, &engine.system().version())
}

pub async fn info(
    State(engine): State<AppState>,
    State(swarm): State<SwarmState>,
) -> ApiResult<Response<Body>> {
    let mut info = engine.system().info()?;
    info.swarm = swarm.info().await;
    Ok(json_response(StatusCode::OK, &info))
}

pub async fn df(State(engine): State<AppState>) -> ApiResult<Response<Body>> {
    let engine2 = engine.clone();
    let v = blocking(move || engine2.system().disk_usage()).await?;
    Ok(json_response(StatusCode::OK, &v))
}

/// Streams events as JSON lines: first the kept ones since `since`, then
/// live ones until `until` (or forever). Headers go out before any event.
pub async fn events(
    State(engine): State<AppState>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response<Body>> {
    let p = Params::from_query(q.as_deref());
    let filters = Filters::parse(p.get("filters"))?;
    filters.validate(&[
        "container",
        "event",
        "image",
        "label",
        "type",
        "volume",
        "network",
        "daemon",
        "plugin",
        "node",
        "service",
        "secret",
        "config",
        "scope",
    ])?;
    let parse = |k: &str| -> Result<Option<f64>, berth_api::Error> {
        match p.get(k).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(v) => v
                .parse::<f64>()
                .ok()
                .or_else(|| parse_time(v).map(|t| t as f64))
                .map(Some)
                .ok_or_else(|| berth_api::Error::invalid(format!("invalid {k}: {v}"))),
        }
    };
    let since = parse("since")?;
    let until = parse("until")?;
    let since_nanos = since.map(|s| (s * 1e9) as i64).unwrap_or(i64::MAX);
    let (past, mut live) = engine.system().events(since_nanos);
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    let until_nanos = until.map(|u| (u * 1e9) as i64);
    tokio::spawn(async move {
        let send = |ev: &EventMessage| {
            let mut line = serde_json::to_vec(ev).unwrap_or_default();
            line.push(b'\n');
            Bytes::from(line)
        };
        for ev in past {
            if until_nanos.is_some_and(|u| ev.time_nano > u) {
                break;
            }
            if matches(&filters, &ev) && tx.send(send(&ev)).await.is_err() {
                return;
            }
        }
        loop {
            let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
            let wait = match until_nanos {
                Some(u) if u <= now => return,
                Some(u) => Duration::from_nanos((u - now) as u64),
                None => Duration::from_secs(3600),
            };
            match tokio::time::timeout(wait, live.recv()).await {
                Ok(Ok(ev)) => {
                    if matches(&filters, &ev) && tx.send(send(&ev)).await.is_err() {
                        return;
                    }
                }
                Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => continue,
                Ok(Err(_)) => return,
                Err(_) if until_nanos.is_some() => return,
                Err(_) => {
                    if tx.is_closed() {
                        return;
                    }
                }
            }
        }
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(stream_body(rx))
        .unwrap_or_default())
}

fn matches(f: &Filters, ev: &EventMessage) -> bool {
    let any = |key: &str, ok: &dyn Fn(&str) -> bool| {
        let v = f.get(key);
        v.is_empty() || v.iter().any(|x| ok(x))
    };
    let name = ev.actor.attributes.get("name").cloned().unwrap_or_default();
    let image = ev
        .actor
        .attributes
        .get("image")
        .cloned()
        .unwrap_or_default();
    any("type", &|t| t == ev.r#type)
        && any("event", &|a| {
            a == ev.action || ev.action.starts_with(&format!("{a}:"))
        })
        && (f.get("container").is_empty() || ev.r#type == "container")
        && any("container", &|c| ev.actor.id.starts_with(c) || name == c)
        && any("image", &|i| {
            image == i || ev.actor.id.starts_with(i) || name == i
        })
        && f.get("label").iter().all(|l| match l.split_once('=') {
            Some((k, v)) => ev.actor.attributes.get(k).is_some_and(|x| x == v),
            None => ev.actor.attributes.contains_key(l.as_str()),
        })
}
