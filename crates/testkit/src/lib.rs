//! Dev-only helpers shared by the crates' tests: image fixtures built from
//! the host, so tests need no network and no registry.

pub mod hostile_tar;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context};

/// Where the host's static busybox lives (Debian `busybox-static`).
pub const HOST_BUSYBOX: &str = "/bin/busybox";

/// The fixed mtime of every fixture entry (2024-01-01T00:00:00Z), so the
/// tar's bytes, and the image id made from it, never change between runs.
pub const FIXTURE_MTIME: u64 = 1_704_067_200;

enum Node {
    Dir(u32),
    File(Vec<u8>, u32),
    Symlink(String),
}

/// An uncompressed tar of a minimal busybox rootfs: `bin/busybox` (the
/// host's static binary), one symlink to `/bin/busybox` per applet, the
/// usual top-level directories and an `etc/passwd`/`etc/group` with root
/// and nobody. Entries are sorted and have fixed owners and mtimes, so the
/// bytes (and therefore the layer digest) are the same on every call.
pub fn busybox_rootfs_tar() -> anyhow::Result<Vec<u8>> {
    let busybox = std::fs::read(HOST_BUSYBOX)
        .with_context(|| format!("reading {HOST_BUSYBOX} (install busybox-static)"))?;
    let out = std::process::Command::new(HOST_BUSYBOX)
        .arg("--list-full")
        .output()
        .with_context(|| format!("running {HOST_BUSYBOX} --list-full"))?;
    if !out.status.success() {
        bail!("{HOST_BUSYBOX} --list-full failed: {}", out.status);
    }
    let applets = String::from_utf8(out.stdout).context("busybox applet list")?;

    let mut nodes: BTreeMap<String, Node> = BTreeMap::new();
    for d in [
        "bin", "dev", "etc", "home", "proc", "root", "sbin", "sys", "usr", "usr/bin", "usr/sbin",
        "var",
    ] {
        nodes.insert(d.to_string(), Node::Dir(0o755));
    }
    nodes.insert("root".into(), Node::Dir(0o700));
    nodes.insert("tmp".into(), Node::Dir(0o1777));
    nodes.insert("bin/busybox".into(), Node::File(busybox, 0o755));
    nodes.insert(
        "etc/passwd".into(),
        Node::File(
            b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
                .to_vec(),
            0o644,
        ),
    );
    nodes.insert(
        "etc/group".into(),
        Node::File(b"root:x:0:\nnobody:x:65534:\n".to_vec(), 0o644),
    );
    for line in applets.lines() {
        let path = line.trim().trim_start_matches('/');
        if path.is_empty() || path.contains("..") || nodes.contains_key(path) {
            continue;
        }
        // Any parent the list names that we do not have yet.
        let mut parent = Path::new(path).parent();
        while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
            nodes
                .entry(p.to_string_lossy().into_owned())
                .or_insert(Node::Dir(0o755));
            parent = p.parent();
        }
        nodes.insert(path.to_string(), Node::Symlink("/bin/busybox".into()));
    }

    let mut builder = tar::Builder::new(Vec::new());
    for (path, node) in &nodes {
        let mut h = tar::Header::new_gnu();
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(FIXTURE_MTIME);
        match node {
            Node::Dir(mode) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(*mode);
                h.set_size(0);
                builder.append_data(&mut h, format!("{path}/"), std::io::empty())?;
            }
            Node::File(data, mode) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(*mode);
                h.set_size(data.len() as u64);
                builder.append_data(&mut h, path, data.as_slice())?;
            }
            Node::Symlink(target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_size(0);
                builder.append_link(&mut h, path, target)?;
            }
        }
    }
    Ok(builder.into_inner()?)
}

/// Writes [`busybox_rootfs_tar`] to `path`.
pub fn write_busybox_tar(path: &Path) -> anyhow::Result<()> {
    let data = busybox_rootfs_tar()?;
    std::fs::write(path, data).with_context(|| format!("writing {}", path.display()))
}

/// True when the process runs as root (privileged tests skip loudly when
/// not).
pub fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busybox_tar_is_deterministic_and_complete() {
        let a = busybox_rootfs_tar().unwrap();
        let b = busybox_rootfs_tar().unwrap();
        assert_eq!(a, b);
        let mut names = Vec::new();
        let mut ar = tar::Archive::new(a.as_slice());
        for e in ar.entries().unwrap() {
            let e = e.unwrap();
            let p = e.path().unwrap().to_string_lossy().into_owned();
            if p == "bin/sh" {
                assert_eq!(e.header().entry_type(), tar::EntryType::Symlink);
                assert_eq!(
                    e.link_name().unwrap().unwrap().to_str().unwrap(),
                    "/bin/busybox"
                );
            }
            if p == "tmp/" {
                assert_eq!(e.header().mode().unwrap(), 0o1777);
            }
            names.push(p);
        }
        for want in [
            "bin/busybox",
            "bin/sh",
            "etc/passwd",
            "etc/group",
            "tmp/",
            "usr/bin/",
        ] {
            assert!(names.iter().any(|n| n == want), "missing {want}");
        }
    }
}
