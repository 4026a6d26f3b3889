//! Property-based tests of the daemon's parsers of outside input (issue
//! 21): query strings (repeated keys, booleans, integers, JSON maps such as
//! `buildargs`) and build contexts (hostile tars, plain or gzip). Never a
//! panic; a refusal is an `invalid` error naming the parameter or the
//! entry; nothing is written outside the context. Cases are bounded.

use std::io::Write;

use berth_api::ErrorKind;
use berth_testkit::hostile_tar::{
    hostile_entries, proptest_config as config, HostileEntry, Sandbox,
};
use proptest::prelude::*;

use crate::params::Params;
use crate::routes::build::{json_map, unpack_context};

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

/// Build contexts: hostile names, and the file a build reads first.
fn entries() -> impl Strategy<Value = Vec<HostileEntry>> {
    use tar::EntryType::*;
    hostile_entries(&["Dockerfile"], &[Regular, Directory, Symlink, Link])
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
        let sb = Sandbox::new("ctx");
        let ctx = sb.root();
        let mut tar = sb.tar(&specs);
        if gzip {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&tar).unwrap();
            tar = gz.finish().unwrap();
        }
        if let Err(e) = unpack_context(&mut &tar[..], &ctx) {
            prop_assert_eq!(e.kind, ErrorKind::InvalidArgument, "{}", e.message);
            prop_assert!(e.message.starts_with("invalid build context: "), "{}", e.message);
        }
        sb.check_outside()?;
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
