//! Property-based tests of the daemon's parsers of outside input (issue
//! 21): query strings (repeated keys, booleans, integers, JSON maps such as
//! `buildargs`) and build contexts (hostile tars, plain or gzip). Never a
//! panic; a refusal is an `invalid` error naming the parameter or the
//! entry; nothing is written outside the context. Cases are bounded.

use std::fs;
use std::io::Write;

use berth_api::ErrorKind;
use proptest::prelude::*;

use crate::params::Params;
use crate::routes::build::{json_map, unpack_context};

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn query() -> impl Strategy<Value = String> {
    let token = prop::sample::select(
        &[
            "a",
            "=",
            "&",
            "%",
            "%2",
            "%zz",
            "%7B",
            "+",
            "t",
            "1",
            "true",
            "True",
            "-5",
            "9999999999999999999999",
            "buildargs",
            "{\"A\":\"b\"}",
            "{\"A\":null}",
            "[1]",
            "é",
            ";",
        ][..],
    );
    prop_oneof![
        "\\PC{0,40}",
        prop::collection::vec(token, 0..14).prop_map(|t| t.concat())
    ]
}

#[derive(Debug, Clone)]
struct Spec {
    kind: tar::EntryType,
    name: String,
    link: String,
}

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
            "Dockerfile",
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
        ][..],
    );
    let entry =
        (kind, path_text(), path_text()).prop_map(|(kind, name, link)| Spec { kind, name, link });
    prop::collection::vec(entry, 1..8)
}

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

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn queries_never_panic(q in query(), key in prop::sample::select(&["a", "t", "buildargs", ""][..])) {
        let p = Params::from_query(Some(&q));
        let _ = (p.get(key), p.all(key), p.bool(key));
        if let Err(e) = p.int(key) {
            prop_assert_eq!(e.kind, ErrorKind::InvalidArgument);
            prop_assert!(e.message.starts_with(&format!("invalid value for {key}: ")), "{}", e.message);
        }
        if let Err(e) = json_map(&p, key) {
            prop_assert_eq!(e.kind, ErrorKind::InvalidArgument);
            prop_assert!(e.message.starts_with(&format!("failed to parse {key}: ")), "{}", e.message);
        }
    }

    #[test]
    fn queries_round_trip(pairs in prop::collection::vec(("[a-z]{1,4}", "\\PC{0,10}"), 0..6)) {
        let q: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(&pairs).finish();
        let p = Params::from_query(Some(&q));
        for (k, _) in &pairs {
            let want: Vec<String> = pairs.iter().filter(|(k2, _)| k2 == k).map(|(_, v)| v.clone()).collect();
            prop_assert_eq!(p.all(k), want);
        }
    }

    #[test]
    fn buildargs_known_good(args in prop::collection::btree_map("[A-Z_]{1,6}", prop::option::of("\\PC{0,8}"), 0..5)) {
        let json = serde_json::to_string(&args).unwrap();
        let q: String = form_urlencoded::Serializer::new(String::new()).append_pair("buildargs", &json).finish();
        let got = json_map(&Params::from_query(Some(&q)), "buildargs").unwrap();
        prop_assert_eq!(got.into_iter().collect::<std::collections::BTreeMap<_, _>>(), args);
    }
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn contexts_stay_inside(specs in entries(), gzip in any::<bool>()) {
        let tmp = tempfile::tempdir().unwrap();
        let (ctx, outside) = (tmp.path().join("ctx"), tmp.path().join("outside"));
        fs::create_dir(&ctx).unwrap();
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("secret"), b"keep").unwrap();
        let mut tar = raw_tar(&specs, outside.to_str().unwrap());
        if gzip {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&tar).unwrap();
            tar = gz.finish().unwrap();
        }
        if let Err(e) = unpack_context(&mut &tar[..], &ctx) {
            prop_assert_eq!(e.kind, ErrorKind::InvalidArgument, "{}", e.message);
            prop_assert!(e.message.starts_with("invalid build context: "), "{}", e.message);
        }
        let mut top: Vec<_> = fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        top.sort();
        prop_assert_eq!(top, vec!["ctx", "outside"]);
        let names: Vec<_> = fs::read_dir(&outside).unwrap().map(|e| e.unwrap().file_name()).collect();
        prop_assert_eq!(names, vec!["secret"]);
        prop_assert_eq!(fs::read(outside.join("secret")).unwrap(), b"keep".to_vec());
    }

    #[test]
    fn contexts_of_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..1536), gz_magic in any::<bool>()) {
        let tmp = tempfile::tempdir().unwrap();
        let mut bytes = bytes;
        if gz_magic {
            bytes.splice(0..0, [0x1f, 0x8b]);
        }
        if let Err(e) = unpack_context(&mut &bytes[..], tmp.path()) {
            prop_assert!(e.message.starts_with("invalid build context"), "{}", e.message);
        }
    }
}
