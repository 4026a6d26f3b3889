//! Create-time checks of what a container asks for that can never work,
//! so a bad request is a 400 naming the problem before anything is made,
//! for every caller of `Containers::create` (the API, the builder).
//!
//! `ExtraHosts` is checked as dockerd checks it (moby `opts.ValidateExtraHost`,
//! with its words). dockerd 20.10 takes a bad `Dns` entry or `ExposedPorts`
//! key and fails only later (or never says); berth refuses them here.

use std::net::IpAddr;

use berth_api::{ContainerConfig, Error, HostConfig, Result};

/// The name docker gives the daemon's bridge gateway in `--add-host`.
const HOST_GATEWAY: &str = "host-gateway";

/// One `ExtraHosts` entry: `name:ip` or `name=ip` (docker 25's form), the
/// address possibly in brackets; returns (name, address).
pub(crate) fn extra_host(entry: &str) -> Result<(&str, &str)> {
    let (name, addr) = entry
        .split_once('=')
        .or_else(|| entry.split_once(':'))
        .filter(|(n, _)| !n.is_empty() && !n.contains(':'))
        .ok_or_else(|| Error::invalid(format!("bad format for add-host: {entry:?}")))?;
    if addr == HOST_GATEWAY {
        return Ok((name, addr));
    }
    let bare = addr
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .filter(|a| !a.is_empty())
        .unwrap_or(addr);
    if bare.trim().parse::<IpAddr>().is_err() {
        return Err(Error::invalid(format!(
            "invalid IP address in add-host: {bare:?}"
        )));
    }
    Ok((name, bare))
}

/// One `ExposedPorts` key: `PORT[/PROTO]` or `FIRST-LAST[/PROTO]`.
fn exposed_port(key: &str) -> Result<()> {
    let (ports, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let bad = |why: &str| Error::invalid(format!("invalid exposed port {key:?}: {why}"));
    if !matches!(proto.to_ascii_lowercase().as_str(), "tcp" | "udp" | "sctp") {
        return Err(bad("the protocol must be tcp, udp or sctp"));
    }
    let num = |s: &str| s.parse::<u16>().ok().filter(|p| *p > 0);
    let ok = match ports.split_once('-') {
        Some((a, b)) => matches!((num(a), num(b)), (Some(a), Some(b)) if a <= b),
        None => num(ports).is_some(),
    };
    if !ok {
        return Err(bad("a port is a number from 1 to 65535"));
    }
    Ok(())
}

/// Everything of the request itself (before the image's config is merged:
/// an image's odd `EXPOSE` must not keep its containers from being made).
pub(crate) fn create_request(config: &ContainerConfig, hc: &HostConfig) -> Result<()> {
    for e in hc.extra_hosts.iter().flatten() {
        extra_host(e)?;
    }
    for d in hc.dns.iter().flatten() {
        if d.trim().parse::<IpAddr>().is_err() {
            return Err(Error::invalid(format!("invalid IP address in dns: {d:?}")));
        }
    }
    for k in config.exposed_ports.iter().flat_map(|m| m.keys()) {
        exposed_port(k)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_hosts_as_dockerd() {
        assert_eq!(
            extra_host("bad").unwrap_err().message,
            "bad format for add-host: \"bad\""
        );
        assert_eq!(
            extra_host(":1.2.3.4").unwrap_err().message,
            "bad format for add-host: \":1.2.3.4\""
        );
        assert_eq!(
            extra_host("h:nope").unwrap_err().message,
            "invalid IP address in add-host: \"nope\""
        );
        assert_eq!(extra_host("h:1.2.3.4").unwrap(), ("h", "1.2.3.4"));
        assert_eq!(extra_host("h=::1").unwrap(), ("h", "::1"));
        assert_eq!(extra_host("h:::1").unwrap(), ("h", "::1"));
        assert_eq!(extra_host("h=[::1]").unwrap(), ("h", "::1"));
        assert_eq!(extra_host("h:host-gateway").unwrap(), ("h", "host-gateway"));
    }

    #[test]
    fn exposed_ports() {
        assert!(exposed_port("80/tcp").is_ok());
        assert!(exposed_port("53/udp").is_ok());
        assert!(exposed_port("8000-8010/tcp").is_ok());
        assert!(exposed_port("80").is_ok());
        for bad in ["99999/tcp", "0/tcp", "x/tcp", "80/foo", "10-5/tcp", "/tcp"] {
            assert!(exposed_port(bad).is_err(), "{bad}");
        }
    }
}
