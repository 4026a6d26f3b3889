//! The cluster object as the API shows it (`GET /swarm`, `/info`'s
//! `Cluster`) and the API's `SwarmSpec` applied to the stored spec
//! (`swarm init` and `swarm update`).

use std::time::Duration;

use base64::Engine as _;
use berth_api::views::swarm::{
    CaConfig, ClusterInfo, DispatcherConfig, EncryptionConfig, LogDriverDefault, ObjectVersion,
    OrchestrationConfig, RaftConfig, SwarmSpec, TLSInfo, TaskDefaults,
};
use berth_api::Error;

use crate::store::{Cluster, ClusterSpec, RaftSettings};

const NANOS: i64 = 1_000_000_000;

/// swarmkit's floor for `--cert-expiry` (ca.MinNodeCertExpiration).
const MIN_CERT_EXPIRY: Duration = Duration::from_secs(3600);

/// `TLSInfo` of a root certificate: its PEM, and the raw subject and
/// public key (base64), as dockerd prints them.
pub fn tls_info(root_pem: &str) -> TLSInfo {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let parsed = crate::ca::first_cert_der(root_pem).ok().and_then(|der| {
        let (_, cert) = x509_parser::parse_x509_certificate(&der).ok()?;
        Some((
            b64(cert.tbs_certificate.subject.as_raw()),
            b64(cert.tbs_certificate.subject_pki.raw),
        ))
    });
    let (subject, key) = parsed.unwrap_or_default();
    TLSInfo {
        trust_root: root_pem.to_string(),
        cert_issuer_subject: subject,
        cert_issuer_public_key: key,
    }
}

pub fn spec_view(s: &ClusterSpec) -> SwarmSpec {
    SwarmSpec {
        name: s.name.clone(),
        labels: s
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        orchestration: OrchestrationConfig {
            task_history_retention_limit: Some(s.task_history_limit),
        },
        raft: RaftConfig {
            snapshot_interval: s.raft.snapshot_interval,
            keep_old_snapshots: s.raft.keep_old_snapshots,
            log_entries_for_slow_followers: s.raft.log_entries_for_slow_followers,
            election_tick: s.raft.election_tick,
            heartbeat_tick: s.raft.heartbeat_tick,
        },
        dispatcher: DispatcherConfig {
            heartbeat_period: s.heartbeat_period_ns as i64,
        },
        ca_config: CaConfig {
            node_cert_expiry: s.cert_expiry_secs as i64 * NANOS,
            force_rotate: s.force_rotate,
            ..CaConfig::default()
        },
        task_defaults: TaskDefaults {
            log_driver: s
                .task_log_driver
                .as_ref()
                .map(|(name, opts)| LogDriverDefault {
                    name: name.clone(),
                    options: (!opts.is_empty())
                        .then(|| opts.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
                }),
        },
        encryption_config: EncryptionConfig {
            auto_lock_managers: s.autolock,
        },
    }
}

pub fn cluster_view(c: &Cluster) -> ClusterInfo {
    ClusterInfo {
        id: c.id.clone(),
        version: ObjectVersion {
            index: c.meta.version,
        },
        created_at: c.meta.created_at.clone(),
        updated_at: c.meta.updated_at.clone(),
        spec: spec_view(&c.spec),
        tls_info: tls_info(&c.root_ca_cert),
        root_rotation_in_progress: c.root_rotation.is_some(),
        default_addr_pool: (!c.spec.default_addr_pool.is_empty())
            .then(|| c.spec.default_addr_pool.clone()),
        subnet_size: c.spec.subnet_size,
        data_path_port: c.spec.data_path_port,
    }
}

fn whole_secs(nanos: i64, what: &str) -> Result<Option<u64>, Error> {
    if nanos < 0 {
        return Err(Error::invalid(format!(
            "rpc error: code = InvalidArgument desc = invalid {what}: must be positive"
        )));
    }
    Ok((nanos > 0).then(|| (nanos as u64).div_ceil(NANOS as u64)))
}

/// `spec` over `base`: what the request sets replaces what is stored; a
/// zero duration or an absent limit keeps the stored value (the CLI sends
/// only the flags the user gave at init, and the whole spec it read back
/// at update).
pub fn apply_spec(base: &ClusterSpec, spec: &SwarmSpec) -> Result<ClusterSpec, Error> {
    let mut s = base.clone();
    if let Some(limit) = spec.orchestration.task_history_retention_limit {
        s.task_history_limit = limit;
    }
    if spec.dispatcher.heartbeat_period < 0 {
        return Err(Error::invalid(
            "rpc error: code = InvalidArgument desc = invalid heartbeat period: must be positive",
        ));
    }
    if spec.dispatcher.heartbeat_period > 0 {
        s.heartbeat_period_ns = spec.dispatcher.heartbeat_period as u64;
    }
    s.force_rotate = spec.ca_config.force_rotate;
    if let Some(secs) = whole_secs(spec.ca_config.node_cert_expiry, "certificate expiry")? {
        if Duration::from_secs(secs) < MIN_CERT_EXPIRY {
            return Err(Error::invalid(
                "rpc error: code = InvalidArgument desc = minimum certificate expiry time is: 1h0m0s",
            ));
        }
        s.cert_expiry_secs = secs;
    }
    s.autolock = spec.encryption_config.auto_lock_managers;
    s.labels = spec
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let r = &spec.raft;
    if r.snapshot_interval > 0 {
        s.raft = RaftSettings {
            snapshot_interval: r.snapshot_interval,
            keep_old_snapshots: r.keep_old_snapshots,
            log_entries_for_slow_followers: r.log_entries_for_slow_followers,
            election_tick: r.election_tick.max(1),
            heartbeat_tick: r.heartbeat_tick.max(1),
        };
    }
    s.task_log_driver = spec
        .task_defaults
        .log_driver
        .as_ref()
        .filter(|d| !d.name.is_empty())
        .map(|d| {
            (
                d.name.clone(),
                d.options
                    .iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            )
        });
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_spec_shows_as_dockerd_shows_it() {
        let v = serde_json::to_value(spec_view(&ClusterSpec::default())).unwrap();
        assert_eq!(v["Name"], "default");
        assert_eq!(v["Orchestration"]["TaskHistoryRetentionLimit"], 5);
        assert_eq!(v["Raft"]["SnapshotInterval"], 10000);
        assert_eq!(v["Dispatcher"]["HeartbeatPeriod"], 5_000_000_000i64);
        assert_eq!(v["CAConfig"]["NodeCertExpiry"], 7_776_000_000_000_000i64);
        assert_eq!(v["EncryptionConfig"]["AutoLockManagers"], false);
        assert_eq!(v["TaskDefaults"], serde_json::json!({}));
    }

    #[test]
    fn a_read_back_spec_changes_only_what_was_edited() {
        let base = ClusterSpec::default();
        let mut spec = spec_view(&base);
        assert_eq!(apply_spec(&base, &spec).unwrap(), base);
        spec.dispatcher.heartbeat_period = 2 * NANOS;
        spec.encryption_config.auto_lock_managers = true;
        let s = apply_spec(&base, &spec).unwrap();
        assert_eq!((s.heartbeat_period_ns, s.autolock), (2_000_000_000, true));
        spec.ca_config.node_cert_expiry = 60 * NANOS;
        assert!(apply_spec(&base, &spec)
            .unwrap_err()
            .message
            .contains("minimum certificate expiry"));
    }
}
