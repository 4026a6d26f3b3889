//! Host ports for published container ports: dockerd's allocation rules
//! (a port on 0.0.0.0 conflicts with the same port on any address, random
//! ports from the kernel's ephemeral range) plus a bind probe, so a port a
//! host process already listens on is refused up front instead of being
//! silently shadowed by the DNAT rule.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, UdpSocket};

use berth_api::{Error, Result};

use crate::firewall::Proto;

#[derive(Debug, Default)]
pub struct PortAllocator {
    used: HashSet<(Ipv4Addr, u16, Proto)>,
}

fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().filter_map(|x| x.parse::<u16>().ok());
            Some((it.next()?, it.next()?))
        })
        .unwrap_or((32768, 60999))
}

/// Whether a host process holds the port (we can't bind it ourselves).
fn held_by_host(ip: Ipv4Addr, port: u16, proto: Proto) -> bool {
    let addr = SocketAddrV4::new(ip, port);
    match proto {
        Proto::Tcp => TcpListener::bind(addr).is_err(),
        Proto::Udp => UdpSocket::bind(addr).is_err(),
        Proto::Sctp => false,
    }
}

impl PortAllocator {
    fn taken(&self, ip: Ipv4Addr, port: u16, proto: Proto) -> bool {
        self.used.iter().any(|(uip, up, upr)| {
            *up == port
                && *upr == proto
                && (uip.is_unspecified() || ip.is_unspecified() || *uip == ip)
        })
    }

    /// Takes `port` (0: a free one from the ephemeral range) on `ip`.
    pub fn allocate(&mut self, ip: Ipv4Addr, port: u16, proto: Proto) -> Result<u16> {
        if port != 0 {
            if self.taken(ip, port, proto) || held_by_host(ip, port, proto) {
                return Err(Error::internal(format!(
                    "driver failed programming external connectivity on endpoint: Bind for {ip}:{port} failed: port is already allocated"
                )));
            }
            self.used.insert((ip, port, proto));
            return Ok(port);
        }
        let (lo, hi) = ephemeral_range();
        let span = (hi - lo) as u32 + 1;
        let start = rand::random_range(0..span);
        for i in 0..span {
            let p = lo + ((start + i) % span) as u16;
            if !self.taken(ip, p, proto) && !held_by_host(ip, p, proto) {
                self.used.insert((ip, p, proto));
                return Ok(p);
            }
        }
        Err(Error::internal("no free host port in the ephemeral range"))
    }

    /// Marks a port used (rebuilding from the store after a restart).
    pub fn reserve(&mut self, ip: Ipv4Addr, port: u16, proto: Proto) {
        self.used.insert((ip, port, proto));
    }

    pub fn release(&mut self, ip: Ipv4Addr, port: u16, proto: Proto) {
        self.used.remove(&(ip, port, proto));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflicts_as_dockerd() {
        let mut a = PortAllocator::default();
        let any = Ipv4Addr::UNSPECIFIED;
        let lo = Ipv4Addr::LOCALHOST;
        assert_eq!(a.allocate(any, 38181, Proto::Tcp).unwrap(), 38181);
        assert!(a.allocate(lo, 38181, Proto::Tcp).is_err());
        assert_eq!(a.allocate(any, 38181, Proto::Udp).unwrap(), 38181);
        a.release(any, 38181, Proto::Tcp);
        assert_eq!(a.allocate(lo, 38181, Proto::Tcp).unwrap(), 38181);
        let r = a.allocate(any, 0, Proto::Tcp).unwrap();
        assert!(r >= 1024);
        // A port a host process listens on is refused.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let held = l.local_addr().unwrap().port();
        assert!(a.allocate(lo, held, Proto::Tcp).is_err());
    }
}
