//! The name table: per network, the endpoints (containers) on it and the
//! names they answer to; lookups from the point of view of one container.
//!
//! Resolution follows moby's `Sandbox.ResolveName`: for `a.b.c` try `a.b.c`
//! on every network the asking container is on, then `a.b` on the network
//! named `c`, then `a` on the network named `b.c`. The first network that
//! knows the name answers, with every address it has for it (an alias shared
//! by several containers gives all of theirs).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One container's endpoint on a network, as the engine describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Endpoint {
    /// The container's full ID: the key the container was attached with.
    /// Its first 12 characters also resolve (the short ID), as in Docker.
    pub container_id: String,
    /// The container's name (a leading `/`, as the API spells names, is ignored).
    pub name: String,
    /// Network-scoped aliases (`--network-alias`, compose service names).
    pub aliases: Vec<String>,
    /// The endpoint's IPv4 address on this network, if any.
    pub ipv4: Option<Ipv4Addr>,
    /// The endpoint's IPv6 address on this network, if any.
    pub ipv6: Option<Ipv6Addr>,
}

/// A user-defined network's name table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Network {
    /// The network's name (what `NAME.NETWORK` queries use).
    pub name: String,
    /// Every endpoint on the network.
    pub endpoints: Vec<Endpoint>,
}

/// The short ID Docker registers as a DNS name: the first 12 characters.
fn short_id(id: &str) -> Option<&str> {
    id.get(..12).filter(|s| s.len() == 12)
}

fn clean(name: &str) -> String {
    name.trim_start_matches('/')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// A network with its lookup index built once, when the engine sets it.
#[derive(Debug)]
pub(crate) struct Indexed {
    /// Lower-case network name.
    name: String,
    net: Network,
    /// Lower-case DNS name -> indexes into `net.endpoints`.
    by_name: BTreeMap<String, Vec<usize>>,
}

impl Indexed {
    pub(crate) fn new(net: Network) -> Indexed {
        let mut by_name: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, ep) in net.endpoints.iter().enumerate() {
            let mut names = vec![clean(&ep.name)];
            names.extend(short_id(&ep.container_id).map(clean));
            names.extend(ep.aliases.iter().map(|a| clean(a)));
            names.sort();
            names.dedup();
            for n in names.into_iter().filter(|n| !n.is_empty()) {
                by_name.entry(n).or_default().push(i);
            }
        }
        Indexed {
            name: clean(&net.name),
            net,
            by_name,
        }
    }

    fn has_container(&self, key: &str) -> bool {
        self.net.endpoints.iter().any(|ep| ep.container_id == key)
    }
}

/// The address family a query asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    V4,
    V6,
}

/// What a name lookup found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Found {
    /// The name is not ours: forward it.
    Unknown,
    /// The name is ours with these addresses of the asked family; empty when
    /// it has addresses of the other family only (NOERROR, no answers).
    Addrs(Vec<IpAddr>),
}

/// All networks, by network ID.
#[derive(Debug, Default)]
pub(crate) struct Table {
    pub(crate) networks: BTreeMap<String, std::sync::Arc<Indexed>>,
}

impl Table {
    /// The networks the container `key` has an endpoint on.
    fn networks_of<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a Indexed> + 'a {
        self.networks
            .values()
            .map(|n| n.as_ref())
            .filter(move |n| n.has_container(key))
    }

    /// Resolve `qname` (any case, trailing dot optional) for container `key`.
    pub(crate) fn lookup(&self, key: &str, qname: &str, family: Family) -> Found {
        let name = clean(qname);
        if name.is_empty() {
            return Found::Unknown;
        }
        // (name, network) candidates: the whole name on any network, then
        // each split at a dot, from the right.
        let mut candidates: Vec<(&str, Option<&str>)> = vec![(name.as_str(), None)];
        let mut rest = name.as_str();
        while let Some(i) = rest.rfind('.') {
            candidates.push((&name[..i], Some(&name[i + 1..])));
            rest = &rest[..i];
        }
        for (host, network) in candidates {
            for net in self.networks_of(key) {
                if network.is_some_and(|n| n != net.name) {
                    continue;
                }
                let Some(idx) = net.by_name.get(host) else {
                    continue;
                };
                let mut addrs: Vec<IpAddr> = Vec::new();
                for &i in idx {
                    let ep = &net.net.endpoints[i];
                    let ip = match family {
                        Family::V4 => ep.ipv4.map(IpAddr::V4),
                        Family::V6 => ep.ipv6.map(IpAddr::V6),
                    };
                    if let Some(ip) = ip {
                        if !addrs.contains(&ip) {
                            addrs.push(ip);
                        }
                    }
                }
                return Found::Addrs(addrs);
            }
        }
        Found::Unknown
    }

    /// The `name.network` of the container that has `ip` on one of `key`'s
    /// networks.
    pub(crate) fn reverse(&self, key: &str, ip: IpAddr) -> Option<String> {
        for net in self.networks_of(key) {
            for ep in &net.net.endpoints {
                let hit = match ip {
                    IpAddr::V4(v4) => ep.ipv4 == Some(v4),
                    IpAddr::V6(v6) => ep.ipv6 == Some(v6),
                };
                if hit {
                    let name = ep.name.trim_start_matches('/');
                    return Some(format!("{}.{}", name, net.net.name));
                }
            }
        }
        None
    }
}

/// The address a reverse-lookup name stands for: `4.3.2.1.in-addr.arpa` or
/// the 32 nibbles under `ip6.arpa`. `None` for anything else.
pub(crate) fn parse_ptr_name(qname: &str) -> Option<IpAddr> {
    let name = qname.trim_end_matches('.').to_ascii_lowercase();
    if let Some(rest) = name.strip_suffix(".in-addr.arpa") {
        let parts: Vec<&str> = rest.split('.').collect();
        if parts.len() != 4 {
            return None;
        }
        let mut octets = [0u8; 4];
        for (i, p) in parts.iter().rev().enumerate() {
            if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            octets[i] = p.parse().ok()?;
        }
        return Some(IpAddr::V4(Ipv4Addr::from(octets)));
    }
    if let Some(rest) = name.strip_suffix(".ip6.arpa") {
        let nibbles: Vec<&str> = rest.split('.').collect();
        if nibbles.len() != 32 {
            return None;
        }
        let mut value: u128 = 0;
        for n in nibbles.iter().rev() {
            if n.len() != 1 {
                return None;
            }
            let d = u128::from(n.chars().next()?.to_digit(16)?);
            value = (value << 4) | d;
        }
        return Some(IpAddr::V6(Ipv6Addr::from(value)));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn ep(id: &str, name: &str, aliases: &[&str], v4: Option<&str>, v6: Option<&str>) -> Endpoint {
        Endpoint {
            container_id: id.to_string(),
            name: name.to_string(),
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            ipv4: v4.map(|a| a.parse().expect("v4")),
            ipv6: v6.map(|a| a.parse().expect("v6")),
        }
    }

    fn table() -> Table {
        let mut t = Table::default();
        let front = Network {
            name: "front".into(),
            endpoints: vec![
                ep("aaaaaaaaaaaa1111", "/web", &["www"], Some("10.1.0.2"), None),
                ep(
                    "bbbbbbbbbbbb2222",
                    "db",
                    &["www"],
                    Some("10.1.0.3"),
                    Some("fd00::3"),
                ),
                ep("cccccccccccc3333", "client", &[], Some("10.1.0.4"), None),
            ],
        };
        let back = Network {
            name: "back".into(),
            endpoints: vec![
                ep("bbbbbbbbbbbb2222", "db", &[], Some("10.2.0.3"), None),
                ep("dddddddddddd4444", "hidden", &[], Some("10.2.0.9"), None),
            ],
        };
        t.networks
            .insert("n1".into(), Arc::new(Indexed::new(front)));
        t.networks.insert("n2".into(), Arc::new(Indexed::new(back)));
        t
    }

    fn v4(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn names_aliases_short_ids_any_case() {
        let t = table();
        let me = "cccccccccccc3333";
        assert_eq!(
            t.lookup(me, "web", Family::V4),
            Found::Addrs(vec![v4("10.1.0.2")])
        );
        assert_eq!(
            t.lookup(me, "WEB.", Family::V4),
            Found::Addrs(vec![v4("10.1.0.2")])
        );
        assert_eq!(
            t.lookup(me, "aaaaaaaaaaaa", Family::V4),
            Found::Addrs(vec![v4("10.1.0.2")])
        );
        assert_eq!(
            t.lookup(me, "www", Family::V4),
            Found::Addrs(vec![v4("10.1.0.2"), v4("10.1.0.3")])
        );
        assert_eq!(
            t.lookup(me, "web.front", Family::V4),
            Found::Addrs(vec![v4("10.1.0.2")])
        );
        assert_eq!(t.lookup(me, "web.back", Family::V4), Found::Unknown);
        assert_eq!(t.lookup(me, "nope", Family::V4), Found::Unknown);
    }

    #[test]
    fn only_the_askers_networks() {
        let t = table();
        // client is on front only: hidden (back) is not visible.
        assert_eq!(
            t.lookup("cccccccccccc3333", "hidden", Family::V4),
            Found::Unknown
        );
        // db is on both.
        assert_eq!(
            t.lookup("bbbbbbbbbbbb2222", "hidden", Family::V4),
            Found::Addrs(vec![v4("10.2.0.9")])
        );
        assert_eq!(
            t.lookup("bbbbbbbbbbbb2222", "db.back", Family::V4),
            Found::Addrs(vec![v4("10.2.0.3")])
        );
        // an unattached key sees nothing.
        assert_eq!(t.lookup("zzz", "web", Family::V4), Found::Unknown);
    }

    #[test]
    fn v4_only_name_has_no_aaaa_but_exists() {
        let t = table();
        let me = "cccccccccccc3333";
        assert_eq!(t.lookup(me, "web", Family::V6), Found::Addrs(vec![]));
        assert_eq!(
            t.lookup(me, "db.front", Family::V6),
            Found::Addrs(vec![v4("fd00::3")])
        );
    }

    #[test]
    fn reverse_names() {
        let t = table();
        let me = "cccccccccccc3333";
        assert_eq!(t.reverse(me, v4("10.1.0.2")), Some("web.front".into()));
        assert_eq!(t.reverse(me, v4("10.2.0.9")), None);
        assert_eq!(
            parse_ptr_name("2.0.1.10.in-addr.arpa."),
            Some(v4("10.1.0.2"))
        );
        assert_eq!(
            parse_ptr_name("2.0.1.10.IN-ADDR.ARPA"),
            Some(v4("10.1.0.2"))
        );
        assert_eq!(parse_ptr_name("0.1.10.in-addr.arpa."), None);
        assert_eq!(parse_ptr_name("256.0.1.10.in-addr.arpa."), None);
        assert_eq!(parse_ptr_name("+2.0.1.10.in-addr.arpa."), None);
        let six = "3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.";
        assert_eq!(parse_ptr_name(six), Some(v4("fd00::3")));
        assert_eq!(parse_ptr_name("x.ip6.arpa"), None);
        assert_eq!(parse_ptr_name("example.com"), None);
    }
}
