//! Join tokens in Docker's format (swarmkit ca/config.go):
//! `SWMTKN-1-<digest>-<secret>`, where `<digest>` is the SHA-256 of the root
//! CA certificate bundle (its PEM text) in base36 left-padded to 50
//! characters, and `<secret>` 16 random bytes in base36 left-padded to 25.
//! The digest pins the CA: a joining node refuses a remote whose CA does
//! not hash to it, before it sends the secret anywhere.

use std::fmt;

use berth_api::Error;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::ids::{base36_padded, parse_base36};

const DIGEST_LEN: usize = 50;
const SECRET_LEN: usize = 25;
const SECRET_BYTES: usize = 16;

/// The role a token (or a certificate) grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Worker,
    Manager,
}

impl Role {
    /// The certificate OU swarmkit gives the role.
    pub fn ou(self) -> &'static str {
        match self {
            Role::Worker => "swarm-worker",
            Role::Manager => "swarm-manager",
        }
    }

    pub fn from_ou(ou: &str) -> Option<Role> {
        match ou {
            "swarm-worker" => Some(Role::Worker),
            "swarm-manager" => Some(Role::Manager),
            _ => None,
        }
    }
}

/// A parsed join token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinToken {
    /// SHA-256 of the root CA's PEM bundle.
    pub ca_digest: [u8; 32],
    /// The 25-character base36 secret.
    pub secret: String,
}

impl fmt::Debug for JoinToken {
    // The secret stays out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "JoinToken(SWMTKN-1-{}-…)",
            base36_padded(&self.ca_digest, DIGEST_LEN)
        )
    }
}

impl fmt::Display for JoinToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SWMTKN-1-{}-{}",
            base36_padded(&self.ca_digest, DIGEST_LEN),
            self.secret
        )
    }
}

fn invalid() -> Error {
    // dockerd passes swarmkit's errInvalidJoinToken through.
    Error::invalid("invalid join token")
}

impl JoinToken {
    /// A new token for the CA whose digest is `ca_digest`.
    pub fn generate(ca_digest: [u8; 32]) -> JoinToken {
        let mut secret = [0u8; SECRET_BYTES];
        rand::rng().fill_bytes(&mut secret);
        JoinToken {
            ca_digest,
            secret: base36_padded(&secret, SECRET_LEN),
        }
    }

    /// Parse `SWMTKN-1-<digest>-<secret>`, as swarmkit's ParseJoinToken
    /// (version 1 only: version 2 marks FIPS clusters, which berth has not).
    pub fn parse(text: &str) -> Result<JoinToken, Error> {
        let parts: Vec<&str> = text.split('-').collect();
        if parts.len() != 4 || parts[0] != "SWMTKN" || parts[1] != "1" {
            return Err(invalid());
        }
        let (digest, secret) = (parts[2], parts[3]);
        if digest.len() != DIGEST_LEN || secret.len() != SECRET_LEN {
            return Err(invalid());
        }
        let digest = parse_base36(digest, 32).ok_or_else(invalid)?;
        parse_base36(secret, SECRET_BYTES + 1).ok_or_else(invalid)?;
        let mut ca_digest = [0u8; 32];
        ca_digest.copy_from_slice(&digest);
        Ok(JoinToken {
            ca_digest,
            secret: secret.to_string(),
        })
    }

    /// Whether `self` (presented by a joining node) is exactly `expected`;
    /// the secrets are compared in constant time.
    pub fn matches(&self, expected: &JoinToken) -> bool {
        let digest_ok = self.ca_digest.ct_eq(&expected.ca_digest);
        let secret_ok = self.secret.as_bytes().ct_eq(expected.secret.as_bytes());
        bool::from(digest_ok & secret_ok)
    }
}

/// The cluster's two current tokens (kept in the replicated cluster object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinTokens {
    pub worker: JoinToken,
    pub manager: JoinToken,
}

impl JoinTokens {
    pub fn generate(ca_digest: [u8; 32]) -> JoinTokens {
        JoinTokens {
            worker: JoinToken::generate(ca_digest),
            manager: JoinToken::generate(ca_digest),
        }
    }

    /// Replace one role's token (`swarm join-token --rotate`); the old one
    /// stops working as soon as the change is committed.
    pub fn rotate(&mut self, role: Role) {
        match role {
            Role::Worker => self.worker = JoinToken::generate(self.worker.ca_digest),
            Role::Manager => self.manager = JoinToken::generate(self.manager.ca_digest),
        }
    }

    /// The role `presented` grants, or a refusal. Both comparisons always
    /// run so the time taken does not tell which role was close.
    pub fn role_for(&self, presented: &JoinToken) -> Result<Role, Error> {
        let worker = presented.matches(&self.worker);
        let manager = presented.matches(&self.manager);
        match (manager, worker) {
            (true, _) => Ok(Role::Manager),
            (_, true) => Ok(Role::Worker),
            // swarmkit's CA server, as dockerd passes its gRPC error on
            _ => Err(Error::invalid(
                "rpc error: code = InvalidArgument desc = A valid join token is necessary to join this cluster",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_token_has_dockers_shape_and_round_trips() {
        let t = JoinToken::generate([7u8; 32]);
        let text = t.to_string();
        assert!(text.starts_with("SWMTKN-1-"));
        assert_eq!(text.len(), "SWMTKN-1-".len() + 50 + 1 + 25);
        let back = JoinToken::parse(&text).unwrap();
        assert_eq!(back, t);
        assert!(back.matches(&t));
    }

    #[test]
    fn malformed_tokens_are_invalid() {
        let good = JoinToken::generate([1u8; 32]).to_string();
        for bad in [
            "",
            "SWMTKN-1-abc-def",
            &good.replace("SWMTKN-1", "SWMTKN-3"),
            &good.replace("SWMTKN", "XWMTKN"),
            &format!("{good}-x"),
            &good.to_uppercase(),
        ] {
            let err = JoinToken::parse(bad).unwrap_err();
            assert_eq!(err.message, "invalid join token", "{bad}");
        }
    }

    #[test]
    fn wrong_secret_or_digest_is_refused_and_rotation_invalidates() {
        let mut tokens = JoinTokens::generate([9u8; 32]);
        assert_eq!(
            tokens.role_for(&tokens.manager.clone()).unwrap(),
            Role::Manager
        );
        assert_eq!(
            tokens.role_for(&tokens.worker.clone()).unwrap(),
            Role::Worker
        );
        let mut wrong = tokens.worker.clone();
        wrong.secret = JoinToken::generate([9u8; 32]).secret;
        assert!(tokens.role_for(&wrong).is_err());
        let mut other_ca = tokens.worker.clone();
        other_ca.ca_digest = [8u8; 32];
        assert!(tokens.role_for(&other_ca).is_err());
        let old = tokens.worker.clone();
        tokens.rotate(Role::Worker);
        assert!(tokens.role_for(&old).is_err());
        assert_eq!(
            tokens.role_for(&tokens.manager.clone()).unwrap(),
            Role::Manager
        );
    }
}
