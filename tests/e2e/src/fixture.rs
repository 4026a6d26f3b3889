//! Archives the tests feed to the daemon: the busybox rootfs, and hostile tars.
//!
//! `busybox_tar` is the project's busybox image: the host's static
//! /bin/busybox (Debian `busybox-static`), its applet links, /etc/passwd and
//! /etc/group, deterministic, so every test runs offline.

use std::sync::OnceLock;

use anyhow::{bail, Context, Result};

/// The busybox rootfs as an uncompressed tar, built once per test binary.
pub fn busybox_tar() -> &'static [u8] {
    static TAR: OnceLock<Vec<u8>> = OnceLock::new();
    TAR.get_or_init(|| build_busybox_tar().expect("building the busybox rootfs tar"))
}

fn build_busybox_tar() -> Result<Vec<u8>> {
    let bb =
        std::fs::read("/bin/busybox").context("reading /bin/busybox (install busybox-static)")?;
    let list = std::process::Command::new("/bin/busybox")
        .arg("--list")
        .output()
        .context("busybox --list")?;
    if !list.status.success() {
        bail!("busybox --list failed");
    }
    let mut applets: Vec<String> = String::from_utf8_lossy(&list.stdout)
        .lines()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && s != "busybox" && !s.contains('/'))
        .collect();
    applets.sort();
    applets.dedup();
    let mut b = TarBuilder::default();
    for d in [
        "bin", "dev", "etc", "home", "proc", "root", "sys", "usr", "var",
    ] {
        b.dir(d, 0o755);
    }
    b.dir("tmp", 0o1777);
    b.file("bin/busybox", &bb, 0o755);
    for a in &applets {
        b.symlink(&format!("bin/{a}"), "busybox");
    }
    b.file(
        "etc/passwd",
        b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
        0o644,
    );
    b.file("etc/group", b"root:x:0:\nnogroup:x:65534:\n", 0o644);
    Ok(b.finish())
}

/// Writes tar entries byte by byte, so tests can also write the names a
/// careful archiver refuses (`..`, absolute paths).
#[derive(Default)]
pub struct TarBuilder {
    out: Vec<u8>,
}

impl TarBuilder {
    fn header(&mut self, name: &str, size: u64, mode: u32, typ: u8, link: &str) {
        let mut h = [0u8; 512];
        // GNU long name for names over 100 bytes.
        if name.len() >= 100 {
            let data = format!("{name}\0");
            self.header("././@LongLink", data.len() as u64, 0o644, b'L', "");
            self.pad_write(data.as_bytes());
        }
        if link.len() >= 100 {
            let data = format!("{link}\0");
            self.header("././@LongLink", data.len() as u64, 0o644, b'K', "");
            self.pad_write(data.as_bytes());
        }
        let n = name.as_bytes();
        h[..n.len().min(100)].copy_from_slice(&n[..n.len().min(100)]);
        put_octal(&mut h[100..108], mode as u64);
        put_octal(&mut h[108..116], 0);
        put_octal(&mut h[116..124], 0);
        put_octal(&mut h[124..136], size);
        put_octal(&mut h[136..148], 0);
        h[156] = typ;
        let l = link.as_bytes();
        h[157..157 + l.len().min(100)].copy_from_slice(&l[..l.len().min(100)]);
        h[257..263].copy_from_slice(b"ustar ");
        h[263..265].copy_from_slice(b" \0");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| b as u32).sum();
        let cks = format!("{sum:06o}\0 ");
        h[148..156].copy_from_slice(cks.as_bytes());
        self.out.extend_from_slice(&h);
    }

    fn pad_write(&mut self, data: &[u8]) {
        self.out.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.out.extend(std::iter::repeat_n(0u8, pad));
    }

    pub fn file(&mut self, name: &str, data: &[u8], mode: u32) -> &mut Self {
        self.header(name, data.len() as u64, mode, b'0', "");
        self.pad_write(data);
        self
    }

    pub fn dir(&mut self, name: &str, mode: u32) -> &mut Self {
        let n = if name.ends_with('/') {
            name.to_string()
        } else {
            format!("{name}/")
        };
        self.header(&n, 0, mode, b'5', "");
        self
    }

    pub fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.header(name, 0, 0o777, b'2', target);
        self
    }

    pub fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.header(name, 0, 0o644, b'1', target);
        self
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.out.extend(std::iter::repeat_n(0u8, 1024));
        self.out
    }
}

fn put_octal(field: &mut [u8], v: u64) {
    let w = field.len() - 1;
    let s = format!("{v:0w$o}");
    field[..w].copy_from_slice(s.as_bytes());
    field[w] = 0;
}

/// sha256 of `data` as lowercase hex, via the host's sha256sum (keeps the
/// harness free of a hashing dependency).
pub fn sha256_hex(data: &[u8]) -> String {
    let out = crate::cmd::run(
        {
            let mut c = std::process::Command::new("sha256sum");
            c.arg("-");
            c
        },
        Some(data.to_vec()),
        std::time::Duration::from_secs(30),
    );
    out.ok();
    out.stdout
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// One tar entry: (name, type, link name, content).
pub type TarEntry = (String, tar::EntryType, String, Vec<u8>);

/// Reads a tar archive into its entries.
pub fn tar_entries(data: &[u8]) -> Result<Vec<TarEntry>> {
    use std::io::Read;
    let mut a = tar::Archive::new(data);
    let mut v = Vec::new();
    for e in a.entries()? {
        let mut e = e?;
        let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let link = e
            .link_name_bytes()
            .map(|l| String::from_utf8_lossy(&l).into_owned())
            .unwrap_or_default();
        let typ = e.header().entry_type();
        let mut buf = Vec::new();
        e.read_to_end(&mut buf)?;
        v.push((name, typ, link, buf));
    }
    Ok(v)
}
