//! Networks as engine objects: the predefined `bridge`, `host` and `none`,
//! user-defined bridge and macvlan networks, and each container's endpoints
//! on them. The records live in the state store; what the kernel holds
//! (bridges, veths, rules) is built by `berth-network` from them, at the
//! container's start, and rebuilt from them when the daemon starts.

use std::collections::HashMap;
use std::fs::File;
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use berth_api::{Error, ErrorKind, Result};
use berth_network::{
    ipam, AddressPool, BridgeRules, Firewall, Netlink, PortAllocator, PortRule, Proto,
};
use indexmap::IndexMap;
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::container::{now_rfc3339, Handle, Record, Status};
use crate::lifecycle::Filters;
use crate::{new_id, Engine};

mod share;

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
    pub(crate) dns: crate::netdns::DnsState,
    /// This daemon's holds on the bridges it brought up, by interface.
    shares: Mutex<HashMap<String, share::BridgeHold>>,
}

impl Networking {
    pub fn new(config: NetConfig, data_root: &Path) -> Networking {
        let table = share::table_name(&config.bridge, data_root);
        Networking {
            shares: Mutex::new(HashMap::new()),
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

    fn shares(&self) -> std::sync::MutexGuard<'_, HashMap<String, share::BridgeHold>> {
        self.shares.lock().unwrap_or_else(|e| e.into_inner())
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

/// The `POST /networks/create` body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateNetwork {
    pub name: String,
    #[serde(default)]
    pub driver: String,
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub attachable: bool,
    #[serde(default)]
    pub ingress: bool,
    #[serde(default, rename = "EnableIPv6")]
    pub enable_ipv6: Option<bool>,
    #[serde(default, rename = "IPAM")]
    pub ipam: Option<IpamBody>,
    #[serde(default)]
    pub options: Option<IndexMap<String, String>>,
    #[serde(default)]
    pub labels: Option<IndexMap<String, String>>,
    #[serde(default)]
    pub check_duplicate: Option<bool>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub config_only: Option<bool>,
    #[serde(default)]
    pub config_from: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpamBody {
    #[serde(default)]
    pub driver: Option<String>,
    #[serde(default)]
    pub config: Option<Vec<IpamConfigBody>>,
    #[serde(default)]
    pub options: Option<IndexMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct IpamConfigBody {
    #[serde(default, rename = "Subnet")]
    pub subnet: Option<String>,
    #[serde(default, rename = "IPRange")]
    pub ip_range: Option<String>,
    #[serde(default, rename = "Gateway")]
    pub gateway: Option<String>,
    #[serde(default, rename = "AuxiliaryAddresses")]
    pub aux: Option<IndexMap<String, String>>,
}

impl Engine {
    /// Loads the networks, makes the predefined ones, brings their bridges up
    /// and takes back what running containers hold; then writes the rules.
    pub(crate) async fn init_networks(&self) -> Result<()> {
        let cfg = self.net.config.clone();
        if cfg.ip_forward {
            berth_network::link::set_sysctl("net/ipv4/ip_forward", "1");
        }
        let mut nets: IndexMap<String, NetworkRecord> = self
            .db
            .load_networks()?
            .into_iter()
            .map(|n| (n.id.clone(), n))
            .collect();
        // The predefined networks, made once and kept with their ids.
        for (name, driver) in [("bridge", "bridge"), ("host", "host"), ("none", "null")] {
            if nets.values().any(|n| n.name == name) {
                continue;
            }
            let n = NetworkRecord {
                id: net_id(),
                name: name.into(),
                driver: driver.into(),
                created: now_rfc3339(),
                internal: false,
                attachable: false,
                subnet: None,
                gateway: None,
                ip_range: None,
                user_subnet: false,
                user_gateway: false,
                options: IndexMap::new(),
                labels: IndexMap::new(),
                iface: String::new(),
                predefined: true,
            };
            self.db.put_network(&n)?;
            nets.insert(n.id.clone(), n);
        }
        // The default bridge follows the configuration of this start.
        let in_use: Vec<Ipv4Net> = nets
            .values()
            .filter(|n| n.name != "bridge")
            .filter_map(|n| n.subnet)
            .collect();
        let default = nets
            .values_mut()
            .find(|n| n.name == "bridge")
            .expect("made above");
        let (subnet, gateway) = match cfg.bip {
            Some(bip) => (bip.trunc(), bip.addr()),
            None => match default.subnet.filter(|_| default.iface == cfg.bridge) {
                Some(s)
                    if !self.gateway_taken(
                        &cfg.bridge,
                        s,
                        default.gateway.unwrap_or_else(|| ipam::first_host(&s)),
                    ) =>
                {
                    (s, default.gateway.unwrap_or_else(|| ipam::first_host(&s)))
                }
                _ => {
                    let s = ipam::next_subnet(&cfg.pools, &in_use)?;
                    (s, ipam::first_host(&s))
                }
            },
        };
        default.subnet = Some(subnet);
        default.gateway = Some(gateway);
        default.iface = cfg.bridge.clone();
        default.options = [
            (
                "com.docker.network.bridge.default_bridge",
                "true".to_string(),
            ),
            ("com.docker.network.bridge.enable_icc", "true".into()),
            (
                "com.docker.network.bridge.enable_ip_masquerade",
                cfg.ip_masq.to_string(),
            ),
            (
                "com.docker.network.bridge.host_binding_ipv4",
                "0.0.0.0".into(),
            ),
            ("com.docker.network.bridge.name", cfg.bridge.clone()),
            (
                "com.docker.network.driver.mtu",
                cfg.mtu.unwrap_or(1500).to_string(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let default = default.clone();
        self.db.put_network(&default)?;
        for n in nets.values().filter(|n| n.driver == "bridge") {
            self.bridge_up(n).await?;
        }
        {
            let mut st = self.net.state();
            st.pools = nets
                .values()
                .filter_map(|n| Some((n.id.clone(), pool_for(n)?)))
                .collect();
            st.nets = nets;
            // Running containers keep their addresses and ports.
            for h in self.all() {
                let r = h.snapshot();
                if r.state.status != Status::Running {
                    continue;
                }
                for ep in r.endpoints.values() {
                    if let (Some(pool), Ok(ip)) = (st.pools.get_mut(&ep.network_id), ep.ip.parse())
                    {
                        pool.reserve(ip);
                    }
                }
                for p in &r.published {
                    if let (Ok(ip), Some(proto)) = (p.host_ip.parse(), proto_of(&p.port)) {
                        st.ports.reserve(ip, p.host_port, proto);
                    }
                }
            }
        }
        self.apply_rules().await?;
        // Running containers get their resolver back (live restore).
        self.dns_refresh();
        for h in self.all() {
            if h.with(|r| r.state.status == Status::Running) {
                let netns = self.state_dir(&h.id).join("netns");
                if netns.exists() {
                    self.dns_attach(&h, &netns).await;
                }
            }
        }
        Ok(())
    }

    /// Every network record.
    pub(crate) fn net_records(&self) -> Vec<NetworkRecord> {
        self.net.state().nets.values().cloned().collect()
    }

    /// Rewrites the nftables table from the networks and running containers.
    async fn apply_rules(&self) -> Result<()> {
        let _order = self.net.rules_lock.lock().await;
        let nets = {
            let st = self.net.state();
            let nets: Vec<BridgeRules> = st
                .nets
                .values()
                .filter(|n| n.driver == "bridge")
                .filter_map(|n| {
                    Some(BridgeRules {
                        bridge: n.iface.clone(),
                        subnet: n.subnet?,
                        internal: n.internal,
                        masquerade: n
                            .options
                            .get("com.docker.network.bridge.enable_ip_masquerade")
                            .is_none_or(|v| v != "false"),
                    })
                })
                .collect();
            nets
        };
        let mut rules = Vec::new();
        // `published` is set from attach to release, so this also covers a
        // container between its endpoints' setup and its process's start.
        for h in self.all() {
            let r = h.snapshot();
            let Some(cip) = r
                .endpoints
                .values()
                .find_map(|e| e.ip.parse::<Ipv4Addr>().ok())
            else {
                continue;
            };
            for p in &r.published {
                let (Some((port, _)), Some(proto)) = (
                    p.port.split_once('/').or(Some((&p.port, ""))),
                    proto_of(&p.port),
                ) else {
                    continue;
                };
                let Ok(cport) = port.parse::<u16>() else {
                    continue;
                };
                rules.push(PortRule {
                    host_ip: p.host_ip.parse().ok(),
                    host_port: p.host_port,
                    proto,
                    container_ip: cip,
                    container_port: cport,
                });
            }
        }
        // `nft` runs for milliseconds: off the reactor.
        let fw = self.net.firewall.clone();
        tokio::task::spawn_blocking(move || fw.apply(&nets, &rules))
            .await
            .map_err(|e| Error::internal(e.to_string()))?
    }

    /// `POST /networks/create`.
    pub async fn network_create(&self, body: CreateNetwork) -> Result<(String, String)> {
        let name = body.name.trim().to_string();
        if name.is_empty() {
            return Err(Error::invalid("network name cannot be empty"));
        }
        if !crate::container::valid_name(&name) && name.len() >= 2 || name.contains('/') {
            return Err(Error::invalid(format!(
                "invalid network name {name:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        if ["bridge", "host", "none"].contains(&name.as_str()) {
            return Err(Error::new(
                ErrorKind::Forbidden,
                format!("{name} is a pre-defined network and cannot be created"),
            ));
        }
        let driver = if body.driver.is_empty() {
            "bridge".to_string()
        } else {
            body.driver.clone()
        };
        if !["bridge", "macvlan"].contains(&driver.as_str()) {
            return Err(Error::not_found(format!("plugin \"{driver}\" not found")));
        }
        if body.enable_ipv6 == Some(true) {
            return Err(Error::invalid(
                "IPv6 networks are not supported by berth yet",
            ));
        }
        let options = body.options.clone().unwrap_or_default();
        let configs = body.ipam.as_ref().and_then(|i| i.config.as_ref());
        if configs.is_some_and(|c| c.len() > 1) {
            return Err(Error::invalid("berth supports one IPv4 subnet per network"));
        }
        let cfg = configs.and_then(|c| c.first());
        // An empty string is "not given", as the API's Go structs read it.
        let given = |f: fn(&IpamConfigBody) -> Option<&String>| {
            cfg.and_then(f)
                .map(String::as_str)
                .filter(|s| !s.is_empty())
        };
        let cidr = |s: &str, what: &str| {
            ipam::parse_subnet(s).map_err(|_| {
                Error::invalid(format!("invalid {what} {s}: invalid CIDR address: {s}"))
            })
        };
        let subnet = given(|c| c.subnet.as_ref())
            .map(|s| cidr(s, "subnet"))
            .transpose()?;
        let ip_range = given(|c| c.ip_range.as_ref())
            .map(|s| cidr(s, "ip-range"))
            .transpose()?;
        let gateway = given(|c| c.gateway.as_ref())
            .map(|s| {
                ipam::parse_addr(s)
                    .map_err(|_| Error::invalid(format!("invalid gateway address {s}")))
            })
            .transpose()?;
        if subnet.is_none() && (ip_range.is_some() || gateway.is_some()) {
            return Err(Error::invalid("ip-range and gateway need a subnet"));
        }
        if let Some(s) = subnet {
            if let Some(r) = ip_range {
                if !s.contains(&r) {
                    return Err(Error::invalid(format!(
                        "ip-range {r} is not inside subnet {s}"
                    )));
                }
            }
            if let Some(g) = gateway {
                if !s.contains(&g) {
                    return Err(Error::invalid(format!(
                        "gateway address {g} does not belong to the subnet {s}"
                    )));
                }
            }
        }
        let iface;
        let id = net_id();
        if driver == "macvlan" {
            iface = options
                .get("parent")
                .cloned()
                .unwrap_or_else(|| "eth0".into());
            if self.net.host().await?.index_of(&iface).await?.is_none() {
                return Err(Error::invalid(format!(
                    "-o parent interface was not found on the host: {iface}"
                )));
            }
        } else {
            iface = options
                .get("com.docker.network.bridge.name")
                .cloned()
                .unwrap_or_else(|| format!("br-{}", &id[..12]));
            if iface.len() > 15 {
                return Err(Error::invalid(format!(
                    "bridge name {iface:?} is longer than 15 characters"
                )));
            }
        }
        let record = {
            let mut st = self.net.state();
            // Names are unique whatever `CheckDuplicate` says (API 1.44+ ignores it).
            if st.nets.values().any(|n| n.name == name) {
                return Err(Error::conflict(format!(
                    "network with name {name} already exists"
                )));
            }
            if driver == "bridge"
                && st
                    .nets
                    .values()
                    .any(|n| n.driver == "bridge" && n.iface == iface)
            {
                return Err(Error::conflict(format!(
                    "bridge name {iface} is already in use by another network"
                )));
            }
            let in_use: Vec<Ipv4Net> = st
                .nets
                .values()
                .filter(|n| n.driver == "bridge" || n.driver == "macvlan")
                .filter_map(|n| n.subnet)
                .collect();
            let subnet = match subnet {
                Some(s) => {
                    if driver == "bridge" && in_use.iter().any(|u| ipam::overlaps(u, &s)) {
                        return Err(Error::new(
                            ErrorKind::Forbidden,
                            "Pool overlaps with other one on this address space",
                        ));
                    }
                    s.trunc()
                }
                None => ipam::next_subnet(&self.net.config.pools, &in_use)?,
            };
            let n = NetworkRecord {
                id: id.clone(),
                name: name.clone(),
                driver: driver.clone(),
                created: now_rfc3339(),
                internal: body.internal,
                attachable: body.attachable,
                subnet: Some(subnet),
                gateway: Some(gateway.unwrap_or_else(|| ipam::first_host(&subnet))),
                ip_range,
                user_subnet: cfg
                    .and_then(|c| c.subnet.as_deref())
                    .is_some_and(|s| !s.is_empty()),
                user_gateway: gateway.is_some(),
                options,
                labels: body.labels.clone().unwrap_or_default(),
                iface: iface.clone(),
                predefined: false,
            };
            if let Some(p) = pool_for(&n) {
                st.pools.insert(n.id.clone(), p);
            }
            st.nets.insert(n.id.clone(), n.clone());
            n
        };
        let made = async {
            if record.driver == "bridge" {
                self.bridge_up(&record).await?;
                self.apply_rules().await?;
            }
            self.db.put_network(&record)
        }
        .await;
        if let Err(e) = made {
            self.net.state().nets.shift_remove(&record.id);
            self.net.state().pools.remove(&record.id);
            if record.driver == "bridge" {
                let _ = self.bridge_down(&record.iface).await;
                let _ = self.apply_rules().await;
            }
            return Err(e);
        }
        self.network_event("create", &record, None);
        Ok((record.id, String::new()))
    }

    /// Running containers attached to a network: (id, name, endpoint).
    fn network_users(&self, net_id: &str) -> Vec<(String, String, Endpoint)> {
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

    /// The API's view of a network; `containers` for inspect, not for list.
    pub fn network_view(&self, n: &NetworkRecord, containers: bool) -> Value {
        let config = match n.subnet {
            Some(s) => {
                let mut c = serde_json::Map::new();
                c.insert("Subnet".into(), json!(s.to_string()));
                if let Some(r) = n.ip_range {
                    c.insert("IPRange".into(), json!(r.to_string()));
                }
                if n.predefined || n.user_gateway || !n.user_subnet {
                    if let Some(g) = n.gateway {
                        c.insert("Gateway".into(), json!(g.to_string()));
                    }
                }
                json!([c])
            }
            None => json!([]),
        };
        let mut cmap = serde_json::Map::new();
        if containers {
            for (id, name, ep) in self.network_users(&n.id) {
                cmap.insert(
                    id,
                    json!({
                        "Name": name,
                        "EndpointID": ep.endpoint_id,
                        "MacAddress": ep.mac,
                        "IPv4Address": if ep.ip.is_empty() { String::new() } else { format!("{}/{}", ep.ip, ep.prefix) },
                        "IPv6Address": "",
                    }),
                );
            }
        }
        json!({
            "Name": n.name,
            "Id": n.id,
            "Created": n.created,
            "Scope": "local",
            "Driver": n.driver,
            "EnableIPv4": true,
            "EnableIPv6": false,
            "IPAM": {"Driver": "default", "Options": if n.predefined { Value::Null } else { json!({}) }, "Config": config},
            "Internal": n.internal,
            "Attachable": n.attachable,
            "Ingress": false,
            "ConfigFrom": {"Network": ""},
            "ConfigOnly": false,
            "Containers": cmap,
            "Options": n.options,
            "Labels": n.labels,
        })
    }

    /// `GET /networks`.
    pub fn network_list(&self, filters: &Filters) -> Result<Vec<Value>> {
        filters.validate(&["dangling", "driver", "id", "label", "name", "scope", "type"])?;
        let nets: Vec<NetworkRecord> = self.net.state().nets.values().cloned().collect();
        let mut out = Vec::new();
        for n in nets {
            if filters.has("name")
                && !filters
                    .get("name")
                    .iter()
                    .any(|f| n.name.contains(f.as_str()))
            {
                continue;
            }
            if filters.has("id")
                && !filters
                    .get("id")
                    .iter()
                    .any(|f| n.id.starts_with(f.as_str()))
            {
                continue;
            }
            if filters.has("driver") && !filters.get("driver").contains(&n.driver) {
                continue;
            }
            if filters.has("scope") && !filters.get("scope").iter().any(|f| f == "local") {
                continue;
            }
            if filters.has("type") {
                let t = if n.predefined { "builtin" } else { "custom" };
                if !filters.get("type").iter().any(|f| f == t) {
                    continue;
                }
            }
            if filters.has("label") && !labels_match(&n.labels, filters.get("label")) {
                continue;
            }
            if filters.has("dangling") {
                let want = filters
                    .get("dangling")
                    .iter()
                    .any(|f| f == "true" || f == "1");
                let dangling = !n.predefined && self.network_users(&n.id).is_empty();
                if want != dangling {
                    continue;
                }
            }
            out.push(self.network_view(&n, false));
        }
        Ok(out)
    }

    /// `GET /networks/{id}`.
    pub fn network_inspect(&self, key: &str) -> Result<Value> {
        let n = self.net.find(key)?;
        Ok(self.network_view(&n, true))
    }

    /// `DELETE /networks/{id}`.
    pub async fn network_remove(&self, key: &str) -> Result<()> {
        let n = self.net.find(key)?;
        if n.predefined {
            return Err(Error::new(
                ErrorKind::Forbidden,
                format!("{} is a pre-defined network and cannot be removed", n.name),
            ));
        }
        let users = self.network_users(&n.id);
        if !users.is_empty() {
            let list: Vec<String> = users
                .iter()
                .map(|(id, name, _)| format!("name:{name:?} id:{:?}", &id[..12]))
                .collect();
            return Err(Error::conflict(format!(
                "error while removing network: network {} has active endpoints ({})",
                n.name,
                list.join(", ")
            )));
        }
        self.db.delete_network(&n.id)?;
        {
            let mut st = self.net.state();
            st.nets.shift_remove(&n.id);
            st.pools.remove(&n.id);
        }
        self.dns_forget_network(&n.id);
        if n.driver == "bridge" {
            self.bridge_down(&n.iface).await?;
            self.apply_rules().await?;
        }
        self.network_event("destroy", &n, None);
        Ok(())
    }

    /// `POST /networks/prune`: user networks no running container uses.
    pub async fn network_prune(&self, filters: &Filters) -> Result<Vec<String>> {
        filters.validate(&["label", "label!", "until"])?;
        let nets: Vec<NetworkRecord> = self.net.state().nets.values().cloned().collect();
        let mut gone = Vec::new();
        for n in nets {
            if n.predefined || !self.network_users(&n.id).is_empty() {
                continue;
            }
            if filters.has("label") && !labels_match(&n.labels, filters.get("label")) {
                continue;
            }
            if filters.has("label!") && labels_match(&n.labels, filters.get("label!")) {
                continue;
            }
            if self.network_remove(&n.id).await.is_ok() {
                gone.push(n.name.clone());
            }
        }
        Ok(gone)
    }

    /// The endpoints a new container gets from its `NetworkMode` and
    /// `EndpointsConfig`, checked as dockerd checks them at create.
    pub(crate) fn endpoints_for_create(
        &self,
        mode: &str,
        endpoints_config: Option<&IndexMap<String, Value>>,
    ) -> Result<IndexMap<String, Endpoint>> {
        let mut out = IndexMap::new();
        if let Some(other) = mode.strip_prefix("container:") {
            self.lookup(other)?;
            return Ok(out);
        }
        let primary = match mode {
            "" | "default" => "bridge",
            m => m,
        };
        let mut wanted: Vec<(String, Option<&Value>)> = vec![(primary.to_string(), None)];
        if let Some(cfgs) = endpoints_config {
            for (k, v) in cfgs {
                let same = match (self.net.find(k), self.net.find(primary)) {
                    (Ok(n), Ok(p)) => n.id == p.id,
                    _ => k == primary,
                };
                if same {
                    wanted[0].1 = Some(v);
                } else {
                    wanted.push((k.clone(), Some(v)));
                }
            }
        }
        for (key, cfg) in wanted {
            // dockerd takes a network that does not exist and fails at
            // start; berth says so at create, so nothing is made that can
            // never run. A 400, not the lookup's 404: the docker CLI takes
            // any 404 from create for a missing image and pulls (then shows
            // the pull's error instead of this one).
            let n = self.net.find(&key).map_err(|e| match e.kind {
                ErrorKind::NotFound => Error::invalid(e.message),
                _ => e,
            })?;
            if (n.name == "host" || n.name == "none") && out.len() + 1 > 1 && !out.is_empty() {
                return Err(Error::invalid(format!(
                    "container cannot be connected to network endpoints: {}",
                    n.name
                )));
            }
            let ep = endpoint_from(&n, cfg)?;
            out.insert(n.name.clone(), ep);
        }
        Ok(out)
    }

    /// At start, between the shim's create and the process's start: the
    /// interfaces, addresses and routes of every endpoint in the netns, the
    /// published ports and the rules. On error nothing stays allocated.
    pub(crate) async fn attach_endpoints(&self, h: &Arc<Handle>, netns: &Path) -> Result<()> {
        let r = h.snapshot();
        if r.endpoints.is_empty() {
            return Ok(());
        }
        let result = self.attach_inner(h, &r, netns).await;
        if let Err(e) = result {
            self.release_endpoints(h).await;
            return Err(e);
        }
        Ok(())
    }

    async fn attach_inner(&self, h: &Arc<Handle>, r: &Record, netns: &Path) -> Result<()> {
        let mut gateway_done = false;
        let mut idx = 0usize;
        let names: Vec<String> = r.endpoints.keys().cloned().collect();
        for name in names {
            let ep = r.endpoints[&name].clone();
            let known = self.net.state().nets.get(&ep.network_id).cloned();
            let n = match known {
                Some(n) => n,
                // Removed and made again, or named before it existed.
                None => {
                    let n = self.net.find(&name)?;
                    h.with(|rec| {
                        if let Some(e) = rec.endpoints.get_mut(&name) {
                            e.network_id = n.id.clone();
                        }
                    });
                    n
                }
            };
            let ep = Endpoint {
                network_id: n.id.clone(),
                ..ep
            };
            if n.driver != "bridge" && n.driver != "macvlan" {
                continue;
            }
            let ifname = format!("eth{idx}");
            idx += 1;
            let give_gateway = !gateway_done && !n.internal;
            gateway_done |= give_gateway;
            let done = self
                .plug(h, &r.id, &name, &n, &ep, netns, &ifname, give_gateway)
                .await?;
            h.with(|rec| {
                if let Some(e) = rec.endpoints.get_mut(&name) {
                    *e = done;
                }
            });
        }
        // Published ports, on the address of the first network.
        let r = h.snapshot();
        let published = self.publish_ports(&r)?;
        h.with(|rec| rec.published = published);
        self.save(h)?;
        self.write_hosts(&h.snapshot())?;
        // The table depends on networks and published ports only: a start
        // without ports leaves it as it is (an `nft` run costs ~40 ms).
        if !h.with(|r| r.published.is_empty()) {
            self.apply_rules().await?;
        }
        self.dns_refresh();
        self.dns_attach(h, netns).await;
        Ok(())
    }

    /// One interface in the container's netns for network `n`.
    #[allow(clippy::too_many_arguments)]
    async fn plug(
        &self,
        h: &Arc<Handle>,
        cid: &str,
        name: &str,
        n: &NetworkRecord,
        ep: &Endpoint,
        netns: &Path,
        ifname: &str,
        give_gateway: bool,
    ) -> Result<Endpoint> {
        let _ = h;
        let want = if ep.ipv4_request.is_empty() {
            None
        } else {
            Some(ipam::parse_addr(&ep.ipv4_request)?)
        };
        let ip = {
            let mut st = self.net.state();
            let pool = st
                .pools
                .get_mut(&n.id)
                .ok_or_else(|| Error::internal(format!("network {name} has no address pool")))?;
            pool.allocate(want)?
        };
        let subnet = n.subnet.expect("pool implies subnet");
        let mac = match parse_mac(&ep.mac_request) {
            Some(m) => m,
            None => ipam::mac_for(ip),
        };
        let mut out = ep.clone();
        out.ip = ip.to_string();
        out.prefix = subnet.prefix_len();
        out.gateway = n.gateway.map(|g| g.to_string()).unwrap_or_default();
        out.mac = ipam::mac_string(&mac);
        out.endpoint_id = new_id();
        let plugged = async {
            let file = File::open(netns)
                .map_err(|e| Error::internal(format!("opening {}: {e}", netns.display())))?;
            let host = self.net.host().await?;
            if n.driver == "bridge" {
                // A bridge someone deleted under us (an older berthd sharing
                // it, an admin) is made again rather than failing every run
                // with `link NAME not found` until a restart.
                if host.index_of(&n.iface).await?.is_none() {
                    tracing::warn!(bridge = %n.iface, "bridge missing; making it again");
                    self.bridge_up(n).await?;
                }
                let host_if = format!("veth{}", &out.endpoint_id[..7]);
                host.veth_into(&host_if, &n.iface, &file, ifname, mac, self.net.config.mtu)
                    .await?;
                out.host_ifname = host_if;
            } else {
                host.macvlan_into(&n.iface, &file, ifname, mac).await?;
            }
            let inner = Netlink::in_netns(netns).await?;
            let addr = Ipv4Net::new(ip, subnet.prefix_len())
                .map_err(|e| Error::internal(e.to_string()))?;
            inner
                .configure(ifname, addr, if give_gateway { n.gateway } else { None })
                .await
        }
        .await;
        if let Err(e) = plugged {
            if let Some(p) = self.net.state().pools.get_mut(&n.id) {
                p.release(ip);
            }
            if !out.host_ifname.is_empty() {
                if let Ok(host) = self.net.host().await {
                    let _ = host.delete(&out.host_ifname).await;
                }
            }
            return Err(e);
        }
        tracing::debug!(container_id = %cid, network = %name, ip = %ip, "endpoint up");
        self.network_event("connect", n, Some(cid));
        Ok(out)
    }

    /// Host ports for `PortBindings` and, with `-P`, every exposed port.
    fn publish_ports(&self, r: &Record) -> Result<Vec<Published>> {
        let hc = &r.host_config;
        let has_ip = r.endpoints.values().any(|e| !e.ip.is_empty());
        if !has_ip {
            return Ok(vec![]);
        }
        let mut wanted: Vec<(String, String, String)> = Vec::new();
        if let Some(pb) = &hc.port_bindings {
            for (port, bindings) in pb {
                for b in bindings.iter().flatten() {
                    wanted.push((port.clone(), b.host_ip.clone(), b.host_port.clone()));
                }
            }
        }
        if hc.publish_all_ports {
            for port in exposed_ports(r) {
                let bound = hc
                    .port_bindings
                    .as_ref()
                    .and_then(|pb| pb.get(&port))
                    .is_some_and(|b| b.as_ref().is_some_and(|b| !b.is_empty()));
                if !bound {
                    wanted.push((port, String::new(), String::new()));
                }
            }
        }
        let mut out: Vec<Published> = Vec::new();
        let mut st = self.net.state();
        let mut fail = None;
        for (port, host_ip, host_port) in wanted {
            let proto = proto_of(&port)
                .ok_or_else(|| Error::invalid(format!("invalid port specification: {port}")));
            let ip: Result<Ipv4Addr> = if host_ip.is_empty() {
                Ok(Ipv4Addr::UNSPECIFIED)
            } else {
                ipam::parse_addr(&host_ip)
            };
            let hp: Result<u16> = if host_port.is_empty() {
                Ok(0)
            } else {
                host_port
                    .split('-')
                    .next()
                    .unwrap_or("")
                    .parse()
                    .map_err(|_| Error::invalid(format!("invalid port specification: {host_port}")))
            };
            let got = proto.and_then(|proto| {
                let ip = ip?;
                let port_no = st.ports.allocate(ip, hp?, proto)?;
                Ok((ip, port_no))
            });
            match got {
                Ok((ip, hp)) => out.push(Published {
                    port: port.clone(),
                    host_ip: ip.to_string(),
                    host_port: hp,
                }),
                Err(e) => {
                    fail = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = fail {
            for p in &out {
                if let (Ok(ip), Some(proto)) = (p.host_ip.parse(), proto_of(&p.port)) {
                    st.ports.release(ip, p.host_port, proto);
                }
            }
            return Err(e);
        }
        Ok(out)
    }

    /// At exit (or a failed start): addresses, ports and host interfaces go;
    /// the record keeps what the user asked for.
    pub(crate) async fn release_endpoints(&self, h: &Arc<Handle>) {
        let r = h.snapshot();
        let mut host_ifs = Vec::new();
        {
            let mut st = self.net.state();
            for ep in r.endpoints.values() {
                if let (Some(pool), Ok(ip)) = (st.pools.get_mut(&ep.network_id), ep.ip.parse()) {
                    pool.release(ip);
                }
                if !ep.host_ifname.is_empty() {
                    host_ifs.push(ep.host_ifname.clone());
                }
            }
            for p in &r.published {
                if let (Ok(ip), Some(proto)) = (p.host_ip.parse(), proto_of(&p.port)) {
                    st.ports.release(ip, p.host_port, proto);
                }
            }
        }
        let had_ports = !r.published.is_empty();
        let had_any = r.endpoints.values().any(|e| !e.ip.is_empty());
        self.dns_detach(&r.id);
        h.with(|rec| {
            rec.published.clear();
            for e in rec.endpoints.values_mut() {
                clear_runtime(e);
            }
        });
        let _ = self.save(h);
        self.dns_refresh();
        if let Ok(host) = self.net.host().await {
            for i in host_ifs {
                let _ = host.delete(&i).await;
            }
        }
        if had_any {
            for ep in r.endpoints.values() {
                if let Some(n) = self.net.state().nets.get(&ep.network_id).cloned() {
                    self.network_event("disconnect", &n, Some(&r.id));
                }
            }
        }
        if had_ports {
            if let Err(e) = self.apply_rules().await {
                tracing::warn!("rewriting the rules: {}", e.message);
            }
        }
    }

    /// `POST /networks/{id}/connect`.
    pub async fn network_connect(
        &self,
        key: &str,
        container: &str,
        cfg: Option<&Value>,
    ) -> Result<()> {
        let n = self.net.find(key)?;
        let h = self.lookup(container)?;
        let _op = h.op.lock().await;
        let r = h.snapshot();
        let mode = crate::container::network_mode(&r.host_config);
        if mode == "host" || n.name == "host" {
            return Err(Error::new(
                ErrorKind::Forbidden,
                "container cannot be disconnected from host network or connected to host network",
            ));
        }
        if mode.starts_with("container:") {
            return Err(Error::new(ErrorKind::Forbidden, "container sharing network namespace with another container or host cannot be connected to any other network"));
        }
        if r.endpoints.contains_key(&n.name) {
            return Err(Error::new(
                ErrorKind::Forbidden,
                format!(
                    "endpoint with name {} already exists in network {}",
                    crate::record_name(&r),
                    n.name
                ),
            ));
        }
        if mode == "none" || n.name == "none" {
            return Err(Error::new(ErrorKind::Forbidden, "container cannot be connected to multiple networks with one of the networks in private (none) mode"));
        }
        let ep = endpoint_from(&n, cfg)?;
        h.with(|rec| {
            rec.endpoints.insert(n.name.clone(), ep.clone());
        });
        if r.state.status == Status::Running {
            let netns = self.state_dir(&r.id).join("netns");
            let idx = r
                .endpoints
                .values()
                .filter(|e| {
                    self.net
                        .state()
                        .nets
                        .get(&e.network_id)
                        .is_some_and(|n| n.driver == "bridge" || n.driver == "macvlan")
                })
                .count();
            let ifname = format!("eth{idx}");
            let give_gw = !r.endpoints.values().any(|e| !e.gateway.is_empty()) && !n.internal;
            match self
                .plug(&h, &r.id, &n.name, &n, &ep, &netns, &ifname, give_gw)
                .await
            {
                Ok(done) => h.with(|rec| {
                    rec.endpoints.insert(n.name.clone(), done);
                }),
                Err(e) => {
                    h.with(|rec| {
                        rec.endpoints.shift_remove(&n.name);
                    });
                    return Err(e);
                }
            }
            self.write_hosts(&h.snapshot())?;
            self.save(&h)?;
            self.dns_refresh();
            self.dns_attach(&h, &netns).await;
            return Ok(());
        }
        self.save(&h)
    }

    /// `POST /networks/{id}/disconnect`.
    pub async fn network_disconnect(&self, key: &str, container: &str, _force: bool) -> Result<()> {
        let n = self.net.find(key)?;
        let h = self.lookup(container)?;
        let _op = h.op.lock().await;
        let r = h.snapshot();
        let Some(ep) = r.endpoints.get(&n.name).cloned() else {
            return Err(Error::new(
                ErrorKind::Forbidden,
                format!("container {} is not connected to network {}", r.id, n.name),
            ));
        };
        if n.name == "host" {
            return Err(Error::new(
                ErrorKind::Forbidden,
                "container cannot be disconnected from host network or connected to host network",
            ));
        }
        if r.state.status == Status::Running && !ep.ip.is_empty() {
            if !ep.host_ifname.is_empty() {
                self.net.host().await?.delete(&ep.host_ifname).await?;
            } else {
                // A macvlan lives only in the container's netns.
                let netns = self.state_dir(&r.id).join("netns");
                let inner = Netlink::in_netns(&netns).await?;
                let idx = r.endpoints.keys().position(|k| *k == n.name).unwrap_or(0);
                let _ = inner.delete(&format!("eth{idx}")).await;
            }
            if let (Some(pool), Ok(ip)) = (self.net.state().pools.get_mut(&n.id), ep.ip.parse()) {
                pool.release(ip);
            }
            self.network_event("disconnect", &n, Some(&r.id));
        }
        h.with(|rec| {
            rec.endpoints.shift_remove(&n.name);
        });
        self.save(&h)?;
        if r.state.status == Status::Running {
            self.write_hosts(&h.snapshot())?;
            self.dns_refresh();
            self.dns_attach(&h, &self.state_dir(&r.id).join("netns"))
                .await;
        }
        Ok(())
    }

    /// `/etc/hosts` with the container's own addresses, as dockerd writes it.
    pub(crate) fn write_hosts(&self, r: &Record) -> Result<()> {
        let mode = crate::container::network_mode(&r.host_config);
        if mode == "host" || mode.starts_with("container:") {
            return Ok(());
        }
        let mut s = String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n");
        for e in r.host_config.extra_hosts.iter().flatten() {
            // Checked at create (`checks.rs`); `name=ip` and `[v6]` too.
            if let Ok((name, ip)) = crate::checks::extra_host(e) {
                let ip = if ip == "host-gateway" {
                    self.net
                        .find("bridge")
                        .ok()
                        .and_then(|n| n.gateway)
                        .map(|g| g.to_string())
                        .unwrap_or_default()
                } else {
                    ip.to_string()
                };
                s += &format!("{ip}\t{name}\n");
            }
        }
        let host = if r.config.domainname.is_empty() {
            r.config.hostname.clone()
        } else {
            format!(
                "{}.{} {}",
                r.config.hostname, r.config.domainname, r.config.hostname
            )
        };
        for e in r.endpoints.values() {
            if !e.ip.is_empty() {
                s += &format!("{}\t{host}\n", e.ip);
            }
        }
        // Rewritten in place: the file is bind-mounted into the container.
        std::fs::write(self.container_dir(&r.id).join("hosts"), s)?;
        Ok(())
    }

    /// `NetworkSettings` of container inspect.
    pub fn network_settings(&self, r: &Record) -> Value {
        let mode = crate::container::network_mode(&r.host_config);
        let running = r.state.status == Status::Running;
        let mut nets = serde_json::Map::new();
        for (name, ep) in &r.endpoints {
            nets.insert(name.clone(), self.endpoint_view(name, ep, r));
        }
        let bridge_ep = r.endpoints.get("bridge").filter(|_| running);
        let s = |f: fn(&Endpoint) -> String| bridge_ep.map(f).unwrap_or_default();
        json!({
            "Bridge": "",
            "SandboxID": if running && mode != "host" { hex_of(&r.id) } else { String::new() },
            "SandboxKey": if running && mode != "host" { self.state_dir(&r.id).join("netns").display().to_string() } else { String::new() },
            "Ports": self.ports_view(r),
            "HairpinMode": false,
            "LinkLocalIPv6Address": "",
            "LinkLocalIPv6PrefixLen": 0,
            "SecondaryIPAddresses": null,
            "SecondaryIPv6Addresses": null,
            "EndpointID": s(|e| e.endpoint_id.clone()),
            "Gateway": s(|e| e.gateway.clone()),
            "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0,
            "IPAddress": s(|e| e.ip.clone()),
            "IPPrefixLen": bridge_ep.map(|e| e.prefix).unwrap_or(0),
            "IPv6Gateway": "",
            "MacAddress": s(|e| e.mac.clone()),
            "Networks": nets,
        })
    }

    fn endpoint_view(&self, name: &str, ep: &Endpoint, r: &Record) -> Value {
        let user_net = !["bridge", "host", "none"].contains(&name);
        let dns_names = if user_net {
            let mut v = vec![crate::record_name(r)];
            v.extend(ep.aliases.iter().cloned());
            v.push(r.id[..12].to_string());
            json!(v)
        } else {
            Value::Null
        };
        json!({
            "IPAMConfig": if ep.ipv4_request.is_empty() { Value::Null } else { json!({"IPv4Address": ep.ipv4_request}) },
            "Links": if ep.links.is_empty() { Value::Null } else { json!(ep.links) },
            "Aliases": if ep.aliases.is_empty() { Value::Null } else { json!(ep.aliases) },
            "MacAddress": ep.mac,
            "DriverOpts": ep.driver_opts,
            "NetworkID": ep.network_id,
            "EndpointID": ep.endpoint_id,
            "Gateway": ep.gateway,
            "IPAddress": ep.ip,
            "IPPrefixLen": ep.prefix,
            "IPv6Gateway": "",
            "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0,
            "DNSNames": dns_names,
        })
    }

    /// `NetworkSettings.Ports`: every exposed port, with its bindings while running.
    pub fn ports_view(&self, r: &Record) -> Value {
        let mut m = serde_json::Map::new();
        if r.state.status != Status::Running {
            return json!(m);
        }
        for p in exposed_ports(r) {
            m.insert(p, Value::Null);
        }
        for p in &r.published {
            let entry = m.entry(p.port.clone()).or_insert(Value::Null);
            if entry.is_null() {
                *entry = json!([]);
            }
            if let Some(a) = entry.as_array_mut() {
                a.push(json!({"HostIp": p.host_ip, "HostPort": p.host_port.to_string()}));
            }
        }
        json!(m)
    }

    /// `Ports` of `docker ps`.
    pub fn ports_summary(&self, r: &Record) -> Vec<Value> {
        let mut out = Vec::new();
        let running = r.state.status == Status::Running;
        let published: Vec<&Published> = if running {
            r.published.iter().collect()
        } else {
            vec![]
        };
        for p in exposed_ports(r) {
            let (num, proto) = p.split_once('/').unwrap_or((&p, "tcp"));
            let private: u16 = num.parse().unwrap_or(0);
            let mine: Vec<&&Published> = published.iter().filter(|x| x.port == p).collect();
            if mine.is_empty() {
                out.push(json!({"PrivatePort": private, "Type": proto}));
            }
            for x in mine {
                out.push(json!({"IP": x.host_ip, "PrivatePort": private, "PublicPort": x.host_port, "Type": proto}));
            }
        }
        out
    }

    /// `NetworkSettings.Networks` of `docker ps`.
    pub fn networks_summary(&self, r: &Record) -> Value {
        let mut nets = serde_json::Map::new();
        for (name, ep) in &r.endpoints {
            nets.insert(name.clone(), self.endpoint_view(name, ep, r));
        }
        json!({ "Networks": nets })
    }

    /// The resolv.conf a container gets: the embedded server's address on
    /// user-defined networks, else the host's resolvers (or `--dns`).
    pub(crate) fn resolv_conf(&self, r_mode: &str, hc: &berth_api::HostConfig) -> String {
        let cfg = &self.net.config;
        let dns: Vec<String> = hc
            .dns
            .clone()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| cfg.dns.clone());
        let search: Vec<String> = hc
            .dns_search
            .clone()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| cfg.dns_search.clone());
        let options: Vec<String> = hc
            .dns_options
            .clone()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| cfg.dns_options.clone());
        let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        if r_mode == "host" {
            return host;
        }
        let user_net = self
            .net
            .find(r_mode)
            .map(|n| !n.predefined)
            .unwrap_or(false);
        let host_search: Vec<String> = host
            .lines()
            .filter_map(|l| l.strip_prefix("search "))
            .flat_map(|l| l.split_whitespace().map(str::to_string))
            .collect();
        let host_ns: Vec<String> = host
            .lines()
            .filter_map(|l| l.strip_prefix("nameserver "))
            .map(|s| s.trim().to_string())
            .filter(|ip| !ip.starts_with("127.") && ip != "::1")
            .collect();
        let host_opts: Vec<String> = host
            .lines()
            .filter_map(|l| l.strip_prefix("options "))
            .flat_map(|l| l.split_whitespace().map(str::to_string))
            .collect();
        let mut s = String::new();
        let search = if search.is_empty() {
            host_search
        } else {
            search
        };
        if user_net {
            s += "nameserver 127.0.0.11\n";
            if !search.is_empty() {
                s += &format!("search {}\n", search.join(" "));
            }
            let mut opts = vec!["ndots:0".to_string()];
            opts.extend(if options.is_empty() {
                host_opts
            } else {
                options
            });
            s += &format!("options {}\n", opts.join(" "));
            return s;
        }
        for ns in if dns.is_empty() { host_ns } else { dns } {
            s += &format!("nameserver {ns}\n");
        }
        if !search.is_empty() {
            s += &format!("search {}\n", search.join(" "));
        }
        let options = if options.is_empty() {
            host_opts
        } else {
            options
        };
        if !options.is_empty() {
            s += &format!("options {}\n", options.join(" "));
        }
        s
    }
}

fn hex_of(id: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(format!("sandbox-{id}").as_bytes()))
}

impl Engine {
    /// A `network` event with dockerd's attributes.
    fn network_event(&self, action: &str, n: &NetworkRecord, container: Option<&str>) {
        let mut attrs = IndexMap::new();
        if let Some(c) = container {
            attrs.insert("container".to_string(), c.to_string());
        }
        attrs.insert("name".to_string(), n.name.clone());
        attrs.insert("type".to_string(), n.driver.clone());
        self.events.publish("network", action, &n.id, attrs);
    }
}

fn clear_runtime(e: &mut Endpoint) {
    e.endpoint_id.clear();
    e.ip.clear();
    e.prefix = 0;
    e.gateway.clear();
    e.mac.clear();
    e.host_ifname.clear();
}

fn endpoint_from(n: &NetworkRecord, cfg: Option<&Value>) -> Result<Endpoint> {
    let mut ep = Endpoint {
        network_id: n.id.clone(),
        ..Default::default()
    };
    if let Some(c) = cfg {
        let strs = |v: Option<&Value>| -> Vec<String> {
            v.and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        ep.aliases = strs(c.get("Aliases"));
        ep.links = strs(c.get("Links"));
        ep.ipv4_request = c
            .get("IPAMConfig")
            .and_then(|i| i.get("IPv4Address"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        ep.mac_request = c
            .get("MacAddress")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        ep.driver_opts = c
            .get("DriverOpts")
            .and_then(|d| serde_json::from_value(d.clone()).ok());
    }
    if !ep.mac_request.is_empty() && parse_mac(&ep.mac_request).is_none() {
        return Err(Error::invalid(format!(
            "invalid MAC address: {}",
            ep.mac_request
        )));
    }
    let user = !n.predefined;
    if !ep.aliases.is_empty() && !user {
        return Err(Error::invalid(
            "network-scoped alias is supported only for containers in user defined networks",
        ));
    }
    if !ep.ipv4_request.is_empty() {
        if !user {
            return Err(Error::invalid(
                "user specified IP address is supported on user defined networks only",
            ));
        }
        if !n.user_subnet {
            return Err(Error::invalid(
                "user specified IP address is supported only when connecting to networks with user configured subnets",
            ));
        }
        ipam::parse_addr(&ep.ipv4_request)?;
    }
    Ok(ep)
}

fn pool_for(n: &NetworkRecord) -> Option<AddressPool> {
    let s = n.subnet?;
    Some(AddressPool::new(
        s,
        n.ip_range,
        n.gateway.unwrap_or_else(|| ipam::first_host(&s)),
    ))
}

fn proto_of(port: &str) -> Option<Proto> {
    Proto::parse(port.split_once('/').map(|(_, p)| p).unwrap_or("tcp"))
}

/// `ExposedPorts` and the ports of `PortBindings`, in order, normalised to `N/proto`.
pub(crate) fn exposed_ports(r: &Record) -> Vec<String> {
    let norm = |p: &str| {
        if p.contains('/') {
            p.to_string()
        } else {
            format!("{p}/tcp")
        }
    };
    let mut out: Vec<String> = Vec::new();
    for p in r.config.exposed_ports.iter().flat_map(|m| m.keys()) {
        let p = norm(p);
        if !out.contains(&p) {
            out.push(p);
        }
    }
    for p in r.host_config.port_bindings.iter().flat_map(|m| m.keys()) {
        let p = norm(p);
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

fn labels_match(labels: &IndexMap<String, String>, wanted: &[String]) -> bool {
    wanted.iter().all(|w| match w.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(w.as_str()),
    })
}

/// Checks `PortBindings` at create, as dockerd does (400 on nonsense).
pub(crate) fn validate_port_bindings(hc: &berth_api::HostConfig) -> Result<()> {
    for (port, bindings) in hc.port_bindings.iter().flatten() {
        let (num, proto) = port.split_once('/').unwrap_or((port, "tcp"));
        if num.parse::<u16>().ok().filter(|p| *p > 0).is_none() || Proto::parse(proto).is_none() {
            return Err(Error::invalid(format!(
                "invalid port specification: \"{port}\""
            )));
        }
        for b in bindings.iter().flatten() {
            if !b.host_ip.is_empty() && b.host_ip.parse::<std::net::IpAddr>().is_err() {
                return Err(Error::invalid(format!("invalid IP address: {}", b.host_ip)));
            }
            if !b.host_port.is_empty() {
                let ok = b.host_port.split('-').all(|x| x.parse::<u16>().is_ok());
                if !ok {
                    return Err(Error::invalid(format!(
                        "invalid port specification: \"{}\"",
                        b.host_port
                    )));
                }
            }
        }
    }
    Ok(())
}

/// `aa:bb:cc:dd:ee:ff` as six bytes.
fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let parts: Vec<u8> = s
        .split(':')
        .map(|p| u8::from_str_radix(p, 16))
        .collect::<std::result::Result<_, _>>()
        .ok()?;
    parts.try_into().ok()
}
