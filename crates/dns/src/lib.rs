//! berth-dns: the DNS server Docker embeds at 127.0.0.11 in every container
//! on a user-defined network.
//!
//! One [`Server`] lives in the daemon. The engine tells it the name table of
//! each network ([`Server::set_network`], at any time: containers joining
//! and leaving, aliases) and attaches each container's network namespace
//! ([`Server::attach`]): the server opens UDP and TCP sockets at
//! 127.0.0.11:53 inside that namespace and answers
//!
//! - A/AAAA for container names, network aliases, short IDs and
//!   `NAME.NETWORK`, from the point of view of the asking container (only
//!   the networks it is on), case-insensitive, several addresses rotated per
//!   query; a known name without an address of the asked family gets an
//!   empty NOERROR;
//! - PTR for those containers' addresses (`name.network.`);
//! - everything else by forwarding to the container's upstreams (the host's
//!   resolvers or `--dns`) through sockets made inside its namespace, UDP
//!   with TCP on truncation, TCP for TCP; SERVFAIL when the container is on
//!   internal networks only, or no upstream answers in time.
//!
//! ```no_run
//! # async fn demo() -> Result<(), berth_dns::DnsError> {
//! use berth_dns::{ContainerDns, Endpoint, Network, ResolvConf, Server};
//! let dns = Server::new(Default::default())?;
//! dns.set_network("net-id", Network {
//!     name: "front".into(),
//!     endpoints: vec![Endpoint {
//!         container_id: "0123456789ab...".into(),
//!         name: "web".into(),
//!         aliases: vec!["www".into()],
//!         ipv4: Some("172.20.0.2".parse().unwrap()),
//!         ipv6: None,
//!     }],
//! });
//! let host = ResolvConf::parse(&std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default());
//! let handle = dns
//!     .attach("0123456789ab...", "/proc/1234/ns/net".as_ref(), ContainerDns {
//!         upstreams: host.upstreams(),
//!         options: host.options.clone(),
//!         internal: false,
//!     })
//!     .await?;
//! handle.detach(); // on stop; also on drop
//! # Ok(()) }
//! ```

mod names;
mod netns;
#[cfg(test)]
mod props;
mod query;
mod resolv;
mod server;

use std::net::SocketAddr;
use std::time::Duration;

pub use names::{Endpoint, Network};
pub use resolv::{container_resolv_conf, ResolvConf};
pub use server::{Handle, Server};

/// Server-wide settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Where each container's server listens, inside its namespace.
    pub listen: SocketAddr,
    /// How long one upstream gets to answer one query (Docker: 4 s).
    pub forward_timeout: Duration,
    /// The TTL of local answers (Docker: 600).
    pub ttl: u32,
    /// Forwarded queries of one container in flight at once; a query that
    /// waits longer than `forward_timeout` for a slot gets REFUSED (Docker:
    /// 1024).
    pub max_concurrent_forwards: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 11], 53)),
            forward_timeout: Duration::from_secs(4),
            ttl: 600,
            max_concurrent_forwards: 1024,
        }
    }
}

/// A container's resolver settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerDns {
    /// Where unknown names go: `--dns` servers, else the host's resolvers
    /// minus loopback ones ([`ResolvConf::upstreams`]). Empty: SERVFAIL.
    pub upstreams: Vec<SocketAddr>,
    /// The container's resolver options (`--dns-option`, else the host's):
    /// an explicit `ndots:N` with N > 0 keeps single-label names local.
    pub options: Vec<String>,
    /// The container is on internal networks only: nothing is forwarded,
    /// unknown names get SERVFAIL at once.
    pub internal: bool,
}

/// What can go wrong attaching a container.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// The network namespace path cannot be opened.
    #[error("cannot open network namespace {path}: {source}")]
    Netns {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A socket cannot be made in the namespace.
    #[error("cannot make a dns socket in the container's network namespace: {0}")]
    Socket(#[source] std::io::Error),
    /// The listening address cannot be bound.
    #[error("cannot listen on {proto} {addr} in the container's network namespace: {source}")]
    Bind {
        proto: &'static str,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The listening address is not routable in the namespace: its `lo`
    /// is down.
    #[error("cannot reach {addr} in the container's network namespace (is lo up?): {source}")]
    Unreachable {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The namespace thread cannot start.
    #[error("cannot start the dns namespace thread: {0}")]
    Thread(#[source] std::io::Error),
}
