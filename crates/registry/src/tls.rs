//! `http.tls`: the server's certificate and key, and with `clientcas` a
//! verifier that requires client certificates from those CAs (as
//! distribution does), over rustls with ring.

use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, bail};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

use crate::config::TlsConfig;

/// Installs ring as the process's rustls provider (later calls keep it).
pub fn install_crypto_provider() {
    // An error only means a provider is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The rustls configuration for `t`; every error names the file.
pub fn server_config(t: &TlsConfig) -> anyhow::Result<Arc<ServerConfig>> {
    install_crypto_provider();
    let provider: Arc<CryptoProvider> = CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let certs = load_certs(&t.certificate, "http.tls.certificate")?;
    let pem = std::fs::read(&t.key)
        .map_err(|e| anyhow!("could not read http.tls.key {}: {e}", t.key.display()))?;
    let key = PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|e| anyhow!("could not load http.tls.key {}: {e}", t.key.display()))?;
    let versions: &[&rustls::SupportedProtocolVersion] = if t.tls13_only {
        &[&rustls::version::TLS13]
    } else {
        rustls::DEFAULT_VERSIONS
    };
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| anyhow!("TLS configuration: {e}"))?;
    let builder = if t.clientcas.is_empty() {
        builder.with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        for ca in &t.clientcas {
            for c in load_certs(ca, "http.tls.clientcas")? {
                roots.add(c).map_err(|e| {
                    anyhow!("could not load http.tls.clientcas {}: {e}", ca.display())
                })?;
            }
        }
        let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| anyhow!("http.tls.clientcas: {e}"))?;
        builder.with_client_cert_verifier(v)
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| {
        anyhow!(
            "http.tls.certificate {} and http.tls.key {}: {e}",
            t.certificate.display(),
            t.key.display()
        )
    })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn load_certs(path: &Path, what: &str) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let pem = std::fs::read(path)
        .map_err(|e| anyhow!("could not read {what} {}: {e}", path.display()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("could not load {what} {}: {e}", path.display()))?;
    if certs.is_empty() {
        bail!(
            "could not load {what} {}: no PEM certificate found",
            path.display()
        );
    }
    Ok(certs)
}
