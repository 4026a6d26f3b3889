//! `network create`, `network rm` and `network prune`.

use std::net::Ipv4Addr;

use berth_api::model::{IPAMConfig, NetworkCreateRequest, NetworkCreateResponse, IPAM};
use berth_api::{Error, ErrorKind, Result};
use berth_network::ipam;
use ipnet::Ipv4Net;

use super::Networks;
use crate::containers::container::now_rfc3339;
use crate::Filters;

use super::*;

/// dockerd's answer when a request needs the (absent) swarm cluster.
const NOT_A_SWARM_MANAGER: &str = "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.";

impl Networks<'_> {
    /// `POST /networks/create`.
    pub async fn create(&self, body: NetworkCreateRequest) -> Result<NetworkCreateResponse> {
        let name = body.name.trim().to_string();
        if name.is_empty() {
            return Err(Error::invalid("network name cannot be empty"));
        }
        // dockerd takes any name (spaces too); a `/` could never be named
        // in a URL path, so berthd refuses that one.
        if name.contains('/') {
            return Err(Error::invalid(format!(
                "invalid network name {name:?}: a name cannot contain '/'"
            )));
        }
        if ["bridge", "host", "none"].contains(&name.as_str()) {
            return Err(Error::new(
                ErrorKind::Forbidden,
                format!("{name} is a pre-defined network and cannot be created"),
            ));
        }
        // Swarm-scoped and ingress networks need a swarm, which berthd
        // is not in: dockerd's answers for a node in none.
        match body.scope.as_str() {
            "" | "local" => {}
            "swarm" => {
                return Err(Error::new(
                    ErrorKind::Forbidden,
                    "cannot create a swarm scoped network when swarm is not active",
                ))
            }
            _ => return Err(Error::internal(NOT_A_SWARM_MANAGER)),
        }
        if body.ingress {
            return Err(Error::new(
                ErrorKind::Forbidden,
                "Ingress network can only be global scope network",
            ));
        }
        let driver = if body.driver.is_empty() {
            "bridge"
        } else {
            body.driver.as_str()
        };
        let Some(drv) = self.net.driver(driver) else {
            return Err(Error::not_found(format!("plugin \"{driver}\" not found")));
        };
        if body.enable_i_pv6 == Some(true) {
            return Err(Error::invalid(
                "IPv6 networks are not supported by berth yet",
            ));
        }
        let options = body.options.clone().unwrap_or_default();
        let req = ipam_request(&body.ipam)?;
        let id = net_id();
        let iface = drv.iface(self.net.host().await?, &id, &options).await?;
        let record = NetworkRecord {
            id,
            name,
            driver: driver.to_string(),
            created: now_rfc3339(),
            internal: body.internal,
            attachable: body.attachable,
            subnet: None,
            gateway: None,
            ip_range: req.ip_range,
            user_subnet: req.subnet.is_some(),
            user_gateway: req.gateway.is_some(),
            options,
            labels: body.labels.clone().unwrap_or_default(),
            iface,
            predefined: false,
        };
        let record = self.register_network(drv, record, &req)?;
        let made = async {
            self.net_setup(&record).await?;
            if drv.routed() {
                self.apply_rules().await?;
            }
            self.db.put_network(&record)
        }
        .await;
        if let Err(e) = made {
            self.net.state().nets.shift_remove(&record.id);
            self.net.state().pools.remove(&record.id);
            let _ = self.net_teardown(&record).await;
            if drv.routed() {
                let _ = self.apply_rules().await;
            }
            return Err(e);
        }
        self.event("create", &record, None);
        Ok(NetworkCreateResponse {
            id: record.id,
            warning: String::new(),
        })
    }

    /// Checks a new network against the others and gives it its subnet
    /// and address pool, under one lock so two creates cannot both pass.
    fn register_network(
        &self,
        drv: &dyn NetworkDriver,
        mut n: NetworkRecord,
        req: &IpamRequest,
    ) -> Result<NetworkRecord> {
        let mut st = self.net.state();
        // Names are unique whatever `CheckDuplicate` says (API 1.44+ ignores it).
        let name = &n.name;
        if st.nets.values().any(|o| o.name == *name) {
            return Err(Error::conflict(format!(
                "network with name {name} already exists"
            )));
        }
        let iface = &n.iface;
        if drv.exclusive()
            && st
                .nets
                .values()
                .any(|o| o.driver == n.driver && o.iface == *iface)
        {
            return Err(Error::conflict(format!(
                "{} name {iface} is already in use by another network",
                n.driver
            )));
        }
        let in_use: Vec<Ipv4Net> = st
            .nets
            .values()
            .filter(|o| self.net.driver(&o.driver).is_some())
            .filter_map(|o| o.subnet)
            .collect();
        let subnet = match req.subnet {
            Some(s) => {
                if drv.exclusive() && in_use.iter().any(|u| ipam::overlaps(u, &s)) {
                    return Err(Error::new(
                        ErrorKind::Forbidden,
                        "Pool overlaps with other one on this address space",
                    ));
                }
                s.trunc()
            }
            None => ipam::next_subnet(&self.net.config.pools, &in_use)?,
        };
        n.subnet = Some(subnet);
        n.gateway = Some(req.gateway.unwrap_or_else(|| ipam::first_host(&subnet)));
        if let Some(p) = pool_for(&n) {
            st.pools.insert(n.id.clone(), p);
        }
        st.nets.insert(n.id.clone(), n.clone());
        Ok(n)
    }

    /// `DELETE /networks/{id}`.
    pub async fn remove(&self, key: &str) -> Result<()> {
        let n = self.net.find(key)?;
        if n.predefined {
            return Err(Error::new(
                ErrorKind::Forbidden,
                format!("{} is a pre-defined network and cannot be removed", n.name),
            ));
        }
        let users = self.users(&n.id);
        if !users.is_empty() {
            let list: Vec<String> = users
                .iter()
                .map(|(id, name, _)| format!("name:{name:?} id:{:?}", &id[..12]))
                .collect();
            return Err(Error::conflict(format!(
                "error while removing network: network {} has active endpoints ({})",
                n.name,
                list.join(", ")
            )));
        }
        self.db.delete_network(&n.id)?;
        {
            let mut st = self.net.state();
            st.nets.shift_remove(&n.id);
            st.pools.remove(&n.id);
        }
        self.dns_forget_network(&n.id);
        // The rules are rewritten even if the teardown failed; both
        // failures are reported.
        let mut errors = Vec::new();
        if let Err(e) = self.net_teardown(&n).await {
            errors.push(e);
        }
        if self.net.driver(&n.driver).is_some_and(|d| d.routed()) {
            if let Err(e) = self.apply_rules().await {
                errors.push(e);
            }
        }
        self.event("destroy", &n, None);
        berth_network::driver::all_of(errors)
    }

    /// `POST /networks/prune`: user networks no running container uses.
    pub async fn prune(&self, filters: &Filters) -> Result<Vec<String>> {
        filters.validate(&["label", "label!", "until"])?;
        let nets: Vec<NetworkRecord> = self.net.state().nets.values().cloned().collect();
        let mut gone = Vec::new();
        for n in nets {
            if n.predefined || !self.users(&n.id).is_empty() {
                continue;
            }
            if filters.has("label") && !labels_match(&n.labels, filters.get("label")) {
                continue;
            }
            if filters.has("label!") && labels_match(&n.labels, filters.get("label!")) {
                continue;
            }
            if self.remove(&n.id).await.is_ok() {
                gone.push(n.name.clone());
            }
        }
        Ok(gone)
    }
}

/// The address space a create asks for; `None` where IPAM chooses.
struct IpamRequest {
    subnet: Option<Ipv4Net>,
    ip_range: Option<Ipv4Net>,
    gateway: Option<Ipv4Addr>,
}

/// Reads and checks `IPAM.Config` of a create, as dockerd words its refusals.
fn ipam_request(ipam: &IPAM) -> Result<IpamRequest> {
    let configs = ipam.config.as_ref();
    if configs.is_some_and(|c| c.len() > 1) {
        return Err(Error::invalid("berth supports one IPv4 subnet per network"));
    }
    let cfg = configs.and_then(|c| c.first());
    // An empty string is "not given", as the API's Go structs read it.
    let given =
        |f: fn(&IPAMConfig) -> &String| cfg.map(f).map(String::as_str).filter(|s| !s.is_empty());
    let cidr = |s: &str, what: &str| {
        ipam::parse_subnet(s)
            .map_err(|_| Error::invalid(format!("invalid {what} {s}: invalid CIDR address: {s}")))
    };
    let subnet = given(|c| &c.subnet)
        .map(|s| cidr(s, "subnet"))
        .transpose()?;
    let ip_range = given(|c| &c.ip_range)
        .map(|s| cidr(s, "ip-range"))
        .transpose()?;
    let gateway = given(|c| &c.gateway)
        .map(|s| {
            ipam::parse_addr(s).map_err(|_| Error::invalid(format!("invalid gateway address {s}")))
        })
        .transpose()?;
    if subnet.is_none() && (ip_range.is_some() || gateway.is_some()) {
        return Err(Error::invalid("ip-range and gateway need a subnet"));
    }
    if let Some(s) = subnet {
        if let Some(r) = ip_range {
            if !s.contains(&r) {
                return Err(Error::invalid(format!(
                    "ip-range {r} is not inside subnet {s}"
                )));
            }
        }
        if let Some(g) = gateway {
            if !s.contains(&g) {
                return Err(Error::invalid(format!(
                    "gateway address {g} does not belong to the subnet {s}"
                )));
            }
        }
    }
    Ok(IpamRequest {
        subnet,
        ip_range,
        gateway,
    })
}
