//! `network connect` and `network disconnect`.

use berth_api::model::NetworkDisconnectRequest;
use berth_api::network::{EndpointIpamConfig, EndpointSettings};
use indexmap::IndexMap;

use super::attach::endpoint;
use super::{Attachment, ConnectArgs, DisconnectArgs};
use crate::client::Client;
use crate::Failure;

/// The body of `network connect`: the container and docker's
/// `EndpointSettings` as the CLI 28 sends it.
#[derive(Debug, serde::Serialize)]
pub struct ConnectBody {
    #[serde(rename = "Container")]
    pub container: String,
    #[serde(rename = "EndpointConfig")]
    pub endpoint_config: EndpointSettings,
}

/// The body of `network connect`. Not the generated
/// `NetworkConnectRequest`: its `EndpointSettings` has no `null`
/// `IPAMConfig` and no omitted address fields, so it encodes differently
/// from the docker CLI.
pub fn connect_body(a: &ConnectArgs) -> ConnectBody {
    let driver_opts: IndexMap<String, String> = a
        .driver_opt
        .iter()
        .filter_map(|o| o.split_once('='))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
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
    let mut ep = endpoint(&att);
    // `network connect` always sends these three, empty or not.
    ep.ipam_config
        .get_or_insert_with(EndpointIpamConfig::default);
    ep.aliases.get_or_insert_with(Vec::new);
    ep.driver_opts.get_or_insert_with(IndexMap::new);
    if !a.link.is_empty() {
        ep.links = Some(a.link.clone());
    }
    ConnectBody {
        container: a.container.clone(),
        endpoint_config: ep,
    }
}

pub async fn connect(c: &Client, a: ConnectArgs) -> Result<i32, Failure> {
    c.connect_network(&a.network, &connect_body(&a)).await?;
    Ok(0)
}

pub async fn disconnect(c: &Client, a: DisconnectArgs) -> Result<i32, Failure> {
    let body = NetworkDisconnectRequest {
        container: a.container,
        force: a.force,
    };
    c.disconnect_network(&a.network, &body).await?;
    Ok(0)
}
