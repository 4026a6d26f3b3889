//! `network connect` and `network disconnect`.

use berth_api::model::EndpointSettings;
use berth_api::{Error, ErrorKind, Result};
use berth_network::Unplug;

use super::Networks;
use crate::containers::container::Status;

use super::endpoints::endpoint_from;

impl Networks<'_> {
    /// `POST /networks/{id}/connect`.
    pub async fn connect(
        &self,
        key: &str,
        container: &str,
        cfg: Option<&EndpointSettings>,
    ) -> Result<()> {
        let n = self.net.find(key)?;
        let h = self.lookup(container)?;
        let _op = h.op.lock().await;
        let r = h.snapshot();
        let mode = crate::containers::container::network_mode(&r.host_config);
        if mode == "host" || n.name == "host" {
            return Err(Error::new(
                ErrorKind::Forbidden,
                "container cannot be disconnected from host network or connected to host network",
            ));
        }
        if mode.starts_with("container:") {
            return Err(Error::new(ErrorKind::Forbidden, "container sharing network namespace with another container or host cannot be connected to any other network"));
        }
        if r.endpoints.contains_key(&n.name) {
            return Err(Error::new(
                ErrorKind::Forbidden,
                format!(
                    "endpoint with name {} already exists in network {}",
                    crate::record_name(&r),
                    n.name
                ),
            ));
        }
        if mode == "none" || n.name == "none" {
            return Err(Error::new(ErrorKind::Forbidden, "container cannot be connected to multiple networks with one of the networks in private (none) mode"));
        }
        let ep = endpoint_from(&n, cfg)?;
        h.with(|rec| {
            rec.endpoints.insert(n.name.clone(), ep.clone());
        });
        if r.state.status == Status::Running {
            let netns = self.state_dir(&r.id).join("netns");
            let idx = r
                .endpoints
                .values()
                .filter(|e| {
                    self.net
                        .state()
                        .nets
                        .get(&e.network_id)
                        .is_some_and(|n| self.net.driver(&n.driver).is_some())
                })
                .count();
            let ifname = format!("eth{idx}");
            let give_gw = !r.endpoints.values().any(|e| !e.gateway.is_empty()) && !n.internal;
            match self
                .plug(&h, &r.id, &n.name, &n, &ep, &netns, &ifname, give_gw)
                .await
            {
                Ok(done) => h.with(|rec| {
                    rec.endpoints.insert(n.name.clone(), done);
                }),
                Err(e) => {
                    h.with(|rec| {
                        rec.endpoints.shift_remove(&n.name);
                    });
                    return Err(e);
                }
            }
            self.write_hosts(&h.snapshot())?;
            self.save(&h)?;
            self.dns_refresh();
            self.dns_attach(&h, &netns).await;
            return Ok(());
        }
        self.save(&h)
    }

    /// `POST /networks/{id}/disconnect`.
    pub async fn disconnect(&self, key: &str, container: &str, _force: bool) -> Result<()> {
        let n = self.net.find(key)?;
        let h = self.lookup(container)?;
        let _op = h.op.lock().await;
        let r = h.snapshot();
        let Some(ep) = r.endpoints.get(&n.name).cloned() else {
            return Err(Error::new(
                ErrorKind::Forbidden,
                format!("container {} is not connected to network {}", r.id, n.name),
            ));
        };
        if n.name == "host" {
            return Err(Error::new(
                ErrorKind::Forbidden,
                "container cannot be disconnected from host network or connected to host network",
            ));
        }
        if r.state.status == Status::Running && !ep.ip.is_empty() {
            if let Some(drv) = self.net.driver(&n.driver) {
                let netns = self.state_dir(&r.id).join("netns");
                let idx = r.endpoints.keys().position(|k| *k == n.name).unwrap_or(0);
                let unplug = Unplug {
                    host_ifname: &ep.host_ifname,
                    netns: Some(&netns),
                    ifname: &format!("eth{idx}"),
                };
                drv.unplug(self.net.host().await?, unplug).await?;
            }
            if let (Some(pool), Ok(ip)) = (self.net.state().pools.get_mut(&n.id), ep.ip.parse()) {
                pool.release(ip);
            }
            self.event("disconnect", &n, Some(&r.id));
        }
        h.with(|rec| {
            rec.endpoints.shift_remove(&n.name);
        });
        self.save(&h)?;
        if r.state.status == Status::Running {
            self.write_hosts(&h.snapshot())?;
            self.dns_refresh();
            self.dns_attach(&h, &self.state_dir(&r.id).join("netns"))
                .await;
        }
        Ok(())
    }
}
