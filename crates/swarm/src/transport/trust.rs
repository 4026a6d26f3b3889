//! The roots a node trusts, changeable while it serves: during a root CA
//! rotation a manager trusts the old and the new root, and only the new
//! one once the rotation is done, without restarting its listener or its
//! peer connections. rustls fixes a config's verifier at build time, so
//! this verifier delegates to webpki verifiers rebuilt on each change.

use std::sync::{Arc, RwLock};

use berth_api::Error;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};

use crate::ca::first_cert_der;

struct Verifiers {
    /// The root PEMs these were built from (to skip rebuilding on no change).
    roots: Vec<String>,
    clients: Arc<dyn ClientCertVerifier>,
    servers: Arc<WebPkiServerVerifier>,
}

/// Verifies peers (as server: client certificates; as client: the
/// server's) against the current roots.
pub struct Trust {
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<Verifiers>>,
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trust")
            .field("roots", &self.verifiers().roots.len())
            .finish()
    }
}

fn tls_err(e: impl std::fmt::Display) -> Error {
    Error::internal(format!("tls: {e}"))
}

fn build(provider: &Arc<CryptoProvider>, roots: &[String]) -> Result<Verifiers, Error> {
    let mut store = RootCertStore::empty();
    for pem in roots {
        store
            .add(CertificateDer::from(first_cert_der(pem)?))
            .map_err(tls_err)?;
    }
    let store = Arc::new(store);
    let clients = WebPkiClientVerifier::builder_with_provider(store.clone(), provider.clone())
        .build()
        .map_err(tls_err)?;
    let servers = WebPkiServerVerifier::builder_with_provider(store, provider.clone())
        .build()
        .map_err(tls_err)?;
    Ok(Verifiers {
        roots: roots.to_vec(),
        clients,
        servers,
    })
}

impl Trust {
    pub fn new(provider: Arc<CryptoProvider>, roots: &[String]) -> Result<Arc<Trust>, Error> {
        let verifiers = build(&provider, roots)?;
        Ok(Arc::new(Trust {
            provider,
            current: RwLock::new(Arc::new(verifiers)),
        }))
    }

    fn verifiers(&self) -> Arc<Verifiers> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Trust exactly `roots` (PEM) from the next handshake on; returns
    /// whether anything changed.
    pub fn set(&self, roots: &[String]) -> Result<bool, Error> {
        if self.verifiers().roots == roots {
            return Ok(false);
        }
        let next = Arc::new(build(&self.provider, roots)?);
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = next;
        Ok(true)
    }

    pub fn roots(&self) -> Vec<String> {
        self.verifiers().roots.clone()
    }

    fn tls12(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn tls13(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

impl ClientCertVerifier for Trust {
    fn client_auth_mandatory(&self) -> bool {
        true
    }

    // Hints are optional; our clients pick their one certificate anyway.
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.verifiers()
            .clients
            .verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls12(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls13(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes()
    }
}

impl ServerCertVerifier for Trust {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.verifiers().servers.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls12(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls13(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes()
    }
}
