//! Root CA rotation (`swarm ca --rotate [--ca-cert --ca-key]`), as
//! swarmkit's (ca/reconciler.go): the cluster object gets the next root
//! and its certificate cross-signed by the current one; every manager then
//! trusts both roots, and re-issues its own certificate from the next root
//! (presented with the cross-signed certificate, so nodes that trust only
//! the old root accept it) and records its issuer in its node object. Once
//! every node's issuer is the next root, the leader makes it the root,
//! with join tokens for its digest, and every manager drops the old root
//! from its trust and from `swarm-root-ca.crt`.

use berth_api::Error;

use super::{read, write_synced, Inner, Manager, Paths};
use crate::ca::{JoinTokens, RootCa};
use crate::store::{Cluster, Command, RootRotation, TlsInfo};

/// How many times recording this node's issuer is retried when another
/// write to its node object came first.
const RECORD_ATTEMPTS: usize = 3;

/// The CA that signs now (the next root during a rotation), the chain to
/// append to what it signs, and the issuer that signature records.
pub(crate) fn signing_ca(cluster: &Cluster) -> Result<(RootCa, String, TlsInfo), Error> {
    let (ca, chain) = match &cluster.root_rotation {
        Some(r) => (
            RootCa::from_pem(&r.ca_cert, Some(&r.ca_key))?,
            r.cross_signed_ca_cert.clone(),
        ),
        None => {
            let key = cluster.root_ca_key.as_deref().ok_or_else(|| {
                Error::internal("this swarm's CA signs externally, which berth does not do yet")
            })?;
            (
                RootCa::from_pem(&cluster.root_ca_cert, Some(key))?,
                String::new(),
            )
        }
    };
    let info = ca.issuer_info()?;
    Ok((ca, chain, info))
}

/// A certificate signed by `ca`, with the chain a rotation needs.
pub(crate) fn with_chain(cert_pem: String, chain: &str) -> String {
    if chain.is_empty() {
        cert_pem
    } else {
        format!("{cert_pem}{chain}")
    }
}

fn same_issuer(a: Option<&TlsInfo>, b: &TlsInfo) -> bool {
    a.is_some_and(|a| {
        a.cert_issuer_subject == b.cert_issuer_subject
            && a.cert_issuer_public_key == b.cert_issuer_public_key
    })
}

/// Whether `cert_pem` (leaf and chain) carries `cross_pem`: this node's
/// certificate was issued during this rotation.
fn carries(cert_pem: &str, cross_pem: &str) -> bool {
    let ders = |pem: &str| -> Vec<Vec<u8>> {
        rustls_pemfile::certs(&mut pem.as_bytes())
            .filter_map(Result::ok)
            .map(|d| d.to_vec())
            .collect()
    };
    let cross = ders(cross_pem);
    !cross.is_empty() && ders(cert_pem).iter().skip(1).any(|d| *d == cross[0])
}

impl Inner {
    /// Follow the cluster's root CA: the roots trusted, this node's
    /// certificate and issuer during a rotation, and (on the leader) the
    /// rotation's end.
    pub(crate) async fn reconcile_root_ca(&self) -> Result<(), Error> {
        let Some(cluster) = self.reader.read(|d| d.cluster.clone()) else {
            return Ok(());
        };
        let mut roots = vec![cluster.root_ca_cert.clone()];
        if let Some(r) = &cluster.root_rotation {
            roots.push(r.ca_cert.clone());
        }
        if self.trust.set(&roots)? {
            // A restart trusts what the file says: the current root.
            let path = Paths::new(&self.config.state_dir)
                .certs
                .join("swarm-root-ca.crt");
            if read(&path)? != cluster.root_ca_cert {
                write_synced(&path, cluster.root_ca_cert.as_bytes())?;
            }
        }
        let Some(rotation) = &cluster.root_rotation else {
            return Ok(());
        };
        let (_, _, want) = signing_ca(&cluster)?;
        let cert_pem = self
            .node
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .cert_pem
            .clone();
        if !carries(&cert_pem, &rotation.cross_signed_ca_cert) {
            self.renew_certificate()?;
        }
        self.record_issuer(&self.identity.node_id, &want).await?;
        if self.raft.metrics().borrow().current_leader == Some(self.raft_id) {
            self.finish_rotation(&cluster, &want).await?;
        }
        Ok(())
    }

    /// Record in a node's object who issued its certificate.
    async fn record_issuer(&self, node_id: &str, info: &TlsInfo) -> Result<(), Error> {
        for _ in 0..RECORD_ATTEMPTS {
            let Some(mut node) = self.reader.read(|d| d.nodes.get(node_id).cloned()) else {
                return Ok(());
            };
            if same_issuer(node.tls_info.as_ref(), info) {
                return Ok(());
            }
            node.tls_info = Some(info.clone());
            node.meta.updated_at = super::join::now();
            match self.propose(Command::UpdateNode(Box::new(node))).await? {
                crate::store::CommandResult::Conflict(_) => continue,
                _ => return Ok(()),
            }
        }
        Ok(())
    }

    /// End the rotation once every node's certificate is from the next root.
    async fn finish_rotation(&self, cluster: &Cluster, next: &TlsInfo) -> Result<(), Error> {
        let converged = self.reader.read(|d| {
            d.nodes
                .values()
                .all(|n| same_issuer(n.tls_info.as_ref(), next))
        });
        let Some(rotation) = cluster.root_rotation.clone().filter(|_| converged) else {
            return Ok(());
        };
        let root = RootCa::from_pem(&rotation.ca_cert, Some(&rotation.ca_key))?;
        let mut done = cluster.clone();
        done.root_ca_cert = rotation.ca_cert;
        done.root_ca_key = Some(rotation.ca_key);
        done.root_rotation = None;
        // As swarmkit: new tokens for the new digest.
        done.join_tokens = JoinTokens::generate(root.digest());
        done.meta.updated_at = super::join::now();
        // A refusal (someone else's write came first) is retried on the next change.
        self.propose(Command::UpdateCluster(Box::new(done))).await?;
        Ok(())
    }
}

impl Manager {
    /// Issue node `node_id` a certificate for its CSR (its renewal, and
    /// how a worker follows a rotation): the role is the store's, the
    /// signer the next root during a rotation (the chain appended), and
    /// the issuer is recorded in the node object so the rotation can end.
    /// The caller must have checked that the requester is that node (the
    /// CN of its TLS certificate). Returns the certificate chain (PEM).
    pub async fn issue_node_certificate(
        &self,
        node_id: &str,
        csr_pem: &str,
    ) -> Result<String, Error> {
        let cluster = self.cluster().ok_or_else(super::propose::lost_quorum)?;
        let node = self.nodes().get(node_id).cloned().ok_or_else(|| {
            Error::not_found(format!(
                "rpc error: code = NotFound desc = node {node_id} not found"
            ))
        })?;
        let (ca, chain, issuer) = signing_ca(&cluster)?;
        let identity = crate::ca::NodeIdentity {
            node_id: node_id.to_string(),
            role: node.spec.role,
            cluster_id: cluster.id.clone(),
        };
        let expiry = std::time::Duration::from_secs(cluster.spec.cert_expiry_secs);
        let cert_pem = with_chain(ca.issue(csr_pem, &identity, expiry)?, &chain);
        self.inner.record_issuer(node_id, &issuer).await?;
        Ok(cert_pem)
    }

    /// `swarm ca --rotate`: rotate to `next` (`--ca-cert --ca-key`, its key
    /// needed: berth does not sign externally) or to a new root. Returns
    /// once the rotation is recorded; it ends when every node has a
    /// certificate from the next root (`cluster().root_rotation` is None
    /// again and `root_ca_cert` is the new root). Starting one during
    /// another replaces it, as swarmkit.
    pub async fn rotate_root_ca(&self, next: Option<RootCa>) -> Result<(), Error> {
        let mut cluster = self.cluster().ok_or_else(super::propose::lost_quorum)?;
        let current = RootCa::from_pem(&cluster.root_ca_cert, cluster.root_ca_key.as_deref())?;
        let next = match next {
            Some(ca) => ca,
            None => RootCa::generate()?,
        };
        let next_key = next.key_pem().ok_or_else(|| {
            Error::invalid("rotating to an external root CA needs its key (--ca-key)")
        })?;
        if next.cert_pem() == current.cert_pem() {
            return Ok(());
        }
        let cross_signed_ca_cert = current.cross_sign(&next)?;
        cluster.root_rotation = Some(RootRotation {
            ca_cert: next.cert_pem().to_string(),
            ca_key: next_key.to_string(),
            cross_signed_ca_cert,
        });
        cluster.meta.updated_at = super::join::now();
        self.propose(Command::UpdateCluster(Box::new(cluster)))
            .await?;
        Ok(())
    }
}
