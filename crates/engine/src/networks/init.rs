//! The networks at the daemon's start, and the nftables table written from
//! the networks and the running containers.

use std::net::Ipv4Addr;

use berth_api::{Error, Result};
use berth_network::{ipam, BridgeRules, PortRule};
use indexmap::IndexMap;
use ipnet::Ipv4Net;

use super::Networks;
use crate::containers::container::{now_rfc3339, Status};

use super::ports::proto_of;
use super::*;

impl Networks<'_> {
    /// Loads the networks, makes the predefined ones, brings their bridges up
    /// and takes back what running containers hold; then writes the rules.
    pub(crate) async fn init(&self) -> Result<()> {
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
        for n in nets.values() {
            self.net_setup(n).await?;
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

    /// Rewrites the nftables table from the networks and running containers.
    pub(super) async fn apply_rules(&self) -> Result<()> {
        let _order = self.net.rules_lock.lock().await;
        let nets = {
            let st = self.net.state();
            let nets: Vec<BridgeRules> = st
                .nets
                .values()
                .filter(|n| self.net.driver(&n.driver).is_some_and(|d| d.routed()))
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
}
