//! `network connect` and `network disconnect`.

use serde_json::{json, Map, Value};

use super::attach::endpoint_json;
use super::*;
use crate::client::{q, Client};
use crate::Failure;

/// The body of `network connect` (docker's `EndpointSettings` as the CLI
/// 28 sends it).
pub fn connect_body(a: &ConnectArgs) -> Value {
    let driver_opts: Map<String, Value> = a
        .driver_opt
        .iter()
        .filter_map(|o| o.split_once('='))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), json!(v.trim())))
        .collect();
    let att = Attachment {
        target: a.network.clone(),
        aliases: a.alias.clone(),
        ipv4: a.ip.clone().unwrap_or_default(),
        ipv6: a.ip6.clone().unwrap_or_default(),
        link_local: a.link_local_ip.clone(),
        driver_opts,
        gw_priority: a.gw_priority.unwrap_or(0),
        ..Default::default()
    };
    let mut ep = endpoint_json(&att);
    // `network connect` always sends these three, empty or not.
    for (k, empty) in [
        ("IPAMConfig", json!({})),
        ("Aliases", json!([])),
        ("DriverOpts", json!({})),
    ] {
        if ep[k].is_null() {
            ep[k] = empty;
        }
    }
    if !a.link.is_empty() {
        ep["Links"] = json!(a.link);
    }
    json!({"Container": a.container, "EndpointConfig": ep})
}

pub async fn connect(c: &Client, a: ConnectArgs) -> Result<i32, Failure> {
    c.post_json(
        &format!("/networks/{}/connect", q(&a.network)),
        &connect_body(&a),
    )
    .await?;
    Ok(0)
}

pub async fn disconnect(c: &Client, a: DisconnectArgs) -> Result<i32, Failure> {
    c.post_json(
        &format!("/networks/{}/disconnect", q(&a.network)),
        &json!({"Container": a.container, "Force": a.force}),
    )
    .await?;
    Ok(0)
}
