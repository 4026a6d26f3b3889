//! Images made of an index: the platform a pull picks, and
//! `GET /distribution/NAME/json` for an index and a single manifest,
//! against CNCF distribution on loopback (where the daemon's loopback is,
//! as in `distribution.rs`). Everything the test makes is under the
//! daemon's tmp dir (prefix `bpl`).

use std::path::Path;

use berth_e2e::registry::{free_port, in_daemon_net, ok, plain_registry};
use berth_e2e::Daemon;

fn sha256_hex(data: &[u8]) -> String {
    berth_e2e::fixture::sha256_hex(data)
}

/// Uploads a blob to a plain-HTTP registry with curl (POST, then PUT).
fn curl_put_blob(d: &Daemon, base: &str, repo: &str, data: &[u8], scratch: &Path) -> String {
    let digest = format!("sha256:{}", sha256_hex(data));
    let file = scratch.join(digest.trim_start_matches("sha256:"));
    std::fs::write(&file, data).expect("blob file");
    let headers = ok(in_daemon_net(d, "curl")
        .args(["-sf", "-D", "-", "-o", "/dev/null", "-X", "POST"])
        .arg(format!("{base}/v2/{repo}/blobs/uploads/")));
    let loc = headers
        .lines()
        .find_map(|l| {
            l.strip_prefix("Location: ")
                .or_else(|| l.strip_prefix("location: "))
        })
        .expect("upload location")
        .trim()
        .to_string();
    let url = if loc.starts_with("http") {
        loc
    } else {
        format!("{base}{loc}")
    };
    let sep = if url.contains('?') { '&' } else { '?' };
    ok(in_daemon_net(d, "curl")
        .args([
            "-sf",
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/octet-stream",
        ])
        .arg("--data-binary")
        .arg(format!("@{}", file.display()))
        .arg(format!("{url}{sep}digest={digest}")));
    digest
}

fn curl_put_manifest(
    d: &Daemon,
    base: &str,
    repo: &str,
    reference: &str,
    media: &str,
    body: &[u8],
    scratch: &Path,
) {
    let file = scratch.join(format!("manifest-{}", sha256_hex(body)));
    std::fs::write(&file, body).expect("manifest file");
    ok(in_daemon_net(d, "curl")
        .args(["-sf", "-X", "PUT", "-H"])
        .arg(format!("Content-Type: {media}"))
        .arg("--data-binary")
        .arg(format!("@{}", file.display()))
        .arg(format!("{base}/v2/{repo}/manifests/{reference}")));
}

/// A two-platform index (linux/amd64 and linux/arm64, sharing busybox's
/// layer): the host's platform by default, `--platform` picks the other;
/// a platform the index lacks is dockerd's "no matching manifest".
#[test]
fn platform_pick_from_an_index() {
    let d = Daemon::start();
    let port = free_port();
    let (_reg, dir) = plain_registry(&d, "/usr/bin/docker-registry", "bpl-index", port);
    let host = format!("127.0.0.1:{port}");
    let base = format!("http://{host}");
    let repo = "bpl/multi";
    // The layer: busybox's, gzip-compressed by a push of it.
    let single = format!("{host}/bpl/single:latest");
    d.docker(&["tag", "busybox", &single]).ok();
    d.docker(&["push", &single]).ok();
    let m: serde_json::Value = serde_json::from_str(&ok(in_daemon_net(&d, "curl")
        .args([
            "-sf",
            "-H",
            "Accept: application/vnd.docker.distribution.manifest.v2+json",
        ])
        .arg(format!("{base}/v2/bpl/single/manifests/latest"))))
    .expect("manifest");
    let layer = m["layers"][0].clone();
    let raw = ok(in_daemon_net(&d, "curl").args(["-sf"]).arg(format!(
        "{base}/v2/bpl/single/blobs/{}",
        m["config"]["digest"].as_str().unwrap_or("")
    )));
    let cfg: serde_json::Value = serde_json::from_str(&raw).expect("config");
    let layer_bytes = in_daemon_net(&d, "curl")
        .args(["-sf"])
        .arg(format!(
            "{base}/v2/bpl/single/blobs/{}",
            layer["digest"].as_str().unwrap_or("")
        ))
        .output()
        .expect("curl")
        .stdout;
    curl_put_blob(&d, &base, repo, &layer_bytes, &dir);
    let mut entries = Vec::new();
    for arch in ["amd64", "arm64"] {
        let mut c = cfg.clone();
        c["architecture"] = serde_json::json!(arch);
        c["created"] = serde_json::json!("2026-01-01T00:00:00Z");
        let c = serde_json::to_vec(&c).expect("json");
        let cd = curl_put_blob(&d, &base, repo, &c, &dir);
        let man = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": c.len(), "digest": cd},
            "layers": [layer.clone()],
        });
        let body = serde_json::to_vec(&man).expect("json");
        let md = format!("sha256:{}", sha256_hex(&body));
        curl_put_manifest(
            &d,
            &base,
            repo,
            &md,
            "application/vnd.docker.distribution.manifest.v2+json",
            &body,
            &dir,
        );
        entries.push(serde_json::json!({
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "size": body.len(), "digest": md,
            "platform": {"architecture": arch, "os": "linux"},
        }));
    }
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
        "manifests": entries,
    }))
    .expect("json");
    curl_put_manifest(
        &d,
        &base,
        repo,
        "latest",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        &index,
        &dir,
    );
    let index_digest = format!("sha256:{}", sha256_hex(&index));

    let image = format!("{host}/{repo}:latest");
    // `GET /distribution/NAME/json`, byte for byte as dockerd prints it:
    // an index names its own descriptor and its entries' platforms; a
    // single manifest its descriptor and its config's platform (no
    // `variant` key when it has none).
    let r = d.get(&format!("/distribution/{image}/json"));
    r.status_is(200);
    assert_eq!(
        r.text().trim_end(),
        format!(
            r#"{{"Descriptor":{{"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","digest":"{index_digest}","size":{}}},"Platforms":[{{"architecture":"amd64","os":"linux"}},{{"architecture":"arm64","os":"linux"}}]}}"#,
            index.len()
        ),
        "{r}"
    );
    let single_raw = ok(in_daemon_net(&d, "curl")
        .args([
            "-sf",
            "-H",
            &format!("Accept: {}", m["mediaType"].as_str().unwrap_or("")),
        ])
        .arg(format!("{base}/v2/bpl/single/manifests/latest")));
    let r = d.get(&format!("/distribution/{single}/json"));
    r.status_is(200);
    assert_eq!(
        r.text().trim_end(),
        format!(
            r#"{{"Descriptor":{{"mediaType":"{}","digest":"sha256:{}","size":{}}},"Platforms":[{{"architecture":"{}","os":"linux"}}]}}"#,
            m["mediaType"].as_str().unwrap_or(""),
            sha256_hex(single_raw.as_bytes()),
            single_raw.len(),
            cfg["architecture"].as_str().unwrap_or(""),
        ),
        "{r}"
    );
    d.docker(&["pull", &image])
        .ok()
        .stdout_has(&format!("Digest: {index_digest}"));
    assert_eq!(d.inspect(&image, "{{.Architecture}}"), "amd64");
    d.docker(&["rmi", &image]).ok();
    d.docker(&["pull", "--platform", "linux/arm64", &image])
        .ok();
    assert_eq!(d.inspect(&image, "{{.Architecture}}"), "arm64");
    d.docker(&["rmi", &image]).ok();
    d.docker(&["pull", "--platform", "linux/s390x", &image])
        .fails()
        .stderr_has("no matching manifest for linux/s390x in the manifest list entries");
}
