//! `bridge`: a Linux bridge on the host with the network's gateway address,
//! and a veth pair per container (host side enslaved to the bridge).
//!
//! A bridge may be named by several daemons in the same network namespace
//! (two daemons that both keep the default `berth0`). Each daemon holds a
//! share of every bridge it brings up and of the gateway address it put
//! there ([`crate::shared`]); at teardown it deletes the bridge only as its
//! last user, and otherwise takes back only its own address.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use berth_api::{Error, Result};
use futures_util::future::BoxFuture;
use indexmap::IndexMap;
use ipnet::Ipv4Net;

use super::{all_of, NetSpec, NetworkDriver, Plug, Unplug};
use crate::shared::{self, Share};
use crate::Netlink;

/// This daemon's holds on one bridge and on its gateway address there.
struct Hold {
    bridge: Option<Share>,
    address: Option<Share>,
    gateway: Ipv4Net,
}

pub struct Bridge {
    mtu: Option<u32>,
    /// This daemon's holds on the bridges it brought up, by interface.
    holds: Mutex<HashMap<String, Hold>>,
}

impl Bridge {
    pub fn new(mtu: Option<u32>) -> Bridge {
        Bridge {
            mtu,
            holds: Mutex::new(HashMap::new()),
        }
    }

    fn holds(&self) -> MutexGuard<'_, HashMap<String, Hold>> {
        self.holds.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Takes a share, or logs why it cannot (then the daemon acts as the only
/// user, as before shares existed).
async fn hold(key: String) -> Option<Share> {
    let k = key.clone();
    // The lock can wait for another daemon's teardown: off the reactor.
    match tokio::task::spawn_blocking(move || shared::hold(&k)).await {
        Ok(Ok(s)) => Some(s),
        Ok(Err(e)) => {
            tracing::warn!("taking a share of {key}: {e}; acting as its only user");
            None
        }
        Err(e) => {
            tracing::warn!("taking a share of {key}: {e}");
            None
        }
    }
}

impl NetworkDriver for Bridge {
    fn name(&self) -> &'static str {
        "bridge"
    }

    fn exclusive(&self) -> bool {
        true
    }

    fn routed(&self) -> bool {
        true
    }

    fn iface<'a>(
        &'a self,
        _host: &'a Netlink,
        id: &'a str,
        options: &'a IndexMap<String, String>,
    ) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            let iface = options
                .get("com.docker.network.bridge.name")
                .cloned()
                .unwrap_or_else(|| format!("br-{}", id.get(..12).unwrap_or(id)));
            if iface.len() > 15 {
                return Err(Error::invalid(format!(
                    "bridge name {iface:?} is longer than 15 characters"
                )));
            }
            Ok(iface)
        })
    }

    /// Makes (or joins) the bridge with its gateway, holding a share of both.
    fn setup<'a>(&'a self, host: &'a Netlink, net: &'a NetSpec) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let (Some(s), Some(g)) = (net.subnet, net.gateway) else {
                return Ok(());
            };
            let gateway =
                Ipv4Net::new(g, s.prefix_len()).map_err(|e| Error::internal(e.to_string()))?;
            if !self.holds().contains_key(&net.iface) {
                let h = Hold {
                    bridge: hold(format!("bridge-{}", net.iface)).await,
                    address: hold(format!("addr-{}-{gateway}", net.iface)).await,
                    gateway,
                };
                self.holds().insert(net.iface.clone(), h);
            }
            host.ensure_bridge(&net.iface, gateway, self.mtu).await
        })
    }

    fn plug<'a>(
        &'a self,
        host: &'a Netlink,
        net: &'a NetSpec,
        plug: Plug<'a>,
    ) -> BoxFuture<'a, Result<Option<String>>> {
        Box::pin(async move {
            // A bridge someone deleted under us (an older berthd sharing it,
            // an admin) is made again rather than failing every run with
            // `link NAME not found` until a restart.
            if host.index_of(&net.iface).await?.is_none() {
                tracing::warn!(bridge = %net.iface, "bridge missing; making it again");
                self.setup(host, net).await?;
            }
            let id = plug.endpoint_id;
            let host_if = format!("veth{}", id.get(..7).unwrap_or(id));
            host.veth_into(
                &host_if,
                &net.iface,
                plug.netns,
                plug.ifname,
                plug.mac,
                self.mtu,
            )
            .await?;
            Ok(Some(host_if))
        })
    }

    fn unplug<'a>(&'a self, host: &'a Netlink, unplug: Unplug<'a>) -> BoxFuture<'a, Result<()>> {
        // Deleting the host side takes the container's side with it.
        Box::pin(async move {
            if unplug.host_ifname.is_empty() {
                return Ok(());
            }
            host.delete(unplug.host_ifname).await
        })
    }

    /// Lets go of the bridge: deleted if no other daemon uses it, else only
    /// this daemon's gateway address goes (if no other daemon has the same).
    fn teardown<'a>(&'a self, host: &'a Netlink, net: &'a NetSpec) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let iface = net.iface.as_str();
            let Some(h) = self.holds().remove(iface) else {
                // Never held (sharing unavailable): the only user.
                return host.delete(iface).await;
            };
            // Both guards live to the end, so nobody takes the bridge meanwhile.
            let address_last = h.address.map(Share::release);
            let bridge_last = h.bridge.map(Share::release);
            let mut errors = Vec::new();
            match (&bridge_last, &address_last) {
                // Another daemon has the same gateway there too: leave all.
                (Some(None), Some(None)) => {}
                // Another daemon still uses the bridge: take back our address.
                (Some(None), _) => {
                    if let Err(e) = host.remove_address(iface, h.gateway).await {
                        errors.push(e);
                    }
                }
                // The last user (or sharing unavailable): the bridge goes.
                _ => {
                    if let Err(e) = host.delete(iface).await {
                        errors.push(e);
                    }
                }
            }
            all_of(errors)
        })
    }
}
