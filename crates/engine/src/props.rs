//! Property-based tests of the engine's parsers of outside input (issue
//! 21): `docker cp`'s archive extraction (hostile tars: `..`, absolute
//! names, symlinks and hardlinks leading out), filters and signals. Never a
//! panic; refusals are InvalidArgument-or-internal errors with words;
//! nothing is written outside the root. Cases are bounded.

use std::fs;

use berth_api::ErrorKind;
use proptest::prelude::*;

use crate::archive::{extract, PutOptions, Root};
use crate::lifecycle::{parse_signal, Filters};

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

#[derive(Debug, Clone)]
struct Spec {
    kind: tar::EntryType,
    name: String,
    link: String,
}

/// Names with `..`, absolute paths and `@OUT` (the outside directory's
/// absolute path), `@UP` (enough `..` to reach `/` from anywhere).
fn path_text() -> impl Strategy<Value = String> {
    let part = prop::sample::select(
        &[
            "a",
            "b",
            "..",
            ".",
            "",
            "@OUT",
            "@UP@OUT",
            "@OUT/secret",
            "secret",
            "link",
        ][..],
    );
    (any::<bool>(), prop::collection::vec(part, 1..5)).prop_map(|(abs, parts)| {
        let p = parts.join("/");
        if abs && !p.starts_with('@') {
            format!("/{p}")
        } else {
            p
        }
    })
}

fn entries() -> impl Strategy<Value = Vec<Spec>> {
    let kind = prop::sample::select(
        &[
            tar::EntryType::Regular,
            tar::EntryType::Directory,
            tar::EntryType::Symlink,
            tar::EntryType::Link,
            tar::EntryType::Fifo,
        ][..],
    );
    let entry =
        (kind, path_text(), path_text()).prop_map(|(kind, name, link)| Spec { kind, name, link });
    prop::collection::vec(entry, 1..8)
}

/// The tar as written, header by header (the tar crate's builder refuses
/// hostile names).
fn raw_tar(specs: &[Spec], outside: &str) -> Vec<u8> {
    let fill = |s: &str| {
        let s = s.replace("@UP", &"../".repeat(12)).replace("@OUT", outside);
        s.replace("//", "/").chars().take(99).collect::<String>()
    };
    let mut b = tar::Builder::new(Vec::new());
    for s in specs {
        let data: &[u8] = if s.kind == tar::EntryType::Regular {
            b"evil"
        } else {
            b""
        };
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(s.kind);
        h.set_mode(0o755);
        h.set_size(data.len() as u64);
        let (name, link) = (fill(&s.name), fill(&s.link));
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

fn check_outside(tmp: &std::path::Path) -> Result<(), TestCaseError> {
    let mut top: Vec<_> = fs::read_dir(tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    top.sort();
    prop_assert_eq!(top, vec!["outside", "root"]);
    let names: Vec<_> = fs::read_dir(tmp.join("outside"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    prop_assert_eq!(names, vec!["secret"]);
    prop_assert_eq!(
        fs::read(tmp.join("outside/secret")).unwrap(),
        b"keep".to_vec()
    );
    Ok(())
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn cp_extraction_stays_inside(
        specs in entries(),
        into in prop::sample::select(&["/", "/dst", "/dst/.", "/link", "/../dst"][..]),
        no_overwrite in any::<bool>(),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let (rootdir, outside) = (tmp.path().join("root"), tmp.path().join("outside"));
        fs::create_dir_all(rootdir.join("dst")).unwrap();
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("secret"), b"keep").unwrap();
        // A symlink in the container pointing out of it, as an image may have.
        std::os::unix::fs::symlink(&outside, rootdir.join("link")).unwrap();
        let tar = raw_tar(&specs, outside.to_str().unwrap());
        let root = Root::for_dir(&rootdir);
        let opts = PutOptions { no_overwrite_dir_non_dir: no_overwrite, ..PutOptions::default() };
        if let Err(e) = extract(&root, into, &tar[..], opts) {
            prop_assert!(matches!(e.kind, ErrorKind::InvalidArgument | ErrorKind::NotFound | ErrorKind::Internal), "{:?}", e);
            prop_assert!(e.message.len() > 5, "{}", e.message);
        }
        check_outside(tmp.path())?;
    }

    #[test]
    fn cp_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..1536)) {
        let tmp = tempfile::tempdir().unwrap();
        let root = Root::for_dir(tmp.path());
        if let Err(e) = extract(&root, "/", &bytes[..], PutOptions::default()) {
            prop_assert!(!e.message.is_empty());
        }
    }

    #[test]
    fn filters_never_panic(s in filter_text()) {
        match Filters::parse(Some(&s)) {
            Ok(f) => {
                let _ = f.validate(&["status", "label"]);
            }
            Err(e) => {
                prop_assert_eq!(e.kind, ErrorKind::InvalidArgument);
                prop_assert!(e.message.starts_with("invalid filter"), "{}", e.message);
            }
        }
    }

    #[test]
    fn filters_known_good(kv in prop::collection::btree_map("[a-z]{1,6}", prop::collection::vec("\\PC{0,8}", 0..3), 0..4), as_map in any::<bool>()) {
        let doc: serde_json::Map<String, serde_json::Value> = kv
            .iter()
            .map(|(k, vals)| {
                let v = if as_map {
                    serde_json::Value::Object(vals.iter().map(|v| (v.clone(), true.into())).collect())
                } else {
                    vals.clone().into()
                };
                (k.clone(), v)
            })
            .collect();
        let f = Filters::parse(Some(&serde_json::Value::Object(doc).to_string())).unwrap();
        for (k, vals) in &kv {
            let mut got = f.get(k).to_vec();
            let mut want = vals.clone();
            if as_map {
                got.sort();
                want.sort();
                want.dedup();
            }
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn signals(s in "\\PC{0,10}|(SIG)?[A-Z]{2,6}[0-9+-]{0,3}|-?[0-9]{1,12}") {
        match parse_signal(&s) {
            Ok(n) => prop_assert!((1..=64).contains(&n)),
            Err(e) => prop_assert_eq!(e.message, format!("Invalid signal: {s}")),
        }
    }
}

fn filter_text() -> impl Strategy<Value = String> {
    let token = prop::sample::select(
        &[
            "{",
            "}",
            "[",
            "]",
            ":",
            ",",
            "\"status\"",
            "\"label\"",
            "\"a=b\"",
            "true",
            "false",
            "null",
            "1",
            "\"\"",
            " ",
        ][..],
    );
    prop_oneof![
        "\\PC{0,30}",
        prop::collection::vec(token, 0..16).prop_map(|t| t.concat()),
    ]
}
