//! What the API shows of networks and of a container's endpoints.

use berth_api::Result;
use serde_json::{json, Value};

use crate::container::{Record, Status};
use crate::lifecycle::Filters;
use crate::Engine;

use super::*;

impl Engine {
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

    pub(super) fn endpoint_view(&self, name: &str, ep: &Endpoint, r: &Record) -> Value {
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

    /// `NetworkSettings.Networks` of `docker ps`.
    pub fn networks_summary(&self, r: &Record) -> Value {
        let mut nets = serde_json::Map::new();
        for (name, ep) in &r.endpoints {
            nets.insert(name.clone(), self.endpoint_view(name, ep, r));
        }
        json!({ "Networks": nets })
    }
}

pub(super) fn hex_of(id: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(format!("sandbox-{id}").as_bytes()))
}
