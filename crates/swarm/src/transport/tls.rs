//! TLS configurations for the cluster port. Two ALPN protocols share it:
//! `berth-swarm/1` (everything between nodes holding a cluster
//! certificate) whose server side *requires* a client certificate signed
//! by the cluster root, so a peer without one fails the handshake; and
//! `berth-swarm-join/1` for a node that has no certificate yet, on which
//! only the root CA and the token-guarded join are served. The server picks
//! its configuration from the ClientHello (tokio-rustls' LazyConfigAcceptor).

use std::sync::{Arc, RwLock};

use berth_api::Error;
use rustls::client::ResolvesClientCert;
use rustls::pki_types::CertificateDer;
use rustls::server::danger::ClientCertVerifier;
use rustls::server::ResolvesServerCert;
use rustls::server::WebPkiClientVerifier;
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, RootCertStore, ServerConfig, SignatureScheme};

use super::trust::Trust;
use crate::ca::{NodeCert, RootCa};

pub const ALPN_CLUSTER: &[u8] = b"berth-swarm/1";
pub const ALPN_JOIN: &[u8] = b"berth-swarm-join/1";
/// The name clients verify: every manager certificate carries it as a DNS
/// SAN (as swarmkit's certificates carry "swarm-manager").
pub const MANAGER_SERVER_NAME: &str = "swarm-manager";

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    // Our own provider for every config, so the library does not depend on
    // a process-wide default being installed by the daemon.
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_err(e: impl std::fmt::Display) -> Error {
    Error::internal(format!("tls: {e}"))
}

fn roots(ca: &RootCa) -> Result<RootCertStore, Error> {
    let mut store = RootCertStore::empty();
    store
        .add(CertificateDer::from(ca.cert_der()?))
        .map_err(tls_err)?;
    Ok(store)
}

/// This node's certificate and key as TLS uses them, swappable while
/// serving: a renewed certificate is used by the next handshake, on both
/// the server and the client side, without restarting the listener.
#[derive(Debug)]
pub struct NodeKeys(RwLock<Arc<CertifiedKey>>);

fn certified_key(node: &NodeCert) -> Result<Arc<CertifiedKey>, Error> {
    let certs = rustls_pemfile::certs(&mut node.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(tls_err)?;
    let key = rustls_pemfile::private_key(&mut node.key_pem.as_bytes())
        .map_err(tls_err)?
        .ok_or_else(|| Error::internal("no private key in the node key PEM"))?;
    Ok(Arc::new(
        CertifiedKey::from_der(certs, key, &provider()).map_err(tls_err)?,
    ))
}

impl NodeKeys {
    pub fn new(node: &NodeCert) -> Result<Arc<NodeKeys>, Error> {
        Ok(Arc::new(NodeKeys(RwLock::new(certified_key(node)?))))
    }

    /// Use `node` from the next handshake on.
    pub fn replace(&self, node: &NodeCert) -> Result<(), Error> {
        let key = certified_key(node)?;
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = key;
        Ok(())
    }

    fn current(&self) -> Arc<CertifiedKey> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl ResolvesServerCert for NodeKeys {
    fn resolve(&self, _hello: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

impl ResolvesClientCert for NodeKeys {
    fn resolve(&self, _hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// The server configs of a manager: (cluster, join).
pub fn server_configs(
    ca: &RootCa,
    keys: Arc<NodeKeys>,
) -> Result<(Arc<ServerConfig>, Arc<ServerConfig>), Error> {
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots(ca)?), provider())
        .build()
        .map_err(tls_err)?;
    server_configs_verifying(verifier, keys)
}

/// A manager's roots, changeable while it serves (root CA rotation).
pub fn trust(ca: &RootCa) -> Result<Arc<Trust>, Error> {
    Trust::new(provider(), &[ca.cert_pem().to_string()])
}

/// As `server_configs`, verifying client certificates against `trust` as it is at each handshake.
pub fn server_configs_trusting(
    trust: Arc<Trust>,
    keys: Arc<NodeKeys>,
) -> Result<(Arc<ServerConfig>, Arc<ServerConfig>), Error> {
    server_configs_verifying(trust, keys)
}

fn server_configs_verifying(
    verifier: Arc<dyn ClientCertVerifier>,
    keys: Arc<NodeKeys>,
) -> Result<(Arc<ServerConfig>, Arc<ServerConfig>), Error> {
    let mut cluster = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(tls_err)?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(keys.clone());
    cluster.alpn_protocols = vec![ALPN_CLUSTER.to_vec()];
    let mut join = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(tls_err)?
        .with_no_client_auth()
        .with_cert_resolver(keys);
    join.alpn_protocols = vec![ALPN_JOIN.to_vec()];
    Ok((Arc::new(cluster), Arc::new(join)))
}

/// A node's client config for the cluster protocol: it presents its node
/// certificate and trusts only the cluster root.
pub fn cluster_client_config(ca: &RootCa, node: &NodeCert) -> Result<Arc<ClientConfig>, Error> {
    client_config_with(ca, NodeKeys::new(node)?)
}

/// As `cluster_client_config`, presenting whatever `keys` holds at each handshake.
pub fn client_config_with(ca: &RootCa, keys: Arc<NodeKeys>) -> Result<Arc<ClientConfig>, Error> {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(tls_err)?
        .with_root_certificates(roots(ca)?)
        .with_client_cert_resolver(keys);
    config.alpn_protocols = vec![ALPN_CLUSTER.to_vec()];
    Ok(Arc::new(config))
}

/// As `client_config_with`, verifying servers against `trust` as it is at each handshake.
pub fn client_config_trusting(
    trust: Arc<Trust>,
    keys: Arc<NodeKeys>,
) -> Result<Arc<ClientConfig>, Error> {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(tls_err)?
        .dangerous()
        // webpki's own verification, against roots that change in a rotation
        .with_custom_certificate_verifier(trust)
        .with_client_cert_resolver(keys);
    config.alpn_protocols = vec![ALPN_CLUSTER.to_vec()];
    Ok(Arc::new(config))
}

/// The join client config for fetching the root: the joining node does
/// not know it yet, so the handshake accepts the server's certificate
/// provisionally (its handshake signature is still checked). Nothing
/// secret is sent on it: the joiner checks the root against the token's
/// digest, then sends the token over `join_client_config_pinned`.
pub fn join_client_config() -> Result<Arc<ClientConfig>, Error> {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(tls_err)?
        .dangerous()
        // the certificate is checked after the handshake, against the
        // token-pinned root
        .with_custom_certificate_verifier(berth_tls::SignaturesOnly::new(provider()))
        .with_no_client_auth();
    config.alpn_protocols = vec![ALPN_JOIN.to_vec()];
    Ok(Arc::new(config))
}

/// The join client config once the root is known and checked: the server
/// must hold a manager certificate from `ca` (every handshake, so a
/// reconnect cannot land on someone else).
pub fn join_client_config_pinned(ca: &RootCa) -> Result<Arc<ClientConfig>, Error> {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(tls_err)?
        .with_root_certificates(roots(ca)?)
        .with_no_client_auth();
    config.alpn_protocols = vec![ALPN_JOIN.to_vec()];
    Ok(Arc::new(config))
}
