//! Property-based tests of the store's parsers of outside input (issue
//! 21): `docker import` and `docker load` of arbitrary and hostile tars.
//! Never a panic; a refusal is InvalidArgument with words; nothing appears
//! outside the data root, a file outside reached through a hardlink or a
//! symlink keeps its content, and a refused archive leaves the data root
//! as it was. Cases are bounded (import opens a store per case).

mod common;

use std::fs;
use std::path::Path;

use berth_api::ErrorKind;
use berth_store::ImageStore;
use common::*;
use proptest::prelude::*;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// One generated entry: kind, name and link target, with `@OUT` standing
/// for the absolute path of a directory outside the store and `@UP` for
/// enough `..` to climb from anywhere in it to `/`.
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
            ".wh.a",
            ".wh..wh..opq",
            ".wh.",
            "@OUT",
            "@UP@OUT",
            "@OUT/secret",
            "secret",
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
            tar::EntryType::Char,
            tar::EntryType::Fifo,
        ][..],
    );
    let entry =
        (kind, path_text(), path_text()).prop_map(|(kind, name, link)| Spec { kind, name, link });
    prop::collection::vec(entry, 1..8)
}

/// A directory holding the store (`root`) beside one that must stay as it
/// is (`outside`, with a file `secret`).
struct Sandbox {
    tmp: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir(tmp.path().join("root")).unwrap();
        fs::create_dir(tmp.path().join("outside")).unwrap();
        fs::write(tmp.path().join("outside/secret"), b"keep").unwrap();
        Sandbox { tmp }
    }
    fn root(&self) -> std::path::PathBuf {
        self.tmp.path().join("root")
    }
    fn outside(&self) -> std::path::PathBuf {
        self.tmp.path().join("outside")
    }

    /// The specs as a raw tar (names as written, `..` and `/` kept).
    fn tar(&self, specs: &[Spec]) -> Vec<u8> {
        let out = self.outside();
        let out = out.to_str().unwrap();
        let fill = |s: &str| {
            let s = s.replace("@UP", &"../".repeat(12)).replace("@OUT", out);
            s.replace("//", "/").chars().take(99).collect::<String>()
        };
        let names: Vec<(String, String)> = specs
            .iter()
            .map(|s| (fill(&s.name), fill(&s.link)))
            .collect();
        let entries: Vec<Entry<'_>> = specs
            .iter()
            .zip(&names)
            .map(|(s, (name, link))| Entry {
                name,
                kind: s.kind,
                data: if s.kind == tar::EntryType::Regular {
                    b"evil"
                } else {
                    b""
                },
                link,
            })
            .collect();
        raw_tar(&entries)
    }

    /// Nothing was written outside the data root.
    fn check_outside(&self) -> Result<(), TestCaseError> {
        let mut top: Vec<_> = fs::read_dir(self.tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        top.sort();
        prop_assert_eq!(top, vec!["outside", "root"]);
        let names: Vec<_> = fs::read_dir(self.outside())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        prop_assert_eq!(names, vec!["secret"]);
        prop_assert_eq!(
            fs::read(self.outside().join("secret")).unwrap(),
            b"keep".to_vec()
        );
        Ok(())
    }
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
        let sb = Sandbox::new();
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
        let sb = Sandbox::new();
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
        let sb = Sandbox::new();
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
        let sb = Sandbox::new();
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
