//! Property-based tests of the engine's parsers of outside input (issue
//! 21): `docker cp`'s archive extraction (hostile tars: `..`, absolute
//! names, symlinks and hardlinks leading out), filters and signals. Never a
//! panic; refusals are InvalidArgument-or-internal errors with words;
//! nothing is written outside the root. Cases are bounded.

use std::fs;

use berth_api::ErrorKind;
use berth_testkit::hostile_tar::{
    hostile_entries, proptest_config as config, HostileEntry, Sandbox,
};
use proptest::prelude::*;

use crate::containers::archive::{extract, PutOptions, Root};
use crate::containers::lifecycle::{parse_signal, Filters};

/// `docker cp` archives: hostile names, including through the container's
/// own symlink `link`, in every kind an archive may hold.
fn entries() -> impl Strategy<Value = Vec<HostileEntry>> {
    use tar::EntryType::*;
    hostile_entries(
        &["secret", "link"],
        &[Regular, Directory, Symlink, Link, Fifo],
    )
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn cp_extraction_stays_inside(
        specs in entries(),
        into in prop::sample::select(&["/", "/dst", "/dst/.", "/link", "/../dst"][..]),
        no_overwrite in any::<bool>(),
    ) {
        let sb = Sandbox::new("root");
        let rootdir = sb.root();
        fs::create_dir_all(rootdir.join("dst")).unwrap();
        // A symlink in the container pointing out of it, as an image may have.
        std::os::unix::fs::symlink(sb.outside(), rootdir.join("link")).unwrap();
        let tar = sb.tar(&specs);
        let root = Root::for_dir(&rootdir);
        let opts = PutOptions { no_overwrite_dir_non_dir: no_overwrite, ..PutOptions::default() };
        if let Err(e) = extract(&root, into, &tar[..], opts) {
            prop_assert!(matches!(e.kind, ErrorKind::InvalidArgument | ErrorKind::NotFound | ErrorKind::Internal), "{:?}", e);
            prop_assert!(e.message.len() > 5, "{}", e.message);
        }
        sb.check_outside()?;
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
