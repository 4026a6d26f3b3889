//! Shared helpers for the store's integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use berth_store::RwLayer;

/// Skips (loudly) when not root: these tests mount overlayfs and chown.
pub fn need_root() -> bool {
    if berth_testkit::is_root() {
        return true;
    }
    eprintln!("SKIPPED: the store's integration tests need root");
    false
}

pub fn busybox() -> Vec<u8> {
    berth_testkit::busybox_rootfs_tar().expect("busybox fixture")
}

/// Unmounts on drop, so a failing assertion leaves no mount behind.
pub struct MountGuard(pub RwLayer);

impl Drop for MountGuard {
    fn drop(&mut self) {
        let _ = self.0.unmount();
    }
}

/// Every file and dir under `root` (relative), sorted: to compare a data
/// root before and after a failed operation.
pub fn tree(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            // SQLite's own files change on every open.
            if rel.starts_with("image/metadata.db")
                || rel.to_string_lossy().starts_with("image/metadata.db")
            {
                continue;
            }
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            }
            out.push(rel);
        }
    }
    out.sort();
    out
}

pub struct Entry<'a> {
    pub name: &'a str,
    pub kind: tar::EntryType,
    pub data: &'a [u8],
    pub link: &'a str,
}

pub fn file<'a>(name: &'a str, data: &'a [u8]) -> Entry<'a> {
    Entry {
        name,
        kind: tar::EntryType::Regular,
        data,
        link: "",
    }
}

pub fn dir(name: &str) -> Entry<'_> {
    Entry {
        name,
        kind: tar::EntryType::Directory,
        data: b"",
        link: "",
    }
}

pub fn symlink<'a>(name: &'a str, target: &'a str) -> Entry<'a> {
    Entry {
        name,
        kind: tar::EntryType::Symlink,
        data: b"",
        link: target,
    }
}

pub fn hardlink<'a>(name: &'a str, target: &'a str) -> Entry<'a> {
    Entry {
        name,
        kind: tar::EntryType::Link,
        data: b"",
        link: target,
    }
}

/// A tar written header by header, so hostile names (`../x`, `/abs`)
/// go in as they are (the tar crate's builder refuses them).
pub fn raw_tar(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(e.kind);
        h.set_mode(if e.kind == tar::EntryType::Directory {
            0o755
        } else {
            0o644
        });
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        h.set_size(e.data.len() as u64);
        let name = e.name.as_bytes();
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        let link = e.link.as_bytes();
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
        h.set_cksum();
        b.append(&h, e.data).unwrap();
    }
    b.into_inner().unwrap()
}

/// A classic docker-archive (`manifest.json` + `<id>/layer.tar`) of one
/// image made of `layers`, tagged `tag`.
pub fn docker_archive(layers: &[Vec<u8>], tag: Option<&str>) -> (Vec<u8>, String) {
    docker_archive_with(layers, layers, tag)
}

/// As [`docker_archive`], with the layers stored as `layers` (gzip'd, say)
/// and their diff ids taken from `uncompressed`.
pub fn docker_archive_with(
    layers: &[Vec<u8>],
    uncompressed: &[Vec<u8>],
    tag: Option<&str>,
) -> (Vec<u8>, String) {
    use sha2::{Digest, Sha256};
    let diff_ids: Vec<String> = uncompressed
        .iter()
        .map(|l| format!("sha256:{}", hex::encode(Sha256::digest(l))))
        .collect();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"]},
        "created": "2024-01-01T00:00:00Z",
        "history": layers.iter().map(|_| serde_json::json!({"created": "2024-01-01T00:00:00Z", "created_by": "test"})).collect::<Vec<_>>(),
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap();
    let config_hex = hex::encode(Sha256::digest(&config));
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, data).unwrap();
    };
    let mut layer_names = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let name = format!("layer{i}/layer.tar");
        add(&name, l);
        layer_names.push(name);
    }
    add(&format!("{config_hex}.json"), &config);
    let manifest = serde_json::json!([{
        "Config": format!("{config_hex}.json"),
        "RepoTags": tag.map(|t| vec![t]),
        "Layers": layer_names,
    }]);
    add("manifest.json", &serde_json::to_vec(&manifest).unwrap());
    (b.into_inner().unwrap(), format!("sha256:{config_hex}"))
}
