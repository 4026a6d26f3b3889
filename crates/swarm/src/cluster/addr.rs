//! The addresses of `swarm init`/`join`: `--listen-addr` and
//! `--advertise-addr` as dockerd reads them (`ip`, `ip:port`,
//! `interface`, `interface:port`; port 2377 when none), and the address
//! to advertise when none is given.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};

use berth_api::Error;

/// The cluster port's default, as dockerd's.
pub const DEFAULT_PORT: u16 = 2377;

fn split_port(s: &str) -> Result<(&str, Option<u16>), Error> {
    // an IPv6 literal in brackets keeps its colons
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| Error::invalid(format!("invalid address: {s}")))?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(parse_port(p, s)?),
            None => None,
        };
        return Ok((host, port));
    }
    match s.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => Ok((host, Some(parse_port(port, s)?))),
        _ => Ok((s, None)),
    }
}

fn parse_port(p: &str, whole: &str) -> Result<u16, Error> {
    p.parse::<u16>()
        .map_err(|_| Error::invalid(format!("invalid port in address {whole}: {p}")))
}

/// The first IPv4 address of interface `name` (dockerd refuses an
/// interface with several; berth takes the first and says which in logs).
fn interface_addr(name: &str) -> Result<IpAddr, Error> {
    let addrs = nix::ifaddrs::getifaddrs()
        .map_err(|e| Error::internal(format!("listing interfaces: {e}")))?;
    let mut found = false;
    for a in addrs {
        if a.interface_name != name {
            continue;
        }
        found = true;
        if let Some(ip) = a.address.as_ref().and_then(|s| s.as_sockaddr_in()) {
            return Ok(IpAddr::V4(ip.ip()));
        }
    }
    Err(Error::invalid(if found {
        format!("interface {name} has no usable IPv4 or IPv6 address")
    } else {
        format!("failed to get IP address from {name}: interface not found")
    }))
}

fn host_ip(host: &str) -> Result<IpAddr, Error> {
    match host.parse::<IpAddr>() {
        Ok(ip) => Ok(ip),
        Err(_) => interface_addr(host),
    }
}

/// `--listen-addr`: empty is `0.0.0.0:2377`.
pub fn listen_addr(s: &str) -> Result<SocketAddr, Error> {
    if s.is_empty() {
        return Ok(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            DEFAULT_PORT,
        ));
    }
    let (host, port) = split_port(s)?;
    let ip = if host.is_empty() {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    } else {
        host_ip(host)?
    };
    Ok(SocketAddr::new(ip, port.unwrap_or(DEFAULT_PORT)))
}

/// The address this host uses to reach the outside: the source address
/// the kernel picks for a route to a public address. A UDP `connect`
/// sends nothing; it only asks the routing table.
fn default_route_ip() -> Option<IpAddr> {
    let sock = UdpSocket::bind("0.0.0.0:0").ok()?;
    sock.connect("8.8.8.8:53").ok()?;
    let ip = sock.local_addr().ok()?.ip();
    (!ip.is_unspecified()).then_some(ip)
}

/// `--advertise-addr` resolved to `ip:port`: given (an address or an
/// interface, the listen port when it has none), else the listen address
/// when it is a specific one, else the default route's source address.
pub fn advertise_addr(s: &str, listen: SocketAddr) -> Result<SocketAddr, Error> {
    if !s.is_empty() {
        let (host, port) = split_port(s)?;
        return Ok(SocketAddr::new(
            host_ip(host)?,
            port.unwrap_or(listen.port()),
        ));
    }
    if !listen.ip().is_unspecified() {
        return Ok(listen);
    }
    let ip = default_route_ip().ok_or_else(|| {
        Error::invalid("could not find the system's IP address - specify one with --advertise-addr")
    })?;
    Ok(SocketAddr::new(ip, listen.port()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_read_as_dockerd_reads_them() {
        assert_eq!(listen_addr("").unwrap().to_string(), "0.0.0.0:2377");
        assert_eq!(
            listen_addr("0.0.0.0:2377").unwrap().to_string(),
            "0.0.0.0:2377"
        );
        assert_eq!(
            listen_addr("10.0.0.1").unwrap().to_string(),
            "10.0.0.1:2377"
        );
        assert_eq!(
            listen_addr("lo:4000").unwrap().to_string(),
            "127.0.0.1:4000"
        );
        assert_eq!(listen_addr("[::1]:9").unwrap().to_string(), "[::1]:9");
        assert!(listen_addr("10.0.0.1:http").is_err());
        assert!(listen_addr("nosuchif0").is_err());
    }

    #[test]
    fn advertise_takes_the_listen_port_and_a_specific_listen_address() {
        let any = listen_addr("0.0.0.0:2400").unwrap();
        assert_eq!(
            advertise_addr("10.1.2.3", any).unwrap().to_string(),
            "10.1.2.3:2400"
        );
        assert_eq!(
            advertise_addr("10.1.2.3:9", any).unwrap().to_string(),
            "10.1.2.3:9"
        );
        let one = listen_addr("127.0.0.1:2500").unwrap();
        assert_eq!(advertise_addr("", one).unwrap(), one);
    }
}
