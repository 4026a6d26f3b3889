//! A container's endpoints: chosen at create, plugged in at start and
//! released at exit.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use berth_api::model::EndpointSettings;
use berth_api::{Error, ErrorKind, Result};
use berth_network::{ipam, Netlink, Plug, Unplug};
use indexmap::IndexMap;
use ipnet::Ipv4Net;

use super::Networks;
use crate::containers::container::{Handle, Record};
use crate::new_id;

use super::ports::proto_of;
use super::*;

impl Networks<'_> {
    /// The endpoints a new container gets from its `NetworkMode` and
    /// `EndpointsConfig`, checked as dockerd checks them at create.
    pub(crate) fn endpoints_for_create(
        &self,
        mode: &str,
        endpoints_config: Option<&IndexMap<String, EndpointSettings>>,
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
        let mut wanted: Vec<(String, Option<&EndpointSettings>)> =
            vec![(primary.to_string(), None)];
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

    pub(super) async fn attach_inner(
        &self,
        h: &Arc<Handle>,
        r: &Record,
        netns: &Path,
    ) -> Result<()> {
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
            // `host` and `none`: nothing to plug.
            if self.net.driver(&n.driver).is_none() {
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
    pub(super) async fn plug(
        &self,
        _h: &Arc<Handle>,
        cid: &str,
        name: &str,
        n: &NetworkRecord,
        ep: &Endpoint,
        netns: &Path,
        ifname: &str,
        give_gateway: bool,
    ) -> Result<Endpoint> {
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
        let drv = self
            .net
            .driver(&n.driver)
            .ok_or_else(|| Error::internal(format!("network {name} has no driver")))?;
        let net = spec(n);
        let plugged = async {
            let file = File::open(netns)
                .map_err(|e| Error::internal(format!("opening {}: {e}", netns.display())))?;
            let host = self.net.host().await?;
            let plug = Plug {
                netns: &file,
                ifname,
                mac,
                endpoint_id: &out.endpoint_id,
            };
            if let Some(host_if) = drv.plug(host, &net, plug).await? {
                out.host_ifname = host_if;
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
            if let Ok(host) = self.net.host().await {
                let unplug = Unplug {
                    host_ifname: &out.host_ifname,
                    netns: None,
                    ifname,
                };
                let _ = drv.unplug(host, unplug).await;
            }
            return Err(e);
        }
        tracing::debug!(container_id = %cid, network = %name, ip = %ip, "endpoint up");
        self.event("connect", n, Some(cid));
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
                if let Some(n) = st.nets.get(&ep.network_id) {
                    host_ifs.push((n.driver.clone(), ep.host_ifname.clone()));
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
        // What is inside the namespace goes with it; the drivers take out
        // what they made on the host, each whatever the others did.
        if let Ok(host) = self.net.host().await {
            for (driver, host_ifname) in host_ifs {
                let Some(drv) = self.net.driver(&driver) else {
                    continue;
                };
                let unplug = Unplug {
                    host_ifname: &host_ifname,
                    netns: None,
                    ifname: "",
                };
                if let Err(e) = drv.unplug(host, unplug).await {
                    tracing::debug!("removing {host_ifname}: {}", e.message);
                }
            }
        }
        if had_any {
            for ep in r.endpoints.values() {
                if let Some(n) = self.net.state().nets.get(&ep.network_id).cloned() {
                    self.event("disconnect", &n, Some(&r.id));
                }
            }
        }
        if had_ports {
            if let Err(e) = self.apply_rules().await {
                tracing::warn!("rewriting the rules: {}", e.message);
            }
        }
    }
}

pub(super) fn clear_runtime(e: &mut Endpoint) {
    e.endpoint_id.clear();
    e.ip.clear();
    e.prefix = 0;
    e.gateway.clear();
    e.mac.clear();
    e.host_ifname.clear();
}

/// A requested MAC address that does not parse: dockerd's 400.
pub(crate) fn check_mac(mac: &str) -> Result<()> {
    match parse_mac(mac) {
        Some(_) => Ok(()),
        None => Err(Error::invalid(format!("invalid MAC address: {mac}"))),
    }
}

pub(super) fn endpoint_from(n: &NetworkRecord, cfg: Option<&EndpointSettings>) -> Result<Endpoint> {
    let mut ep = Endpoint {
        network_id: n.id.clone(),
        ..Default::default()
    };
    if let Some(c) = cfg {
        ep.aliases = c.aliases.clone().unwrap_or_default();
        ep.links = c.links.clone().unwrap_or_default();
        ep.ipv4_request = c
            .ipam_config
            .as_ref()
            .map(|ipam| ipam.i_pv4_address.clone())
            .unwrap_or_default();
        ep.mac_request = c.mac_address.clone();
        ep.driver_opts = c.driver_opts.clone();
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

/// `aa:bb:cc:dd:ee:ff` as six bytes.
pub(super) fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let parts: Vec<u8> = s
        .split(':')
        .map(|p| u8::from_str_radix(p, 16))
        .collect::<std::result::Result<_, _>>()
        .ok()?;
    parts.try_into().ok()
}
