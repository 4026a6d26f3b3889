//! Identifiers in swarmkit's format (identity/randomid.go): 25 base36
//! characters drawn from 17 random bytes whose top bit is set, so every ID
//! has the same length without padding.

use num_bigint::BigUint;
use rand::RngCore;

/// Length of node, cluster and object IDs.
pub const ID_LEN: usize = 25;

/// A new random ID (node ID, cluster ID), as swarmkit's `identity.NewID`.
pub fn new_id() -> String {
    let mut bytes = [0u8; 17];
    rand::rng().fill_bytes(&mut bytes);
    // The set high bit makes the base36 text at least 26 characters long;
    // swarmkit drops the first (always the same few values) and keeps 25.
    bytes[0] |= 0x80;
    let text = BigUint::from_bytes_be(&bytes).to_str_radix(36);
    text[1..=ID_LEN].to_string()
}

/// Base36 of `bytes` (big-endian), left-padded with zeros to `width`, as
/// Go's `fmt.Sprintf("%0*s", width, big.Int.Text(36))`.
pub(crate) fn base36_padded(bytes: &[u8], width: usize) -> String {
    let text = BigUint::from_bytes_be(bytes).to_str_radix(36);
    format!("{text:0>width$}")
}

/// Parse base36 text into a big-endian number of exactly `len` bytes;
/// None when it is not base36 or does not fit.
pub(crate) fn parse_base36(text: &str, len: usize) -> Option<Vec<u8>> {
    if text.is_empty()
        || !text
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
    {
        return None;
    }
    let n = BigUint::parse_bytes(text.as_bytes(), 36)?;
    let raw = n.to_bytes_be();
    if raw.len() > len {
        return None;
    }
    let mut out = vec![0u8; len - raw.len()];
    out.extend_from_slice(&raw);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_25_base36_chars_and_differ() {
        let a = new_id();
        let b = new_id();
        assert_eq!(a.len(), ID_LEN);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase()));
        assert_ne!(a, b);
    }

    #[test]
    fn base36_round_trips_with_padding() {
        let bytes = [0u8, 0, 1, 2, 3];
        let text = base36_padded(&bytes, 10);
        assert_eq!(text.len(), 10);
        assert_eq!(parse_base36(&text, 5).unwrap(), bytes);
        assert!(parse_base36("ABC", 5).is_none());
        assert!(parse_base36(&"z".repeat(30), 5).is_none());
    }
}
