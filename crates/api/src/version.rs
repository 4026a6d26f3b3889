//! API version negotiation, as dockerd does it: the daemon advertises
//! [`API_VERSION`], accepts any version from [`MIN_API_VERSION`] up, and
//! serves unversioned paths at its own version.

pub const API_VERSION: &str = "1.47";
pub const MIN_API_VERSION: &str = "1.24";

/// A parsed `major.minor` API version, ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiVersion(pub u32, pub u32);

impl ApiVersion {
    pub const CURRENT: ApiVersion = ApiVersion(1, 47);
    pub const MIN: ApiVersion = ApiVersion(1, 24);

    pub fn parse(s: &str) -> Option<ApiVersion> {
        let (major, minor) = s.split_once('.')?;
        Some(ApiVersion(major.parse().ok()?, minor.parse().ok()?))
    }
}

impl std::fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// Splits `/v1.43/containers/json` into `(Some("1.43"), "/containers/json")`.
/// A path without a version prefix is returned whole.
pub fn split_version_prefix(path: &str) -> (Option<&str>, &str) {
    if let Some(rest) = path.strip_prefix("/v") {
        let end = rest.find('/').unwrap_or(rest.len());
        let candidate = &rest[..end];
        if !candidate.is_empty() && candidate.chars().all(|c| c.is_ascii_digit() || c == '.') {
            let tail = &rest[end..];
            return (Some(candidate), if tail.is_empty() { "/" } else { tail });
        }
    }
    (None, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_versioned_paths() {
        assert_eq!(
            split_version_prefix("/v1.47/containers/json"),
            (Some("1.47"), "/containers/json")
        );
        assert_eq!(
            split_version_prefix("/containers/json"),
            (None, "/containers/json")
        );
        assert_eq!(split_version_prefix("/volumes"), (None, "/volumes"));
        assert_eq!(split_version_prefix("/v1.24"), (Some("1.24"), "/"));
    }

    #[test]
    fn orders_versions() {
        assert!(ApiVersion::parse("1.9").unwrap() < ApiVersion::parse("1.24").unwrap());
        assert!(ApiVersion::parse("1.47").unwrap() == ApiVersion::CURRENT);
        assert_eq!(ApiVersion::parse("x.1"), None);
    }
}
