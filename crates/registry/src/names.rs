//! The distribution spec's grammars: repository names, tags and digests.
//! Hand-written matchers: each grammar is one short regular expression in
//! the spec, and a dozen lines of code keep the `regex` crate out.

use std::fmt;

/// The longest repository name accepted (distribution's limit).
pub const MAX_NAME_LEN: usize = 255;

/// A path component: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn is_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__" or one or more "-".
        let start = i;
        let sep = b[i];
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let run = &b[start..i];
        let ok = match sep {
            b'.' => run.len() == 1,
            b'_' => run.len() <= 2 && run.iter().all(|&x| x == b'_'),
            b'-' => run.iter().all(|&x| x == b'-'),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Whether `name` is a repository name of the spec's grammar:
/// components separated by `/`, at most [`MAX_NAME_LEN`] bytes.
pub fn valid_repo_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_NAME_LEN && name.split('/').all(is_component)
}

/// Whether `tag` matches `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
pub fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    if b.is_empty() || b.len() > 128 {
        return false;
    }
    let first = b[0].is_ascii_alphanumeric() || b[0] == b'_';
    first
        && b[1..]
            .iter()
            .all(|&x| x.is_ascii_alphanumeric() || matches!(x, b'.' | b'_' | b'-'))
}

/// A sha256 content digest (the only algorithm this registry stores).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest {
    hex: String,
}

/// Why a digest string was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DigestError {
    #[error("invalid digest {0:?}: expected sha256:<64 lowercase hex digits>")]
    Invalid(String),
    #[error("unsupported digest algorithm {0:?}: only sha256 is supported")]
    Unsupported(String),
}

impl Digest {
    /// Parses `sha256:<64 hex>`.
    pub fn parse(s: &str) -> Result<Digest, DigestError> {
        let Some((alg, hex)) = s.split_once(':') else {
            return Err(DigestError::Invalid(s.to_string()));
        };
        let alg_ok = !alg.is_empty()
            && alg
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"+._-".contains(&c));
        if !alg_ok || hex.is_empty() {
            return Err(DigestError::Invalid(s.to_string()));
        }
        if alg != "sha256" {
            return Err(DigestError::Unsupported(s.to_string()));
        }
        if hex.len() != 64
            || !hex
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        {
            return Err(DigestError::Invalid(s.to_string()));
        }
        Ok(Digest {
            hex: hex.to_string(),
        })
    }

    /// The digest of `data`.
    pub fn of(data: &[u8]) -> Digest {
        use sha2::Digest as _;
        Digest {
            hex: hex::encode(sha2::Sha256::digest(data)),
        }
    }

    /// From a finished hasher.
    pub fn from_hasher(h: sha2::Sha256) -> Digest {
        use sha2::Digest as _;
        Digest {
            hex: hex::encode(h.finalize()),
        }
    }

    /// The 64 hex digits.
    pub fn hex(&self) -> &str {
        &self.hex
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

/// A manifest reference: a tag or a digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reference {
    Tag(String),
    Digest(Digest),
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Tag(t) => f.write_str(t),
            Reference::Digest(d) => d.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_names() {
        for ok in [
            "a",
            "team/app",
            "a.b/c_d/e__f/g-h/i---j",
            "library/busybox",
            "0/9",
        ] {
            assert!(valid_repo_name(ok), "{ok}");
        }
        for bad in [
            "",
            "A",
            "team/",
            "/team",
            "a//b",
            "a..b",
            "a___b",
            "-a",
            "a-",
            "a_",
            ".a",
            "a/_manifests",
            "a b",
            "a:b",
            "../x",
            "ä",
        ] {
            assert!(!valid_repo_name(bad), "{bad}");
        }
        assert!(valid_repo_name(&"a".repeat(255)));
        assert!(!valid_repo_name(&"a".repeat(256)));
    }

    #[test]
    fn tags() {
        for ok in ["1", "latest", "_x", "v1.2-rc_3", &"a".repeat(128)] {
            assert!(valid_tag(ok), "{ok}");
        }
        for bad in ["", ".x", "-x", "a/b", "a:b", "a b", &"a".repeat(129)] {
            assert!(!valid_tag(bad), "{bad}");
        }
    }

    #[test]
    fn digests() {
        let d = Digest::of(b"");
        assert_eq!(
            d.to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(Digest::parse(&d.to_string()), Ok(d));
        assert!(matches!(
            Digest::parse("sha256:abc"),
            Err(DigestError::Invalid(_))
        ));
        assert!(matches!(
            Digest::parse("nope"),
            Err(DigestError::Invalid(_))
        ));
        assert!(matches!(
            Digest::parse(&format!("sha256:{}", "A".repeat(64))),
            Err(DigestError::Invalid(_))
        ));
        assert!(matches!(
            Digest::parse(&format!("sha512:{}", "a".repeat(128))),
            Err(DigestError::Unsupported(_))
        ));
    }
}
