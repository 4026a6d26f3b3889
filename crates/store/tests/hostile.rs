//! Untrusted layer tars and load archives: nothing is written outside the
//! store, and a failed import or load leaves nothing behind.

mod common;

use std::fs;
use std::path::Path;

use berth_api::ErrorKind;
use berth_store::ImageStore;
use common::*;

/// Imports `layer` into a fresh store and checks it is refused with
/// InvalidArgument, that the data root is as before, and that `outside`
/// stayed empty.
fn refused_import(layer: &[u8], outside: &Path) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path()).unwrap();
    let before = tree(tmp.path());
    let e = store
        .import(&mut &layer[..], Some(&"evil:1".parse_ref()), "", &[])
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument, "{e}");
    assert_eq!(tree(tmp.path()), before, "nothing left behind");
    assert!(store.list().unwrap().is_empty());
    assert_eq!(store.layers_size().unwrap(), 0);
    assert_eq!(fs::read_dir(outside).unwrap().count(), 0, "nothing outside");
    e.message
}

trait ParseRef {
    fn parse_ref(&self) -> berth_api::Reference;
}
impl ParseRef for str {
    fn parse_ref(&self) -> berth_api::Reference {
        berth_api::Reference::parse(self).unwrap()
    }
}

#[test]
fn layer_escapes_are_refused() {
    if !need_root() {
        return;
    }
    let outside = tempfile::tempdir().unwrap();
    let out = outside.path().to_str().unwrap().to_string();
    let dotdot = format!("../../../../../../..{out}/x");
    let abs = format!("{out}/abs");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("dotdot", raw_tar(&[file(&dotdot, b"x")])),
        (
            "dotdot-inner",
            raw_tar(&[dir("a/"), file("a/../../x", b"x")]),
        ),
        ("absolute", raw_tar(&[file(&abs, b"x")])),
        (
            "through-symlink",
            raw_tar(&[symlink("evil", &out), file("evil/passwd", b"x")]),
        ),
        (
            "through-relative-symlink",
            raw_tar(&[
                dir("a/"),
                symlink("a/up", "../../../../../../.."),
                file("a/up/tmp/x", b"x"),
            ]),
        ),
        (
            "hardlink-out",
            raw_tar(&[hardlink("hl", "../../etc/passwd")]),
        ),
        ("hardlink-abs", raw_tar(&[hardlink("hl", "/etc/passwd")])),
        (
            "hardlink-through-symlink",
            raw_tar(&[symlink("evil", "/etc"), hardlink("hl", "evil/passwd")]),
        ),
        ("whiteout-dotdot", raw_tar(&[file("a/.wh...", b"")])),
    ];
    for (name, layer) in cases {
        let msg = refused_import(&layer, outside.path());
        assert!(msg.contains("invalid layer archive"), "{name}: {msg}");
    }
    // /etc/passwd is untouched by the hard link attempts.
    assert!(fs::read_to_string("/etc/passwd")
        .unwrap()
        .starts_with("root:"));
}

#[test]
fn symlinks_may_point_anywhere() {
    if !need_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path()).unwrap();
    let layer = raw_tar(&[
        symlink("sh", "/bin/busybox"),
        symlink("up", "../../../../etc"),
        dir("d/"),
        file("d/f", b"1"),
        hardlink("d/g", "d/f"),
    ]);
    store.import(&mut layer.as_slice(), None, "", &[]).unwrap();
}

#[test]
fn failed_import_of_garbage_leaves_nothing() {
    if !need_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path()).unwrap();
    // One good image first: its files must survive the failures.
    store
        .import(&mut raw_tar(&[file("ok", b"1")]).as_slice(), None, "", &[])
        .unwrap();
    let before = tree(tmp.path());
    let garbage = vec![0x1f, 0x8b, 1, 2, 3, 4, 5];
    assert!(store
        .import(&mut garbage.as_slice(), None, "", &[])
        .is_err());
    let bad_change = store.import(
        &mut raw_tar(&[file("ok2", b"1")]).as_slice(),
        None,
        "",
        &["RUN rm -rf /".into()],
    );
    assert_eq!(bad_change.unwrap_err().kind, ErrorKind::InvalidArgument);
    assert_eq!(tree(tmp.path()), before);
}

fn refused_load(archive: &[u8]) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path()).unwrap();
    let before = tree(tmp.path());
    let mut lines = Vec::new();
    let e = store
        .load(&mut &archive[..], &mut |l| lines.push(l))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument, "{e}");
    assert!(lines.is_empty(), "{lines:?}");
    assert_eq!(tree(tmp.path()), before, "nothing left behind");
    assert!(store.list().unwrap().is_empty());
    e.message
}

fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let entries: Vec<Entry<'_>> = files.iter().map(|(n, d)| file(n, d)).collect();
    raw_tar(&entries)
}

#[test]
fn hostile_load_archives_are_refused() {
    if !need_root() {
        return;
    }
    let outside = tempfile::tempdir().unwrap();
    let good_layer = raw_tar(&[file("a", b"1")]);
    let evil_layer = raw_tar(&[symlink("e", "/tmp"), file("e/pwned", b"x")]);

    // A layer that escapes, inside an otherwise valid archive; a second,
    // valid image in the same archive must not be loaded either.
    let (a1, _) = docker_archive(&[good_layer.clone(), evil_layer], Some("evil:1"));
    let msg = refused_load(&a1);
    assert!(msg.contains("invalid layer archive"), "{msg}");

    // Manifest paths that climb out of the archive.
    let manifest =
        r#"[{"Config":"../../../../../etc/passwd","RepoTags":["x:1"],"Layers":[]}]"#.to_string();
    let msg = refused_load(&tar_of(&[("manifest.json", manifest.as_bytes())]));
    assert!(msg.contains("invalid archive"), "{msg}");
    let manifest = format!(
        r#"[{{"Config":"{}/c.json","RepoTags":["x:1"],"Layers":[]}}]"#,
        outside.path().display()
    );
    refused_load(&tar_of(&[("manifest.json", manifest.as_bytes())]));

    // An archive entry that climbs out is refused before anything is used.
    refused_load(&tar_of(&[("../../escape", b"x"), ("manifest.json", b"[]")]));
    assert!(!Path::new("/escape").exists());

    // A layer whose digest is not what the config says.
    let (a2, _) = docker_archive(std::slice::from_ref(&good_layer), Some("x:1"));
    let other = raw_tar(&[file("a", b"2")]);
    let (a3, _) = docker_archive(&[other], Some("x:1"));
    // Swap a3's layer bytes into a2 under a2's config: rebuild by hand.
    let mut layers = std::collections::HashMap::new();
    for (src, key) in [(&a2, "a2"), (&a3, "a3")] {
        let mut ar = tar::Archive::new(src.as_slice());
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            let name = e.path().unwrap().display().to_string();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).unwrap();
            layers.insert(format!("{key}:{name}"), data);
        }
    }
    let mismatched: Vec<(String, Vec<u8>)> = layers
        .iter()
        .filter(|(k, _)| k.starts_with("a2:"))
        .map(|(k, v)| {
            let name = k.trim_start_matches("a2:").to_string();
            if name.ends_with("layer.tar") {
                (name.clone(), layers[&format!("a3:{name}")].clone())
            } else {
                (name, v.clone())
            }
        })
        .collect();
    let files: Vec<(&str, &[u8])> = mismatched
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let msg = refused_load(&tar_of(&files));
    assert!(msg.contains("but the config expects"), "{msg}");

    // Oversized manifest.json.
    let mut big = b"[".to_vec();
    big.extend(std::iter::repeat_n(b' ', 9 << 20));
    big.push(b']');
    let msg = refused_load(&tar_of(&[("manifest.json", &big)]));
    assert!(msg.contains("too large"), "{msg}");

    // Not an archive at all / empty.
    refused_load(b"definitely not a tar file, just some bytes.......");
    refused_load(&tar_of(&[("hello", b"x")]));
    assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0);
}
