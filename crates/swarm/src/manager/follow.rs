//! What every manager does as the cluster object changes: re-seal its key
//! file under the cluster's unlock key (`autolock`), follow the root CA
//! and its rotation (`rotate_ca`).

use std::sync::Weak;

use super::Inner;

/// Follow the cluster object for as long as the manager lives (its unlock
/// key, its root CA): every change of Raft's metrics (an applied entry
/// among them) checks it.
pub(crate) async fn follow_cluster(inner: Weak<Inner>) {
    let Some(mut rx) = inner.upgrade().map(|i| i.raft.metrics()) else {
        return;
    };
    // Metrics change with every heartbeat: a failure that lasts (no
    // quorum, say) is logged when it starts, not on each retry.
    let mut last_failure: Option<String> = None;
    loop {
        let Some(i) = inner.upgrade() else { return };
        let sealing = i.reconcile_unlock_key().err();
        let root_ca = i.reconcile_root_ca().await.err();
        let failures: Vec<String> = [
            sealing.map(|e| format!("sealing the node key file: {}", e.message)),
            root_ca.map(|e| format!("following the root CA: {}", e.message)),
        ]
        .into_iter()
        .flatten()
        .collect();
        let failure = (!failures.is_empty()).then(|| failures.join("; "));
        if let Some(f) = failure
            .as_ref()
            .filter(|f| last_failure.as_ref() != Some(*f))
        {
            tracing::warn!("swarm: {f}");
        }
        last_failure = failure;
        drop(i);
        if rx.changed().await.is_err() {
            return;
        }
    }
}
