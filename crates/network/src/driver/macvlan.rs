//! `macvlan`: each container gets a bridge-mode macvlan on a host
//! interface (the parent), in the parent's own network. Nothing is made on
//! the host side, so setup and teardown have nothing to do.

use berth_api::{Error, Result};
use futures_util::future::BoxFuture;
use indexmap::IndexMap;

use super::{NetSpec, NetworkDriver, Plug, Unplug};
use crate::Netlink;

pub struct Macvlan;

impl NetworkDriver for Macvlan {
    fn name(&self) -> &'static str {
        "macvlan"
    }

    fn exclusive(&self) -> bool {
        false
    }

    fn routed(&self) -> bool {
        false
    }

    fn iface<'a>(
        &'a self,
        host: &'a Netlink,
        _id: &'a str,
        options: &'a IndexMap<String, String>,
    ) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            let parent = options
                .get("parent")
                .cloned()
                .unwrap_or_else(|| "eth0".into());
            if host.index_of(&parent).await?.is_none() {
                return Err(Error::invalid(format!(
                    "-o parent interface was not found on the host: {parent}"
                )));
            }
            Ok(parent)
        })
    }

    fn setup<'a>(&'a self, _host: &'a Netlink, _net: &'a NetSpec) -> BoxFuture<'a, Result<()>> {
        Box::pin(async { Ok(()) })
    }

    fn plug<'a>(
        &'a self,
        host: &'a Netlink,
        net: &'a NetSpec,
        plug: Plug<'a>,
    ) -> BoxFuture<'a, Result<Option<String>>> {
        Box::pin(async move {
            host.macvlan_into(&net.iface, plug.netns, plug.ifname, plug.mac)
                .await?;
            Ok(None)
        })
    }

    fn unplug<'a>(&'a self, _host: &'a Netlink, unplug: Unplug<'a>) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            // A macvlan lives only in the container's namespace.
            let Some(netns) = unplug.netns else {
                return Ok(());
            };
            let inner = Netlink::in_netns(netns).await?;
            // Gone already is no failure: the container keeps running
            // either way, and the link goes with its namespace at the latest.
            if let Err(e) = inner.delete(unplug.ifname).await {
                tracing::debug!("removing {}: {}", unplug.ifname, e.message);
            }
            Ok(())
        })
    }

    fn teardown<'a>(&'a self, _host: &'a Netlink, _net: &'a NetSpec) -> BoxFuture<'a, Result<()>> {
        Box::pin(async { Ok(()) })
    }
}
