//! What a root CA rotation needs from the CA (swarmkit's `ca/certificates.go`
//! `CrossSignCACertificate` and `IssuerInfo`): the next root's certificate
//! signed by the current root, and who issued a certificate.

use berth_api::Error;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue, IsCa, Issuer,
    KeyIdMethod, KeyPair, KeyUsagePurpose,
};
use x509_parser::der_parser::asn1_rs::Tag;
use x509_parser::extensions::ParsedExtension;
use x509_parser::x509::X509Name;

use super::{first_cert_der, internal, RootCa};
use crate::store::TlsInfo;

/// The subject of a parsed certificate as rcgen writes names, attribute
/// by attribute with their string types, so the cross-signed certificate's
/// subject is byte for byte the issuer name of the certificates the next
/// root signs. Hand-written: rcgen has this conversion but keeps it private.
fn rcgen_name(name: &X509Name<'_>) -> Result<DistinguishedName, Error> {
    let bad = || Error::invalid("the root CA subject has a form berth cannot re-encode");
    let mut dn = DistinguishedName::new();
    for rdn in name.iter() {
        let mut attrs = rdn.iter();
        let (Some(attr), None) = (attrs.next(), attrs.next()) else {
            return Err(bad());
        };
        let oid: Vec<u64> = attr.attr_type().iter().ok_or_else(bad)?.collect();
        let data = attr.attr_value().data;
        let text = std::str::from_utf8(data).map_err(|_| bad())?;
        let value = match attr.attr_value().header.tag() {
            Tag::PrintableString => DnValue::PrintableString(text.try_into().map_err(|_| bad())?),
            Tag::Ia5String => DnValue::Ia5String(text.try_into().map_err(|_| bad())?),
            Tag::Utf8String => DnValue::Utf8String(text.to_string()),
            _ => return Err(bad()),
        };
        dn.push(DnType::from_oid(&oid), value);
    }
    Ok(dn)
}

impl RootCa {
    /// `next`'s certificate signed by this root: an intermediate with
    /// next's subject, key and key ID, so a node that trusts only this
    /// root accepts certificates `next` issues when they come with it.
    pub fn cross_sign(&self, next: &RootCa) -> Result<String, Error> {
        let own_key = self
            .key_pem()
            .ok_or_else(|| Error::invalid("the current root CA's key is needed to rotate it"))?;
        let next_key = next
            .key_pem()
            .ok_or_else(|| Error::invalid("the new root CA's key is needed to rotate to it"))?;
        let next_key = KeyPair::from_pem(next_key).map_err(|e| internal("the new CA key", e))?;
        let der = first_cert_der(next.cert_pem())?;
        let (_, cert) = x509_parser::parse_x509_certificate(&der)
            .map_err(|e| Error::invalid(format!("invalid root CA certificate: {e}")))?;
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen_name(cert.subject())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = cert.validity().not_before.to_datetime();
        params.not_after = cert.validity().not_after.to_datetime();
        for ext in cert.extensions() {
            if let ParsedExtension::SubjectKeyIdentifier(id) = ext.parsed_extension() {
                params.key_identifier_method = KeyIdMethod::PreSpecified(id.0.to_vec());
            }
        }
        params.use_authority_key_identifier_extension = true;
        let own_key = KeyPair::from_pem(own_key).map_err(|e| internal("the CA key", e))?;
        let issuer = Issuer::from_ca_cert_pem(self.cert_pem(), own_key)
            .map_err(|e| internal("loading the CA", e))?;
        let cross = params
            .signed_by(&next_key, &issuer)
            .map_err(|e| internal("cross-signing the new root", e))?;
        Ok(cross.pem())
    }

    /// Who this root is as an issuer (subject and public key, DER); the
    /// node holding its certificates trusts it (at the latest once a
    /// rotation to it ends).
    pub fn issuer_info(&self) -> Result<TlsInfo, Error> {
        let der = first_cert_der(self.cert_pem())?;
        let (_, cert) = x509_parser::parse_x509_certificate(&der)
            .map_err(|e| Error::invalid(format!("invalid root CA certificate: {e}")))?;
        Ok(TlsInfo {
            trust_root: self.cert_pem().to_string(),
            cert_issuer_subject: cert.subject().as_raw().to_vec(),
            cert_issuer_public_key: cert.public_key().raw.to_vec(),
        })
    }
}
