//! The networks service: networks as engine objects, the predefined `bridge`, `host` and `none`,
//! user-defined bridge and macvlan networks, and each container's endpoints
//! on them. The records live in the state store; what the kernel holds
//! (bridges, veths, rules) is built by `berth-network` from them, at the
//! container's start, and rebuilt from them when the daemon starts. The
//! embedded DNS server's wiring (`dns.rs`) is here too: its tables follow
//! the networks' endpoints.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use berth_api::{Error, Result};
use berth_network::{ipam, AddressPool, Firewall, NetSpec, Netlink, NetworkDriver, PortAllocator};
use indexmap::IndexMap;
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use crate::containers::container::Status;
use crate::new_id;

mod connect;
mod create;
mod dns;
mod endpoints;
mod files;
mod init;
mod ports;
mod share;
mod views;

pub(crate) use endpoints::check_mac;
pub(crate) use ports::{exposed_ports, validate_port_bindings};

service! {
    /// `engine.networks()`: networks and containers' endpoints on them.
    Networks
}

/// Networking settings from flags and `daemon.json`.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// The default bridge's interface (`--bridge`, default `berth0`).
    pub bridge: String,
    /// `--bip`: the default bridge's address and prefix.
    pub bip: Option<Ipv4Net>,
    /// `default-address-pools`, as subnets in order.
    pub pools: Vec<Ipv4Net>,
    pub mtu: Option<u32>,
    /// `--iptables`: write the nftables table.
    pub iptables: bool,
    pub ip_forward: bool,
    pub ip_masq: bool,
    /// `--dns`, `--dns-search`, `--dns-opt`: defaults for every container.
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            bridge: "berth0".into(),
            bip: None,
            pools: ipam::default_pools(),
            mtu: None,
            iptables: true,
            ip_forward: true,
            ip_masq: true,
            dns: vec![],
            dns_search: vec![],
            dns_options: vec![],
        }
    }
}

/// A network as the store keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NetworkRecord {
    pub id: String,
    pub name: String,
    /// `bridge`, `host`, `null` or `macvlan`.
    pub driver: String,
    pub created: String,
    pub internal: bool,
    pub attachable: bool,
    /// The subnet, gateway and range the user gave (or IPAM chose).
    pub subnet: Option<Ipv4Net>,
    pub gateway: Option<Ipv4Addr>,
    pub ip_range: Option<Ipv4Net>,
    /// The subnet was given by the user (`--ip` is allowed only then).
    pub user_subnet: bool,
    /// Whether the `IPAM.Config` entry named a gateway (inspect shows only what was set).
    pub user_gateway: bool,
    pub options: IndexMap<String, String>,
    pub labels: IndexMap<String, String>,
    /// Bridge: its interface; macvlan: the parent interface.
    pub iface: String,
    pub predefined: bool,
}

/// A container's attachment to one network: what the user asked for, and
/// (while it runs) what it got.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Endpoint {
    pub network_id: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    /// `--ip`.
    #[serde(default)]
    pub ipv4_request: String,
    #[serde(default)]
    pub links: Vec<String>,
    #[serde(default)]
    pub driver_opts: Option<IndexMap<String, String>>,
    /// `--mac-address`.
    #[serde(default)]
    pub mac_request: String,
    // Set while running:
    #[serde(default)]
    pub endpoint_id: String,
    #[serde(default)]
    pub ip: String,
    #[serde(default)]
    pub prefix: u8,
    #[serde(default)]
    pub gateway: String,
    #[serde(default)]
    pub mac: String,
    #[serde(default)]
    pub host_ifname: String,
}

/// A published port while the container runs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Published {
    /// `80/tcp`
    pub port: String,
    pub host_ip: String,
    pub host_port: u16,
}

#[derive(Default)]
struct NetState {
    nets: IndexMap<String, NetworkRecord>,
    pools: HashMap<String, AddressPool>,
    ports: PortAllocator,
}

pub struct Networking {
    pub config: NetConfig,
    /// Shared with the blocking tasks that run `nft`.
    firewall: Arc<Firewall>,
    /// Held from reading the state to applying it, so a stale rule set can
    /// never be applied after a newer one.
    rules_lock: tokio::sync::Mutex<()>,
    state: Mutex<NetState>,
    host_nl: tokio::sync::OnceCell<Netlink>,
    pub(crate) dns: dns::DnsState,
    /// The network drivers (`bridge`, `macvlan`); `host` and `null`
    /// networks have none.
    drivers: Vec<Box<dyn NetworkDriver>>,
}

impl Networking {
    pub fn new(config: NetConfig, data_root: &Path) -> Networking {
        let table = share::table_name(&config.bridge, data_root);
        Networking {
            drivers: berth_network::driver::drivers(config.mtu),
            firewall: Arc::new(Firewall::new(&table, config.iptables)),
            rules_lock: tokio::sync::Mutex::new(()),
            config,
            state: Mutex::new(NetState::default()),
            host_nl: tokio::sync::OnceCell::new(),
            dns: Default::default(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, NetState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The driver of networks of kind `name`.
    fn driver(&self, name: &str) -> Option<&dyn NetworkDriver> {
        self.drivers
            .iter()
            .find(|d| d.name() == name)
            .map(|d| d.as_ref())
    }

    async fn host(&self) -> Result<&Netlink> {
        self.host_nl
            .get_or_try_init(|| async { Netlink::host() })
            .await
    }

    /// The network named by id, name or unique id prefix, as dockerd looks
    /// them up.
    pub fn find(&self, key: &str) -> Result<NetworkRecord> {
        find_in(&self.state().nets, key)
    }
}

/// What a driver needs to know of a network.
fn spec(n: &NetworkRecord) -> NetSpec {
    NetSpec {
        id: n.id.clone(),
        iface: n.iface.clone(),
        subnet: n.subnet,
        gateway: n.gateway,
    }
}

fn find_in(nets: &IndexMap<String, NetworkRecord>, key: &str) -> Result<NetworkRecord> {
    // The docker CLI names the default network `default`.
    let key = if key == "default" { "bridge" } else { key };
    if let Some(n) = nets.get(key) {
        return Ok(n.clone());
    }
    if let Some(n) = nets.values().find(|n| n.name == key) {
        return Ok(n.clone());
    }
    let m: Vec<_> = nets
        .values()
        .filter(|n| !key.is_empty() && n.id.starts_with(key))
        .collect();
    match m.len() {
        1 => Ok(m[0].clone()),
        0 => Err(Error::not_found(format!("network {key} not found"))),
        _ => Err(Error::not_found(format!(
            "network {key} is ambiguous ({} matches found based on ID prefix)",
            m.len()
        ))),
    }
}

fn net_id() -> String {
    new_id()
}

impl Networks<'_> {
    /// Every network record.
    pub(crate) fn net_records(&self) -> Vec<NetworkRecord> {
        self.net.state().nets.values().cloned().collect()
    }

    /// Running containers attached to a network: (id, name, endpoint).
    pub(super) fn users(&self, net_id: &str) -> Vec<(String, String, Endpoint)> {
        self.all()
            .iter()
            .filter_map(|h| {
                let r = h.snapshot();
                if r.state.status != Status::Running {
                    return None;
                }
                r.endpoints
                    .values()
                    .find(|e| e.network_id == net_id)
                    .map(|e| (r.id.clone(), crate::record_name(&r), e.clone()))
            })
            .collect()
    }
}

impl Networks<'_> {
    /// A `network` event with dockerd's attributes.
    pub(super) fn event(&self, action: &str, n: &NetworkRecord, container: Option<&str>) {
        let mut attrs = IndexMap::new();
        if let Some(c) = container {
            attrs.insert("container".to_string(), c.to_string());
        }
        attrs.insert("name".to_string(), n.name.clone());
        attrs.insert("type".to_string(), n.driver.clone());
        self.events.publish("network", action, &n.id, attrs);
    }
}

fn pool_for(n: &NetworkRecord) -> Option<AddressPool> {
    let s = n.subnet?;
    Some(AddressPool::new(
        s,
        n.ip_range,
        n.gateway.unwrap_or_else(|| ipam::first_host(&s)),
    ))
}

fn labels_match(labels: &IndexMap<String, String>, wanted: &[String]) -> bool {
    wanted.iter().all(|w| match w.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(w.as_str()),
    })
}
