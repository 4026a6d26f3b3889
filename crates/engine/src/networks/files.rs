//! The `/etc/hosts` and `/etc/resolv.conf` a container gets.

use berth_api::Result;

use super::Networks;
use crate::containers::container::Record;

impl Networks<'_> {
    /// `/etc/hosts` with the container's own addresses, as dockerd writes it.
    pub(crate) fn write_hosts(&self, r: &Record) -> Result<()> {
        let mode = crate::containers::container::network_mode(&r.host_config);
        if mode == "host" || mode.starts_with("container:") {
            return Ok(());
        }
        let mut s = String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n");
        for e in r.host_config.extra_hosts.iter().flatten() {
            // Checked at create (`checks.rs`); `name=ip` and `[v6]` too.
            if let Ok((name, ip)) = crate::containers::checks::extra_host(e) {
                let ip = if ip == "host-gateway" {
                    self.net
                        .find("bridge")
                        .ok()
                        .and_then(|n| n.gateway)
                        .map(|g| g.to_string())
                        .unwrap_or_default()
                } else {
                    ip.to_string()
                };
                s += &format!("{ip}\t{name}\n");
            }
        }
        let host = if r.config.domainname.is_empty() {
            r.config.hostname.clone()
        } else {
            format!(
                "{}.{} {}",
                r.config.hostname, r.config.domainname, r.config.hostname
            )
        };
        for e in r.endpoints.values() {
            if !e.ip.is_empty() {
                s += &format!("{}\t{host}\n", e.ip);
            }
        }
        // Rewritten in place: the file is bind-mounted into the container.
        std::fs::write(self.container_dir(&r.id).join("hosts"), s)?;
        Ok(())
    }

    /// The resolv.conf a container gets: the embedded server's address on
    /// user-defined networks, else the host's resolvers (or `--dns`).
    pub(crate) fn resolv_conf(&self, r_mode: &str, hc: &berth_api::HostConfig) -> String {
        let cfg = &self.net.config;
        let dns: Vec<String> = hc
            .dns
            .clone()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| cfg.dns.clone());
        let search: Vec<String> = hc
            .dns_search
            .clone()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| cfg.dns_search.clone());
        let options: Vec<String> = hc
            .dns_options
            .clone()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| cfg.dns_options.clone());
        let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        if r_mode == "host" {
            return host;
        }
        let user_net = self
            .net
            .find(r_mode)
            .map(|n| !n.predefined)
            .unwrap_or(false);
        let host_search: Vec<String> = host
            .lines()
            .filter_map(|l| l.strip_prefix("search "))
            .flat_map(|l| l.split_whitespace().map(str::to_string))
            .collect();
        let host_ns: Vec<String> = host
            .lines()
            .filter_map(|l| l.strip_prefix("nameserver "))
            .map(|s| s.trim().to_string())
            .filter(|ip| !ip.starts_with("127.") && ip != "::1")
            .collect();
        let host_opts: Vec<String> = host
            .lines()
            .filter_map(|l| l.strip_prefix("options "))
            .flat_map(|l| l.split_whitespace().map(str::to_string))
            .collect();
        let mut s = String::new();
        let search = if search.is_empty() {
            host_search
        } else {
            search
        };
        if user_net {
            s += "nameserver 127.0.0.11\n";
            if !search.is_empty() {
                s += &format!("search {}\n", search.join(" "));
            }
            let mut opts = vec!["ndots:0".to_string()];
            opts.extend(if options.is_empty() {
                host_opts
            } else {
                options
            });
            s += &format!("options {}\n", opts.join(" "));
            return s;
        }
        for ns in if dns.is_empty() { host_ns } else { dns } {
            s += &format!("nameserver {ns}\n");
        }
        if !search.is_empty() {
            s += &format!("search {}\n", search.join(" "));
        }
        let options = if options.is_empty() {
            host_opts
        } else {
            options
        };
        if !options.is_empty() {
            s += &format!("options {}\n", options.join(" "));
        }
        s
    }
}
