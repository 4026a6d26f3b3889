//! Links, addresses and routes over rtnetlink: the bridge of a network, a
//! veth pair (or a macvlan) per endpoint with its inner end made directly in
//! the container's netns, and that end's address and default route.

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use berth_api::{Error, Result};
use futures_util::TryStreamExt;
use ipnet::Ipv4Net;
use rtnetlink::packet_route::link::{InfoData, InfoKind, InfoVeth, LinkAttribute, MacVlanMode};
use rtnetlink::{
    Handle, LinkBridge, LinkMacVlan, LinkMessageBuilder, LinkUnspec, LinkVeth, RouteMessageBuilder,
};

fn nl_err(what: impl std::fmt::Display) -> impl FnOnce(rtnetlink::Error) -> Error {
    move |e| Error::internal(format!("{what}: {e}"))
}

/// A netlink connection bound to one network namespace.
pub struct Netlink {
    handle: Handle,
}

impl Netlink {
    /// The daemon's own (host) namespace. Needs a tokio runtime.
    pub fn host() -> Result<Netlink> {
        let (conn, handle, _) = rtnetlink::new_connection()
            .map_err(|e| Error::internal(format!("netlink socket: {e}")))?;
        tokio::spawn(conn);
        Ok(Netlink { handle })
    }

    /// A connection whose socket lives in the namespace bound at `path`.
    /// The socket is made on a thread of its own that enters the namespace
    /// and then ends, so no runtime thread ever changes namespace; the
    /// socket keeps its namespace for life.
    pub async fn in_netns(path: &Path) -> Result<Netlink> {
        let path: PathBuf = path.to_owned();
        let rt = tokio::runtime::Handle::current();
        let made = tokio::task::spawn_blocking(move || {
            std::thread::spawn(move || -> Result<_> {
                let ns = File::open(&path)
                    .map_err(|e| Error::internal(format!("opening {}: {e}", path.display())))?;
                nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
                    .map_err(|e| Error::internal(format!("entering {}: {e}", path.display())))?;
                let _rt = rt.enter();
                rtnetlink::new_connection()
                    .map_err(|e| Error::internal(format!("netlink socket: {e}")))
            })
            .join()
            .map_err(|_| Error::internal("netns thread panicked"))?
        })
        .await
        .map_err(|e| Error::internal(e.to_string()))??;
        let (conn, handle, _) = made;
        tokio::spawn(conn);
        Ok(Netlink { handle })
    }

    pub async fn index_of(&self, name: &str) -> Result<Option<u32>> {
        let mut links = self
            .handle
            .link()
            .get()
            .match_name(name.to_string())
            .execute();
        match links.try_next().await {
            Ok(Some(m)) => Ok(Some(m.header.index)),
            Ok(None) => Ok(None),
            // ENODEV: no such link.
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::ENODEV => Ok(None),
            Err(e) => Err(Error::internal(format!("looking up {name}: {e}"))),
        }
    }

    async fn require(&self, name: &str) -> Result<u32> {
        self.index_of(name)
            .await?
            .ok_or_else(|| Error::internal(format!("link {name} not found")))
    }

    /// Makes the bridge if missing, gives it `gateway/prefix` unless it has
    /// it, and brings it up.
    pub async fn ensure_bridge(
        &self,
        name: &str,
        gateway: Ipv4Net,
        mtu: Option<u32>,
    ) -> Result<()> {
        if self.index_of(name).await?.is_none() {
            let mut b = LinkBridge::new(name);
            if let Some(m) = mtu {
                b = b.mtu(m);
            }
            let made = self.handle.link().add(b.build()).execute().await;
            // Another daemon starting at the same moment may have made it
            // between the look-up and the add (seen in CI, two berthds on
            // the default bridge): then it is there, which is all we need.
            if let Err(e) = made {
                if self.index_of(name).await?.is_none() {
                    return Err(nl_err(format!("creating bridge {name}"))(e));
                }
            }
        }
        let idx = self.require(name).await?;
        self.ensure_address(idx, gateway).await?;
        self.up(idx).await?;
        set_sysctl(&format!("net/ipv4/conf/{name}/route_localnet"), "1");
        Ok(())
    }

    async fn ensure_address(&self, idx: u32, addr: Ipv4Net) -> Result<()> {
        let mut have = self
            .handle
            .address()
            .get()
            .set_link_index_filter(idx)
            .execute();
        while let Some(m) = have.try_next().await.map_err(nl_err("listing addresses"))? {
            let found = m.attributes.iter().any(|a| {
                matches!(a, rtnetlink::packet_route::address::AddressAttribute::Address(IpAddr::V4(ip)) if *ip == addr.addr())
            });
            if found {
                return Ok(());
            }
        }
        self.handle
            .address()
            .add(idx, IpAddr::V4(addr.addr()), addr.prefix_len())
            .execute()
            .await
            .map_err(nl_err(format!("adding {addr}")))
    }

    /// Takes `addr` off the link `name`, if both are there (a daemon leaving
    /// a bridge another daemon still uses takes back only its gateway).
    pub async fn remove_address(&self, name: &str, addr: Ipv4Net) -> Result<()> {
        let Some(idx) = self.index_of(name).await? else {
            return Ok(());
        };
        let mut have = self
            .handle
            .address()
            .get()
            .set_link_index_filter(idx)
            .execute();
        while let Some(m) = have.try_next().await.map_err(nl_err("listing addresses"))? {
            let found = m.attributes.iter().any(|a| {
                matches!(a, rtnetlink::packet_route::address::AddressAttribute::Address(IpAddr::V4(ip)) if *ip == addr.addr())
            });
            if found && m.header.prefix_len == addr.prefix_len() {
                return self
                    .handle
                    .address()
                    .del(m)
                    .execute()
                    .await
                    .map_err(nl_err(format!("removing {addr} from {name}")));
            }
        }
        Ok(())
    }

    async fn up(&self, idx: u32) -> Result<()> {
        self.handle
            .link()
            .set(LinkUnspec::new_with_index(idx).up().build())
            .execute()
            .await
            .map_err(nl_err("setting link up"))
    }

    /// Deletes a link by name; a missing one is fine.
    pub async fn delete(&self, name: &str) -> Result<()> {
        if let Some(idx) = self.index_of(name).await? {
            match self.handle.link().del(idx).execute().await {
                Ok(()) => {}
                Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::ENODEV => {}
                Err(e) => return Err(Error::internal(format!("deleting {name}: {e}"))),
            }
        }
        Ok(())
    }

    /// A veth pair: `host_name` enslaved to `bridge` and up, its peer
    /// `inner_name` with `mac` made directly inside `netns`.
    pub async fn veth_into(
        &self,
        host_name: &str,
        bridge: &str,
        netns: &File,
        inner_name: &str,
        mac: [u8; 6],
        mtu: Option<u32>,
    ) -> Result<()> {
        let br = self.require(bridge).await?;
        let mut peer = LinkMessageBuilder::<LinkUnspec>::new()
            .name(inner_name.to_string())
            .address(mac.to_vec())
            .setns_by_fd(netns.as_raw_fd());
        if let Some(m) = mtu {
            peer = peer.mtu(m);
        }
        let mut msg = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
            .name(host_name.to_string())
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer.build())))
            .controller(br)
            .up();
        if let Some(m) = mtu {
            msg = msg.mtu(m);
        }
        self.handle
            .link()
            .add(msg.build())
            .execute()
            .await
            .map_err(nl_err(format!("creating veth {host_name}")))
    }

    /// A bridge-mode macvlan on `parent`, made directly inside `netns`.
    pub async fn macvlan_into(
        &self,
        parent: &str,
        netns: &File,
        inner_name: &str,
        mac: [u8; 6],
    ) -> Result<()> {
        let Some(p) = self.index_of(parent).await? else {
            return Err(Error::invalid(format!(
                "-o parent interface was not found on the host: {parent}"
            )));
        };
        let msg = LinkMacVlan::new(inner_name, p, MacVlanMode::Bridge)
            .address(mac.to_vec())
            .setns_by_fd(netns.as_raw_fd())
            .build();
        self.handle
            .link()
            .add(msg)
            .execute()
            .await
            .map_err(nl_err(format!("creating macvlan on {parent}")))
    }

    /// Inside a container's netns: address, up, and (for the network that
    /// gives the default route) the default route through `gateway`.
    pub async fn configure(
        &self,
        ifname: &str,
        addr: Ipv4Net,
        gateway: Option<Ipv4Addr>,
    ) -> Result<()> {
        let idx = self.require(ifname).await?;
        self.handle
            .address()
            .add(idx, IpAddr::V4(addr.addr()), addr.prefix_len())
            .execute()
            .await
            .map_err(nl_err(format!("adding {addr} to {ifname}")))?;
        self.up(idx).await?;
        if let Some(gw) = gateway {
            let route = RouteMessageBuilder::<Ipv4Addr>::new()
                .gateway(gw)
                .output_interface(idx)
                .build();
            self.handle
                .route()
                .add(route)
                .execute()
                .await
                .map_err(nl_err(format!("default route via {gw}")))?;
        }
        Ok(())
    }

    /// The names of the links in this namespace.
    pub async fn link_names(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut links = self.handle.link().get().execute();
        while let Some(m) = links.try_next().await.map_err(nl_err("listing links"))? {
            for a in m.attributes {
                if let LinkAttribute::IfName(n) = a {
                    out.push(n);
                }
            }
        }
        Ok(out)
    }
}

/// Writes `/proc/sys/<key>`; a failure is logged, not fatal (a read-only
/// /proc/sys in a nested setup must not stop the daemon).
pub fn set_sysctl(key: &str, value: &str) {
    let path = Path::new("/proc/sys").join(key);
    if let Err(e) = std::fs::write(&path, value) {
        tracing::warn!("setting {}: {e}", path.display());
    }
}
