//! Credentials (`X-Registry-Auth`) and `WWW-Authenticate` challenges.

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
        let h = h.trim();
        if h.is_empty() {
            return AuthConfig::default();
        }
        let engines = [
            base64::engine::general_purpose::URL_SAFE,
            base64::engine::general_purpose::URL_SAFE_NO_PAD,
            base64::engine::general_purpose::STANDARD,
            base64::engine::general_purpose::STANDARD_NO_PAD,
        ];
        for e in engines {
            if let Ok(bytes) = e.decode(h) {
                if let Ok(mut a) = berth_api::json::from_slice::<AuthConfig>(&bytes) {
                    a.fill_from_auth();
                    return a;
                }
            }
        }
        AuthConfig::default()
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
        use base64::Engine as _;
        let h = base64::engine::general_purpose::URL_SAFE
            .encode(r#"{"username":"u","password":"p?>","serveraddress":"x"}"#);
        let a = AuthConfig::from_header(&h);
        assert_eq!((a.username.as_str(), a.password.as_str()), ("u", "p?>"));
        assert!(!AuthConfig::from_header("!!!").has_basic());
        assert!(!AuthConfig::from_header("").has_basic());
    }
}
