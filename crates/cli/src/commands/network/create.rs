//! `network create`: the IPAM checks and the body the docker CLI 28 sends.

use berth_api::model::ConfigReference;
use berth_api::network::{Ipam, IpamConfig};
use berth_client::NetworkCreate;
use indexmap::IndexMap;

use super::{flag_error, kv_map, CreateArgs};
use crate::client::Client;
use crate::Failure;

/// An address (Go's `net.ParseIP`).
pub(super) fn parse_ip(s: &str) -> Option<std::net::IpAddr> {
    s.parse().ok()
}

/// A CIDR (`net.ParseCIDR`): the address and the network of its prefix.
pub(super) fn parse_cidr(s: &str) -> Option<(std::net::IpAddr, std::net::IpAddr, u8)> {
    let (a, p) = s.split_once('/')?;
    let ip: std::net::IpAddr = a.parse().ok()?;
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) || p.len() > 3 {
        return None;
    }
    let bits: u8 = p.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    if bits > max {
        return None;
    }
    Some((ip, mask(ip, bits), bits))
}

pub(super) fn mask(ip: std::net::IpAddr, bits: u8) -> std::net::IpAddr {
    match ip {
        std::net::IpAddr::V4(v) => {
            let m = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(bits))
            };
            std::net::IpAddr::V4((u32::from(v) & m).into())
        }
        std::net::IpAddr::V6(v) => {
            let m = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(bits))
            };
            std::net::IpAddr::V6((u128::from(v) & m).into())
        }
    }
}

/// docker's `subnetMatches`: does `subnet` contain the address of `data`
/// (a bare address or a CIDR)?
pub(super) fn subnet_contains(subnet: &str, data: &str) -> Result<bool, String> {
    let (_, net, bits) = parse_cidr(subnet)
        .ok_or_else(|| format!("invalid subnet: invalid CIDR address: {subnet}"))?;
    let ip = if data.contains('/') {
        parse_cidr(data)
            .map(|(ip, _, _)| ip)
            .ok_or_else(|| format!("invalid CIDR address: {data}"))?
    } else {
        match parse_ip(data) {
            Some(ip) => ip,
            None => return Ok(false),
        }
    };
    if ip.is_ipv4() != net.is_ipv4() {
        return Ok(false);
    }
    Ok(mask(ip, bits) == net)
}

/// The `IPAM` of `network create`, as the docker CLI 28 builds it from
/// `--subnet`, `--ip-range`, `--gateway`, `--aux-address`, with its checks
/// (values are sent as typed; the daemon judges a lone subnet).
pub fn ipam_config(a: &CreateArgs) -> Result<Ipam, Failure> {
    if a.subnet.len() < a.ip_range.len() || a.subnet.len() < a.gateway.len() {
        return Err(Failure::msg(
            "every ip-range or gateway must have a corresponding subnet",
        ));
    }
    let mut configs: Vec<IpamConfig> = Vec::new();
    for s in &a.subnet {
        for k in configs.iter().map(|c| &c.subnet) {
            if subnet_contains(s, k).map_err(Failure::msg)?
                || subnet_contains(k, s).map_err(Failure::msg)?
            {
                return Err(Failure::msg(
                    "multiple overlapping subnet configuration is not supported",
                ));
            }
        }
        configs.push(IpamConfig {
            subnet: s.clone(),
            ..IpamConfig::default()
        });
    }
    for r in &a.ip_range {
        let mut matched = false;
        for m in configs.iter_mut() {
            if parse_cidr(r).is_none() {
                return Err(Failure::msg(format!("invalid CIDR address: {r}")));
            }
            if !subnet_contains(&m.subnet, r).map_err(Failure::msg)? {
                continue;
            }
            if !m.ip_range.is_empty() {
                return Err(Failure::msg(format!(
                    "cannot configure multiple ranges ({r}, {}) on the same subnet ({})",
                    m.ip_range, m.subnet
                )));
            }
            m.ip_range = r.clone();
            matched = true;
        }
        if !matched {
            return Err(Failure::msg(format!("no matching subnet for range {r}")));
        }
    }
    for g in &a.gateway {
        let mut matched = false;
        for m in configs.iter_mut() {
            if !subnet_contains(&m.subnet, g).map_err(Failure::msg)? {
                continue;
            }
            if !m.gateway.is_empty() {
                return Err(Failure::msg(format!(
                    "cannot configure multiple gateways ({g}, {}) for the same subnet ({})",
                    m.gateway, m.subnet
                )));
            }
            m.gateway = g.clone();
            matched = true;
        }
        if !matched {
            return Err(Failure::msg(format!("no matching subnet for gateway {g}")));
        }
    }
    for (key, addr) in kv_map(&a.aux_address) {
        let mut matched = false;
        for m in configs.iter_mut() {
            if !subnet_contains(&m.subnet, &addr).map_err(Failure::msg)? {
                continue;
            }
            m.auxiliary_addresses
                .get_or_insert_with(IndexMap::new)
                .insert(key.clone(), addr.clone());
            matched = true;
        }
        if !matched {
            return Err(Failure::msg(format!(
                "no matching subnet for aux-address {addr}"
            )));
        }
    }
    Ok(Ipam {
        driver: a.ipam_driver.clone(),
        options: Some(kv_map(&a.ipam_opt)),
        config: configs,
    })
}

/// docker's label check: the key must not be empty.
pub(super) fn check_labels(labels: &[String]) -> Result<(), Failure> {
    for l in labels {
        let key = l.split_once('=').map(|(k, _)| k).unwrap_or(l).trim();
        if key.is_empty() {
            return Err(flag_error(
                l,
                "--label",
                &format!("invalid label '{l}': empty name"),
            ));
        }
    }
    Ok(())
}

/// The body of `POST /networks/create`, as the docker CLI 28 sends it.
pub fn create_body(a: &CreateArgs) -> Result<NetworkCreate, Failure> {
    check_labels(&a.label)?;
    Ok(NetworkCreate {
        driver: a.driver.clone(),
        scope: a.scope.clone().unwrap_or_default(),
        enable_ipv4: a.ipv4,
        enable_ipv6: a.ipv6,
        ipam: ipam_config(a)?,
        internal: a.internal,
        attachable: a.attachable,
        ingress: a.ingress,
        config_only: a.config_only,
        config_from: a
            .config_from
            .clone()
            .filter(|n| !n.is_empty())
            .map(|network| ConfigReference { network }),
        options: kv_map(&a.opt),
        labels: kv_map(&a.label),
        name: a.name.clone(),
        check_duplicate: None,
    })
}

/// Whether the negotiated API version is below `min` (`1.44`...).
pub(super) async fn api_below(c: &Client, min: &str) -> Result<Option<String>, Failure> {
    use berth_api::version::ApiVersion;
    let v = c.api_version().await?;
    let below = match (ApiVersion::parse(&v), ApiVersion::parse(min)) {
        (Some(have), Some(min)) => have < min,
        _ => false,
    };
    Ok(below.then_some(v))
}

pub async fn create(c: &Client, a: CreateArgs) -> Result<i32, Failure> {
    let mut body = create_body(&a)?;
    // Before API 1.44 the daemon makes duplicates unless asked not to; the
    // docker client asks.
    if api_below(c, "1.44").await?.is_some() {
        body.check_duplicate = Some(true);
    }
    // The docker CLI prints the ID only (no `Warning`).
    println!("{}", c.create_network(&body).await?.id);
    Ok(0)
}

/// The docker client's refusal of a per-network MAC address (which is
/// where `--mac-address` goes) before API 1.44.
pub async fn check_create_version(
    c: &Client,
    body: &berth_client::CreateRequest,
) -> Result<(), Failure> {
    let has_mac = body.endpoints.values().any(|e| !e.mac_address.is_empty());
    if has_mac {
        if let Some(v) = api_below(c, "1.44").await? {
            return Err(Failure::msg(format!(
                "\"specify mac-address per network\" requires API version 1.44, but the berth daemon API version is {v}"
            )));
        }
    }
    Ok(())
}
