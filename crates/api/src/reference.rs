//! Image references normalised as Docker does: a bare `busybox` is
//! `docker.io/library/busybox:latest`, and the familiar form (`busybox:latest`)
//! is what `RepoTags` and the CLI show. Written by hand because the grammar is
//! small and the familiar-name rules are Docker's own.

use std::fmt;

use crate::error::Error;

pub const DEFAULT_DOMAIN: &str = "docker.io";
pub const OFFICIAL_PREFIX: &str = "library/";
pub const DEFAULT_TAG: &str = "latest";

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    /// Registry host (`docker.io`, `localhost:5000`).
    pub domain: String,
    /// Repository path inside the registry (`library/busybox`).
    pub path: String,
    pub tag: Option<String>,
    /// `sha256:<hex>`.
    pub digest: Option<String>,
}

impl Reference {
    /// Parses and normalises a reference; no default tag is added.
    pub fn parse(s: &str) -> Result<Reference, Error> {
        let bad = || Error::invalid(format!("invalid reference format: {s}"));
        if s.is_empty() || s.len() > 4096 {
            return Err(bad());
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                validate_digest(d).map_err(|_| bad())?;
                (r, Some(d.to_string()))
            }
            None => (s, None),
        };
        // A tag is after the last ':' that comes after the last '/'.
        let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let split = last_slash + i;
                (&rest[..split], Some(rest[split + 1..].to_string()))
            }
            None => (rest, None),
        };
        if let Some(t) = &tag {
            let ok = !t.is_empty()
                && t.len() <= 128
                && t.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
            if !ok {
                return Err(bad());
            }
        }
        let (domain, path) = split_domain(name);
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(Error::invalid(format!(
                "invalid reference format: repository name ({path}) must be lowercase"
            )));
        }
        if path.is_empty() || !path.split('/').all(valid_path_component) {
            return Err(bad());
        }
        if !valid_domain(&domain) {
            return Err(bad());
        }
        // distribution/reference's NameTotalLengthMax, on the repository
        // path once normalised (`library/` counts, the domain does not).
        if path.len() > 255 {
            return Err(Error::invalid(
                "repository name must not be more than 255 characters",
            ));
        }
        Ok(Reference {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// Parses and adds `:latest` when neither tag nor digest is given.
    pub fn parse_with_default_tag(s: &str) -> Result<Reference, Error> {
        let mut r = Reference::parse(s)?;
        if r.tag.is_none() && r.digest.is_none() {
            r.tag = Some(DEFAULT_TAG.to_string());
        }
        Ok(r)
    }

    /// `docker.io/library/busybox`
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// `busybox`, `user/app`, `localhost:5000/app`.
    pub fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            match self.path.strip_prefix(OFFICIAL_PREFIX) {
                Some(short) if !short.contains('/') => short.to_string(),
                _ => self.path.clone(),
            }
        } else {
            self.full_name()
        }
    }

    /// `busybox:latest` (tag) or `busybox@sha256:...` (digest), familiar form.
    pub fn familiar_string(&self) -> String {
        let mut s = self.familiar_name();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }

    /// The same repository with another tag and no digest.
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        }
    }
}

impl fmt::Display for Reference {
    /// The full form: `docker.io/library/busybox:latest`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.full_name())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

fn split_domain(name: &str) -> (String, String) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            let domain = if first == "index.docker.io" {
                DEFAULT_DOMAIN
            } else {
                first
            };
            let path = if domain == DEFAULT_DOMAIN && !rest.contains('/') {
                format!("{OFFICIAL_PREFIX}{rest}")
            } else {
                rest.to_string()
            };
            (domain.to_string(), path)
        }
        Some(_) => (DEFAULT_DOMAIN.to_string(), name.to_string()),
        None => (
            DEFAULT_DOMAIN.to_string(),
            format!("{OFFICIAL_PREFIX}{name}"),
        ),
    }
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !b[0].is_ascii_alphanumeric() || !b[b.len() - 1].is_ascii_alphanumeric() {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        let ch = b[i];
        if ch.is_ascii_lowercase() || ch.is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !(b[i].is_ascii_lowercase() || b[i].is_ascii_digit()) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.chars().all(|x| x == '-');
        if !ok {
            return false;
        }
    }
    true
}

fn valid_domain(d: &str) -> bool {
    // A bracketed IPv6 host has colons of its own: the port, if any, is
    // after the closing bracket (`[::1]`, `[::1]:5000`).
    let port_at = match d.rfind(']') {
        Some(close) if d.starts_with('[') => d[close..].find(':').map(|i| close + i),
        _ => d.rfind(':'),
    };
    let host = match port_at {
        Some(i) => {
            let port = &d[i + 1..];
            if port.is_empty() || !port.chars().all(|c| c.is_ascii_digit()) {
                return false;
            }
            &d[..i]
        }
        None => d,
    };
    if host.starts_with('[') {
        return host.ends_with(']')
            && host[1..host.len() - 1]
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':');
    }
    host.split('.').all(|label| {
        !label.is_empty()
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    })
}

/// `sha256:` followed by 64 lower-case hex digits.
pub fn validate_digest(d: &str) -> Result<(), Error> {
    match d.strip_prefix("sha256:") {
        Some(hex)
            if hex.len() == 64
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) =>
        {
            Ok(())
        }
        _ => Err(Error::invalid(format!("invalid digest: {d}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the property tests: names of any length up to 4096 were
    /// taken; docker refuses a repository path over 255 characters
    /// (`library/` counted, the domain not).
    #[test]
    fn repository_name_length() {
        let long = |prefix: &str, n: usize| format!("{prefix}{}", "a".repeat(n));
        assert!(Reference::parse(&long("", 247)).is_ok());
        let e = Reference::parse(&long("", 248)).unwrap_err();
        assert_eq!(
            e.message,
            "repository name must not be more than 255 characters"
        );
        assert!(Reference::parse(&long("a/", 253)).is_ok());
        assert!(Reference::parse(&long("a/", 254)).is_err());
        assert!(Reference::parse(&long("localhost:5000/", 255)).is_ok());
        assert!(Reference::parse(&long("localhost:5000/", 256)).is_err());
    }

    /// Found by the property tests: `[::1]` (no port) was refused, its
    /// colons taken for a port separator.
    #[test]
    fn ipv6_domain_without_port() {
        let r = Reference::parse("[::1]/app").unwrap();
        assert_eq!((r.domain.as_str(), r.path.as_str()), ("[::1]", "app"));
        let r = Reference::parse("[fe80::1]:5000/app:v1").unwrap();
        assert_eq!(r.domain, "[fe80::1]:5000");
        assert!(Reference::parse("[::1]:/app").is_err());
        assert!(Reference::parse("[::1]x/app").is_err());
    }

    #[test]
    fn normalises_like_docker() {
        let r = Reference::parse_with_default_tag("busybox").unwrap();
        assert_eq!(r.to_string(), "docker.io/library/busybox:latest");
        assert_eq!(r.familiar_string(), "busybox:latest");

        let r = Reference::parse("user/app:1.0").unwrap();
        assert_eq!(r.to_string(), "docker.io/user/app:1.0");
        assert_eq!(r.familiar_string(), "user/app:1.0");

        let r = Reference::parse("localhost:5000/app").unwrap();
        assert_eq!(r.domain, "localhost:5000");
        assert_eq!(r.familiar_name(), "localhost:5000/app");
        assert_eq!(r.tag, None);

        let r = Reference::parse("docker.io/library/busybox:1").unwrap();
        assert_eq!(r.familiar_string(), "busybox:1");
        let r = Reference::parse("index.docker.io/busybox").unwrap();
        assert_eq!(r.full_name(), "docker.io/library/busybox");
    }

    #[test]
    fn digests() {
        let d = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("busybox@{d}")).unwrap();
        assert_eq!(r.digest.as_deref(), Some(d.as_str()));
        assert!(Reference::parse("busybox@sha256:abc").is_err());
    }

    #[test]
    fn rejects_bad_names() {
        for bad in [
            "", "Busybox", "a//b", "-a", "a:", "a:-x", "a b", "../x", "a/../b", ":tag",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        let e = Reference::parse("Busybox").unwrap_err();
        assert!(e.message.contains("must be lowercase"), "{}", e.message);
    }
}
