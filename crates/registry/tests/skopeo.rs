//! skopeo (Debian's, containers/image) copying OCI layouts and docker
//! archives into and out of berth-registry: OCI and docker schema 2
//! manifests, a two-platform OCI index built here as an OCI layout,
//! inspect, list-tags and delete.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::{json, Value};

fn skopeo(args: &[&str]) -> (bool, String, String) {
    run(Command::new("skopeo").arg("--insecure-policy").args(args))
}

fn ok_skopeo(args: &[&str]) -> String {
    let (ok, out, err) = skopeo(args);
    assert!(ok, "skopeo {args:?}: {err}");
    out
}

fn write_blob(layout: &Path, data: &[u8]) -> (String, usize) {
    let d = sha256(data);
    let p = layout
        .join("blobs/sha256")
        .join(d.trim_start_matches("sha256:"));
    std::fs::write(p, data).expect("blob");
    (d, data.len())
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

/// A one-file tar, for a second platform's small layer.
fn small_tar(name: &str, content: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(1_704_067_200);
    h.set_cksum();
    b.append_data(&mut h, name, content).expect("tar");
    b.into_inner().expect("tar")
}

/// An image in the layout: (manifest digest, size, manifest bytes).
fn write_image(layout: &Path, arch: &str, layer_tar: &[u8]) -> (String, usize, Vec<u8>) {
    let gz = gzip(layer_tar);
    let (ld, ln) = write_blob(layout, &gz);
    let config = serde_json::to_vec(&json!({
        "architecture": arch, "os": "linux",
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [sha256(layer_tar)]}
    }))
    .expect("json");
    let (cd, cn) = write_blob(layout, &config);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cn},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": ln}]
    }))
    .expect("json");
    let (md, mn) = write_blob(layout, &manifest);
    (md, mn, manifest)
}

/// An OCI layout with `single` (busybox, amd64) and `multi` (an index of
/// amd64 busybox and a small arm64 image). Answers the index's bytes.
fn build_layout(layout: &Path) -> Vec<u8> {
    std::fs::create_dir_all(layout.join("blobs/sha256")).expect("layout");
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .expect("oci-layout");
    let busybox = berth_testkit::busybox_rootfs_tar().expect("busybox");
    let (ad, an, _) = write_image(layout, "amd64", &busybox);
    let (bd, bn, _) = write_image(layout, "arm64", &small_tar("hello", b"arm64 says hi\n"));
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": ad, "size": an, "platform": {"architecture": "amd64", "os": "linux"}},
            {"mediaType": OCI_MANIFEST, "digest": bd, "size": bn, "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}}
        ]
    }))
    .expect("json");
    let (id, inn) = write_blob(layout, &index);
    let top = json!({
        "schemaVersion": 2,
        "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": ad, "size": an, "annotations": {"org.opencontainers.image.ref.name": "single"}},
            {"mediaType": OCI_INDEX, "digest": id, "size": inn, "annotations": {"org.opencontainers.image.ref.name": "multi"}}
        ]
    });
    std::fs::write(layout.join("index.json"), top.to_string()).expect("index.json");
    index
}

fn content_type(s: &Server, repo: &str, reference: &str) -> String {
    let accept = "Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";
    let r = curl(
        "GET",
        &s.url(&format!("/v2/{repo}/manifests/{reference}")),
        &["-H", accept],
        None,
    );
    assert_eq!(r.status, 200, "{repo}:{reference}: {}", r.text());
    r.header("Content-Type").unwrap_or("").to_string()
}

#[test]
fn skopeo_copies_layouts_and_archives_in_and_out() {
    let dir = Scratch::new("skopeo");
    let s = Server::start(&dir.0, "");
    let host = s.addr();
    let layout = dir.path("layout");
    let index = build_layout(&layout);
    let lay = |r: &str| format!("oci:{}:{r}", layout.display());
    let reg = |r: &str| format!("docker://{host}/{r}");
    let no_tls = "--dest-tls-verify=false";

    // In: an OCI image, the same as docker schema 2, a docker archive, an index.
    ok_skopeo(&["copy", no_tls, &lay("single"), &reg("sk/oci:1")]);
    assert_eq!(content_type(&s, "sk/oci", "1"), OCI_MANIFEST);
    ok_skopeo(&[
        "copy",
        no_tls,
        "--format",
        "v2s2",
        &lay("single"),
        &reg("sk/docker:1"),
    ]);
    assert_eq!(
        content_type(&s, "sk/docker", "1"),
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    let archive = dir.path("in.tar");
    ok_skopeo(&[
        "copy",
        &lay("single"),
        &format!("docker-archive:{}:sk/arch:1", archive.display()),
    ]);
    ok_skopeo(&[
        "copy",
        no_tls,
        &format!("docker-archive:{}", archive.display()),
        &reg("sk/arch:1"),
    ]);
    assert_eq!(
        content_type(&s, "sk/arch", "1"),
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    ok_skopeo(&["copy", no_tls, "--all", &lay("multi"), &reg("sk/multi:1")]);
    assert_eq!(content_type(&s, "sk/multi", "1"), OCI_INDEX);

    // Inspect: the index unchanged, each platform, list-tags.
    let raw = ok_skopeo(&["inspect", "--tls-verify=false", "--raw", &reg("sk/multi:1")]);
    assert_eq!(
        raw.trim().as_bytes(),
        index.as_slice(),
        "the index is stored byte for byte"
    );
    for arch in ["amd64", "arm64"] {
        let out = ok_skopeo(&[
            "--override-arch",
            arch,
            "inspect",
            "--tls-verify=false",
            &reg("sk/multi:1"),
        ]);
        let v: Value = serde_json::from_str(&out).expect("inspect json");
        assert_eq!(v["Architecture"], json!(arch), "{out}");
    }
    let out = ok_skopeo(&["inspect", "--tls-verify=false", &reg("sk/oci:1")]);
    let v: Value = serde_json::from_str(&out).expect("inspect json");
    assert_eq!(v["Architecture"], json!("amd64"));
    assert_eq!(v["RepoTags"], json!(["1"]));
    let digest = v["Digest"].as_str().unwrap_or("").to_string();
    assert!(digest.starts_with("sha256:"));
    // Registry to registry (a cross-repository mount or a copy), then tags.
    ok_skopeo(&[
        "copy",
        "--src-tls-verify=false",
        no_tls,
        &reg("sk/oci:1"),
        &reg("sk/oci:2"),
    ]);
    ok_skopeo(&[
        "copy",
        "--src-tls-verify=false",
        no_tls,
        &reg("sk/oci:1"),
        &reg("sk/copy:1"),
    ]);
    let out = ok_skopeo(&["list-tags", "--tls-verify=false", &reg("sk/oci")]);
    let v: Value = serde_json::from_str(&out).expect("list-tags json");
    assert_eq!(v["Tags"], json!(["1", "2"]), "{out}");

    // Out: to an OCI layout, a docker archive, the whole index.
    let out_layout = dir.path("out");
    ok_skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &reg("sk/oci:1"),
        &format!("oci:{}:x", out_layout.display()),
    ]);
    let idx: Value =
        serde_json::from_slice(&std::fs::read(out_layout.join("index.json")).expect("index.json"))
            .expect("json");
    assert_eq!(
        idx["manifests"][0]["digest"],
        json!(digest),
        "the same manifest came back"
    );
    let out_archive = dir.path("out.tar");
    ok_skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &reg("sk/docker:1"),
        &format!("docker-archive:{}:sk/docker:1", out_archive.display()),
    ]);
    let mut names = vec![];
    let mut a = tar::Archive::new(std::fs::File::open(&out_archive).expect("archive"));
    for e in a.entries().expect("entries") {
        names.push(
            e.expect("entry")
                .path()
                .expect("path")
                .display()
                .to_string(),
        );
    }
    assert!(names.iter().any(|n| n == "manifest.json"), "{names:?}");
    let out_multi = dir.path("out-multi");
    ok_skopeo(&[
        "copy",
        "--all",
        "--src-tls-verify=false",
        &reg("sk/multi:1"),
        &format!("oci:{}:m", out_multi.display()),
    ]);
    let idx: Value =
        serde_json::from_slice(&std::fs::read(out_multi.join("index.json")).expect("index.json"))
            .expect("json");
    assert_eq!(idx["manifests"][0]["digest"], json!(sha256(&index)));

    // Delete: the manifest and its tags go.
    ok_skopeo(&["delete", "--tls-verify=false", &reg("sk/oci:1")]);
    let (ok, _, _) = skopeo(&["inspect", "--tls-verify=false", &reg("sk/oci:1")]);
    assert!(!ok, "deleted");
    let (ok, _, _) = skopeo(&["inspect", "--tls-verify=false", &reg("sk/oci:2")]);
    assert!(!ok, "tag 2 named the same manifest: gone too");
    let out = ok_skopeo(&["inspect", "--tls-verify=false", &reg("sk/copy:1")]);
    assert!(out.contains(&digest), "other repositories keep theirs");
}
