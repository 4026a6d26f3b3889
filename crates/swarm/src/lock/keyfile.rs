//! `certificates/swarm-node.key`: the node's TLS key and the Raft data
//! key in one PEM block, as swarmkit keeps the DEK in the key's PEM
//! headers (ca/keyreadwriter.go), so the two are always written together
//! in one atomic rename.
//!
//! - autolock off: `PRIVATE KEY` (PKCS#8) with a `raft-dek: <base64>`
//!   header (RFC 1421 headers, which openssl and Go's encoding/pem read,
//!   as in dockerd's key file; rustls-pemfile does not, so the key is
//!   handed on without them);
//! - autolock on: `SEALED SWARM NODE KEY`, the PKCS#8 DER sealed under the
//!   unlock key, with the DEK sealed under it in the `raft-dek` header.

use base64::Engine;

use super::{DataKey, OpenError, UnlockKey};

const PLAIN_TAG: &str = "PRIVATE KEY";
const SEALED_TAG: &str = "SEALED SWARM NODE KEY";
const DEK_HEADER: &str = "raft-dek";
/// The data key being retired while the Raft data is re-sealed.
const PREVIOUS_DEK_HEADER: &str = "raft-dek-previous";
const KEY_PURPOSE: &[u8] = b"swarm-node.key";
const DEK_PURPOSE: &[u8] = b"raft-dek";

/// What the key file holds, in the clear.
#[derive(Clone)]
pub struct NodeSecrets {
    /// The TLS key as PKCS#8 PEM (no headers).
    pub node_key_pem: String,
    pub dek: DataKey,
    /// Set while the Raft data is re-sealed from this key to `dek`.
    pub previous_dek: Option<DataKey>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyFileError {
    /// Sealed, and no key was given.
    Locked,
    /// Sealed, and the given key does not open it.
    WrongKey,
    /// Not sealed, but a key was given (`swarm unlock` on an unlocked node).
    NotLocked,
    /// Not a key file this version writes.
    Corrupt(String),
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

fn lf() -> pem::EncodeConfig {
    pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF)
}

/// The file's text: sealed under `kek` when given.
pub fn encode(secrets: &NodeSecrets, kek: Option<&UnlockKey>) -> Result<String, KeyFileError> {
    let key = pem::parse(&secrets.node_key_pem)
        .map_err(|e| KeyFileError::Corrupt(format!("node key: {e}")))?;
    let block = match kek {
        None => {
            let mut block = pem::Pem::new(PLAIN_TAG, key.contents());
            add_header(&mut block, DEK_HEADER, secrets.dek.as_bytes())?;
            if let Some(prev) = &secrets.previous_dek {
                add_header(&mut block, PREVIOUS_DEK_HEADER, prev.as_bytes())?;
            }
            block
        }
        Some(kek) => {
            let sealer = kek.sealer().ok_or(KeyFileError::WrongKey)?;
            let mut block = pem::Pem::new(SEALED_TAG, sealer.seal(KEY_PURPOSE, key.contents()));
            let dek = sealer.seal(DEK_PURPOSE, secrets.dek.as_bytes());
            add_header(&mut block, DEK_HEADER, &dek)?;
            if let Some(prev) = &secrets.previous_dek {
                let prev = sealer.seal(DEK_PURPOSE, prev.as_bytes());
                add_header(&mut block, PREVIOUS_DEK_HEADER, &prev)?;
            }
            block
        }
    };
    Ok(pem::encode_config(&block, lf()))
}

fn add_header(block: &mut pem::Pem, name: &str, value: &[u8]) -> Result<(), KeyFileError> {
    block
        .headers_mut()
        .add(name, &b64().encode(value))
        .map_err(|e| KeyFileError::Corrupt(e.to_string()))
}

/// Whether the file is sealed (the node starts locked).
pub fn is_sealed(text: &str) -> bool {
    pem::parse(text).is_ok_and(|b| b.tag() == SEALED_TAG)
}

/// Read the file, opening it with `kek` when sealed. Reads only; a wrong
/// key changes nothing.
pub fn decode(text: &str, kek: Option<&UnlockKey>) -> Result<NodeSecrets, KeyFileError> {
    let block = pem::parse(text).map_err(|e| KeyFileError::Corrupt(e.to_string()))?;
    let header = |name: &str| -> Result<Option<Vec<u8>>, KeyFileError> {
        block
            .headers()
            .get(name)
            .map(|v| b64().decode(v))
            .transpose()
            .map_err(|e| KeyFileError::Corrupt(format!("{name}: {e}")))
    };
    let dek = header(DEK_HEADER)?
        .ok_or_else(|| KeyFileError::Corrupt(format!("no {DEK_HEADER} header")))?;
    let previous = header(PREVIOUS_DEK_HEADER)?;
    let (der, dek, previous) = match (block.tag(), kek) {
        (PLAIN_TAG, None) => (block.contents().to_vec(), dek, previous),
        (PLAIN_TAG, Some(_)) => return Err(KeyFileError::NotLocked),
        (SEALED_TAG, None) => return Err(KeyFileError::Locked),
        (SEALED_TAG, Some(kek)) => {
            let sealer = kek.sealer().ok_or(KeyFileError::WrongKey)?;
            let open = |purpose: &[u8], blob: &[u8]| {
                sealer
                    .open(purpose, blob)
                    .map_err(|OpenError| KeyFileError::WrongKey)
            };
            let previous = match previous {
                Some(p) => Some(open(DEK_PURPOSE, &p)?),
                None => None,
            };
            (
                open(KEY_PURPOSE, block.contents())?,
                open(DEK_PURPOSE, &dek)?,
                previous,
            )
        }
        (other, _) => return Err(KeyFileError::Corrupt(format!("unknown PEM block {other}"))),
    };
    let data_key = |bytes: Vec<u8>| {
        DataKey::from_bytes(&bytes)
            .ok_or_else(|| KeyFileError::Corrupt("a data key is not 32 bytes".into()))
    };
    Ok(NodeSecrets {
        node_key_pem: pem::encode_config(&pem::Pem::new(PLAIN_TAG, der), lf()),
        dek: data_key(dek)?,
        previous_dek: previous.map(data_key).transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ca::NodeCert;

    #[test]
    fn plain_and_sealed_files_round_trip_and_refuse_what_they_should() {
        let (key_pem, _) = NodeCert::new_key_and_csr().unwrap();
        let secrets = NodeSecrets {
            node_key_pem: key_pem.clone(),
            dek: DataKey::generate(),
            previous_dek: Some(DataKey::generate()),
        };
        let plain = encode(&secrets, None).unwrap();
        assert!(!is_sealed(&plain));
        let back = decode(&plain, None).unwrap();
        assert_eq!(back.dek, secrets.dek);
        assert_eq!(back.previous_dek, secrets.previous_dek);
        assert_eq!(
            pem::parse(&back.node_key_pem).unwrap().contents(),
            pem::parse(&key_pem).unwrap().contents()
        );
        let kek = UnlockKey::generate();
        assert_eq!(
            decode(&plain, Some(&kek)).err(),
            Some(KeyFileError::NotLocked)
        );

        let sealed = encode(&secrets, Some(&kek)).unwrap();
        assert!(is_sealed(&sealed));
        let key_b64 = key_pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<String>();
        assert!(
            !sealed.contains(&key_b64[..40]),
            "the key is not in the clear"
        );
        assert_eq!(decode(&sealed, None).err(), Some(KeyFileError::Locked));
        assert_eq!(
            decode(&sealed, Some(&UnlockKey::generate())).err(),
            Some(KeyFileError::WrongKey)
        );
        let opened = decode(&sealed, Some(&kek)).unwrap();
        assert_eq!(opened.dek, secrets.dek);
        assert_eq!(opened.previous_dek, secrets.previous_dek);
        assert_eq!(opened.node_key_pem, back.node_key_pem);
        assert!(matches!(
            decode("junk", None),
            Err(KeyFileError::Corrupt(_))
        ));
    }
}
