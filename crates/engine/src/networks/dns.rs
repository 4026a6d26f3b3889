//! The embedded DNS server (`berth-dns`) wired to the engine's networks:
//! the name table of every user-defined network is rebuilt from the
//! running containers whenever an endpoint comes or goes, and each
//! container on a user-defined network gets its resolver at 127.0.0.11
//! inside its netns for as long as it runs.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex};

use berth_dns::{ContainerDns, ResolvConf};

use super::Networks;
use crate::containers::container::{Handle, Record};

/// The server and the containers attached to it.
#[derive(Default)]
pub struct DnsState {
    server: Mutex<Option<Arc<berth_dns::Server>>>,
    handles: Mutex<HashMap<String, berth_dns::Handle>>,
}

impl DnsState {
    fn started(&self) -> bool {
        self.server
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    fn server(&self) -> Option<Arc<berth_dns::Server>> {
        let mut s = self.server.lock().unwrap_or_else(|e| e.into_inner());
        if s.is_none() {
            match berth_dns::Server::new(berth_dns::Config::default()) {
                Ok(srv) => *s = Some(Arc::new(srv)),
                Err(e) => tracing::error!("starting the embedded DNS server: {e}"),
            }
        }
        s.clone()
    }
}

impl Networks<'_> {
    /// Rebuilds the name tables of the user-defined networks.
    pub(crate) fn dns_refresh(&self) {
        let nets: Vec<_> = self
            .net_records()
            .into_iter()
            .filter(|n| !n.predefined)
            .collect();
        // No user-defined network, no server: a daemon that never needs
        // the resolver never starts its thread.
        if nets.is_empty() && !self.net.dns.started() {
            return;
        }
        let Some(server) = self.net.dns.server() else {
            return;
        };
        let running: Vec<Record> = self
            .all()
            .iter()
            .map(|h| h.snapshot())
            // Addresses are set from attach to release: while it runs.
            .filter(|r| r.endpoints.values().any(|e| !e.ip.is_empty()))
            .collect();
        for n in nets {
            let endpoints = running
                .iter()
                .filter_map(|r| {
                    let ep = r.endpoints.values().find(|e| e.network_id == n.id)?;
                    Some(berth_dns::Endpoint {
                        container_id: r.id.clone(),
                        name: crate::record_name(r),
                        aliases: ep.aliases.clone(),
                        ipv4: ep.ip.parse().ok(),
                        ipv6: None,
                    })
                })
                .collect();
            server.set_network(
                &n.id,
                berth_dns::Network {
                    name: n.name.clone(),
                    endpoints,
                },
            );
        }
    }

    pub(crate) fn dns_forget_network(&self, id: &str) {
        if !self.net.dns.started() {
            return;
        }
        if let Some(s) = self.net.dns.server() {
            s.remove_network(id);
        }
    }

    /// Serves 127.0.0.11 in the container's netns when it is on a
    /// user-defined network; detaches it otherwise.
    pub(crate) async fn dns_attach(&self, h: &Arc<Handle>, netns: &Path) {
        let r = h.snapshot();
        let nets = self.net_records();
        let user: Vec<_> = r
            .endpoints
            .values()
            .filter(|e| !e.ip.is_empty())
            .filter_map(|e| nets.iter().find(|n| n.id == e.network_id && !n.predefined))
            .collect();
        if user.is_empty() {
            self.dns_detach(&r.id);
            return;
        }
        let Some(server) = self.net.dns.server() else {
            return;
        };
        let cfg = &self.net.config;
        let servers: Vec<String> = r
            .host_config
            .dns
            .clone()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| cfg.dns.clone());
        let upstreams: Vec<SocketAddr> = if servers.is_empty() {
            ResolvConf::parse(&std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default())
                .upstreams()
        } else {
            servers
                .iter()
                .filter_map(|s| s.parse::<IpAddr>().ok())
                .map(|ip| SocketAddr::new(ip, 53))
                .collect()
        };
        let options = r
            .host_config
            .dns_options
            .clone()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| cfg.dns_options.clone());
        let dns = ContainerDns {
            upstreams,
            options,
            internal: user.iter().all(|n| n.internal),
        };
        match server.attach(&r.id, netns, dns).await {
            Ok(handle) => {
                self.net
                    .dns
                    .handles
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(r.id.clone(), handle);
            }
            Err(e) => tracing::warn!(container_id = %r.id, "embedded DNS: {e}"),
        }
    }

    pub(crate) fn dns_detach(&self, id: &str) {
        let h = self
            .net
            .dns
            .handles
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        if let Some(h) = h {
            h.detach();
        }
    }
}
