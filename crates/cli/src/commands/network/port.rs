//! `port`: a container's published ports.

use serde_json::Value;

use super::ls::natural_sort;
use super::PortArgs;
use crate::client::Client;
use crate::Failure;

/// Go's `net.JoinHostPort`: an IPv6 host is bracketed.
pub(super) fn join_host_port(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The lines `port` prints for a container's `NetworkSettings.Ports`.
pub fn port_lines(
    ports: &Value,
    want: Option<&str>,
    container: &str,
) -> Result<Vec<String>, Failure> {
    let mut out = Vec::new();
    let frontends = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .map(|f| {
                join_host_port(
                    f["HostIp"].as_str().unwrap_or(""),
                    f["HostPort"].as_str().unwrap_or(""),
                )
            })
            .collect()
    };
    match want {
        Some(spec) => {
            let (port, proto) = spec.split_once('/').unwrap_or((spec, ""));
            let proto = if proto.is_empty() { "tcp" } else { proto };
            if port.parse::<u16>().is_err() {
                let why = if port.bytes().all(|b| b.is_ascii_digit()) && !port.is_empty() {
                    "value out of range"
                } else {
                    "invalid syntax"
                };
                return Err(Failure::msg(format!(
                    "Error: invalid port ({port}): strconv.ParseUint: parsing \"{port}\": {why}"
                )));
            }
            match ports.get(format!("{port}/{proto}")) {
                Some(v) if !v.is_null() => out.extend(frontends(v)),
                _ => {
                    return Err(Failure::msg(format!(
                        "Error: No public port '{spec}' published for {container}"
                    )))
                }
            }
        }
        None => {
            for (from, v) in ports.as_object().into_iter().flatten() {
                for f in frontends(v) {
                    out.push(format!("{from} -> {f}"));
                }
            }
        }
    }
    natural_sort(&mut out);
    Ok(out)
}

pub async fn port(c: &Client, a: PortArgs) -> Result<i32, Failure> {
    let info = c.inspect_container_json(&a.container).await?;
    let lines = port_lines(
        &info["NetworkSettings"]["Ports"],
        a.port.as_deref(),
        &a.container,
    )?;
    if !lines.is_empty() {
        println!("{}", lines.join("\n"));
    }
    Ok(0)
}
