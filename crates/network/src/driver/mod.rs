//! Network drivers: what each kind of network does on the host.
//!
//! The engine keeps the policy (records, IPAM, endpoints, published ports)
//! and calls a driver for what depends on the kind of network: reading its
//! create options, bringing it up on the host, plugging a container's
//! interface in and out, and tearing it down. `bridge` and `macvlan`
//! implement it; `overlay` will be the third. The trait holds only what the
//! two share today.
//!
//! Its methods return boxed futures so the engine can keep the drivers as
//! `dyn NetworkDriver` (an `async fn` in a trait cannot be called through
//! `dyn`); `futures-util`'s `BoxFuture` is the one the crate already has.

mod bridge;
mod macvlan;

use std::fs::File;
use std::net::Ipv4Addr;
use std::path::Path;

use berth_api::{Error, Result};
use futures_util::future::BoxFuture;
use indexmap::IndexMap;
use ipnet::Ipv4Net;

use crate::Netlink;

pub use bridge::Bridge;
pub use macvlan::Macvlan;

/// A network as a driver sees it.
#[derive(Debug, Clone)]
pub struct NetSpec {
    pub id: String,
    /// Bridge: its interface; macvlan: the parent interface.
    pub iface: String,
    pub subnet: Option<Ipv4Net>,
    pub gateway: Option<Ipv4Addr>,
}

/// One container interface to plug in.
pub struct Plug<'a> {
    /// The container's network namespace.
    pub netns: &'a File,
    /// The interface's name inside it (`eth0`, ...).
    pub ifname: &'a str,
    pub mac: [u8; 6],
    /// Names the host side of the link, where the driver makes one.
    pub endpoint_id: &'a str,
}

/// One container interface to take out.
pub struct Unplug<'a> {
    /// The host side of the link, as [`NetworkDriver::plug`] returned it.
    pub host_ifname: &'a str,
    /// The container's network namespace while it lives on (`None` when
    /// the container exits: what is inside goes with the namespace).
    pub netns: Option<&'a Path>,
    /// The interface's name inside the namespace.
    pub ifname: &'a str,
}

pub trait NetworkDriver: Send + Sync {
    /// The name users give (`docker network create -d NAME`).
    fn name(&self) -> &'static str;

    /// Whether a network's interface and subnet are its own on the host:
    /// two bridge networks can share neither, macvlan networks may share a
    /// parent and overlap.
    fn exclusive(&self) -> bool;

    /// Whether the host routes the network's traffic, so its subnet gets
    /// forwarding and masquerade rules in the daemon's table.
    fn routed(&self) -> bool;

    /// The interface a new network `id` uses, read from its create options
    /// and checked; nothing is made yet.
    fn iface<'a>(
        &'a self,
        host: &'a Netlink,
        id: &'a str,
        options: &'a IndexMap<String, String>,
    ) -> BoxFuture<'a, Result<String>>;

    /// Brings the network up on the host (at create and at each daemon start).
    fn setup<'a>(&'a self, host: &'a Netlink, net: &'a NetSpec) -> BoxFuture<'a, Result<()>>;

    /// Makes the container's interface on the network, inside its
    /// namespace; returns the host side's name where there is one.
    fn plug<'a>(
        &'a self,
        host: &'a Netlink,
        net: &'a NetSpec,
        plug: Plug<'a>,
    ) -> BoxFuture<'a, Result<Option<String>>>;

    /// Takes the container's interface out.
    fn unplug<'a>(&'a self, host: &'a Netlink, unplug: Unplug<'a>) -> BoxFuture<'a, Result<()>>;

    /// Takes the network off the host. Every step is tried whatever an
    /// earlier one did, and all failures are reported together.
    fn teardown<'a>(&'a self, host: &'a Netlink, net: &'a NetSpec) -> BoxFuture<'a, Result<()>>;
}

/// The drivers of this host, by name.
pub fn drivers(mtu: Option<u32>) -> Vec<Box<dyn NetworkDriver>> {
    vec![Box::new(Bridge::new(mtu)), Box::new(Macvlan)]
}

/// One error out of the failures of a teardown that kept going (or `Ok`).
pub fn all_of(errors: Vec<Error>) -> Result<()> {
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.into_iter().next().expect("one")),
        _ => Err(Error::internal(
            errors
                .iter()
                .map(|e| e.message.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(kv: &[(&str, &str)]) -> IndexMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[tokio::test]
    async fn each_driver_reads_its_interface_from_the_options() {
        let host = Netlink::host().expect("netlink");
        let ds = drivers(None);
        let bridge = ds.iter().find(|d| d.name() == "bridge").unwrap();
        let id = "0123456789abcdef";
        assert_eq!(
            bridge.iface(&host, id, &opts(&[])).await.unwrap(),
            "br-0123456789ab"
        );
        let named = opts(&[("com.docker.network.bridge.name", "mybr")]);
        assert_eq!(bridge.iface(&host, id, &named).await.unwrap(), "mybr");
        let long = opts(&[("com.docker.network.bridge.name", "a-name-too-long-x")]);
        let e = bridge.iface(&host, id, &long).await.unwrap_err();
        assert_eq!(
            e.message,
            "bridge name \"a-name-too-long-x\" is longer than 15 characters"
        );

        let macvlan = ds.iter().find(|d| d.name() == "macvlan").unwrap();
        assert_eq!(
            macvlan
                .iface(&host, id, &opts(&[("parent", "lo")]))
                .await
                .unwrap(),
            "lo"
        );
        let e = macvlan
            .iface(&host, id, &opts(&[("parent", "nosuchlink0")]))
            .await
            .unwrap_err();
        assert_eq!(
            e.message,
            "-o parent interface was not found on the host: nosuchlink0"
        );
        assert!(bridge.exclusive() && bridge.routed());
        assert!(!macvlan.exclusive() && !macvlan.routed());
    }

    #[test]
    fn all_of_reports_every_failure() {
        assert!(all_of(vec![]).is_ok());
        let one = all_of(vec![Error::invalid("a")]).unwrap_err();
        assert_eq!(
            (one.kind, one.message.as_str()),
            (berth_api::ErrorKind::InvalidArgument, "a")
        );
        let two = all_of(vec![Error::invalid("a"), Error::internal("b")]).unwrap_err();
        assert_eq!(two.message, "a; b");
    }
}
