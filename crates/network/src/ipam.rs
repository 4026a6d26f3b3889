//! IP address management: which subnet a new network gets, and which
//! address each endpoint gets inside it — dockerd's default IPAM rules.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use berth_api::{Error, Result};
use ipnet::Ipv4Net;

/// dockerd's default address pools: 172.17-31.0.0/16, then 192.168.0.0/16
/// cut into /20s.
pub fn default_pools() -> Vec<Ipv4Net> {
    let mut pools: Vec<Ipv4Net> = (17..=31)
        .map(|b| Ipv4Net::new(Ipv4Addr::new(172, b, 0, 0), 16).expect("valid prefix"))
        .collect();
    let big = Ipv4Net::new(Ipv4Addr::new(192, 168, 0, 0), 16).expect("valid prefix");
    pools.extend(big.subnets(20).expect("20 >= 16"));
    pools
}

/// `default-address-pools` entries (`{"base": CIDR, "size": N}`) turned into
/// the list of subnets they offer, in order.
pub fn pools_from(base: &[(Ipv4Net, u8)]) -> Result<Vec<Ipv4Net>> {
    let mut out = Vec::new();
    for (net, size) in base {
        if *size < net.prefix_len() || *size > 30 {
            return Err(Error::invalid(format!(
                "invalid pools size {size} for base pool {net}"
            )));
        }
        out.extend(
            net.trunc()
                .subnets(*size)
                .map_err(|e| Error::invalid(e.to_string()))?,
        );
    }
    Ok(out)
}

/// Parses a CIDR as the API gives it, with dockerd's error.
pub fn parse_subnet(s: &str) -> Result<Ipv4Net> {
    s.parse::<Ipv4Net>()
        .map_err(|_| Error::invalid(format!("invalid CIDR address: {s}")))
}

pub fn parse_addr(s: &str) -> Result<Ipv4Addr> {
    s.parse::<Ipv4Addr>()
        .map_err(|_| Error::invalid(format!("invalid IP address: {s}")))
}

/// The IPv4 routes of the host's main table (not the default route): a new
/// network must not shadow them. Read from /proc/net/route, which is enough
/// for a read-only look and needs no netlink round trip.
pub fn host_routes() -> Vec<Ipv4Net> {
    let text = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let dest = u32::from_str_radix(f.get(1)?, 16).ok()?;
            let mask = u32::from_str_radix(f.get(7)?, 16).ok()?;
            if mask == 0 {
                return None;
            }
            // /proc/net/route prints the address's memory bytes as a native
            // integer: the native bytes are the address in network order.
            let dest = Ipv4Addr::from(dest.to_ne_bytes());
            let prefix = mask.count_ones() as u8;
            Ipv4Net::new(dest, prefix).ok()
        })
        .collect()
}

pub fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The first pool that overlaps neither the networks in use nor a host route.
pub fn next_subnet(pools: &[Ipv4Net], in_use: &[Ipv4Net]) -> Result<Ipv4Net> {
    let routes = host_routes();
    pools
        .iter()
        .find(|p| !in_use.iter().chain(routes.iter()).any(|u| overlaps(p, u)))
        .copied()
        .ok_or_else(|| {
            Error::invalid(
                "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network",
            )
        })
}

/// The default gateway of a subnet: its first host address.
pub fn first_host(net: &Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(net.network()) + 1)
}

/// Docker's MAC for an address: 02:42 then the four address bytes.
pub fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

pub fn mac_string(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The addresses of one network: the subnet (or `--ip-range` inside it) less
/// the gateway, the network and broadcast addresses, and what is taken.
/// Allocation goes round the range from the last address given, as dockerd's
/// bitmap does, so a freed address is not handed out again at once.
#[derive(Debug, Clone)]
pub struct AddressPool {
    pub subnet: Ipv4Net,
    pub range: Ipv4Net,
    pub gateway: Ipv4Addr,
    taken: BTreeSet<u32>,
    last: u32,
}

impl AddressPool {
    pub fn new(subnet: Ipv4Net, range: Option<Ipv4Net>, gateway: Ipv4Addr) -> AddressPool {
        AddressPool {
            subnet,
            range: range.unwrap_or(subnet),
            gateway,
            taken: BTreeSet::new(),
            last: 0,
        }
    }

    fn usable(&self, a: u32) -> bool {
        a != u32::from(self.subnet.network())
            && a != u32::from(self.subnet.broadcast())
            && a != u32::from(self.gateway)
            && !self.taken.contains(&a)
    }

    /// Takes `want` (from `--ip`) or the next free address of the range.
    pub fn allocate(&mut self, want: Option<Ipv4Addr>) -> Result<Ipv4Addr> {
        if let Some(ip) = want {
            if !self.subnet.contains(&ip) {
                return Err(Error::invalid(format!(
                    "invalid address {ip}: It does not belong to any of this network's subnets"
                )));
            }
            if !self.usable(u32::from(ip)) {
                return Err(Error::invalid(format!("Address already in use: {ip}")));
            }
            self.taken.insert(u32::from(ip));
            return Ok(ip);
        }
        let start = u32::from(self.range.network());
        let end = u32::from(self.range.broadcast());
        let from = if self.last >= start && self.last < end {
            self.last + 1
        } else {
            start
        };
        let found = (from..=end)
            .chain(start..from)
            .find(|a| self.usable(*a))
            .ok_or_else(|| {
                Error::invalid("no available IPv4 addresses on this network's address pools")
            })?;
        self.taken.insert(found);
        self.last = found;
        Ok(Ipv4Addr::from(found))
    }

    /// Marks an address taken (rebuilding the pool from the store).
    pub fn reserve(&mut self, ip: Ipv4Addr) {
        self.taken.insert(u32::from(ip));
    }

    pub fn release(&mut self, ip: Ipv4Addr) {
        self.taken.remove(&u32::from(ip));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_in_dockerd_order() {
        let p = default_pools();
        assert_eq!(p[0].to_string(), "172.17.0.0/16");
        assert_eq!(p[14].to_string(), "172.31.0.0/16");
        assert_eq!(p[15].to_string(), "192.168.0.0/20");
        assert_eq!(p[16].to_string(), "192.168.16.0/20");
        let used = [
            "172.17.0.0/16".parse().unwrap(),
            "172.18.5.0/24".parse().unwrap(),
        ];
        let n = next_subnet(&p, &used).unwrap();
        assert!(!overlaps(&n, &used[0]) && !overlaps(&n, &used[1]));
    }

    #[test]
    fn allocation_skips_gateway_and_goes_round() {
        let net: Ipv4Net = "10.5.0.0/29".parse().unwrap();
        let mut p = AddressPool::new(net, None, first_host(&net));
        let a: Vec<_> = (0..5)
            .map(|_| p.allocate(None).unwrap().to_string())
            .collect();
        assert_eq!(
            a,
            ["10.5.0.2", "10.5.0.3", "10.5.0.4", "10.5.0.5", "10.5.0.6"]
        );
        assert!(p.allocate(None).is_err());
        p.release("10.5.0.3".parse().unwrap());
        assert_eq!(p.allocate(None).unwrap().to_string(), "10.5.0.3");
        assert!(p.allocate(Some("10.5.0.4".parse().unwrap())).is_err());
        assert!(p.allocate(Some("10.6.0.4".parse().unwrap())).is_err());
        p.release("10.5.0.4".parse().unwrap());
        assert_eq!(
            p.allocate(Some("10.5.0.4".parse().unwrap()))
                .unwrap()
                .to_string(),
            "10.5.0.4"
        );
    }

    #[test]
    fn ip_range_limits_dynamic_addresses() {
        let net: Ipv4Net = "10.7.0.0/16".parse().unwrap();
        let mut p = AddressPool::new(net, Some("10.7.3.0/30".parse().unwrap()), first_host(&net));
        assert_eq!(p.allocate(None).unwrap().to_string(), "10.7.3.0");
        assert_eq!(p.allocate(None).unwrap().to_string(), "10.7.3.1");
    }

    #[test]
    fn macs_and_routes() {
        assert_eq!(
            mac_string(&mac_for("172.17.0.2".parse().unwrap())),
            "02:42:ac:11:00:02"
        );
        // The host has at least its loopback-less routes parsed without panicking.
        let _ = host_routes();
        assert!(parse_subnet("10.0.0.0/33").is_err());
    }
}
