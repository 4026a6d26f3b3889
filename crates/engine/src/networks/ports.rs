//! Published ports: chosen at start, shown by inspect and `docker ps`.

use std::net::Ipv4Addr;

use berth_api::types::{Port, PortBinding, PortMap};
use berth_api::{Error, Result};
use berth_network::{ipam, Proto};

use super::Networks;
use crate::containers::container::{Record, Status};

use super::*;

impl Networks<'_> {
    /// Host ports for `PortBindings` and, with `-P`, every exposed port.
    pub(super) fn publish_ports(&self, r: &Record) -> Result<Vec<Published>> {
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

    /// `NetworkSettings.Ports`: every exposed port, with its bindings while running.
    pub fn ports_view(&self, r: &Record) -> PortMap {
        let mut m = PortMap::new();
        if r.state.status != Status::Running {
            return m;
        }
        for p in exposed_ports(r) {
            m.insert(p, None);
        }
        for p in &r.published {
            m.entry(p.port.clone())
                .or_insert(None)
                .get_or_insert_with(Vec::new)
                .push(PortBinding {
                    host_ip: p.host_ip.clone(),
                    host_port: p.host_port.to_string(),
                });
        }
        m
    }

    /// `Ports` of `docker ps`.
    pub fn ports_summary(&self, r: &Record) -> Vec<Port> {
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
                out.push(Port {
                    private_port: private,
                    r#type: proto.to_string(),
                    ..Default::default()
                });
            }
            for x in mine {
                out.push(Port {
                    ip: x.host_ip.clone(),
                    private_port: private,
                    public_port: Some(x.host_port),
                    r#type: proto.to_string(),
                });
            }
        }
        out
    }
}

pub(super) fn proto_of(port: &str) -> Option<Proto> {
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
