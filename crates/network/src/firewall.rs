//! The daemon's netfilter rules, all in one nftables table of its own
//! (`ip berth` by default), so an operator finds them with
//! `nft list table ip berth`.
//!
//! Every change rewrites the whole table in one `nft -f` transaction, from
//! the engine's state: the kernel never sees half a rule set, and a daemon
//! restart rebuilds exactly what the store says. The rules are written as
//! nft's own script language, which is what `nft list` shows back; the
//! `nftables` crate would only wrap the same binary with JSON.

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use berth_api::{Error, Result};
use ipnet::Ipv4Net;

/// A bridge network as the rules see it.
#[derive(Debug, Clone, PartialEq)]
pub struct BridgeRules {
    pub bridge: String,
    pub subnet: Ipv4Net,
    /// `--internal`: nothing in or out but between its own containers.
    pub internal: bool,
    /// `com.docker.network.bridge.enable_ip_masquerade` (default true).
    pub masquerade: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    Tcp,
    Udp,
    Sctp,
}

impl Proto {
    pub fn parse(s: &str) -> Option<Proto> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" | "" => Some(Proto::Tcp),
            "udp" => Some(Proto::Udp),
            "sctp" => Some(Proto::Sctp),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Sctp => "sctp",
        }
    }
}

/// One published port: host (address, port) to the container's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortRule {
    /// `None`: every host address (`0.0.0.0`).
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub proto: Proto,
    pub container_ip: Ipv4Addr,
    pub container_port: u16,
}

pub struct Firewall {
    pub table: String,
    /// `--iptables=false`: berth writes no rules at all.
    pub enabled: bool,
    lock: Mutex<()>,
}

impl Firewall {
    pub fn new(table: &str, enabled: bool) -> Firewall {
        Firewall {
            table: table.to_string(),
            enabled,
            lock: Mutex::new(()),
        }
    }

    /// Replaces the table's content with the rules for `nets` and `ports`.
    pub fn apply(&self, nets: &[BridgeRules], ports: &[PortRule]) -> Result<()> {
        if !self.enabled {
            return Ok(());
        }
        let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        nft(&script(&self.table, nets, ports))?;
        forward_compat(&self.table, nets);
        Ok(())
    }

    /// Deletes the table (and the compat rules), on `--iptables` cleanup.
    pub fn remove(&self) {
        if !self.enabled {
            return;
        }
        let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let _ = nft(&format!(
            "add table ip {t}\ndelete table ip {t}\n",
            t = self.table
        ));
        forward_compat(&self.table, &[]);
    }
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', ""))
}

/// The whole table as one nft script.
pub fn script(table: &str, nets: &[BridgeRules], ports: &[PortRule]) -> String {
    let mut s = String::new();
    // `add` then `delete` makes the delete valid whether or not the table
    // exists; the new table follows in the same transaction.
    s += &format!("add table ip {table}\ndelete table ip {table}\ntable ip {table} {{\n");
    s += "  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n    fib daddr type local jump publish\n  }\n";
    s += "  chain output {\n    type nat hook output priority -100; policy accept;\n    fib daddr type local jump publish\n  }\n";
    s += "  chain publish {\n";
    for p in ports {
        let dst = match p.host_ip {
            Some(ip) if !ip.is_unspecified() => format!("ip daddr {ip} "),
            _ => String::new(),
        };
        s += &format!(
            "    {dst}{proto} dport {hp} dnat to {cip}:{cp}\n",
            proto = p.proto.as_str(),
            hp = p.host_port,
            cip = p.container_ip,
            cp = p.container_port
        );
    }
    s += "  }\n";
    s += "  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n";
    for n in nets {
        let br = quote(&n.bridge);
        if n.masquerade && !n.internal {
            s += &format!(
                "    ip saddr {} oifname != {br} masquerade\n",
                n.subnet.trunc()
            );
        }
        // Published ports reached from the host's loopback, and from a
        // container of the same bridge through a host address (hairpin).
        s += &format!("    oifname {br} ip saddr 127.0.0.0/8 masquerade\n");
        s += &format!(
            "    oifname {br} ct status dnat ip saddr {} masquerade\n",
            n.subnet.trunc()
        );
    }
    s += "  }\n";
    s += "  chain forward {\n    type filter hook forward priority filter; policy accept;\n";
    for n in nets {
        let br = quote(&n.bridge);
        if n.internal {
            s += &format!("    iifname {br} oifname != {br} drop\n");
            s += &format!("    oifname {br} iifname != {br} drop\n");
        }
        let others: Vec<String> = nets
            .iter()
            .filter(|o| o.bridge != n.bridge)
            .map(|o| quote(&o.bridge))
            .collect();
        if !others.is_empty() {
            s += &format!(
                "    iifname {br} oifname {{ {} }} drop\n",
                others.join(", ")
            );
        }
    }
    s += "  }\n}\n";
    s
}

fn nft(script: &str) -> Result<()> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::internal(format!("running nft: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .map_err(|e| Error::internal(format!("writing to nft: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Error::internal(format!("running nft: {e}")))?;
    if !out.status.success() {
        return Err(Error::internal(format!(
            "nft refused the rules: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// Where iptables (dockerd, firewalld, an admin) has set the `filter FORWARD`
/// policy to drop, no rule of our own table can let bridged traffic through:
/// every base chain must accept. As dockerd does with its own chains there,
/// berth then adds accept rules for its bridges to that chain, marked with a
/// comment naming the table so they are found and replaced.
fn forward_compat(table: &str, nets: &[BridgeRules]) {
    let Ok(out) = Command::new("nft")
        .args(["-a", "list", "chain", "ip", "filter", "FORWARD"])
        .stderr(Stdio::null())
        .output()
    else {
        return;
    };
    if !out.status.success() {
        return;
    }
    let listing = String::from_utf8_lossy(&out.stdout);
    let mark = format!("comment \"berth:{table}\"");
    let mut s = String::new();
    for line in listing.lines().filter(|l| l.contains(&mark)) {
        if let Some(h) = line
            .rsplit("# handle ")
            .next()
            .and_then(|h| h.trim().parse::<u64>().ok())
        {
            s += &format!("delete rule ip filter FORWARD handle {h}\n");
        }
    }
    if listing.contains("policy drop") {
        for n in nets {
            let br = quote(&n.bridge);
            s += &format!("insert rule ip filter FORWARD iifname {br} counter accept {mark}\n");
            s += &format!("insert rule ip filter FORWARD oifname {br} counter accept {mark}\n");
        }
    }
    if !s.is_empty() {
        if let Err(e) = nft(&s) {
            tracing::warn!("iptables FORWARD compat rules: {}", e.message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_shape() {
        let nets = vec![
            BridgeRules {
                bridge: "berth0".into(),
                subnet: "172.17.0.1/16".parse().unwrap(),
                internal: false,
                masquerade: true,
            },
            BridgeRules {
                bridge: "br-1".into(),
                subnet: "10.1.0.0/24".parse().unwrap(),
                internal: true,
                masquerade: true,
            },
        ];
        let ports = vec![PortRule {
            host_ip: None,
            host_port: 8080,
            proto: Proto::Tcp,
            container_ip: "172.17.0.2".parse().unwrap(),
            container_port: 80,
        }];
        let s = script("berth", &nets, &ports);
        assert!(s.contains("tcp dport 8080 dnat to 172.17.0.2:80"));
        assert!(s.contains("ip saddr 172.17.0.0/16 oifname != \"berth0\" masquerade"));
        assert!(!s.contains("ip saddr 10.1.0.0/24 oifname != \"br-1\" masquerade"));
        assert!(s.contains("iifname \"br-1\" oifname != \"br-1\" drop"));
        assert!(s.contains("iifname \"berth0\" oifname { \"br-1\" } drop"));
    }
}
