//! `network create`: the IPAM checks and the body the docker CLI 28 sends.

use serde_json::{json, Map, Value};

use super::*;
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
pub fn ipam_config(a: &CreateArgs) -> Result<Value, Failure> {
    if a.subnet.len() < a.ip_range.len() || a.subnet.len() < a.gateway.len() {
        return Err(Failure::msg(
            "every ip-range or gateway must have a corresponding subnet",
        ));
    }
    let mut configs: Vec<(String, Map<String, Value>)> = Vec::new();
    for s in &a.subnet {
        for (k, _) in &configs {
            if subnet_contains(s, k).map_err(Failure::msg)?
                || subnet_contains(k, s).map_err(Failure::msg)?
            {
                return Err(Failure::msg(
                    "multiple overlapping subnet configuration is not supported",
                ));
            }
        }
        let mut m = Map::new();
        m.insert("Subnet".into(), json!(s));
        configs.push((s.clone(), m));
    }
    for r in &a.ip_range {
        let mut matched = false;
        for (s, m) in configs.iter_mut() {
            if parse_cidr(r).is_none() {
                return Err(Failure::msg(format!("invalid CIDR address: {r}")));
            }
            if !subnet_contains(s, r).map_err(Failure::msg)? {
                continue;
            }
            if let Some(old) = m.get("IPRange").and_then(Value::as_str) {
                return Err(Failure::msg(format!(
                    "cannot configure multiple ranges ({r}, {old}) on the same subnet ({s})"
                )));
            }
            m.insert("IPRange".into(), json!(r));
            matched = true;
        }
        if !matched {
            return Err(Failure::msg(format!("no matching subnet for range {r}")));
        }
    }
    for g in &a.gateway {
        let mut matched = false;
        for (s, m) in configs.iter_mut() {
            if !subnet_contains(s, g).map_err(Failure::msg)? {
                continue;
            }
            if let Some(old) = m.get("Gateway").and_then(Value::as_str) {
                return Err(Failure::msg(format!(
                    "cannot configure multiple gateways ({g}, {old}) for the same subnet ({s})"
                )));
            }
            m.insert("Gateway".into(), json!(g));
            matched = true;
        }
        if !matched {
            return Err(Failure::msg(format!("no matching subnet for gateway {g}")));
        }
    }
    for (key, addr) in kv_map(&a.aux_address) {
        let addr = addr.as_str().unwrap_or("").to_string();
        let mut matched = false;
        for (s, m) in configs.iter_mut() {
            if !subnet_contains(s, &addr).map_err(Failure::msg)? {
                continue;
            }
            if let Some(aux) = m
                .entry("AuxiliaryAddresses")
                .or_insert_with(|| json!({}))
                .as_object_mut()
            {
                aux.insert(key.clone(), json!(addr));
            }
            matched = true;
        }
        if !matched {
            return Err(Failure::msg(format!(
                "no matching subnet for aux-address {addr}"
            )));
        }
    }
    Ok(json!({
        "Driver": a.ipam_driver,
        "Options": kv_map(&a.ipam_opt),
        "Config": configs.into_iter().map(|(_, m)| Value::Object(m)).collect::<Vec<_>>(),
    }))
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

/// The body of `POST /networks/create`, in the docker CLI 28's field order.
pub fn create_body(a: &CreateArgs) -> Result<Value, Failure> {
    check_labels(&a.label)?;
    let ipam = ipam_config(a)?;
    let mut b = Map::new();
    b.insert("Driver".into(), json!(a.driver));
    b.insert("Scope".into(), json!(a.scope.clone().unwrap_or_default()));
    if let Some(v) = a.ipv4 {
        b.insert("EnableIPv4".into(), json!(v));
    }
    if let Some(v) = a.ipv6 {
        b.insert("EnableIPv6".into(), json!(v));
    }
    b.insert("IPAM".into(), ipam);
    b.insert("Internal".into(), json!(a.internal));
    b.insert("Attachable".into(), json!(a.attachable));
    b.insert("Ingress".into(), json!(a.ingress));
    b.insert("ConfigOnly".into(), json!(a.config_only));
    b.insert(
        "ConfigFrom".into(),
        match &a.config_from {
            Some(n) if !n.is_empty() => json!({"Network": n}),
            _ => Value::Null,
        },
    );
    b.insert("Options".into(), Value::Object(kv_map(&a.opt)));
    b.insert("Labels".into(), Value::Object(kv_map(&a.label)));
    b.insert("Name".into(), json!(a.name));
    Ok(Value::Object(b))
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
        if let Some(m) = body.as_object_mut() {
            m.insert("CheckDuplicate".into(), json!(true));
        }
    }
    // The docker CLI prints the ID only (no `Warning`).
    let v = c.post_json("/networks/create", &body).await?;
    println!("{}", v["Id"].as_str().unwrap_or(""));
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
