//! Access control: htpasswd (bcrypt) basic auth, and Docker's token auth:
//! JWTs checked against the certificates of `rootcertbundle`, and (a berth
//! extension) a built-in token service that issues them.
//!
//! JWTs are signed and checked by hand over `ring`: the format is three
//! base64url parts, and what distribution accepts (an `x5c` chain or a
//! libtrust `kid`) is a detail the JWT crates don't model; signatures and
//! certificate parsing come from ring and x509-parser.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Mutex;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair as _, RsaKeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// How long an issued token lives, in seconds.
pub const TOKEN_TTL: i64 = 300;
/// Clock skew tolerated on `exp` and `nbf`, in seconds.
const LEEWAY: i64 = 60;

/// Why an auth file or key was refused at start.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AuthSetupError(String);

fn setup_err(s: impl Into<String>) -> AuthSetupError {
    AuthSetupError(s.into())
}

// ---- access ----------------------------------------------------------------

/// One resource and the actions wanted on it, as in a token's `access`
/// claim and a challenge's `scope`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

impl Access {
    pub fn repo(name: &str, actions: &[&str]) -> Access {
        Access {
            kind: "repository".into(),
            name: name.into(),
            actions: actions.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// `type:name:action,action`.
    pub fn scope(&self) -> String {
        format!("{}:{}:{}", self.kind, self.name, self.actions.join(","))
    }

    /// Parses a scope (`repository:team/app:pull,push`; a name may hold a
    /// port, as in `repository:host:5000/app:pull`).
    pub fn parse_scope(s: &str) -> Option<Access> {
        let (kind, rest) = s.split_once(':')?;
        let (name, actions) = rest.rsplit_once(':')?;
        if kind.is_empty() || name.is_empty() {
            return None;
        }
        Some(Access {
            kind: kind.into(),
            name: name.into(),
            actions: actions
                .split(',')
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect(),
        })
    }
}

/// Whether `granted` covers every action of every `wanted` entry.
pub fn covers(granted: &[Access], wanted: &[Access]) -> bool {
    wanted.iter().all(|w| {
        w.actions.iter().all(|a| {
            granted.iter().any(|g| {
                g.kind == w.kind
                    && g.name == w.name
                    && g.actions.iter().any(|ga| ga == a || ga == "*")
            })
        })
    })
}

// ---- htpasswd ----------------------------------------------------------------

/// The users of an htpasswd file (bcrypt entries only, as distribution).
pub struct Htpasswd {
    users: HashMap<String, String>,
    /// Successful checks, by user and sha256 of the password, so a client
    /// that sends basic auth on every request pays bcrypt once.
    ok: Mutex<HashSet<(String, [u8; 32])>>,
}

impl Htpasswd {
    pub fn load(path: &Path) -> Result<Htpasswd, AuthSetupError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            setup_err(format!(
                "could not read the htpasswd file {}: {e}",
                path.display()
            ))
        })?;
        Htpasswd::parse(&text)
            .map_err(|e| setup_err(format!("htpasswd file {}: {e}", path.display())))
    }

    pub fn parse(text: &str) -> Result<Htpasswd, String> {
        let mut users = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((user, hash)) = line.split_once(':') else {
                return Err(format!("line {}: expected user:hash", i + 1));
            };
            if !(hash.starts_with("$2y$") || hash.starts_with("$2a$") || hash.starts_with("$2b$")) {
                return Err(format!(
                    "line {}: user {user:?} has no bcrypt hash (make entries with htpasswd -B)",
                    i + 1
                ));
            }
            users.insert(user.to_string(), hash.to_string());
        }
        Ok(Htpasswd {
            users,
            ok: Mutex::new(HashSet::new()),
        })
    }

    /// Whether `user` / `password` match an entry.
    pub fn verify(&self, user: &str, password: &str) -> bool {
        let Some(hash) = self.users.get(user) else {
            return false;
        };
        use sha2::Digest as _;
        let key = (
            user.to_string(),
            sha2::Sha256::digest(password.as_bytes()).into(),
        );
        if let Ok(ok) = self.ok.lock() {
            if ok.contains(&key) {
                return true;
            }
        }
        let good = bcrypt::verify(password, hash).unwrap_or(false);
        if good {
            if let Ok(mut ok) = self.ok.lock() {
                ok.insert(key);
            }
        }
        good
    }
}

/// The user and password of an `Authorization: Basic` header.
pub fn basic_credentials(header: &str) -> Option<(String, String)> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = STANDARD.decode(rest.trim()).ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (u, p) = s.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// The token of an `Authorization: Bearer` header.
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

// ---- keys and certificates ---------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Alg {
    Es256,
    Es384,
    Rs256,
}

impl Alg {
    fn name(self) -> &'static str {
        match self {
            Alg::Es256 => "ES256",
            Alg::Es384 => "ES384",
            Alg::Rs256 => "RS256",
        }
    }
}

/// A certificate trusted to sign tokens.
#[derive(Debug, Clone)]
struct TrustedCert {
    der: Vec<u8>,
    key_bits: Vec<u8>,
    alg: Alg,
    kid: String,
}

impl TrustedCert {
    fn from_der(der: &[u8]) -> Result<TrustedCert, String> {
        let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| e.to_string())?;
        let spki = cert.public_key();
        let oid = spki.algorithm.algorithm.to_id_string();
        let key_bits = spki.subject_public_key.data.to_vec();
        let alg = match oid.as_str() {
            "1.2.840.10045.2.1" => match key_bits.len() {
                65 => Alg::Es256,
                97 => Alg::Es384,
                _ => return Err("unsupported elliptic curve (use P-256 or P-384)".into()),
            },
            "1.2.840.113549.1.1.1" => Alg::Rs256,
            other => return Err(format!("unsupported public key algorithm {other}")),
        };
        Ok(TrustedCert {
            der: der.to_vec(),
            kid: libtrust_key_id(spki.raw),
            key_bits,
            alg,
        })
    }

    fn verify(&self, alg: Alg, msg: &[u8], sig: &[u8]) -> bool {
        if alg != self.alg {
            return false;
        }
        let algorithm: &dyn signature::VerificationAlgorithm = match alg {
            Alg::Es256 => &signature::ECDSA_P256_SHA256_FIXED,
            Alg::Es384 => &signature::ECDSA_P384_SHA384_FIXED,
            Alg::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        };
        signature::UnparsedPublicKey::new(algorithm, &self.key_bits)
            .verify(msg, sig)
            .is_ok()
    }
}

/// The key ID docker's libtrust gives a public key, which distribution
/// matches against a JWT's `kid`: the first 240 bits of the SHA-256 of the
/// DER SubjectPublicKeyInfo, base32, in twelve groups of four.
pub fn libtrust_key_id(spki_der: &[u8]) -> String {
    use sha2::Digest as _;
    let sum = sha2::Sha256::digest(spki_der);
    let b32 = base32(&sum[..30]);
    b32.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(":")
}

/// RFC 4648 base32 without padding (hand-written: eight lines, one use).
fn base32(data: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in data {
        acc = (acc << 8) | b as u32;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn load_cert_bundle(path: &Path) -> Result<Vec<TrustedCert>, AuthSetupError> {
    let pem = std::fs::read(path).map_err(|e| {
        setup_err(format!(
            "could not read auth.token.rootcertbundle {}: {e}",
            path.display()
        ))
    })?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| setup_err(format!("auth.token.rootcertbundle {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(setup_err(format!(
            "auth.token.rootcertbundle {}: no PEM certificate found",
            path.display()
        )));
    }
    certs
        .iter()
        .map(|c| {
            TrustedCert::from_der(c.as_ref()).map_err(|e| {
                setup_err(format!("auth.token.rootcertbundle {}: {e}", path.display()))
            })
        })
        .collect()
}

// ---- verification ------------------------------------------------------------

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
    x5c: Option<Vec<String>>,
}

#[derive(Deserialize, Serialize)]
struct Claims {
    iss: String,
    #[serde(default)]
    sub: String,
    aud: Value,
    exp: i64,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(default)]
    jti: Option<String>,
    #[serde(default)]
    access: Vec<Access>,
}

/// What checks tokens on the registry's side.
pub struct TokenVerifier {
    pub realm: String,
    pub service: String,
    pub issuer: String,
    certs: Vec<TrustedCert>,
}

/// A verified token's subject and grants.
#[derive(Debug)]
pub struct Grant {
    pub subject: String,
    pub access: Vec<Access>,
}

impl TokenVerifier {
    pub fn new(
        realm: &str,
        service: &str,
        issuer: &str,
        bundle: &Path,
    ) -> Result<TokenVerifier, AuthSetupError> {
        Ok(TokenVerifier {
            realm: realm.into(),
            service: service.into(),
            issuer: issuer.into(),
            certs: load_cert_bundle(bundle)?,
        })
    }

    /// Checks a token's signature (by a certificate of the bundle, named by
    /// `x5c` or `kid`), issuer, audience and lifetime.
    pub fn verify(&self, token: &str, now: i64) -> Result<Grant, String> {
        let mut parts = token.split('.');
        let (Some(h), Some(c), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("malformed token".into());
        };
        let header: Header = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(h)
                .map_err(|_| "malformed token header")?,
        )
        .map_err(|_| "malformed token header")?;
        let alg = match header.alg.as_str() {
            "ES256" => Alg::Es256,
            "ES384" => Alg::Es384,
            "RS256" => Alg::Rs256,
            other => return Err(format!("unsupported token algorithm {other:?}")),
        };
        let cert = if let Some(chain) = header.x5c.as_ref().filter(|c| !c.is_empty()) {
            let leaf = STANDARD.decode(&chain[0]).map_err(|_| "malformed x5c")?;
            self.certs.iter().find(|t| t.der == leaf)
        } else if let Some(kid) = &header.kid {
            self.certs.iter().find(|t| &t.kid == kid)
        } else {
            None
        }
        .ok_or("token signed by an untrusted key")?;
        let sig = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| "malformed token signature")?;
        let signed = &token[..h.len() + 1 + c.len()];
        if !cert.verify(alg, signed.as_bytes(), &sig) {
            return Err("invalid token signature".into());
        }
        let claims: Claims = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(c)
                .map_err(|_| "malformed token claims")?,
        )
        .map_err(|e| format!("malformed token claims: {e}"))?;
        if claims.iss != self.issuer {
            return Err(format!("token issuer {:?} is not trusted", claims.iss));
        }
        let aud_ok = match &claims.aud {
            Value::String(a) => a == &self.service,
            Value::Array(a) => a.iter().any(|x| x.as_str() == Some(&self.service)),
            _ => false,
        };
        if !aud_ok {
            return Err("token is for another service".into());
        }
        if now > claims.exp + LEEWAY {
            return Err("token has expired".into());
        }
        if claims.nbf.is_some_and(|nbf| now + LEEWAY < nbf) {
            return Err("token is not valid yet".into());
        }
        Ok(Grant {
            subject: claims.sub,
            access: claims.access,
        })
    }

    /// The `WWW-Authenticate` value asking for `wanted`.
    pub fn challenge(&self, wanted: &[Access], error: Option<&str>) -> String {
        let mut c = format!(
            "Bearer realm=\"{}\",service=\"{}\"",
            self.realm, self.service
        );
        if !wanted.is_empty() {
            let scopes: Vec<String> = wanted.iter().map(Access::scope).collect();
            c.push_str(&format!(",scope=\"{}\"", scopes.join(" ")));
        }
        if let Some(e) = error {
            c.push_str(&format!(",error=\"{e}\""));
        }
        c
    }
}

// ---- the token service -------------------------------------------------------

enum SigningKey {
    Ec(EcdsaKeyPair, Alg),
    Rsa(RsaKeyPair),
}

/// The built-in token service: authenticates users from an htpasswd file
/// and issues JWTs for the scopes they ask.
pub struct TokenIssuer {
    pub issuer: String,
    pub service: String,
    pub users: Htpasswd,
    key: SigningKey,
    cert: TrustedCert,
    rng: SystemRandom,
}

impl TokenIssuer {
    /// Loads the signing key and finds its certificate in the bundle.
    pub fn new(
        issuer: &str,
        service: &str,
        key_path: &Path,
        bundle: &Path,
        htpasswd: &Path,
    ) -> Result<TokenIssuer, AuthSetupError> {
        let bad = |why: String| {
            setup_err(format!(
                "auth.token.signingkey {}: {why}",
                key_path.display()
            ))
        };
        let pem = std::fs::read(key_path).map_err(|e| bad(e.to_string()))?;
        let der = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| bad(e.to_string()))?;
        let rng = SystemRandom::new();
        let key = match &der {
            PrivateKeyDer::Pkcs8(k) => {
                let k = k.secret_pkcs8_der();
                if let Ok(p) =
                    EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, k, &rng)
                {
                    SigningKey::Ec(p, Alg::Es256)
                } else if let Ok(p) =
                    EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P384_SHA384_FIXED_SIGNING, k, &rng)
                {
                    SigningKey::Ec(p, Alg::Es384)
                } else {
                    SigningKey::Rsa(
                        RsaKeyPair::from_pkcs8(k)
                            .map_err(|e| bad(format!("unsupported key: {e}")))?,
                    )
                }
            }
            PrivateKeyDer::Pkcs1(k) => SigningKey::Rsa(
                RsaKeyPair::from_der(k.secret_pkcs1_der())
                    .map_err(|e| bad(format!("unsupported key: {e}")))?,
            ),
            _ => {
                return Err(bad(
                    "use a PKCS#8 key (openssl pkcs8 -topk8 -nocrypt -in KEY) or a PKCS#1 RSA key"
                        .into(),
                ))
            }
        };
        let public: Vec<u8> = match &key {
            SigningKey::Ec(p, _) => p.public_key().as_ref().to_vec(),
            SigningKey::Rsa(p) => p.public_key().as_ref().to_vec(),
        };
        let cert = load_cert_bundle(bundle)?
            .into_iter()
            .find(|c| c.key_bits == public)
            .ok_or_else(|| {
                bad(format!(
                    "no certificate in {} matches this key",
                    bundle.display()
                ))
            })?;
        Ok(TokenIssuer {
            issuer: issuer.into(),
            service: service.into(),
            users: Htpasswd::load(htpasswd)?,
            key,
            cert,
            rng,
        })
    }

    /// A signed token for `subject` granting `access`, issued at `now`.
    pub fn issue(&self, subject: &str, access: Vec<Access>, now: i64) -> Result<String, String> {
        let alg = match &self.key {
            SigningKey::Ec(_, a) => *a,
            SigningKey::Rsa(_) => Alg::Rs256,
        };
        let header = json!({
            "typ": "JWT",
            "alg": alg.name(),
            "kid": self.cert.kid,
            "x5c": [STANDARD.encode(&self.cert.der)],
        });
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: subject.into(),
            aud: Value::String(self.service.clone()),
            exp: now + TOKEN_TTL,
            nbf: Some(now - 10),
            iat: Some(now),
            jti: Some(hex::encode(rand::random::<[u8; 16]>())),
            access,
        };
        let claims = serde_json::to_vec(&claims).map_err(|e| e.to_string())?;
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let sig = match &self.key {
            SigningKey::Ec(p, _) => p
                .sign(&self.rng, signed.as_bytes())
                .map_err(|_| "signing failed".to_string())?
                .as_ref()
                .to_vec(),
            SigningKey::Rsa(p) => {
                let mut buf = vec![0u8; p.public().modulus_len()];
                p.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &self.rng,
                    signed.as_bytes(),
                    &mut buf,
                )
                .map_err(|_| "signing failed".to_string())?;
                buf
            }
        };
        Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }

    /// What an authenticated user is granted of `wanted`: repository pull,
    /// push and delete, and the catalog; nothing else.
    pub fn grant(&self, wanted: &[Access]) -> Vec<Access> {
        wanted
            .iter()
            .filter_map(|w| {
                let allowed: &[&str] = match w.kind.as_str() {
                    "repository" if crate::names::valid_repo_name(&w.name) => {
                        &["pull", "push", "delete", "*"]
                    }
                    "registry" if w.name == "catalog" => &["*"],
                    _ => return None,
                };
                let actions: Vec<String> = w
                    .actions
                    .iter()
                    .filter(|a| allowed.contains(&a.as_str()))
                    .cloned()
                    .collect();
                Some(Access {
                    kind: w.kind.clone(),
                    name: w.name.clone(),
                    actions,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        let a = Access::parse_scope("repository:team/app:pull,push").expect("scope");
        assert_eq!(a, Access::repo("team/app", &["pull", "push"]));
        assert_eq!(a.scope(), "repository:team/app:pull,push");
        let b = Access::parse_scope("repository:host:5000/app:pull").expect("scope");
        assert_eq!(b.name, "host:5000/app");
        assert!(Access::parse_scope("nonsense").is_none());
        assert!(covers(
            std::slice::from_ref(&a),
            &[Access::repo("team/app", &["pull"])]
        ));
        assert!(!covers(
            std::slice::from_ref(&a),
            &[Access::repo("team/other", &["pull"])]
        ));
        assert!(!covers(&[a], &[Access::repo("team/app", &["delete"])]));
        assert!(covers(
            &[Access::repo("x", &["*"])],
            &[Access::repo("x", &["delete"])]
        ));
    }

    #[test]
    fn base32_matches_rfc4648() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"f"), "MY");
    }

    #[test]
    fn basic_headers() {
        assert_eq!(
            basic_credentials("Basic dXNlcjpwYTpzcw=="),
            Some(("user".into(), "pa:ss".into()))
        );
        assert_eq!(basic_credentials("Bearer x"), None);
        assert_eq!(basic_credentials("Basic !!!"), None);
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
    }

    #[test]
    fn htpasswd_refuses_non_bcrypt() {
        assert!(Htpasswd::parse("u:{SHA}abc\n").is_err());
        assert!(Htpasswd::parse("garbage\n").is_err());
        let h = Htpasswd::parse(&format!(
            "# c\nalice:{}\n",
            bcrypt::hash("s3cret", 4).expect("hash")
        ))
        .expect("parse");
        assert!(h.verify("alice", "s3cret"));
        assert!(h.verify("alice", "s3cret"));
        assert!(!h.verify("alice", "wrong"));
        assert!(!h.verify("bob", "s3cret"));
    }
}
