//! What the API shows of networks and of a container's endpoints.

use berth_api::model::{ConfigReference, NetworkContainer};
use berth_api::network::{
    EndpointIpamConfig, EndpointSettings, Ipam, IpamConfig, Network, NetworkSettings,
    SummaryNetworkSettings,
};
use berth_api::Result;
use indexmap::IndexMap;

use super::Networks;
use crate::containers::container::{Record, Status};
use crate::Filters;

use super::*;

impl Networks<'_> {
    /// The API's view of a network; `containers` for inspect, not for list.
    pub fn view(&self, n: &NetworkRecord, containers: bool) -> Network {
        let config = n
            .subnet
            .map(|s| IpamConfig {
                subnet: s.to_string(),
                ip_range: n.ip_range.map(|r| r.to_string()).unwrap_or_default(),
                // Shown when set, or chosen by IPAM with the subnet, as dockerd.
                gateway: n
                    .gateway
                    .filter(|_| n.predefined || n.user_gateway || !n.user_subnet)
                    .map(|g| g.to_string())
                    .unwrap_or_default(),
                auxiliary_addresses: None,
            })
            .into_iter()
            .collect();
        let mut cmap = IndexMap::new();
        if containers {
            for (id, name, ep) in self.users(&n.id) {
                let ipv4 = if ep.ip.is_empty() {
                    String::new()
                } else {
                    format!("{}/{}", ep.ip, ep.prefix)
                };
                cmap.insert(
                    id,
                    NetworkContainer {
                        name,
                        endpoint_id: ep.endpoint_id,
                        mac_address: ep.mac,
                        i_pv4_address: ipv4,
                        i_pv6_address: String::new(),
                    },
                );
            }
        }
        Network {
            name: n.name.clone(),
            id: n.id.clone(),
            created: n.created.clone(),
            scope: "local".into(),
            driver: n.driver.clone(),
            enable_ipv4: true,
            enable_ipv6: false,
            ipam: Ipam {
                driver: "default".into(),
                options: (!n.predefined).then(IndexMap::new),
                config,
            },
            internal: n.internal,
            attachable: n.attachable,
            ingress: false,
            config_from: ConfigReference::default(),
            config_only: false,
            containers: cmap,
            options: n.options.clone(),
            labels: n.labels.clone(),
            peers: None,
        }
    }

    /// `GET /networks`.
    pub fn list(&self, filters: &Filters) -> Result<Vec<Network>> {
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
                let dangling = !n.predefined && self.users(&n.id).is_empty();
                if want != dangling {
                    continue;
                }
            }
            out.push(self.view(&n, false));
        }
        Ok(out)
    }

    /// `GET /networks/{id}`.
    pub fn inspect(&self, key: &str) -> Result<Network> {
        let n = self.net.find(key)?;
        Ok(self.view(&n, true))
    }

    /// `NetworkSettings` of container inspect.
    pub fn settings(&self, r: &Record) -> NetworkSettings {
        let mode = crate::containers::container::network_mode(&r.host_config);
        let running = r.state.status == Status::Running;
        let bridge_ep = r.endpoints.get("bridge").filter(|_| running);
        let s = |f: fn(&Endpoint) -> String| bridge_ep.map(f).unwrap_or_default();
        let sandbox = running && mode != "host";
        NetworkSettings {
            sandbox_id: if sandbox {
                hex_of(&r.id)
            } else {
                String::new()
            },
            sandbox_key: if sandbox {
                self.state_dir(&r.id).join("netns").display().to_string()
            } else {
                String::new()
            },
            ports: self.ports_view(r),
            endpoint_id: s(|e| e.endpoint_id.clone()),
            gateway: s(|e| e.gateway.clone()),
            ip_address: s(|e| e.ip.clone()),
            ip_prefix_len: bridge_ep.map(|e| i64::from(e.prefix)).unwrap_or(0),
            mac_address: s(|e| e.mac.clone()),
            networks: self.endpoint_views(r),
            ..Default::default()
        }
    }

    /// Every endpoint of a container, as inspect and `docker ps` show them.
    fn endpoint_views(&self, r: &Record) -> IndexMap<String, EndpointSettings> {
        r.endpoints
            .iter()
            .map(|(name, ep)| (name.clone(), endpoint_view(name, ep, r)))
            .collect()
    }

    /// `NetworkSettings.Networks` of `docker ps`.
    pub fn summary(&self, r: &Record) -> SummaryNetworkSettings {
        SummaryNetworkSettings {
            networks: self.endpoint_views(r),
        }
    }
}

/// One endpoint as the API shows it.
fn endpoint_view(name: &str, ep: &Endpoint, r: &Record) -> EndpointSettings {
    let user_net = !["bridge", "host", "none"].contains(&name);
    // The names the embedded DNS server answers for, on user networks.
    let dns_names = user_net.then(|| {
        let mut v = vec![crate::record_name(r)];
        v.extend(ep.aliases.iter().cloned());
        v.push(r.id[..12].to_string());
        v
    });
    let some = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    EndpointSettings {
        ipam_config: (!ep.ipv4_request.is_empty()).then(|| EndpointIpamConfig {
            ipv4_address: ep.ipv4_request.clone(),
            ..Default::default()
        }),
        links: some(&ep.links),
        aliases: some(&ep.aliases),
        mac_address: ep.mac.clone(),
        driver_opts: ep.driver_opts.clone(),
        network_id: ep.network_id.clone(),
        endpoint_id: ep.endpoint_id.clone(),
        gateway: ep.gateway.clone(),
        ip_address: ep.ip.clone(),
        ip_prefix_len: i64::from(ep.prefix),
        dns_names,
        ..Default::default()
    }
}

pub(super) fn hex_of(id: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(format!("sandbox-{id}").as_bytes()))
}
