//! Node certificate renewal, as swarmkit does it: at a random point
//! between 50% and 80% of the certificate's life (so managers do not all
//! renew at once), or on demand. A manager signs its own renewal with the
//! CA key from the replicated cluster object; the role comes from the
//! store, so a demoted node's next certificate says `swarm-worker`.

use std::sync::Weak;
use std::time::Duration;

use berth_api::Error;
use rand::Rng;

use super::{write_synced, Inner, Manager, Paths};
use crate::ca::{NodeCert, NodeIdentity};

/// Retry delay after a failed renewal (no quorum yet, say).
const RETRY: Duration = Duration::from_secs(60);

impl Inner {
    pub(crate) fn renew_certificate(&self) -> Result<NodeCert, Error> {
        let cluster = self
            .reader
            .read(|d| d.cluster.clone())
            .ok_or_else(super::propose::lost_quorum)?;
        // The next root during a rotation (see rotate_ca).
        let (ca, chain, _) = super::rotate_ca::signing_ca(&cluster)?;
        let role = self
            .reader
            .read(|d| d.nodes.get(&self.identity.node_id).map(|n| n.spec.role))
            .unwrap_or(self.identity.role);
        let identity = NodeIdentity {
            node_id: self.identity.node_id.clone(),
            role,
            cluster_id: self.identity.cluster_id.clone(),
        };
        let key_pem = self
            .node
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .key_pem
            .clone();
        let csr = NodeCert::csr_for(&key_pem)?;
        let cert_pem = ca.issue(
            &csr,
            &identity,
            Duration::from_secs(cluster.spec.cert_expiry_secs),
        )?;
        let cert_pem = super::rotate_ca::with_chain(cert_pem, &chain);
        let renewed = NodeCert {
            cert_pem,
            key_pem,
            identity,
        };
        // On disk first: a crash after this restarts with the new one.
        let paths = Paths::new(&self.config.state_dir);
        write_synced(
            &paths.certs.join("swarm-node.crt"),
            renewed.cert_pem.as_bytes(),
        )?;
        self.keys.replace(&renewed)?;
        *self.node.write().unwrap_or_else(|p| p.into_inner()) = renewed.clone();
        Ok(renewed)
    }

    /// How long until the current certificate should be renewed.
    fn renew_in(&self) -> Duration {
        let node = self.node.read().unwrap_or_else(|p| p.into_inner()).clone();
        let (Ok(from), Ok(to)) = (node.not_before(), node.not_after()) else {
            return RETRY;
        };
        let life = (to - from).max(0) as f64;
        let at = from + (life * rand::rng().random_range(0.5..0.8)) as i64;
        let now = chrono::Utc::now().timestamp();
        Duration::from_secs(at.saturating_sub(now).max(1) as u64)
    }
}

/// Renew the certificate when due, for as long as the manager lives.
pub(crate) async fn renew_loop(inner: Weak<Inner>) {
    loop {
        let Some(wait) = inner.upgrade().map(|i| i.renew_in()) else {
            return;
        };
        tokio::time::sleep(wait).await;
        let Some(i) = inner.upgrade() else { return };
        if let Err(e) = i.renew_certificate() {
            tracing::warn!("swarm: renewing the node certificate: {}", e.message);
            drop(i);
            tokio::time::sleep(RETRY).await;
        }
    }
}

impl Manager {
    /// Renew this node's certificate now; the next TLS handshakes, as
    /// server and as client, use the new one.
    pub fn renew_certificate(&self) -> Result<NodeCert, Error> {
        self.inner.renew_certificate()
    }
}
