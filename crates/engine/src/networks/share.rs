//! What of the host's network this daemon owns, and what it shares with
//! other berthds in the same network namespace.
//!
//! - **Rules**: one nftables table per daemon (see [`table_name`]), so no
//!   daemon's rewrite can drop another's published ports, and a daemon's
//!   stop deletes only its own rules.
//! - **Bridges**: a bridge may be named by several daemons (two daemons that
//!   both keep the default `berth0`); the bridge driver
//!   (`berth_network::driver::Bridge`) holds this daemon's share of each and
//!   deletes a bridge only as its last user. dockerd simply never deletes
//!   `docker0`; counting users keeps berth's tidy stop (the test harness's
//!   per-daemon bridges go with their daemon) without breaking a neighbour.
//!   Here: the check that the default bridge's stored gateway is still ours.

use std::path::Path;

use berth_api::Result;
use berth_network::shared;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use sha2::{Digest, Sha256};

use super::Networks;
use super::{spec, NetworkRecord};
use crate::containers::container::Status;

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

impl Networks<'_> {
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

    /// Brings network `n` up on the host through its driver (`host` and
    /// `none` have none).
    pub(super) async fn net_setup(&self, n: &NetworkRecord) -> Result<()> {
        let Some(d) = self.net.driver(&n.driver) else {
            return Ok(());
        };
        d.setup(self.net.host().await?, &spec(n)).await
    }

    /// Takes network `n` off the host through its driver.
    pub(super) async fn net_teardown(&self, n: &NetworkRecord) -> Result<()> {
        let Some(d) = self.net.driver(&n.driver) else {
            return Ok(());
        };
        d.teardown(self.net.host().await?, &spec(n)).await
    }

    /// At a clean stop with nothing left running: this daemon's table goes,
    /// and each bridge it used goes unless another daemon still uses it.
    /// The next start rebuilds them.
    pub async fn shutdown(&self) {
        if self
            .all()
            .iter()
            .any(|h| h.with(|r| r.state.status == Status::Running))
        {
            return;
        }
        let nets: Vec<NetworkRecord> = self
            .net
            .state()
            .nets
            .values()
            .filter(|n| !n.iface.is_empty())
            .cloned()
            .collect();
        // Each network is taken down whatever the others did.
        for n in nets {
            if let Err(e) = self.net_teardown(&n).await {
                tracing::warn!("taking network {} down: {}", n.name, e.message);
            }
        }
        let _order = self.net.rules_lock.lock().await;
        let fw = self.net.firewall.clone();
        let _ = tokio::task::spawn_blocking(move || fw.remove()).await;
    }
}
