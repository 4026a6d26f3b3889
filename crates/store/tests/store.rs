//! The image store against a real filesystem and real overlayfs (root).

mod common;

use std::fs;

use berth_api::{ErrorKind, Reference};
use berth_store::ImageStore;
use common::*;
use sha2::{Digest, Sha256};

fn r(s: &str) -> Reference {
    Reference::parse(s).unwrap()
}

fn import_busybox(store: &ImageStore, tag: Option<&str>) -> berth_store::Image {
    let tar = busybox();
    let tag = tag.map(r);
    store
        .import(&mut tar.as_slice(), tag.as_ref(), "", &[])
        .unwrap()
}

#[test]
fn import_get_list_tag_untag() {
    if !need_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path()).unwrap();
    let tar = busybox();
    let img = store
        .import(
            &mut tar.as_slice(),
            Some(&r("busybox")),
            "",
            &["CMD [\"sh\"]".into(), "ENV A=1".into()],
        )
        .unwrap();
    // Image id = digest of the stored config bytes; diff id = digest of the tar.
    let hex = img.id.strip_prefix("sha256:").unwrap();
    let blob = fs::read(tmp.path().join("image/blobs/sha256").join(hex)).unwrap();
    assert_eq!(hex::encode(Sha256::digest(&blob)), hex);
    assert_eq!(blob, img.raw_config);
    assert_eq!(
        img.diff_ids,
        vec![format!("sha256:{}", hex::encode(Sha256::digest(&tar)))]
    );
    assert_eq!(img.repo_tags, vec!["busybox:latest".to_string()]);
    assert_eq!(
        img.config.config.as_ref().unwrap().cmd,
        Some(vec!["sh".into()])
    );
    assert_eq!(
        img.config.history[0].comment.as_deref(),
        Some("Imported from -")
    );
    assert!(img.size > 1_000_000, "size {}", img.size);

    for name in [
        "busybox",
        "busybox:latest",
        "docker.io/library/busybox:latest",
        img.id.as_str(),
        hex,
        &hex[..12],
        &format!("sha256:{}", &hex[..6]),
    ] {
        assert_eq!(store.get(name).unwrap().id, img.id, "{name}");
    }
    let e = store.get("nope:1").unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert_eq!(e.message, "No such image: nope:1");
    assert_eq!(
        store.get("nope").unwrap_err().message,
        "No such image: nope:latest"
    );
    assert_eq!(store.list().unwrap().len(), 1);

    // Tags: add, move, remove.
    store.tag("busybox", &r("mine/app")).unwrap();
    assert_eq!(
        store.get("mine/app:latest").unwrap().repo_tags,
        vec!["busybox:latest".to_string(), "mine/app:latest".to_string()]
    );
    let other = store
        .import(&mut raw_tar(&[file("x", b"1")]).as_slice(), None, "m", &[])
        .unwrap();
    assert!(other.repo_tags.is_empty() && other.is_dangling());
    store.tag(&other.id, &r("mine/app:latest")).unwrap();
    assert_eq!(store.get("mine/app").unwrap().id, other.id);
    assert!(store.untag(&r("mine/app")).unwrap());
    assert!(!store.untag(&r("mine/app")).unwrap());
    assert_eq!(
        store.get(&other.id).unwrap().config.comment.as_deref(),
        Some("m")
    );

    let inspect = store.inspect(&store.get("busybox").unwrap());
    assert_eq!(inspect.id, img.id);
    assert_eq!(inspect.comment, "Imported from -");
    let cfg = inspect.config.as_ref().unwrap();
    assert_eq!(cfg.cmd.as_deref(), Some(&["sh".to_string()][..]));
    assert_eq!(cfg.hostname, "");
    assert_eq!(inspect.graph_driver.name, "overlay2");
    let data = inspect.graph_driver.data.as_ref().unwrap();
    assert!(data["UpperDir"].ends_with("/diff"));
    assert_eq!(inspect.root_fs.layers.unwrap()[0], img.diff_ids[0]);
    let hist = store.history("busybox").unwrap();
    assert_eq!(hist.len(), 1);
    assert_eq!(hist[0].id, img.id);
    assert_eq!(hist[0].comment, "Imported from -");
    assert_eq!(store.layers_size().unwrap(), img.size + other.size);

    // Reopening keeps everything.
    drop(store);
    let store = ImageStore::open(tmp.path()).unwrap();
    assert_eq!(store.get("busybox").unwrap().id, img.id);
    assert_eq!(store.list().unwrap().len(), 2);
}

#[test]
fn layers_are_shared_and_deleted_with_their_last_image() {
    if !need_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path()).unwrap();
    let a = import_busybox(&store, Some("a"));
    let b = store
        .import(&mut busybox().as_slice(), Some(&r("b")), "other", &[])
        .unwrap();
    assert_ne!(a.id, b.id);
    assert_eq!(a.diff_ids, b.diff_ids);
    let layer_dirs = || {
        fs::read_dir(tmp.path().join("overlay2"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name() != "l")
            .count()
    };
    assert_eq!(layer_dirs(), 1, "one unpacked layer for both images");
    let out = store.delete(&a.id).unwrap();
    assert_eq!(out[0].untagged.as_deref(), Some("a:latest"));
    assert_eq!(out[1].deleted.as_deref(), Some(a.id.as_str()));
    assert_eq!(out.len(), 2, "the shared layer stays");
    assert_eq!(layer_dirs(), 1);
    let out = store.delete("b").unwrap();
    assert_eq!(out.len(), 3);
    assert_eq!(out[2].deleted.as_deref(), Some(b.diff_ids[0].as_str()));
    assert_eq!(layer_dirs(), 0);
    assert_eq!(
        fs::read_dir(tmp.path().join("image/blobs/sha256"))
            .unwrap()
            .count(),
        0
    );
    assert_eq!(
        fs::read_dir(tmp.path().join("overlay2/l")).unwrap().count(),
        0
    );
    assert_eq!(store.get("b").unwrap_err().kind, ErrorKind::NotFound);
}

#[test]
fn rw_layer_mounts_over_the_image() {
    if !need_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path()).unwrap();
    let img = import_busybox(&store, Some("busybox"));
    let rw = store.create_rw_layer("c1", Some("busybox")).unwrap();
    assert!(rw.mount_data().starts_with("lowerdir="));
    let guard = MountGuard(rw.clone());
    rw.mount().unwrap();
    rw.mount().unwrap(); // idempotent
    assert!(rw.merged.join("bin/busybox").exists());
    fs::write(rw.merged.join("etc/hello"), "hi").unwrap();
    fs::remove_file(rw.merged.join("bin/sh")).unwrap();
    // The change is in the upper dir only.
    assert_eq!(
        fs::read_to_string(rw.upperdir.join("etc/hello")).unwrap(),
        "hi"
    );
    let data = rw.graph_driver_data();
    let lower = &data["LowerDir"];
    assert!(lower.ends_with("/diff"), "{lower}");
    assert!(!std::path::Path::new(lower).join("etc/hello").exists());
    assert!(std::path::Path::new(lower)
        .join("bin/sh")
        .symlink_metadata()
        .is_ok());
    assert!(rw.size_rw().unwrap() >= 2);

    // The image's layers outlive the image while the container needs them.
    store.delete(&img.id).unwrap();
    assert!(rw.merged.join("bin/busybox").exists());
    let again = store.rw_layer("c1").unwrap();
    assert_eq!(again.lowerdirs, rw.lowerdirs);
    drop(guard);
    assert!(!rw.is_mounted());
    rw.mount().unwrap();
    let _guard = MountGuard(rw.clone());
    store.remove_rw_layer("c1").unwrap();
    assert!(!rw.merged.exists());
    assert_eq!(
        store.layers_size().unwrap(),
        0,
        "last user gone: layer removed"
    );
    assert_eq!(store.rw_layer("c1").unwrap_err().kind, ErrorKind::NotFound);

    // scratch: an empty rootfs.
    let rw = store.create_rw_layer("c2", None).unwrap();
    let _g = MountGuard(rw.clone());
    rw.mount().unwrap();
    assert_eq!(fs::read_dir(&rw.merged).unwrap().count(), 0);
    store.remove_rw_layer("c2").unwrap();
    assert!(store.create_rw_layer("../x", None).is_err());
}

#[test]
fn save_then_load_into_another_store() {
    if !need_root() {
        return;
    }
    let a_dir = tempfile::tempdir().unwrap();
    let a = ImageStore::open(a_dir.path()).unwrap();
    let img = import_busybox(&a, Some("busybox:1"));
    a.tag("busybox:1", &r("busybox:2")).unwrap();
    let two = a
        .import(&mut raw_tar(&[file("f", b"x")]).as_slice(), None, "", &[])
        .unwrap();
    let mut archive = Vec::new();
    a.save(&["busybox".into(), two.id.clone()], &mut archive)
        .unwrap();
    // The archive holds both layouts.
    let names: Vec<String> = tar::Archive::new(archive.as_slice())
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    for n in ["manifest.json", "index.json", "oci-layout", "repositories"] {
        assert!(names.iter().any(|x| x == n), "{n} in {names:?}");
    }

    let b_dir = tempfile::tempdir().unwrap();
    let b = ImageStore::open(b_dir.path()).unwrap();
    let mut lines = Vec::new();
    b.load(&mut archive.as_slice(), &mut |l| lines.push(l))
        .unwrap();
    assert_eq!(
        lines,
        vec![
            "Loaded image: busybox:1".to_string(),
            "Loaded image: busybox:2".to_string(),
            format!("Loaded image ID: {}", two.id),
        ]
    );
    let loaded = b.get("busybox:2").unwrap();
    assert_eq!(loaded.id, img.id);
    assert_eq!(loaded.diff_ids, img.diff_ids);
    assert_eq!(b.get(&two.id).unwrap().repo_tags.len(), 0);

    // Loading again over a different image with the same tag says so.
    let c_dir = tempfile::tempdir().unwrap();
    let c = ImageStore::open(c_dir.path()).unwrap();
    let prev = c
        .import(
            &mut raw_tar(&[file("y", b"y")]).as_slice(),
            Some(&r("busybox:1")),
            "",
            &[],
        )
        .unwrap();
    let mut lines = Vec::new();
    c.load(&mut archive.as_slice(), &mut |l| lines.push(l))
        .unwrap();
    assert_eq!(
        lines[0],
        format!(
            "The image busybox:1 already exists, renaming the old one with ID {} to empty string",
            prev.id
        )
    );
    assert!(c.get(&prev.id).unwrap().repo_tags.is_empty());
}

#[test]
fn load_docker_archive_and_gzip_layers() {
    if !need_root() {
        return;
    }
    let l1 = busybox();
    let l2 = raw_tar(&[
        dir("etc/"),
        file("etc/motd", b"hello"),
        file("bin/.wh.sh", b""),
        dir("var/"),
        file("var/.wh..wh..opq", b""),
    ]);
    let (archive, id) = docker_archive(&[l1.clone(), l2.clone()], Some("t/app:v1"));
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path()).unwrap();
    let mut lines = Vec::new();
    store
        .load(&mut archive.as_slice(), &mut |l| lines.push(l))
        .unwrap();
    assert_eq!(lines, vec!["Loaded image: t/app:v1".to_string()]);
    let img = store.get("t/app:v1").unwrap();
    assert_eq!(img.id, id);
    let inspect = store.inspect(&img);
    let data = inspect.graph_driver.data.unwrap();
    let upper = &data["UpperDir"];
    assert!(data.contains_key("LowerDir"));
    use std::os::unix::fs::FileTypeExt;
    let wh = fs::symlink_metadata(format!("{upper}/bin/sh")).unwrap();
    assert!(wh.file_type().is_char_device(), "whiteout");
    let opq = xattr(&format!("{upper}/var"), "trusted.overlay.opaque");
    assert_eq!(opq.as_deref(), Some(&b"y"[..]));

    // Through a container: the whiteout hides bin/sh.
    let rw = store.create_rw_layer("c", Some(&id)).unwrap();
    let _g = MountGuard(rw.clone());
    rw.mount().unwrap();
    assert!(rw.merged.join("bin/busybox").exists());
    assert!(fs::symlink_metadata(rw.merged.join("bin/sh")).is_err());
    assert_eq!(
        fs::read_to_string(rw.merged.join("etc/motd")).unwrap(),
        "hello"
    );
    store.remove_rw_layer("c").unwrap();

    // The same image with gzip'd layers and no tag loads to the same id.
    let gz = |d: &[u8]| {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(d).unwrap();
        e.finish().unwrap()
    };
    let (archive_gz, _) = docker_archive_with(&[gz(&l1), gz(&l2)], &[l1, l2], None);
    let tmp2 = tempfile::tempdir().unwrap();
    let store2 = ImageStore::open(tmp2.path()).unwrap();
    let mut lines = Vec::new();
    store2
        .load(&mut archive_gz.as_slice(), &mut |l| lines.push(l))
        .unwrap();
    assert_eq!(lines, vec![format!("Loaded image ID: {id}")]);
}

fn xattr(path: &str, name: &str) -> Option<Vec<u8>> {
    use std::ffi::CString;
    let p = CString::new(path).unwrap();
    let n = CString::new(name).unwrap();
    let mut buf = vec![0u8; 64];
    // SAFETY: valid NUL-terminated strings and a buffer of the given length.
    let len =
        unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if len < 0 {
        return None;
    }
    buf.truncate(len as usize);
    Some(buf)
}

#[test]
fn unpack_preserves_metadata() {
    if !need_root() {
        return;
    }
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o750);
    h.set_uid(1000);
    h.set_gid(1001);
    h.set_mtime(1_600_000_000);
    h.set_size(0);
    b.append_data(&mut h, "home/user/", std::io::empty())
        .unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o4755);
    h.set_uid(1000);
    h.set_gid(1001);
    h.set_mtime(1_600_000_001);
    h.set_size(2);
    b.append_data(&mut h, "home/user/suid", &b"ok"[..]).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Char);
    h.set_mode(0o666);
    h.set_device_major(1).unwrap();
    h.set_device_minor(3).unwrap();
    h.set_size(0);
    h.set_mtime(1_600_000_002);
    b.append_data(&mut h, "dev/null", std::io::empty()).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_uid(7);
    h.set_gid(7);
    h.set_size(0);
    h.set_mtime(1_600_000_003);
    b.append_link(&mut h, "home/link", "/etc/passwd").unwrap();
    let layer = b.into_inner().unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path()).unwrap();
    let img = store.import(&mut layer.as_slice(), None, "", &[]).unwrap();
    let inspect = store.inspect(&img);
    let upper = std::path::PathBuf::from(&inspect.graph_driver.data.unwrap()["UpperDir"]);
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let d = fs::symlink_metadata(upper.join("home/user")).unwrap();
    assert_eq!((d.mode() & 0o7777, d.uid(), d.gid()), (0o750, 1000, 1001));
    assert_eq!(d.mtime(), 1_600_000_000);
    let f = fs::symlink_metadata(upper.join("home/user/suid")).unwrap();
    assert_eq!((f.mode() & 0o7777, f.uid(), f.gid()), (0o4755, 1000, 1001));
    assert_eq!(f.mtime(), 1_600_000_001);
    let n = fs::symlink_metadata(upper.join("dev/null")).unwrap();
    assert!(n.file_type().is_char_device());
    assert_eq!(n.rdev(), nix::sys::stat::makedev(1, 3));
    assert_eq!(n.mode() & 0o7777, 0o666);
    let l = fs::symlink_metadata(upper.join("home/link")).unwrap();
    assert_eq!((l.uid(), l.mtime()), (7, 1_600_000_003));
    assert_eq!(
        fs::read_link(upper.join("home/link")).unwrap().to_str(),
        Some("/etc/passwd")
    );
}

#[test]
fn load_plain_oci_layout() {
    if !need_root() {
        return;
    }
    let a_dir = tempfile::tempdir().unwrap();
    let a = ImageStore::open(a_dir.path()).unwrap();
    let img = import_busybox(&a, Some("localhost:5000/bb:oci"));
    let mut archive = Vec::new();
    a.save(&["localhost:5000/bb:oci".into()], &mut archive)
        .unwrap();
    // Keep only the OCI layout: drop manifest.json and repositories.
    let mut b = tar::Builder::new(Vec::new());
    let mut ar = tar::Archive::new(archive.as_slice());
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().display().to_string();
        if name == "manifest.json" || name == "repositories" {
            continue;
        }
        let mut h = e.header().clone();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        b.append_data(&mut h, &name, data.as_slice()).unwrap();
    }
    let oci = b.into_inner().unwrap();
    let b_dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(b_dir.path()).unwrap();
    let mut lines = Vec::new();
    store
        .load(&mut oci.as_slice(), &mut |l| lines.push(l))
        .unwrap();
    assert_eq!(
        lines,
        vec!["Loaded image: localhost:5000/bb:oci".to_string()]
    );
    assert_eq!(store.get("localhost:5000/bb:oci").unwrap().id, img.id);
}

#[test]
fn open_removes_what_a_crash_left() {
    if !need_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path()).unwrap();
    let img = import_busybox(&store, Some("busybox"));
    store.create_rw_layer("c1", Some("busybox")).unwrap();
    drop(store);
    let before = tree(tmp.path());
    // What an interrupted import leaves: a spool file, a half-unpacked
    // dir, a renamed layer dir without a row, a blob without a row, a
    // dangling short link.
    let root = tmp.path();
    fs::write(root.join("image/tmp/layer-0000"), b"partial").unwrap();
    fs::create_dir_all(root.join("overlay2/tmp-abc/diff/etc")).unwrap();
    fs::create_dir_all(root.join(format!("overlay2/{}/diff", "f".repeat(64)))).unwrap();
    fs::write(
        root.join(format!("image/blobs/sha256/{}", "e".repeat(64))),
        b"x",
    )
    .unwrap();
    fs::write(root.join("image/blobs/sha256/.tmp-x-1234"), b"x").unwrap();
    std::os::unix::fs::symlink("../nothing/diff", root.join("overlay2/l/DANGLING")).unwrap();
    let store = ImageStore::open(root).unwrap();
    assert_eq!(tree(root), before);
    assert_eq!(store.get("busybox").unwrap().id, img.id);
    assert!(store.rw_layer("c1").is_ok());
    store.remove_rw_layer("c1").unwrap();
}

#[test]
fn staged_pull_layers_are_placed_in_order_or_leave_nothing() {
    if !need_root() {
        return;
    }
    use std::io::Write as _;
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path()).unwrap();
    let l1 = raw_tar(&[dir("a"), file("a/one", b"first layer")]);
    let l2 = raw_tar(&[file("a/two", &[7u8; 300_000])]);
    let gz = |t: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(t).unwrap();
        e.finish().unwrap()
    };
    let diff = |t: &[u8]| format!("sha256:{}", hex::encode(Sha256::digest(t)));
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff(&l1), diff(&l2)]},
    }))
    .unwrap();
    let leftovers = || {
        fs::read_dir(tmp.path().join("overlay2"))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("tmp-"))
            .count()
            + fs::read_dir(tmp.path().join("image/tmp")).unwrap().count()
    };

    // Staged out of order (as parallel downloads finish), gzip and plain.
    let s2 = store.stage_layer(&mut l2.as_slice()).unwrap();
    let s1 = store.stage_layer(&mut gz(&l1).as_slice()).unwrap();
    assert_eq!(
        (s1.diff_id.clone(), s2.diff_id.clone()),
        (diff(&l1), diff(&l2))
    );
    // A layer that does not match the config: refused, nothing left.
    let wrong = store.stage_layer(&mut gz(&l1).as_slice()).unwrap();
    let s1b = store.stage_layer(&mut l1.as_slice()).unwrap();
    let err = store
        .add_pulled_staged(
            &config,
            vec![Some(s1b), Some(wrong)],
            &[r("pulled:bad")],
            &mut |_| {},
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{}", err.message);
    assert!(store.get("pulled:bad").is_err());

    let mut placed = Vec::new();
    let img = store
        .add_pulled_staged(
            &config,
            vec![Some(s1), Some(s2)],
            &[r("pulled:ok")],
            &mut |i| placed.push(i),
        )
        .unwrap();
    assert_eq!(placed, vec![0, 1]);
    assert_eq!(img.diff_ids, vec![diff(&l1), diff(&l2)]);
    assert_eq!(leftovers(), 0, "no staged file or dir left behind");
    // The layer tars are kept as blobs, byte for byte.
    assert_eq!(fs::read(store.layer_tar(&diff(&l2))).unwrap(), l2);
    // Unpacked where the overlay mounts will find them.
    let found: Vec<_> = fs::read_dir(tmp.path().join("overlay2"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("diff/a/two").is_file())
        .collect();
    assert_eq!(found.len(), 1);
    assert_eq!(
        fs::read(found[0].path().join("diff/a/two")).unwrap(),
        vec![7u8; 300_000]
    );
    assert!(
        found[0].path().join("lower").is_file(),
        "second layer has a lower"
    );
}
