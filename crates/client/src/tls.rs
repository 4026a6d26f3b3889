//! The client side of TLS, as the docker CLI does it: a rustls (ring)
//! `ClientConfig` from the PEM material of an endpoint (`ca.pem`,
//! `cert.pem`, `key.pem`), verifying the server against the CA unless the
//! endpoint skips verification (`--tls` without `--tlsverify`, or a
//! context's `skip-tls-verify`), and presenting the client certificate
//! when there is one. Errors carry the docker CLI's wording (it comes from
//! Go's crypto/tls), so scripts and users see the same text.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::sign::CertifiedKey;
use rustls::{
    AlertDescription, CertificateError, ClientConfig, InconsistentKeys, RootCertStore,
    SignatureScheme,
};

/// The PEM material of an endpoint: any of the three may be absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsData {
    pub ca: Option<Vec<u8>>,
    pub cert: Option<Vec<u8>>,
    pub key: Option<Vec<u8>>,
}

impl TlsData {
    pub fn is_empty(&self) -> bool {
        self.ca.is_none() && self.cert.is_none() && self.key.is_none()
    }

    /// The file names docker lists as a context's `TLSMaterial`.
    pub fn file_names(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.ca.is_some() {
            v.push("ca.pem");
        }
        if self.cert.is_some() {
            v.push("cert.pem");
        }
        if self.key.is_some() {
            v.push("key.pem");
        }
        v
    }
}

/// A broken piece of TLS material, in the docker CLI's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    #[error("failed to retrieve context tls info: ca.pem seems invalid")]
    BadCa,
    #[error("failed to retrieve context tls info: tls: failed to find certificate PEM data in certificate input, but did find a private key; PEM inputs may have been switched")]
    Switched,
    #[error("failed to retrieve context tls info: tls: failed to find any PEM data in certificate input")]
    NoCert,
    #[error("no valid private key found")]
    NoKey,
    #[error("failed to retrieve context tls info: tls: private key does not match public key")]
    Mismatch,
    #[error("failed to retrieve context tls info: {0}")]
    Other(String),
}

fn provider() -> Arc<CryptoProvider> {
    // An error only means a provider is installed already: keep that one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()))
}

/// Checks the material without connecting (what `context create` does).
pub fn validate(data: &TlsData) -> Result<(), TlsError> {
    client_config(data, false).map(|_| ())
}

/// The rustls configuration for an endpoint. `skip_verify` accepts any
/// server certificate (docker's `InsecureSkipVerify`); otherwise the server
/// must chain to the CA (the CA is required then, as with the docker CLI,
/// which refuses to start without it).
pub fn client_config(data: &TlsData, skip_verify: bool) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = provider();
    let mut roots = RootCertStore::empty();
    if let Some(ca) = &data.ca {
        let mut any = false;
        for c in CertificateDer::pem_slice_iter(ca) {
            let c = c.map_err(|_| TlsError::BadCa)?;
            roots.add(c).map_err(|_| TlsError::BadCa)?;
            any = true;
        }
        if !any {
            return Err(TlsError::BadCa);
        }
    }
    let client_auth = match (&data.cert, &data.key) {
        (Some(cert), Some(key)) => Some(certified_key(&provider, cert, key)?),
        _ => None,
    };
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Other(e.to_string()))?;
    let builder = if skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(berth_tls::SignaturesOnly::new(provider))
    } else {
        builder.with_root_certificates(roots)
    };
    let mut config = match client_auth {
        Some(key) => builder.with_client_cert_resolver(Arc::new(GoClientCert(key))),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn certified_key(
    provider: &CryptoProvider,
    cert: &[u8],
    key: &[u8],
) -> Result<Arc<CertifiedKey>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Other(format!("tls: {e}")))?;
    if certs.is_empty() {
        return Err(if PrivateKeyDer::from_pem_slice(cert).is_ok() {
            TlsError::Switched
        } else {
            TlsError::NoCert
        });
    }
    let key = match PrivateKeyDer::from_pem_slice(key) {
        Ok(k) => k,
        Err(pem::Error::NoItemsFound) => return Err(TlsError::NoKey),
        Err(e) => return Err(TlsError::Other(format!("tls: {e}"))),
    };
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|_| TlsError::NoKey)?;
    let certified = CertifiedKey::new(certs, signing);
    // Only a proven mismatch is refused here; a certificate webpki cannot
    // read (an X.509 v1 one, say) is the server's to judge, as with Go.
    if let Err(rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch)) =
        certified.keys_match()
    {
        return Err(TlsError::Mismatch);
    }
    Ok(Arc::new(certified))
}

/// Presents the client certificate as Go's crypto/tls (and so the docker
/// CLI) does: when the server names the CAs it accepts, only a chain with
/// a certificate issued by one of them is sent; otherwise none is, and the
/// server answers "certificate required" rather than "unknown CA".
#[derive(Debug)]
struct GoClientCert(Arc<CertifiedKey>);

impl rustls::client::ResolvesClientCert for GoClientCert {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        if root_hint_subjects.is_empty() {
            return Some(self.0.clone());
        }
        let accepted = self.0.cert.iter().any(|c| {
            issuer_der(c.as_ref()).is_some_and(|issuer| root_hint_subjects.contains(&issuer))
        });
        accepted.then(|| self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// One DER element at the start of `buf`: (tag, whole element, content).
/// Hand-written: reading three fields of a certificate needs no X.509
/// parser dependency.
fn der_element(buf: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *buf.first()?;
    let first = *buf.get(1)?;
    let (len, head) = if first < 0x80 {
        (first as usize, 2)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *buf.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let end = head.checked_add(len)?;
    let whole = buf.get(..end)?;
    Some((tag, whole, &whole[head..]))
}

/// The DER `issuer` Name of a certificate (with its SEQUENCE header, as
/// TLS lists acceptable CAs).
pub fn issuer_der(cert: &[u8]) -> Option<&[u8]> {
    let (_, _, cert) = der_element(cert)?;
    let (_, _, tbs) = der_element(cert)?;
    let mut rest = tbs;
    let (tag, whole, _) = der_element(rest)?;
    if tag == 0xa0 {
        // [0] version
        rest = &rest[whole.len()..];
    }
    // serialNumber, then the signature AlgorithmIdentifier.
    for _ in 0..2 {
        let (_, whole, _) = der_element(rest)?;
        rest = &rest[whole.len()..];
    }
    let (tag, issuer, _) = der_element(rest)?;
    (tag == 0x30).then_some(issuer)
}

/// The name the server certificate must carry: the host of the address.
pub fn server_name(addr: &str) -> Result<ServerName<'static>, String> {
    let host = match addr.rsplit_once(':') {
        Some((h, _)) => h,
        None => addr,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string()).map_err(|_| format!("invalid server name: {host}"))
}

/// A rustls failure in Go's crypto/tls words, as the docker CLI prints it.
pub fn describe(e: &rustls::Error, host: &str) -> String {
    match e {
        rustls::Error::InvalidCertificate(c) => {
            let why = match c {
                CertificateError::UnknownIssuer => {
                    "x509: certificate signed by unknown authority".to_string()
                }
                CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. } => {
                    "x509: certificate has expired or is not yet valid".to_string()
                }
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => {
                    format!("x509: certificate is not valid for {host}")
                }
                CertificateError::InvalidPurpose
                | CertificateError::InvalidPurposeContext { .. } => {
                    "x509: certificate specifies an incompatible key usage".to_string()
                }
                other => format!("x509: {other:?}"),
            };
            format!("tls: failed to verify certificate: {why}")
        }
        rustls::Error::AlertReceived(a) => format!("remote error: tls: {}", alert(*a)),
        // The peer does not speak TLS (a plain HTTP daemon, say).
        rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => {
            "tls: first record does not look like a TLS handshake".into()
        }
        other => format!("tls: {other}"),
    }
}

/// Go's names of TLS alerts.
fn alert(a: AlertDescription) -> String {
    match a {
        AlertDescription::CertificateRequired => "certificate required".into(),
        AlertDescription::BadCertificate => "bad certificate".into(),
        AlertDescription::UnknownCA => "unknown certificate authority".into(),
        AlertDescription::CertificateExpired => "expired certificate".into(),
        AlertDescription::CertificateUnknown => "unknown certificate".into(),
        AlertDescription::UnsupportedCertificate => "unsupported certificate".into(),
        AlertDescription::CertificateRevoked => "revoked certificate".into(),
        AlertDescription::HandshakeFailure => "handshake failure".into(),
        AlertDescription::ProtocolVersion => "protocol version not supported".into(),
        AlertDescription::AccessDenied => "access denied".into(),
        AlertDescription::DecryptError => "error decrypting message".into(),
        AlertDescription::InternalError => "internal error".into(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::client::ResolvesClientCert;

    fn openssl(dir: &std::path::Path, args: &[&str]) {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("running openssl (install openssl)");
        assert!(out.status.success(), "openssl {args:?}");
    }

    /// A CA and a client certificate it signed, with an EC key in SEC1.
    fn ca_and_client(dir: &std::path::Path, cn: &str) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        openssl(
            dir,
            &[
                "ecparam",
                "-genkey",
                "-name",
                "prime256v1",
                "-noout",
                "-out",
                "ca-key.pem",
            ],
        );
        let subj = format!("/CN={cn}");
        openssl(
            dir,
            &[
                "req",
                "-new",
                "-x509",
                "-days",
                "2",
                "-key",
                "ca-key.pem",
                "-subj",
                &subj,
                "-out",
                "ca.pem",
            ],
        );
        openssl(
            dir,
            &[
                "ecparam",
                "-genkey",
                "-name",
                "prime256v1",
                "-out",
                "key.pem",
            ],
        );
        openssl(
            dir,
            &[
                "req",
                "-new",
                "-key",
                "key.pem",
                "-subj",
                "/CN=client",
                "-out",
                "c.csr",
            ],
        );
        std::fs::write(dir.join("c.ext"), "extendedKeyUsage = clientAuth\n").unwrap();
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-days",
                "2",
                "-in",
                "c.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca-key.pem",
                "-CAcreateserial",
                "-out",
                "cert.pem",
                "-extfile",
                "c.ext",
            ],
        );
        let r = |f: &str| std::fs::read(dir.join(f)).unwrap();
        (r("ca.pem"), r("cert.pem"), r("key.pem"))
    }

    #[test]
    fn the_client_certificate_goes_only_to_a_server_that_accepts_its_ca() {
        let d = tempfile::tempdir().unwrap();
        let (ca, cert, key) = ca_and_client(d.path(), "berth test CA");
        let ca_der = CertificateDer::from_pem_slice(&ca).unwrap();
        // Self-signed: the CA's issuer is its subject, the name a server
        // lists among the CAs it accepts.
        let ca_subject = issuer_der(ca_der.as_ref()).unwrap().to_vec();
        let leaf = CertificateDer::from_pem_slice(&cert).unwrap();
        assert_eq!(issuer_der(leaf.as_ref()).unwrap(), &ca_subject[..]);

        let key = certified_key(&provider(), &cert, &key)
            .map_err(|e| e.to_string())
            .unwrap();
        let r = GoClientCert(key);
        assert!(r.resolve(&[], &[]).is_some());
        assert!(r.resolve(&[&ca_subject], &[]).is_some());
        let other = d.path().join("other");
        std::fs::create_dir(&other).unwrap();
        let (oca, _, _) = ca_and_client(&other, "another CA");
        let oca_der = CertificateDer::from_pem_slice(&oca).unwrap();
        let other_subject = issuer_der(oca_der.as_ref()).unwrap().to_vec();
        assert!(r.resolve(&[&other_subject], &[]).is_none());

        // The whole material, and a key of another pair.
        let data = TlsData {
            ca: Some(ca.clone()),
            cert: Some(cert.clone()),
            key: Some(std::fs::read(other.join("key.pem")).unwrap()),
        };
        assert_eq!(validate(&data).unwrap_err(), TlsError::Mismatch);
        let data = TlsData {
            ca: Some(ca),
            cert: Some(std::fs::read(d.path().join("key.pem")).unwrap()),
            key: Some(std::fs::read(d.path().join("key.pem")).unwrap()),
        };
        assert_eq!(validate(&data).unwrap_err(), TlsError::Switched);
    }

    #[test]
    fn der_walks_refuse_truncated_input() {
        assert!(issuer_der(&[]).is_none());
        assert!(issuer_der(&[0x30, 0x82, 0xff]).is_none());
        assert!(issuer_der(&[0x30, 0x85, 1, 1, 1, 1, 1]).is_none());
        assert!(issuer_der(&[0x30, 0x03, 0x30, 0x01, 0x02]).is_none());
    }

    #[test]
    fn bad_material_reads_like_docker() {
        let bad = TlsData {
            ca: Some(b"not a pem".to_vec()),
            ..Default::default()
        };
        assert_eq!(
            validate(&bad).unwrap_err().to_string(),
            "failed to retrieve context tls info: ca.pem seems invalid"
        );
        assert!(server_name("10.0.0.1:2376").is_ok());
        assert!(server_name("[::1]:2376").is_ok());
        assert!(server_name("localhost:2376").is_ok());
    }
}
