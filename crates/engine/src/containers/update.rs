//! `POST /containers/{id}/update` (moby's `container.UpdateContainer`): the
//! typed update body merged onto the recorded `HostConfig` (only what is
//! set changes), checked as create checks it ([`crate::containers::resources::verify`]),
//! written into a running container's cgroup, then recorded.

use berth_api::views::ContainerUpdateBody;
use berth_api::{Error, HostConfig, Result};
use berth_runtime::cgroups::{Cgroup, Layout};

/// Applies an update body's resource fields onto `hc` as moby's
/// `container.UpdateContainer` does: a zero value (the client's "not
/// given") leaves the field unchanged, except `PidsLimit`, whose `null` is
/// unset and whose `0` (or `-1`) is "unlimited". Fields dockerd does not
/// update (`Ulimits`, the device lists, `MemorySwappiness`, ...) are
/// ignored, as there.
pub fn merge_update(hc: &mut HostConfig, body: &ContainerUpdateBody) -> Result<()> {
    let (memory, swap) = (body.memory, body.memory_swap);
    if memory != 0 {
        // A new memory limit above the old swap limit moves swap too.
        if swap == 0 && hc.memory_swap > 0 && memory > hc.memory_swap {
            return Err(Error::invalid(
                "Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time",
            ));
        }
        hc.memory = memory;
    }
    if swap != 0 {
        hc.memory_swap = swap;
    }
    if body.memory_reservation != 0 {
        hc.memory_reservation = body.memory_reservation;
    }
    if body.cpu_shares != 0 {
        hc.cpu_shares = body.cpu_shares;
    }
    let (nano, period, quota) = (body.nano_cpus, body.cpu_period, body.cpu_quota);
    if nano != 0 {
        if hc.cpu_period > 0 && period == 0 || hc.cpu_quota > 0 && quota == 0 {
            return Err(Error::invalid(
                "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set",
            ));
        }
        hc.nano_cpus = nano;
    }
    if period != 0 {
        if hc.nano_cpus > 0 && nano == 0 {
            return Err(Error::invalid(
                "Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set",
            ));
        }
        hc.cpu_period = period;
    }
    if quota != 0 {
        if hc.nano_cpus > 0 && nano == 0 {
            return Err(Error::invalid(
                "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set",
            ));
        }
        hc.cpu_quota = quota;
    }
    if !body.cpuset_cpus.is_empty() {
        hc.cpuset_cpus = body.cpuset_cpus.clone();
    }
    if !body.cpuset_mems.is_empty() {
        hc.cpuset_mems = body.cpuset_mems.clone();
    }
    if let Some(p) = body.pids_limit {
        hc.pids_limit = Some(p);
    }
    if body.blkio_weight != 0 {
        hc.blkio_weight = body.blkio_weight;
    }
    Ok(())
}

/// Writes the limits of `hc` into a running container's cgroup. Order
/// matters on v1: the memory limit may not exceed memsw, so when both grow
/// memsw goes first, and when they shrink memory goes first.
pub fn apply(cg: &Cgroup, hc: &HostConfig) -> std::io::Result<()> {
    match cg.layout {
        Layout::V1 => {
            if hc.memory > 0 {
                let swap = if hc.memory_swap == 0 {
                    None
                } else {
                    Some(hc.memory_swap)
                };
                let cur_mem = cg.read_u64("memory", "memory.limit_in_bytes").unwrap_or(0) as i64;
                let has_memsw = cg
                    .dir("memory")
                    .join("memory.memsw.limit_in_bytes")
                    .exists();
                let write_swap = |v: i64| -> std::io::Result<()> {
                    if has_memsw {
                        cg.write("memory", "memory.memsw.limit_in_bytes", &v.to_string())
                    } else {
                        Ok(())
                    }
                };
                if hc.memory > cur_mem {
                    if let Some(s) = swap {
                        write_swap(s)?;
                    }
                    cg.write("memory", "memory.limit_in_bytes", &hc.memory.to_string())?;
                } else {
                    cg.write("memory", "memory.limit_in_bytes", &hc.memory.to_string())?;
                    if let Some(s) = swap {
                        write_swap(s)?;
                    }
                }
            }
            if hc.memory_reservation > 0 {
                cg.write(
                    "memory",
                    "memory.soft_limit_in_bytes",
                    &hc.memory_reservation.to_string(),
                )?;
            }
            if hc.cpu_shares > 0 {
                cg.write("cpu", "cpu.shares", &hc.cpu_shares.to_string())?;
            }
            let (period, quota) = cpu_quota(hc);
            if let Some(p) = period {
                cg.write("cpu", "cpu.cfs_period_us", &p.to_string())?;
            }
            if let Some(q) = quota {
                cg.write("cpu", "cpu.cfs_quota_us", &q.to_string())?;
            }
            if !hc.cpuset_cpus.is_empty() {
                cg.write("cpuset", "cpuset.cpus", &hc.cpuset_cpus)?;
            }
            if !hc.cpuset_mems.is_empty() {
                cg.write("cpuset", "cpuset.mems", &hc.cpuset_mems)?;
            }
            if let Some(p) = hc.pids_limit {
                let v = if p > 0 { p.to_string() } else { "max".into() };
                cg.write("pids", "pids.max", &v)?;
            }
            if hc.blkio_weight > 0 {
                cg.write("blkio", "blkio.weight", &hc.blkio_weight.to_string())?;
            }
        }
        Layout::V2 => {
            if hc.memory > 0 {
                cg.write("memory", "memory.max", &hc.memory.to_string())?;
                if hc.memory_swap > 0 {
                    cg.write(
                        "memory",
                        "memory.swap.max",
                        &(hc.memory_swap - hc.memory).to_string(),
                    )?;
                } else if hc.memory_swap == -1 {
                    cg.write("memory", "memory.swap.max", "max")?;
                }
            }
            if hc.memory_reservation > 0 {
                cg.write("memory", "memory.low", &hc.memory_reservation.to_string())?;
            }
            if hc.cpu_shares > 0 {
                // runc's conversion of shares (2..262144) to weight (1..10000).
                let w = 1 + ((hc.cpu_shares - 2) * 9999) / 262142;
                cg.write("cpu", "cpu.weight", &w.to_string())?;
            }
            let (period, quota) = cpu_quota(hc);
            if period.is_some() || quota.is_some() {
                let q = match quota {
                    Some(q) if q > 0 => q.to_string(),
                    _ => "max".into(),
                };
                cg.write(
                    "cpu",
                    "cpu.max",
                    &format!("{q} {}", period.unwrap_or(100_000)),
                )?;
            }
            if !hc.cpuset_cpus.is_empty() {
                cg.write("cpuset", "cpuset.cpus", &hc.cpuset_cpus)?;
            }
            if !hc.cpuset_mems.is_empty() {
                cg.write("cpuset", "cpuset.mems", &hc.cpuset_mems)?;
            }
            if let Some(p) = hc.pids_limit {
                let v = if p > 0 { p.to_string() } else { "max".into() };
                cg.write("pids", "pids.max", &v)?;
            }
            if hc.blkio_weight > 0 {
                cg.write("io", "io.bfq.weight", &hc.blkio_weight.to_string())?;
            }
        }
    }
    Ok(())
}

/// The CFS period and quota `hc` asks for (from `NanoCpus` or the explicit pair).
fn cpu_quota(hc: &HostConfig) -> (Option<i64>, Option<i64>) {
    if hc.nano_cpus > 0 {
        return (Some(100_000), Some(hc.nano_cpus * 100_000 / 1_000_000_000));
    }
    let period = (hc.cpu_period > 0).then_some(hc.cpu_period);
    let quota = (hc.cpu_quota != 0).then_some(hc.cpu_quota);
    (period, quota)
}

impl super::Containers<'_> {
    /// `POST /containers/{id}/update`: checks the new values as create
    /// does, writes them into a running container's cgroup, then records
    /// them; a failed write changes nothing recorded. Returns the warnings.
    pub fn update(&self, key: &str, body: &ContainerUpdateBody) -> Result<Vec<String>> {
        let h = self.lookup(key)?;
        let r = h.snapshot();
        let mut hc = r.host_config.clone();
        merge_update(&mut hc, body)?;
        let policy = &body.restart_policy;
        if !policy.name.is_empty() {
            if hc.auto_remove && policy.name != "no" {
                return Err(Error::invalid(
                    "Restart policy cannot be updated because AutoRemove is enabled for the container",
                ));
            }
            crate::containers::lifecycle::validate_restart_policy(policy)?;
            hc.restart_policy = policy.clone();
        }
        let warnings = crate::containers::resources::verify(
            &mut hc,
            &crate::containers::resources::HostCaps::read(),
            true,
        )?;
        if r.state.status == crate::containers::container::Status::Running {
            let cg = self.cgroup(&r.id);
            apply(&cg, &hc)
                .map_err(|e| Error::internal(format!("Cannot update container {}: {e}", r.id)))?;
        }
        h.with(|rec| rec.host_config = hc);
        self.save(&h)?;
        let snap = h.snapshot();
        let mut attrs = indexmap::IndexMap::new();
        attrs.insert("image".to_string(), snap.config.image.clone());
        attrs.insert("name".to_string(), crate::record_name(&snap));
        self.events.publish("container", "update", &snap.id, attrs);
        Ok(warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_api::types::RestartPolicy;

    #[test]
    fn update_merges_only_what_is_set() {
        let mut hc = HostConfig {
            memory: 32 << 20,
            memory_swap: 64 << 20,
            cpu_shares: 512,
            ..Default::default()
        };
        let body = ContainerUpdateBody {
            memory: 48 << 20,
            pids_limit: Some(30),
            ..Default::default()
        };
        merge_update(&mut hc, &body).unwrap();
        assert_eq!(hc.memory, 48 << 20);
        assert_eq!(hc.cpu_shares, 512);
        assert_eq!(hc.pids_limit, Some(30));
        // `null` leaves the pids limit; `0` sets it (unlimited).
        merge_update(&mut hc, &ContainerUpdateBody::default()).unwrap();
        assert_eq!(hc.pids_limit, Some(30));
        let zero = ContainerUpdateBody {
            pids_limit: Some(0),
            ..Default::default()
        };
        merge_update(&mut hc, &zero).unwrap();
        assert_eq!(hc.pids_limit, Some(0));
        let over_swap = ContainerUpdateBody {
            memory: 128 << 20,
            ..Default::default()
        };
        assert!(merge_update(&mut hc, &over_swap).is_err());
        assert_eq!(hc.memory, 48 << 20);
        // Fields dockerd does not update are ignored, not refused.
        let ignored = ContainerUpdateBody {
            init: Some(true),
            memory_swappiness: Some(10),
            restart_policy: RestartPolicy::default(),
            ..Default::default()
        };
        let before = hc.clone();
        merge_update(&mut hc, &ignored).unwrap();
        assert_eq!(hc, before);
    }

    #[test]
    fn nano_cpus_and_the_cfs_pair_exclude_each_other() {
        let mut hc = HostConfig {
            nano_cpus: 500_000_000,
            ..Default::default()
        };
        let quota = ContainerUpdateBody {
            cpu_quota: 50_000,
            ..Default::default()
        };
        assert_eq!(
            merge_update(&mut hc, &quota).unwrap_err().message,
            "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set"
        );
        let period = ContainerUpdateBody {
            cpu_period: 50_000,
            ..Default::default()
        };
        assert_eq!(
            merge_update(&mut hc, &period).unwrap_err().message,
            "Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set"
        );
        assert_eq!(hc.cpu_quota, 0);
    }
}
