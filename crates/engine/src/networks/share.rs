//! What of the host's network this daemon owns, and what it shares with
//! other berthds in the same network namespace.
//!
//! - **Rules**: one nftables table per daemon (see [`table_name`]), so no
//!   daemon's rewrite can drop another's published ports, and a daemon's
//!   stop deletes only its own rules.
//! - **Bridges**: a bridge may be named by several daemons (two daemons that
//!   both keep the default `berth0`). Each daemon holds a share of every
//!   bridge it brings up and of the gateway address it put there
//!   (`berth_network::shared`); at its stop or at `network rm` it deletes the
//!   bridge only as its last user, and otherwise takes back only its own
//!   address. dockerd simply never deletes `docker0`; counting users keeps
//!   berth's tidy stop (the test harness's per-daemon bridges go with their
//!   daemon) without breaking a neighbour.

use std::path::Path;

use berth_api::{Error, Result};
use berth_network::shared::{self, Share};
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use sha2::{Digest, Sha256};

use super::NetworkRecord;
use crate::container::Status;
use crate::Engine;

/// The data root a daemon has unless told otherwise.
const DEFAULT_DATA_ROOT: &str = "/var/lib/berth";

/// This daemon's nftables table: `berth` (or `berth-<bridge>` with
/// `--bridge`), as an operator expects to find it; a daemon on another data
/// root (so a second daemon on the host) adds a digest of that path, which
/// keeps the name its own and the same across its restarts.
pub(crate) fn table_name(bridge: &str, data_root: &Path) -> String {
    let base = if bridge == "berth0" {
        "berth".to_string()
    } else {
        format!("berth-{bridge}")
    };
    if data_root == Path::new(DEFAULT_DATA_ROOT) {
        return base;
    }
    let digest = Sha256::digest(data_root.as_os_str().as_encoded_bytes());
    format!("{base}-{}", &hex::encode(digest)[..8])
}

/// This daemon's holds on one bridge and on its gateway address there.
pub(super) struct BridgeHold {
    bridge: Option<Share>,
    address: Option<Share>,
    gateway: Ipv4Net,
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

impl Engine {
    /// Whether the default bridge's stored gateway is now another daemon's
    /// (two daemons that each ran alone first both stored 172.17.0.1/16):
    /// then this one takes the next free pool rather than hand out addresses
    /// the other hands out too. Not while containers of ours run on it
    /// (after a kill -9 they keep theirs).
    pub(super) fn gateway_taken(&self, iface: &str, subnet: Ipv4Net, gateway: Ipv4Addr) -> bool {
        let Ok(gw) = Ipv4Net::new(gateway, subnet.prefix_len()) else {
            return false;
        };
        let running = self
            .all()
            .iter()
            .any(|h| h.with(|r| r.state.status == Status::Running));
        !running && shared::held_elsewhere(&format!("addr-{iface}-{gw}"))
    }

    /// Makes (or joins) the bridge of network `n` with its gateway, holding a
    /// share of both.
    pub(super) async fn bridge_up(&self, n: &NetworkRecord) -> Result<()> {
        let (Some(s), Some(g)) = (n.subnet, n.gateway) else {
            return Ok(());
        };
        let gateway =
            Ipv4Net::new(g, s.prefix_len()).map_err(|e| Error::internal(e.to_string()))?;
        if !self.net.shares().contains_key(&n.iface) {
            let hold = BridgeHold {
                bridge: hold(format!("bridge-{}", n.iface)).await,
                address: hold(format!("addr-{}-{gateway}", n.iface)).await,
                gateway,
            };
            self.net.shares().insert(n.iface.clone(), hold);
        }
        self.net
            .host()
            .await?
            .ensure_bridge(&n.iface, gateway, self.net.config.mtu)
            .await
    }

    /// Lets go of a bridge: deleted if no other daemon uses it, else only
    /// this daemon's gateway address goes (if no other daemon has the same).
    pub(super) async fn bridge_down(&self, iface: &str) -> Result<()> {
        let Some(hold) = self.net.shares().remove(iface) else {
            // Never held (sharing unavailable): the only user.
            return self.net.host().await?.delete(iface).await;
        };
        let host = self.net.host().await?;
        // Both guards live to the end, so nobody takes the bridge meanwhile.
        let address_last = hold.address.map(Share::release);
        let bridge_last = hold.bridge.map(Share::release);
        match (&bridge_last, &address_last) {
            // Another daemon has the same gateway there too: leave all.
            (Some(None), Some(None)) => Ok(()),
            // Another daemon still uses the bridge: take back our address.
            (Some(None), _) => host.remove_address(iface, hold.gateway).await,
            // The last user (or sharing unavailable): the bridge goes.
            _ => host.delete(iface).await,
        }
    }

    /// At a clean stop with nothing left running: this daemon's table goes,
    /// and each bridge it used goes unless another daemon still uses it.
    /// The next start rebuilds them.
    pub async fn shutdown_network(&self) {
        if self
            .all()
            .iter()
            .any(|h| h.with(|r| r.state.status == Status::Running))
        {
            return;
        }
        let ifaces: Vec<String> = self
            .net
            .state()
            .nets
            .values()
            .filter(|n| n.driver == "bridge" && !n.iface.is_empty())
            .map(|n| n.iface.clone())
            .collect();
        for i in ifaces {
            if let Err(e) = self.bridge_down(&i).await {
                tracing::warn!("removing bridge {i}: {}", e.message);
            }
        }
        let _order = self.net.rules_lock.lock().await;
        let fw = self.net.firewall.clone();
        let _ = tokio::task::spawn_blocking(move || fw.remove()).await;
    }
}
