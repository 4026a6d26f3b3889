//! Hostile tar archives for the property tests of every parser that
//! unpacks outside input (image import and load, build contexts, `docker
//! cp`): entries named with `..`, absolute paths, and symlinks or hardlinks
//! that lead out of the root, written header by header (the tar crate's
//! builder refuses such names), and a sandbox that tells whether anything
//! was written outside the root.

use std::fs;
use std::path::PathBuf;

use proptest::prelude::*;

/// The case count for a property, without failure files: a failure in CI
/// is a finding to keep as a unit test, not a file to commit.
pub fn proptest_config(cases: u32) -> ProptestConfig {
    // PROPTEST_CASES, when set, wins over the property's own count, so
    // scripts/explore-props.sh can ask every property for more cases.
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// One generated entry: kind, name and link target, with `@OUT` standing
/// for the absolute path of the sandbox's outside directory and `@UP` for
/// enough `..` to climb from anywhere to `/`.
#[derive(Debug, Clone)]
pub struct HostileEntry {
    pub kind: tar::EntryType,
    pub name: String,
    pub link: String,
}

/// The name parts every caller draws from, before its own `extra` ones.
const PARTS: [&str; 8] = ["a", "b", "..", ".", "", "@OUT", "@UP@OUT", "@OUT/secret"];

/// Names: 1-4 parts of [`PARTS`] and `extra`, sometimes absolute.
pub fn hostile_path(extra: &[&'static str]) -> impl Strategy<Value = String> {
    let parts: Vec<&'static str> = PARTS.iter().chain(extra).copied().collect();
    let part = prop::sample::select(parts);
    (any::<bool>(), prop::collection::vec(part, 1..5)).prop_map(|(abs, parts)| {
        let p = parts.join("/");
        if abs && !p.starts_with('@') {
            format!("/{p}")
        } else {
            p
        }
    })
}

/// 1-7 entries of the given kinds, named by [`hostile_path`].
pub fn hostile_entries(
    extra_names: &[&'static str],
    kinds: &[tar::EntryType],
) -> impl Strategy<Value = Vec<HostileEntry>> {
    let kind = prop::sample::select(kinds.to_vec());
    let entry = (kind, hostile_path(extra_names), hostile_path(extra_names))
        .prop_map(|(kind, name, link)| HostileEntry { kind, name, link });
    prop::collection::vec(entry, 1..8)
}

/// The entries as a raw tar, names as written (`..` and `/` kept), with
/// `@OUT` and `@UP` filled in for `outside`.
pub fn raw_tar(entries: &[HostileEntry], outside: &str) -> Vec<u8> {
    let fill = |s: &str| {
        let s = s.replace("@UP", &"../".repeat(12)).replace("@OUT", outside);
        s.replace("//", "/").chars().take(99).collect::<String>()
    };
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let data: &[u8] = if e.kind == tar::EntryType::Regular {
            b"evil"
        } else {
            b""
        };
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(e.kind);
        h.set_mode(if e.kind == tar::EntryType::Directory {
            0o755
        } else {
            0o644
        });
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(crate::FIXTURE_MTIME);
        h.set_size(data.len() as u64);
        let (name, link) = (fill(&e.name), fill(&e.link));
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_cksum();
        b.append(&h, data).expect("appending to a tar in memory");
    }
    b.into_inner().expect("a tar in memory")
}

/// A temporary directory holding the root a parser unpacks into beside one
/// that must stay as it is (`outside`, with a file `secret`).
pub struct Sandbox {
    tmp: tempfile::TempDir,
    root_name: &'static str,
}

impl Sandbox {
    /// The root is named `root_name` (its name shows in a failure).
    pub fn new(root_name: &'static str) -> Sandbox {
        let tmp = tempfile::tempdir().expect("a temporary directory");
        fs::create_dir(tmp.path().join(root_name)).expect("the root");
        fs::create_dir(tmp.path().join("outside")).expect("the outside");
        fs::write(tmp.path().join("outside/secret"), b"keep").expect("the secret");
        Sandbox { tmp, root_name }
    }

    pub fn root(&self) -> PathBuf {
        self.tmp.path().join(self.root_name)
    }

    pub fn outside(&self) -> PathBuf {
        self.tmp.path().join("outside")
    }

    /// [`raw_tar`] of the entries, aimed at this sandbox's outside.
    pub fn tar(&self, entries: &[HostileEntry]) -> Vec<u8> {
        raw_tar(entries, &self.outside().to_string_lossy())
    }

    /// Nothing was written beside the root, nor into or over `outside`.
    pub fn check_outside(&self) -> Result<(), TestCaseError> {
        let mut top: Vec<_> = fs::read_dir(self.tmp.path())
            .expect("the sandbox")
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect();
        top.sort();
        let mut want = vec![self.root_name, "outside"];
        want.sort();
        prop_assert_eq!(top, want);
        let names: Vec<_> = fs::read_dir(self.outside())
            .expect("the outside")
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect();
        prop_assert_eq!(names, vec!["secret"]);
        prop_assert_eq!(
            fs::read(self.outside().join("secret")).ok(),
            Some(b"keep".to_vec())
        );
        Ok(())
    }
}
