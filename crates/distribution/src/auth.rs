//! Credentials (`X-Registry-Auth`) and `WWW-Authenticate` challenges.

use std::collections::HashMap;

use base64::Engine as _;
use serde::Deserialize;

/// What a client sends in `X-Registry-Auth` (base64url JSON) or `/auth`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthConfig {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
    #[serde(default, alias = "serveraddress")]
    pub serveraddress: String,
    #[serde(default, alias = "identitytoken", rename = "IdentityToken")]
    pub identitytoken: String,
    #[serde(default, alias = "registrytoken", rename = "RegistryToken")]
    pub registrytoken: String,
    #[serde(default)]
    pub auth: String,
}

impl AuthConfig {
    /// Decodes an `X-Registry-Auth` header: base64url (padded or not, and
    /// the standard alphabet that some clients use) of a JSON object. An
    /// empty or undecodable header means no credentials, as in dockerd.
    pub fn from_header(h: &str) -> AuthConfig {
        let mut a = decode_header::<AuthConfig>(h).unwrap_or_default();
        a.fill_from_auth();
        a
    }

    /// `auth` (base64 of `user:password`, as config.json stores it) fills
    /// username and password when they are empty.
    pub fn fill_from_auth(&mut self) {
        if self.username.is_empty() && !self.auth.is_empty() {
            if let Ok(b) = base64::engine::general_purpose::STANDARD.decode(self.auth.trim()) {
                if let Ok(s) = String::from_utf8(b) {
                    if let Some((u, p)) = s.split_once(':') {
                        self.username = u.to_string();
                        self.password = p.to_string();
                    }
                }
            }
        }
    }

    pub fn has_basic(&self) -> bool {
        !self.username.is_empty()
    }

    pub fn basic_header(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

/// The index server Docker Hub's credentials are stored under.
pub const INDEX_SERVER: &str = "https://index.docker.io/v1/";

/// base64url (padded or not, or the standard alphabet that some clients
/// use) of a JSON value; `None` when empty or undecodable.
fn decode_header<T: serde::de::DeserializeOwned>(h: &str) -> Option<T> {
    let h = h.trim();
    if h.is_empty() {
        return None;
    }
    let engines = [
        base64::engine::general_purpose::URL_SAFE,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::STANDARD_NO_PAD,
    ];
    engines
        .iter()
        .filter_map(|e| e.decode(h).ok())
        .find_map(|bytes| serde_json::from_slice(&bytes).ok())
}

/// Every registry's credentials, as `POST /build` carries them in
/// `X-Registry-Config` (the CLI sends all it has: the builder may pull
/// from any registry).
#[derive(Debug, Clone, Default)]
pub struct AuthConfigs(pub HashMap<String, AuthConfig>);

impl AuthConfigs {
    /// Decodes `X-Registry-Config` (a base64url JSON map of registry to
    /// credentials); an empty or undecodable header means none, as in
    /// dockerd.
    pub fn from_header(h: &str) -> AuthConfigs {
        let mut map: HashMap<String, AuthConfig> = decode_header(h).unwrap_or_default();
        for a in map.values_mut() {
            a.fill_from_auth();
        }
        AuthConfigs(map)
    }

    /// The credentials for a registry host (`docker.io`, `127.0.0.1:5000`),
    /// as dockerd's `ResolveAuthConfig`: the exact key (Docker Hub's is
    /// [`INDEX_SERVER`]), else a key that is that host once its scheme
    /// and path are dropped (`https://127.0.0.1:5000/v1/`), else none.
    pub fn for_registry(&self, domain: &str) -> AuthConfig {
        let official = domain == berth_api::reference::DEFAULT_DOMAIN;
        let key = if official { INDEX_SERVER } else { domain };
        if let Some(a) = self.0.get(key) {
            return a.clone();
        }
        if official {
            return AuthConfig::default();
        }
        self.0
            .iter()
            .find(|(k, _)| to_hostname(k) == domain)
            .map(|(_, a)| a.clone())
            .unwrap_or_default()
    }
}

/// dockerd's `ConvertToHostname`: `https://host:port/path` -> `host:port`.
fn to_hostname(url: &str) -> &str {
    let s = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or(url);
    s.split('/').next().unwrap_or(s)
}

/// One `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Lower case: `basic`, `bearer`.
    pub scheme: String,
    pub params: Vec<(String, String)>,
}

impl Challenge {
    pub fn param(&self, k: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    }
}

/// Parses `Bearer realm="https://a/token",service="reg",scope="repository:x:pull"`.
/// Written by hand: the grammar (RFC 7235 auth-param with quoted strings)
/// is small, and the crates for it are unmaintained or pull a whole HTTP
/// framework.
pub fn parse_challenge(h: &str) -> Option<Challenge> {
    let h = h.trim();
    let (scheme, rest) = match h.find(char::is_whitespace) {
        Some(i) => (&h[..i], h[i..].trim_start()),
        None => (h, ""),
    };
    if scheme.is_empty() {
        return None;
    }
    let mut params = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while matches!(chars.peek(), Some(c) if *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.trim().is_empty() {
            break;
        }
        if chars.peek() != Some(&'=') {
            break;
        }
        chars.next();
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            value.push(n);
                        }
                    }
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        params.push((key.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    Some(Challenge {
        scheme: scheme.to_ascii_lowercase(),
        params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenge() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        )
        .expect("parsed");
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.param("realm"), Some("https://auth.docker.io/token"));
        assert_eq!(c.param("service"), Some("registry.docker.io"));
        assert_eq!(c.param("scope"), Some("repository:library/busybox:pull"));
    }

    #[test]
    fn basic_challenge_and_garbage() {
        let c = parse_challenge(r#"Basic realm="Registry Realm""#).expect("parsed");
        assert_eq!(c.scheme, "basic");
        assert_eq!(c.param("realm"), Some("Registry Realm"));
        assert!(parse_challenge("").is_none());
        let c = parse_challenge("Bearer ,,=x").expect("scheme only");
        assert!(c.params.is_empty());
    }

    #[test]
    fn registry_auth_header() {
        let h = base64::engine::general_purpose::URL_SAFE
            .encode(r#"{"username":"u","password":"p?>","serveraddress":"x"}"#);
        let a = AuthConfig::from_header(&h);
        assert_eq!((a.username.as_str(), a.password.as_str()), ("u", "p?>"));
        assert!(!AuthConfig::from_header("!!!").has_basic());
        assert!(!AuthConfig::from_header("").has_basic());
    }

    /// `X-Registry-Config` as the docker CLI sends it: keys as config.json
    /// has them (Docker Hub's index URL, `host:port`, a URL with a path).
    #[test]
    fn registry_config_header() {
        let h = base64::engine::general_purpose::URL_SAFE.encode(
            r#"{"https://index.docker.io/v1/":{"username":"hub","password":"h"},
                "127.0.0.1:5000":{"auth":"YWxpY2U6czNjcmV0"},
                "https://reg.example:443/v1/":{"username":"ex","password":"e"}}"#,
        );
        let c = AuthConfigs::from_header(&h);
        assert_eq!(c.for_registry("docker.io").username, "hub");
        let local = c.for_registry("127.0.0.1:5000");
        assert_eq!(
            (local.username.as_str(), local.password.as_str()),
            ("alice", "s3cret")
        );
        assert_eq!(c.for_registry("reg.example:443").username, "ex");
        assert!(!c.for_registry("127.0.0.1:5001").has_basic());
        assert!(!AuthConfigs::from_header("")
            .for_registry("docker.io")
            .has_basic());
    }
}
