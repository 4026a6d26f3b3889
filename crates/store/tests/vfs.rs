//! The vfs storage driver: containers' root filesystems as plain copies of
//! the image's layers, whiteouts applied, nothing mounted (root).

mod common;

use std::fs;

use berth_store::ImageStore;
use common::*;

#[test]
fn vfs_rootfs_is_a_copy_with_whiteouts_applied_and_removed_whole() {
    if !need_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open_with_driver(tmp.path(), Some("vfs")).unwrap();
    assert_eq!(store.driver_name(), "vfs");
    let base = raw_tar(&[
        dir("etc/"),
        file("etc/keep", b"keep\n"),
        file("etc/gone", b"gone\n"),
        dir("opq/"),
        file("opq/old", b"old\n"),
        file("a", b"v1\n"),
    ]);
    let top = raw_tar(&[
        dir("etc/"),
        file("etc/.wh.gone", b""),
        dir("opq/"),
        file("opq/.wh..wh..opq", b""),
        file("opq/new", b"new\n"),
        file("a", b"v2\n"),
        symlink("l", "a"),
    ]);
    let (archive, id) = docker_archive(&[base, top], Some("bvol/vfs:latest"));
    store.load(&mut archive.as_slice(), &mut |_| {}).unwrap();

    let layer = store.create_rw_layer("bvolvfs1", Some(&id)).unwrap();
    let root = layer.merged.clone();
    assert_eq!(root, tmp.path().join("vfs/dir/bvolvfs1"));
    layer.mount().unwrap();
    assert!(
        !fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .contains(&tmp.path().display().to_string()),
        "vfs mounted something"
    );
    assert_eq!(fs::read_to_string(root.join("etc/keep")).unwrap(), "keep\n");
    assert!(!root.join("etc/gone").exists());
    assert!(!root.join("opq/old").exists());
    assert_eq!(fs::read_to_string(root.join("opq/new")).unwrap(), "new\n");
    assert_eq!(fs::read_to_string(root.join("a")).unwrap(), "v2\n");
    assert_eq!(fs::read_link(root.join("l")).unwrap().to_str(), Some("a"));
    assert!(!root.join("opq/.wh..wh..opq").exists());

    // The container's writes stay in its copy and count as its size.
    assert_eq!(layer.size_rw().unwrap(), 0);
    fs::write(root.join("written"), vec![7u8; 1000]).unwrap();
    assert!(layer.size_rw().unwrap() >= 1000);
    // A second container gets its own, untouched copy.
    let other = store.create_rw_layer("bvolvfs2", Some(&id)).unwrap();
    assert!(!other.merged.join("written").exists());

    store.remove_rw_layer("bvolvfs1").unwrap();
    assert!(!root.exists());
    store.remove_rw_layer("bvolvfs2").unwrap();
    assert!(store.create_rw_layer("../x", Some(&id)).is_err());
    drop(store);

    // The same data root under overlay2 keeps the images.
    let store = ImageStore::open_with_driver(tmp.path(), Some("overlay2")).unwrap();
    assert_eq!(store.get("bvol/vfs:latest").unwrap().id, id);
    assert!(ImageStore::open_with_driver(tmp.path(), Some("aufs")).is_err());
}
