//! The cluster's root CA and node identities, as swarmkit's `ca` package:
//! a root generated at `swarm init` (or an external one loaded), node
//! certificates issued from a CSR with CN = node ID, OU = the role and
//! O = the cluster ID, and join tokens that pin the root.

pub mod ids;
mod rotate;
pub mod token;

use std::time::Duration;

use berth_api::Error;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

pub use ids::new_id;
pub use token::{JoinToken, JoinTokens, Role};

/// swarmkit's default node certificate lifetime (`--cert-expiry`): 90 days.
pub const DEFAULT_CERT_EXPIRY: Duration = Duration::from_secs(90 * 24 * 3600);
/// swarmkit's root CA lifetime: 20 years.
const ROOT_EXPIRY: Duration = Duration::from_secs(20 * 365 * 24 * 3600);
/// swarmkit backdates certificates by an hour against clock skew.
const BACKDATE: Duration = Duration::from_secs(3600);

fn internal(what: &str, e: impl std::fmt::Display) -> Error {
    Error::internal(format!("{what}: {e}"))
}

/// The root CA: its certificate (PEM, the bytes the join token's digest is
/// taken over) and, on managers, its signing key.
#[derive(Clone)]
pub struct RootCa {
    cert_pem: String,
    key_pem: Option<String>,
}

impl std::fmt::Debug for RootCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootCa")
            .field("digest", &self.digest_hex())
            .finish_non_exhaustive()
    }
}

impl RootCa {
    /// A new self-signed root (ECDSA P-256, CN "swarm-ca", as swarmkit's).
    pub fn generate() -> Result<RootCa, Error> {
        let key = KeyPair::generate().map_err(|e| internal("generating the CA key", e))?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "swarm-ca");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - BACKDATE;
        params.not_after = now + ROOT_EXPIRY;
        let cert = params
            .self_signed(&key)
            .map_err(|e| internal("signing the CA", e))?;
        Ok(RootCa {
            cert_pem: cert.pem(),
            key_pem: Some(key.serialize_pem()),
        })
    }

    /// An external root (`--external-ca`, `swarm ca --ca-cert --ca-key`),
    /// or a node's copy of the root without its key.
    pub fn from_pem(cert_pem: &str, key_pem: Option<&str>) -> Result<RootCa, Error> {
        let der = first_cert_der(cert_pem)?;
        let (_, cert) = x509_parser::parse_x509_certificate(&der)
            .map_err(|e| Error::invalid(format!("invalid root CA certificate: {e}")))?;
        if !cert.is_ca() {
            return Err(Error::invalid(
                "the root CA certificate is not a CA certificate",
            ));
        }
        if let Some(key_pem) = key_pem {
            let key = KeyPair::from_pem(key_pem)
                .map_err(|e| Error::invalid(format!("invalid root CA key: {e}")))?;
            if key.public_key_raw() != cert.public_key().subject_public_key.data.as_ref() {
                return Err(Error::invalid(
                    "the root CA key does not match the root CA certificate",
                ));
            }
        }
        Ok(RootCa {
            cert_pem: cert_pem.to_string(),
            key_pem: key_pem.map(str::to_string),
        })
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    pub fn key_pem(&self) -> Option<&str> {
        self.key_pem.as_deref()
    }

    pub fn cert_der(&self) -> Result<Vec<u8>, Error> {
        first_cert_der(&self.cert_pem)
    }

    /// SHA-256 over the PEM bundle, as swarmkit's `digest.FromBytes(rootCertBytes)`.
    pub fn digest(&self) -> [u8; 32] {
        Sha256::digest(self.cert_pem.as_bytes()).into()
    }

    pub fn digest_hex(&self) -> String {
        let d = self.digest();
        d.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Sign a node's CSR: the subject is set here (never taken from the
    /// CSR) to CN = node ID, OU = role, O = cluster ID, as swarmkit's CA
    /// server does.
    pub fn issue(
        &self,
        csr_pem: &str,
        node: &NodeIdentity,
        expiry: Duration,
    ) -> Result<String, Error> {
        let key_pem = self
            .key_pem
            .as_deref()
            .ok_or_else(|| Error::internal("this node does not hold the CA key"))?;
        let key = KeyPair::from_pem(key_pem).map_err(|e| internal("loading the CA key", e))?;
        let issuer = Issuer::from_ca_cert_pem(&self.cert_pem, key)
            .map_err(|e| internal("loading the CA", e))?;
        let mut csr = CertificateSigningRequestParams::from_pem(csr_pem)
            .map_err(|e| Error::invalid(format!("invalid certificate signing request: {e}")))?;
        let params = &mut csr.params;
        // In dockerd's order: O, OU, CN.
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, node.cluster_id.as_str());
        dn.push(DnType::OrganizationalUnitName, node.role.ou());
        dn.push(DnType::CommonName, node.node_id.as_str());
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        // The SANs dockerd's node certificates carry: the role's OU, the
        // node ID and "swarm-ca" (peers verify managers as "swarm-manager").
        let san = |name: &str| {
            name.try_into()
                .map(rcgen::SanType::DnsName)
                .map_err(|e| internal("SAN", e))
        };
        params.subject_alt_names =
            vec![san(node.role.ou())?, san(&node.node_id)?, san("swarm-ca")?];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - BACKDATE;
        params.not_after = now + expiry;
        params.use_authority_key_identifier_extension = true;
        let cert = csr
            .signed_by(&issuer)
            .map_err(|e| internal("signing the node certificate", e))?;
        Ok(cert.pem())
    }
}

/// Who a node certificate says its holder is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeIdentity {
    pub node_id: String,
    pub role: Role,
    pub cluster_id: String,
}

impl NodeIdentity {
    /// Read CN/OU/O from a certificate (DER). The caller has already
    /// verified it chains to the cluster root (the TLS handshake does).
    pub fn from_cert_der(der: &[u8]) -> Result<NodeIdentity, Error> {
        let (_, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| Error::invalid(format!("invalid node certificate: {e}")))?;
        let subject = cert.subject();
        let first = |it: &mut dyn Iterator<
            Item = &x509_parser::x509::AttributeTypeAndValue<'_>,
        >| { it.next().and_then(|a| a.as_str().ok()).map(str::to_string) };
        let node_id = first(&mut subject.iter_common_name())
            .ok_or_else(|| Error::invalid("node certificate without CN"))?;
        let ou = first(&mut subject.iter_organizational_unit())
            .ok_or_else(|| Error::invalid("node certificate without OU"))?;
        let cluster_id = first(&mut subject.iter_organization())
            .ok_or_else(|| Error::invalid("node certificate without O"))?;
        let role = Role::from_ou(&ou)
            .ok_or_else(|| Error::invalid(format!("node certificate with unknown role {ou}")))?;
        Ok(NodeIdentity {
            node_id,
            role,
            cluster_id,
        })
    }
}

/// A node's key and certificate.
#[derive(Clone)]
pub struct NodeCert {
    pub cert_pem: String,
    pub key_pem: String,
    pub identity: NodeIdentity,
}

impl NodeCert {
    /// A new key and a CSR for it (the subject is the CA's choice).
    pub fn new_key_and_csr() -> Result<(String, String), Error> {
        let key = KeyPair::generate().map_err(|e| internal("generating a node key", e))?;
        let csr = CertificateParams::default()
            .serialize_request(&key)
            .and_then(|c| c.pem())
            .map_err(|e| internal("writing the CSR", e))?;
        Ok((key.serialize_pem(), csr))
    }

    /// A CSR for an existing key (renewal keeps the key, so the key and
    /// certificate files on disk never disagree after a crash).
    pub fn csr_for(key_pem: &str) -> Result<String, Error> {
        let key = KeyPair::from_pem(key_pem).map_err(|e| internal("loading the node key", e))?;
        CertificateParams::default()
            .serialize_request(&key)
            .and_then(|c| c.pem())
            .map_err(|e| internal("writing the CSR", e))
    }

    /// When the certificate became valid.
    pub fn not_before(&self) -> Result<i64, Error> {
        let der = first_cert_der(&self.cert_pem)?;
        let (_, cert) = x509_parser::parse_x509_certificate(&der)
            .map_err(|e| internal("parsing the node certificate", e))?;
        Ok(cert.validity().not_before.timestamp())
    }

    /// Issue a certificate for a new key locally (the first manager at init).
    pub fn issue_local(
        ca: &RootCa,
        identity: NodeIdentity,
        expiry: Duration,
    ) -> Result<NodeCert, Error> {
        let (key_pem, csr) = Self::new_key_and_csr()?;
        let cert_pem = ca.issue(&csr, &identity, expiry)?;
        Ok(NodeCert {
            cert_pem,
            key_pem,
            identity,
        })
    }

    pub fn from_pem(cert_pem: String, key_pem: String) -> Result<NodeCert, Error> {
        let identity = NodeIdentity::from_cert_der(&first_cert_der(&cert_pem)?)?;
        Ok(NodeCert {
            cert_pem,
            key_pem,
            identity,
        })
    }

    /// When the certificate expires (for renewal before expiry).
    pub fn not_after(&self) -> Result<i64, Error> {
        let der = first_cert_der(&self.cert_pem)?;
        let (_, cert) = x509_parser::parse_x509_certificate(&der)
            .map_err(|e| internal("parsing the node certificate", e))?;
        Ok(cert.validity().not_after.timestamp())
    }
}

/// The DER of the first certificate in a PEM text.
pub fn first_cert_der(pem: &str) -> Result<Vec<u8>, Error> {
    let mut reader = pem.as_bytes();
    let first = rustls_pemfile::certs(&mut reader).next();
    match first {
        Some(Ok(der)) => Ok(der.to_vec()),
        Some(Err(e)) => Err(Error::invalid(format!("invalid certificate PEM: {e}"))),
        None => Err(Error::invalid("no certificate in PEM")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_node_cert_carries_swarmkit_subject_and_expiry() {
        let ca = RootCa::generate().unwrap();
        let who = NodeIdentity {
            node_id: new_id(),
            role: Role::Manager,
            cluster_id: new_id(),
        };
        let expiry = Duration::from_secs(3 * 24 * 3600);
        let node = NodeCert::issue_local(&ca, who.clone(), expiry).unwrap();
        assert_eq!(
            NodeCert::from_pem(node.cert_pem.clone(), node.key_pem.clone())
                .unwrap()
                .identity,
            who
        );
        let left = node.not_after().unwrap() - OffsetDateTime::now_utc().unix_timestamp();
        assert!((left - expiry.as_secs() as i64).abs() < 60, "{left}");
    }

    #[test]
    fn csr_subject_is_ignored() {
        let ca = RootCa::generate().unwrap();
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, "i-am-the-ca");
        params
            .distinguished_name
            .push(DnType::OrganizationalUnitName, "swarm-manager");
        let csr = params.serialize_request(&key).unwrap().pem().unwrap();
        let who = NodeIdentity {
            node_id: new_id(),
            role: Role::Worker,
            cluster_id: new_id(),
        };
        let pem = ca.issue(&csr, &who, DEFAULT_CERT_EXPIRY).unwrap();
        assert_eq!(
            NodeIdentity::from_cert_der(&first_cert_der(&pem).unwrap()).unwrap(),
            who
        );
    }

    #[test]
    fn external_ca_loads_and_a_mismatched_key_is_refused() {
        let a = RootCa::generate().unwrap();
        let b = RootCa::generate().unwrap();
        let loaded = RootCa::from_pem(a.cert_pem(), a.key_pem()).unwrap();
        assert_eq!(loaded.digest(), a.digest());
        let err = RootCa::from_pem(a.cert_pem(), b.key_pem()).unwrap_err();
        assert!(err.message.contains("does not match"), "{}", err.message);
        assert!(RootCa::from_pem("garbage", None).is_err());
    }
}
