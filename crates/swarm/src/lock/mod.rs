//! Encryption at rest, as swarmkit's `manager/encryption` and
//! `ca/keyreadwriter`: the Raft data (log entries, state rows, snapshots)
//! is always sealed with a data key (DEK) kept beside the node's TLS key
//! in `swarm-node.key`; with autolock on, that file is itself sealed under
//! the key-encryption key (KEK), which is the unlock key the user keeps.
//! Turning autolock on or off, or rotating the unlock key, rewrites only
//! that file; the Raft data stays sealed with the same DEK.
//!
//! The AEAD is XChaCha20-Poly1305 (RustCrypto's `chacha20poly1305`): its
//! 24-byte nonces are safe to draw at random for every seal, so no nonce
//! counter has to be kept on disk (swarmkit uses NaCl secretbox the same
//! way). Each sealed blob carries a purpose as associated data, so a blob
//! cannot be moved to another place (a log entry read as a state row).

pub mod keyfile;

use base64::Engine;
use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};

/// swarmkit's `humanReadablePrefix`.
pub const UNLOCK_KEY_PREFIX: &str = "SWMKEY-1-";

/// The first byte of every sealed blob: the format, so a later one can be told apart.
const SEAL_FORMAT: u8 = 1;
const NONCE_LEN: usize = 24;
const KEY_LEN: usize = 32;

/// A blob that did not open: wrong key, tampered, or not ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenError;

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("sealed data does not open with this key (wrong key or corrupted)")
    }
}

impl std::error::Error for OpenError {}

/// Seals and opens blobs under one 32-byte key.
#[derive(Clone)]
pub struct Sealer(XChaCha20Poly1305);

impl Sealer {
    /// None for a key of the wrong length (a well-formed unlock key that
    /// cannot be ours opens nothing, as a wrong one).
    fn new(key: &[u8]) -> Option<Sealer> {
        XChaCha20Poly1305::new_from_slice(key).ok().map(Sealer)
    }

    /// `format || nonce || ciphertext+tag`, bound to `purpose`.
    pub fn seal(&self, purpose: &[u8], plain: &[u8]) -> Vec<u8> {
        let nonce = XNonce::generate();
        let payload = Payload {
            msg: plain,
            aad: purpose,
        };
        // Encryption only fails for messages beyond the cipher's 256 GiB limit.
        let sealed = self
            .0
            .encrypt(&nonce, payload)
            .expect("XChaCha20-Poly1305 seals any message under 256 GiB");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(SEAL_FORMAT);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    pub fn open(&self, purpose: &[u8], blob: &[u8]) -> Result<Vec<u8>, OpenError> {
        if blob.len() < 1 + NONCE_LEN || blob[0] != SEAL_FORMAT {
            return Err(OpenError);
        }
        let nonce = XNonce::try_from(&blob[1..1 + NONCE_LEN]).map_err(|_| OpenError)?;
        let payload = Payload {
            msg: &blob[1 + NONCE_LEN..],
            aad: purpose,
        };
        self.0.decrypt(&nonce, payload).map_err(|_| OpenError)
    }
}

fn random_key() -> [u8; KEY_LEN] {
    let mut k = [0u8; KEY_LEN];
    rand::fill(&mut k);
    k
}

/// The data key the Raft data is sealed with.
#[derive(Clone, PartialEq, Eq)]
pub struct DataKey([u8; KEY_LEN]);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

impl DataKey {
    pub fn generate() -> DataKey {
        DataKey(random_key())
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<DataKey> {
        bytes.try_into().ok().map(DataKey)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn sealer(&self) -> Sealer {
        Sealer::new(&self.0).expect("a data key is 32 bytes")
    }
}

/// The data keys the Raft data is sealed with, shared by the log and the
/// state machine: new blobs are sealed with the current key; while the
/// data is re-sealed under a new key (autolock turned on: the old key was
/// kept in the clear), blobs under the previous one still open.
pub struct DataKeys(std::sync::RwLock<KeyRing>);

struct KeyRing {
    current: DataKey,
    sealer: Sealer,
    previous: Option<(DataKey, Sealer)>,
}

impl DataKeys {
    pub fn new(current: DataKey, previous: Option<DataKey>) -> std::sync::Arc<DataKeys> {
        let sealer = current.sealer();
        let previous = previous.map(|k| {
            let s = k.sealer();
            (k, s)
        });
        std::sync::Arc::new(DataKeys(std::sync::RwLock::new(KeyRing {
            current,
            sealer,
            previous,
        })))
    }

    fn ring(&self) -> std::sync::RwLockReadGuard<'_, KeyRing> {
        self.0.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn seal(&self, purpose: &[u8], plain: &[u8]) -> Vec<u8> {
        self.ring().sealer.seal(purpose, plain)
    }

    /// Open with the current key, else the previous one.
    pub fn open(&self, purpose: &[u8], blob: &[u8]) -> Result<Vec<u8>, OpenError> {
        let ring = self.ring();
        ring.sealer
            .open(purpose, blob)
            .or_else(|e| match &ring.previous {
                Some((_, prev)) => prev.open(purpose, blob),
                None => Err(e),
            })
    }

    pub fn current(&self) -> DataKey {
        self.ring().current.clone()
    }

    pub fn previous(&self) -> Option<DataKey> {
        self.ring().previous.as_ref().map(|(k, _)| k.clone())
    }

    /// Seal new blobs with `next`; the current key becomes the previous.
    pub fn begin_rotation(&self, next: DataKey) {
        let mut ring = self.0.write().unwrap_or_else(|p| p.into_inner());
        let sealer = next.sealer();
        let old = std::mem::replace(&mut ring.current, next);
        let old_sealer = std::mem::replace(&mut ring.sealer, sealer);
        ring.previous = Some((old, old_sealer));
    }

    /// Every blob is re-sealed: forget the previous key.
    pub fn finish_rotation(&self) {
        self.0.write().unwrap_or_else(|p| p.into_inner()).previous = None;
    }
}

/// The unlock key (swarmkit's KEK): `SWMKEY-1-<unpadded base64>` as
/// `docker swarm unlock-key` prints it. Kept in the cluster object so
/// every manager seals its key file under the same one.
#[derive(Clone, PartialEq, Eq)]
pub struct UnlockKey(Vec<u8>);

impl std::fmt::Debug for UnlockKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnlockKey(..)")
    }
}

impl std::fmt::Display for UnlockKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(UNLOCK_KEY_PREFIX)?;
        f.write_str(&base64::engine::general_purpose::STANDARD_NO_PAD.encode(&self.0))
    }
}

/// swarmkit's `ParseHumanReadableKey` error, which dockerd returns as is (400).
pub const INVALID_KEY_STRING: &str = "invalid key string";

impl std::str::FromStr for UnlockKey {
    type Err = berth_api::Error;

    /// As swarmkit's: the prefix and unpadded standard base64; the length
    /// is not checked here (a key of another length just opens nothing).
    fn from_str(s: &str) -> Result<UnlockKey, berth_api::Error> {
        let invalid = || berth_api::Error::invalid(INVALID_KEY_STRING);
        let b64 = s.strip_prefix(UNLOCK_KEY_PREFIX).ok_or_else(invalid)?;
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(b64)
            .map_err(|_| invalid())?;
        Ok(UnlockKey(bytes))
    }
}

impl UnlockKey {
    pub fn generate() -> UnlockKey {
        UnlockKey(random_key().to_vec())
    }

    /// None when the key cannot be an AEAD key (wrong length).
    pub(crate) fn sealer(&self) -> Option<Sealer> {
        Sealer::new(&self.0)
    }
}

impl Serialize for UnlockKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for UnlockKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<UnlockKey, D::Error> {
        let text = String::deserialize(d)?;
        text.parse()
            .map_err(|e: berth_api::Error| serde::de::Error::custom(e.message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlock_key_text_round_trips_and_reads_like_swarmkit() {
        let k = UnlockKey::generate();
        let text = k.to_string();
        // 32 bytes in unpadded base64 are 43 characters
        assert!(
            text.starts_with("SWMKEY-1-") && text.len() == 9 + 43,
            "{text}"
        );
        assert_eq!(text.parse::<UnlockKey>().unwrap(), k);
        // A key as dockerd printed one (swarmkit's RawStdEncoding).
        let docker = "SWMKEY-1-7c37Cc8654o6p38HnroywCi19pllOnGtbdZEgtKxZu8";
        assert_eq!(docker.parse::<UnlockKey>().unwrap().to_string(), docker);
        for bad in [
            "",
            "SWMKEY-1-",
            "SWMKEY-2-abc",
            "SWMKEY-1-a=b",
            "SWMKEY-1-!!",
        ] {
            let r = bad.parse::<UnlockKey>();
            if bad == "SWMKEY-1-" {
                assert!(r.unwrap().sealer().is_none(), "empty key seals nothing");
                continue;
            }
            assert_eq!(r.unwrap_err().message, INVALID_KEY_STRING, "{bad}");
        }
        let json = serde_json::to_string(&k).unwrap();
        assert_eq!(json, format!("\"{text}\""));
        assert_eq!(serde_json::from_str::<UnlockKey>(&json).unwrap(), k);
    }

    #[test]
    fn sealed_blobs_open_only_with_the_key_and_purpose() {
        let dek = DataKey::generate();
        let s = dek.sealer();
        let blob = s.seal(b"log", b"secret-value");
        assert!(!blob.windows(6).any(|w| w == b"secret"));
        assert_eq!(s.open(b"log", &blob).unwrap(), b"secret-value");
        assert_eq!(s.open(b"row", &blob), Err(OpenError));
        assert_eq!(
            DataKey::generate().sealer().open(b"log", &blob),
            Err(OpenError)
        );
        let mut tampered = blob.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(s.open(b"log", &tampered), Err(OpenError));
        assert_eq!(s.open(b"log", &blob[..10]), Err(OpenError));
        assert_ne!(s.seal(b"log", b"x"), s.seal(b"log", b"x"), "fresh nonces");
    }
}
