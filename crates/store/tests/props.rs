//! Property-based tests of the store's parsers of outside input (issue
//! 21): `docker import` and `docker load` of arbitrary and hostile tars.
//! Never a panic; a refusal is InvalidArgument with words; nothing appears
//! outside the data root, a file outside reached through a hardlink or a
//! symlink keeps its content, and a refused archive leaves the data root
//! as it was. Cases are bounded (import opens a store per case).

mod common;

use std::path::Path;

use berth_api::ErrorKind;
use berth_store::ImageStore;
use berth_testkit::hostile_tar::{
    hostile_entries, proptest_config as config, HostileEntry, Sandbox,
};
use common::*;
use proptest::prelude::*;

/// Layers: hostile names, whiteouts, and every kind a layer may hold.
fn entries() -> impl Strategy<Value = Vec<HostileEntry>> {
    use tar::EntryType::*;
    hostile_entries(
        &[".wh.a", ".wh..wh..opq", ".wh.", "secret"],
        &[Regular, Directory, Symlink, Link, Char, Fifo],
    )
}

fn check_refusal(e: &berth_api::Error) -> Result<(), TestCaseError> {
    prop_assert_eq!(e.kind, ErrorKind::InvalidArgument, "{}", e.message);
    prop_assert!(e.message.len() > 10, "{}", e.message);
    Ok(())
}

fn check_clean_failure(
    store: &ImageStore,
    root: &Path,
    before: &[std::path::PathBuf],
) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        tree(root),
        before.to_vec(),
        "a refused archive leaves nothing behind"
    );
    prop_assert!(store.list().unwrap().is_empty());
    Ok(())
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn hostile_imports_stay_inside(specs in entries()) {
        if !need_root() {
            return Ok(());
        }
        let sb = Sandbox::new("root");
        let store = ImageStore::open(&sb.root()).unwrap();
        let before = tree(&sb.root());
        let layer = sb.tar(&specs);
        match store.import(&mut &layer[..], None, "", &[]) {
            Ok(_) => {}
            Err(e) => {
                check_refusal(&e)?;
                check_clean_failure(&store, &sb.root(), &before)?;
            }
        }
        sb.check_outside()?;
    }

    #[test]
    fn hostile_loads_stay_inside(specs in entries(), tag in prop::option::of("[a-z]{1,5}:[a-z0-9]{1,4}|[A-Z@:/]{1,6}")) {
        if !need_root() {
            return Ok(());
        }
        let sb = Sandbox::new("root");
        let store = ImageStore::open(&sb.root()).unwrap();
        let before = tree(&sb.root());
        let (archive, _) = docker_archive(&[sb.tar(&specs)], tag.as_deref());
        if let Err(e) = store.load(&mut &archive[..], &mut |_| {}) {
            check_refusal(&e)?;
            check_clean_failure(&store, &sb.root(), &before)?;
        }
        sb.check_outside()?;
    }

    #[test]
    fn arbitrary_bytes_are_refused(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let sb = Sandbox::new("root");
        let store = ImageStore::open(&sb.root()).unwrap();
        if let Err(e) = store.load(&mut &bytes[..], &mut |_| {}) {
            check_refusal(&e)?;
        }
        if let Err(e) = store.import(&mut &bytes[..], None, "", &[]) {
            check_refusal(&e)?;
        }
        sb.check_outside()?;
    }

    #[test]
    fn hostile_load_manifests(manifest in manifest_json()) {
        let sb = Sandbox::new("root");
        let store = ImageStore::open(&sb.root()).unwrap();
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in [("manifest.json", manifest.as_bytes()), ("index.json", manifest.as_bytes()), ("a/layer.tar", b"")] {
            let mut h = tar::Header::new_ustar();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, name, data).unwrap();
        }
        let archive = b.into_inner().unwrap();
        if let Err(e) = store.load(&mut &archive[..], &mut |_| {}) {
            check_refusal(&e)?;
        }
        sb.check_outside()?;
    }
}

/// `manifest.json` / `index.json` documents naming files with `..`,
/// absolute paths, bad digests and wrong types.
fn manifest_json() -> impl Strategy<Value = String> {
    let name = prop::sample::select(
        &[
            "\"a/layer.tar\"",
            "\"../../etc/passwd\"",
            "\"/etc/passwd\"",
            "\"manifest.json\"",
            "\"\"",
            "1",
            "null",
            "\"blobs/sha256/../../x\"",
            "\"sha256:zz\"",
            "\"sha256:\"",
            "[]",
            "{}",
            "\"a:b\"",
            "\"UPPER:1\"",
        ][..],
    );
    let item = (name.clone(), name.clone(), name.clone(), name).prop_map(|(c, l, t, d)| {
        format!(
            "{{\"Config\":{c},\"Layers\":[{l}],\"RepoTags\":[{t}],\"schemaVersion\":2,\"manifests\":[{{\"digest\":{d},\"mediaType\":{t}}}]}}"
        )
    });
    prop_oneof![
        prop::collection::vec(item.clone(), 0..3)
            .prop_map(|items| format!("[{}]", items.join(","))),
        item,
        "\\PC{0,20}",
    ]
}

/// `docker import -c` / `commit -c` changes: Dockerfile instructions that
/// touch only the config.
fn change_text() -> impl Strategy<Value = String> {
    let token = prop::sample::select(
        &[
            "CMD ",
            "ENTRYPOINT ",
            "ENV ",
            "LABEL ",
            "EXPOSE ",
            "VOLUME ",
            "USER ",
            "WORKDIR ",
            "STOPSIGNAL ",
            "RUN ",
            "env ",
            "a",
            "=",
            "\"",
            "'",
            "\\",
            " ",
            "[\"x\"]",
            "[",
            "80",
            "/udp",
            "k=v",
            "é",
        ][..],
    );
    prop_oneof![
        "\\PC{0,30}",
        prop::collection::vec(token, 0..10).prop_map(|t| t.concat())
    ]
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn changes_never_panic(changes in prop::collection::vec(change_text(), 0..4)) {
        let mut c = berth_store::config::RunConfig::default();
        if let Err(e) = berth_store::config::apply_changes(&mut c, &changes) {
            prop_assert_eq!(e.kind, ErrorKind::InvalidArgument);
            prop_assert!(e.message.ends_with(" is not a valid change command"), "{}", e.message);
        }
    }

    #[test]
    fn env_changes_apply(vars in prop::collection::btree_map("[A-Z_]{1,6}", "[a-z0-9]{0,6}", 1..4)) {
        let changes: Vec<String> = vars.iter().map(|(k, v)| format!("ENV {k}={v}")).collect();
        let mut c = berth_store::config::RunConfig::default();
        berth_store::config::apply_changes(&mut c, &changes).unwrap();
        let want: Vec<String> = vars.iter().map(|(k, v)| format!("{k}={v}")).collect();
        prop_assert_eq!(c.env.unwrap_or_default(), want);
    }
}
