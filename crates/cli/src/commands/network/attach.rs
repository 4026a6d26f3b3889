//! `run`/`create`'s `--network` flags: the attachments and the
//! `EndpointsConfig` they make.

use berth_api::network::{EndpointIpamConfig, EndpointSettings};
use indexmap::IndexMap;

use crate::Failure;

/// One `--network` value: a name, or docker's long form
/// (`name=NET,alias=A,ip=IP,ip6=IP,mac-address=MAC,link-local-ip=IP,driver-opt=K=V,gw-priority=N`).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Attachment {
    pub target: String,
    pub aliases: Vec<String>,
    pub ipv4: String,
    pub ipv6: String,
    pub mac: String,
    pub link_local: Vec<String>,
    pub driver_opts: IndexMap<String, String>,
    pub gw_priority: i64,
}

/// docker's `NetworkOpt.Set`: the long form when the value looks like
/// `key=value[,key=value...]` (keys and values lower-cased, as docker does).
pub fn parse_attachment(value: &str) -> Result<Attachment, String> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let long = value.char_indices().any(|(i, c)| {
        c == '='
            && value[..i].chars().next_back().is_some_and(word)
            && value[i + 1..].chars().next().is_some_and(word)
    });
    if !long {
        return Ok(Attachment {
            target: value.to_string(),
            ..Default::default()
        });
    }
    let mut a = Attachment::default();
    for field in value.split(',') {
        let lower = field.to_lowercase();
        let Some((key, val)) = lower.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            return Err(format!("invalid field {field}"));
        };
        let (key, val) = (key.trim(), val.trim().to_string());
        match key {
            "name" => a.target = val,
            "alias" => a.aliases.push(val),
            "ip" => a.ipv4 = val,
            "ip6" => a.ipv6 = val,
            "mac-address" => a.mac = val,
            "link-local-ip" => a.link_local.push(val),
            "driver-opt" => {
                let (k, v) = val.split_once('=').ok_or_else(|| {
                    format!("invalid key value pair format in driver options: {val}")
                })?;
                a.driver_opts
                    .insert(k.trim().to_lowercase(), v.trim().to_string());
            }
            "gw-priority" => {
                a.gw_priority = val
                    .parse()
                    .map_err(|_| format!("invalid gw-priority: {val}"))?;
            }
            _ => return Err(format!("invalid field key {key}")),
        }
    }
    if a.target.is_empty() {
        return Err("network name not specified".into());
    }
    Ok(a)
}

/// docker's `NetworkMode.IsUserDefined`.
pub fn is_user_defined(mode: &str) -> bool {
    !matches!(mode, "default" | "bridge" | "host" | "none") && !mode.starts_with("container:")
}

/// Go's `net.ParseMAC` (the colon, dash and dot forms).
pub(super) fn valid_mac(s: &str) -> bool {
    let s = s.trim();
    let hex = |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit());
    for sep in [':', '-'] {
        let parts: Vec<&str> = s.split(sep).collect();
        if matches!(parts.len(), 6 | 8 | 20) && parts.iter().all(|p| hex(p, 2)) {
            return true;
        }
    }
    let parts: Vec<&str> = s.split('.').collect();
    matches!(parts.len(), 3 | 4 | 10) && parts.iter().all(|p| hex(p, 4))
}

/// docker's `EndpointSettings` for an attachment, after docker's checks.
pub(super) fn endpoint_settings(a: &Attachment) -> Result<EndpointSettings, String> {
    if a.target.trim().is_empty() {
        return Err("no name set for network".into());
    }
    if !is_user_defined(&a.target) && !a.aliases.is_empty() {
        return Err("network-scoped aliases are only supported for user-defined networks".into());
    }
    if !a.mac.is_empty() && !valid_mac(&a.mac) {
        return Err(format!("{} is not a valid mac address", a.mac));
    }
    Ok(endpoint(a))
}

/// The `EndpointSettings` of an attachment as docker encodes it:
/// `IPAMConfig` only when an address is asked (its fields `omitempty`).
/// docker 28 also sends `GwPriority`, which API 1.47 (what berth speaks)
/// does not have; dockerd below 1.48 ignores it.
pub(super) fn endpoint(a: &Attachment) -> EndpointSettings {
    let ipam = !a.ipv4.is_empty() || !a.ipv6.is_empty() || !a.link_local.is_empty();
    let non_empty = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    EndpointSettings {
        ipam_config: ipam.then(|| EndpointIpamConfig {
            ipv4_address: a.ipv4.clone(),
            ipv6_address: a.ipv6.clone(),
            link_local_ips: non_empty(&a.link_local),
        }),
        aliases: non_empty(&a.aliases),
        mac_address: a.mac.clone(),
        driver_opts: (!a.driver_opts.is_empty()).then(|| a.driver_opts.clone()),
        ..EndpointSettings::default()
    }
}

/// `HostConfig.NetworkMode` and `NetworkingConfig.EndpointsConfig` for
/// `run`/`create`'s `--network`, `--network-alias`, `--ip`, `--ip6`,
/// `--link-local-ip` and `--mac-address`, as docker 28's
/// `parseNetworkOpts` builds them: the container-wide flags apply to the
/// first network; a lone network with nothing set gets no endpoint entry;
/// no `--network` means an entry for `default`.
pub fn endpoints_config(
    o: &crate::commands::opts::CreateOpts,
) -> Result<(String, IndexMap<String, EndpointSettings>), Failure> {
    let bad = |m: String| Failure::usage(m);
    let mut nets = Vec::new();
    for n in &o.network {
        nets.push(parse_attachment(n).map_err(|e| {
            Failure::usage(format!(
                "invalid argument \"{n}\" for \"--network\" flag: {e}"
            ))
        })?);
    }
    let apply = |a: &mut Attachment| -> Result<(), Failure> {
        let conflict = |what: &str| bad(format!("conflicting options: cannot specify both {what}"));
        if !a.aliases.is_empty() && !o.network_alias.is_empty() {
            return Err(conflict("--network-alias and per-network alias"));
        }
        if !a.ipv4.is_empty() && o.ip.is_some() {
            return Err(conflict("--ip and per-network IPv4 address"));
        }
        if !a.ipv6.is_empty() && o.ip6.is_some() {
            return Err(conflict("--ip6 and per-network IPv6 address"));
        }
        if !a.mac.is_empty() && o.mac_address.is_some() {
            return Err(conflict("--mac-address and per-network MAC address"));
        }
        if !a.link_local.is_empty() && !o.link_local_ip.is_empty() {
            return Err(conflict(
                "--link-local-ip and per-network link-local IP addresses",
            ));
        }
        if !o.network_alias.is_empty() {
            a.aliases = o.network_alias.clone();
        }
        if let Some(ip) = o.ip.as_ref().filter(|i| !i.is_empty()) {
            a.ipv4 = ip.clone();
        }
        if let Some(ip) = o.ip6.as_ref().filter(|i| !i.is_empty()) {
            a.ipv6 = ip.clone();
        }
        if let Some(m) = o.mac_address.as_ref().filter(|m| !m.is_empty()) {
            a.mac = m.clone();
        }
        if !o.link_local_ip.is_empty() {
            a.link_local = o.link_local_ip.clone();
        }
        Ok(())
    };
    let mut endpoints = IndexMap::new();
    if nets.is_empty() {
        let mut a = Attachment {
            target: "default".into(),
            ..Default::default()
        };
        apply(&mut a)?;
        endpoints.insert("default".into(), endpoint_settings(&a).map_err(bad)?);
        return Ok(("default".into(), endpoints));
    }
    let (mut user, mut other) = (false, false);
    let single = nets.len() == 1;
    for (i, mut a) in nets.clone().into_iter().enumerate() {
        if is_user_defined(&a.target) {
            user = true;
        } else {
            other = true;
        }
        if i == 0 {
            apply(&mut a)?;
        }
        let ep = endpoint_settings(&a).map_err(bad)?;
        if endpoints.contains_key(&a.target) {
            return Err(bad(format!(
                "network \"{}\" is specified multiple times",
                a.target
            )));
        }
        let empty = Attachment {
            target: a.target.clone(),
            ..Default::default()
        };
        if i == 0 && single && a == empty {
            continue;
        }
        endpoints.insert(a.target.clone(), ep);
    }
    if user && other {
        return Err(bad(
            "conflicting options: cannot attach both user-defined and non-user-defined network-modes"
                .into(),
        ));
    }
    Ok((nets[0].target.clone(), endpoints))
}
