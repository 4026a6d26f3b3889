//! The distribution API over HTTP against a real berth-registry process,
//! with curl (and a raw socket to cut an upload): good input and bad.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::json;

#[test]
fn base_names_and_error_codes() {
    let dir = Scratch::new("api-base");
    let s = Server::start(&dir.0, "");
    let r = curl("GET", &s.url("/v2/"), &[], None);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("Docker-Distribution-API-Version"),
        Some("registry/2.0")
    );
    assert_eq!(r.text(), "{}");

    for bad in [
        "Team/app",
        "a//b",
        "a/../b",
        "-x",
        "a__-b",
        "a/_manifests/x",
    ] {
        let r = curl(
            "GET",
            &s.url(&format!("/v2/{bad}/tags/list")),
            &["--path-as-is"],
            None,
        );
        assert_eq!(
            (r.status, r.code().as_str()),
            (400, "NAME_INVALID"),
            "{bad}: {}",
            r.text()
        );
    }
    let long = "a".repeat(256);
    let r = curl("GET", &s.url(&format!("/v2/{long}/manifests/1")), &[], None);
    assert_eq!(r.code(), "NAME_INVALID");

    let r = curl("GET", &s.url("/v2/no/such/tags/list"), &[], None);
    assert_eq!((r.status, r.code().as_str()), (404, "NAME_UNKNOWN"));
    let d = sha256(b"x");
    let r = curl("GET", &s.url(&format!("/v2/team/app/blobs/{d}")), &[], None);
    assert_eq!((r.status, r.code().as_str()), (404, "BLOB_UNKNOWN"));
    let r = curl("GET", &s.url("/v2/team/app/blobs/sha256:1234"), &[], None);
    assert_eq!((r.status, r.code().as_str()), (400, "DIGEST_INVALID"));
    let r = curl("GET", &s.url("/v2/team/app/blobs/md5:1234"), &[], None);
    assert_eq!(r.code(), "UNSUPPORTED");
    let r = curl(
        "GET",
        &s.url("/v2/team/app/blobs/uploads/0b3c2b5e-1111-4222-8333-444455556666"),
        &[],
        None,
    );
    assert_eq!((r.status, r.code().as_str()), (404, "BLOB_UPLOAD_UNKNOWN"));
    let r = curl(
        "GET",
        &s.url("/v2/team/app/blobs/uploads/..%2f..%2fx"),
        &[],
        None,
    );
    assert_eq!(r.status, 404);

    push_blob(&s, "team/app", b"cfg", &[]);
    let r = curl("GET", &s.url("/v2/team/app/manifests/nope"), &[], None);
    assert_eq!((r.status, r.code().as_str()), (404, "MANIFEST_UNKNOWN"));
    let m = image_manifest((&sha256(b"cfg"), 3), &[]);
    let r = put_manifest(&s, "team/app", "bad:tag!", OCI_MANIFEST, &m, &[]);
    assert_eq!(r.code(), "DIGEST_INVALID");
    let r = put_manifest(&s, "team/app", ".hidden", OCI_MANIFEST, &m, &[]);
    assert_eq!((r.status, r.code().as_str()), (400, "TAG_INVALID"));
    let r = curl("PATCH", &s.url("/v2/"), &[], None);
    assert_eq!(r.status, 405);
}

#[test]
fn digest_mismatch_stores_nothing() {
    let dir = Scratch::new("api-digest");
    let s = Server::start(&dir.0, "");
    let data = blob(1, 10_000);
    let wrong = sha256(b"something else");
    let r = curl(
        "POST",
        &s.url(&format!("/v2/r/blobs/uploads/?digest={wrong}")),
        &[],
        Some(&data),
    );
    assert_eq!(
        (r.status, r.code().as_str()),
        (400, "DIGEST_INVALID"),
        "{}",
        r.text()
    );
    // Chunked, then a wrong digest at the end.
    let r = curl("POST", &s.url("/v2/r/blobs/uploads/"), &[], None);
    assert_eq!(r.status, 202);
    let loc = r.header("Location").expect("location").to_string();
    let r = curl("PATCH", &s.url(&loc), &[], Some(&data));
    assert_eq!(r.status, 202);
    let r = curl("PUT", &s.url(&format!("{loc}?digest={wrong}")), &[], None);
    assert_eq!((r.status, r.code().as_str()), (400, "DIGEST_INVALID"));
    // Nothing stored: no blob under either digest, no upload, no temp file.
    for d in [&wrong, &sha256(&data)] {
        let r = curl("HEAD", &s.url(&format!("/v2/r/blobs/{d}")), &[], None);
        assert_eq!(r.status, 404);
    }
    assert_eq!(
        std::fs::read_dir(s.root.join("blobs/sha256"))
            .expect("blobs")
            .count(),
        0
    );
    assert_eq!(
        std::fs::read_dir(s.root.join("tmp")).expect("tmp").count(),
        0
    );
    assert_eq!(
        std::fs::read_dir(s.root.join("uploads"))
            .expect("uploads")
            .count(),
        0
    );
    let r = curl("PUT", &s.url(&format!("{loc}?digest={wrong}")), &[], None);
    assert_eq!(r.code(), "BLOB_UPLOAD_UNKNOWN");
}

#[test]
fn manifests_verify_their_references_and_keep_their_type() {
    let dir = Scratch::new("api-manifest");
    let s = Server::start(&dir.0, "");
    let cfg = push_blob(
        &s,
        "team/app",
        b"{\"architecture\":\"amd64\",\"os\":\"linux\"}",
        &[],
    );
    let layer = blob(2, 5000);
    let missing = sha256(&layer);
    let m = image_manifest((&cfg, 38), &[(&missing, layer.len())]);
    let r = put_manifest(&s, "team/app", "1", OCI_MANIFEST, &m, &[]);
    assert_eq!(
        (r.status, r.code().as_str()),
        (400, "MANIFEST_BLOB_UNKNOWN"),
        "{}",
        r.text()
    );
    assert_eq!(r.json()["errors"][0]["detail"]["digest"], json!(missing));
    let r = curl("GET", &s.url("/v2/team/app/tags/list"), &[], None);
    assert_eq!(r.json()["tags"], json!([]), "no tag for a refused manifest");
    // A blob in another repository does not count.
    push_blob(&s, "other", &layer, &[]);
    let r = put_manifest(&s, "team/app", "1", OCI_MANIFEST, &m, &[]);
    assert_eq!(r.code(), "MANIFEST_BLOB_UNKNOWN");

    push_blob(&s, "team/app", &layer, &[]);
    let r = put_manifest(&s, "team/app", "1", OCI_MANIFEST, &m, &[]);
    assert_eq!(r.status, 201, "{}", r.text());
    let md = sha256(&m);
    assert_eq!(r.header("Docker-Content-Digest"), Some(md.as_str()));
    assert_eq!(
        r.header("Location"),
        Some(format!("/v2/team/app/manifests/{md}").as_str())
    );
    for reference in ["1", md.as_str()] {
        let r = curl(
            "GET",
            &s.url(&format!("/v2/team/app/manifests/{reference}")),
            &[],
            None,
        );
        assert_eq!(r.status, 200);
        assert_eq!(r.body, m);
        assert_eq!(r.header("Content-Type"), Some(OCI_MANIFEST));
        assert_eq!(r.header("Docker-Content-Digest"), Some(md.as_str()));
        let h = curl(
            "HEAD",
            &s.url(&format!("/v2/team/app/manifests/{reference}")),
            &[],
            None,
        );
        assert_eq!(h.status, 200);
        assert_eq!(
            h.header("Content-Length"),
            Some(m.len().to_string().as_str())
        );
    }

    // Docker schema 2, pushed with its own type, answered with it.
    let docker = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": cfg, "size": 38},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": missing, "size": layer.len()}]
    }))
    .expect("json");
    let dt = "application/vnd.docker.distribution.manifest.v2+json";
    let r = put_manifest(&s, "team/app", "docker", dt, &docker, &[]);
    assert_eq!(r.status, 201, "{}", r.text());
    let r = curl("GET", &s.url("/v2/team/app/manifests/docker"), &[], None);
    assert_eq!(r.header("Content-Type"), Some(dt));

    // Wrong digest in the URL, type mismatch, garbage, schema 1.
    let r = put_manifest(&s, "team/app", &sha256(b"no"), OCI_MANIFEST, &m, &[]);
    assert_eq!((r.status, r.code().as_str()), (400, "DIGEST_INVALID"));
    let r = put_manifest(&s, "team/app", "x", dt, &m, &[]);
    assert_eq!(r.code(), "MANIFEST_INVALID");
    let r = put_manifest(&s, "team/app", "x", OCI_MANIFEST, b"{not json", &[]);
    assert_eq!(r.code(), "MANIFEST_INVALID");
    let r = put_manifest(
        &s,
        "team/app",
        "x",
        OCI_MANIFEST,
        b"{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:zz\"},\"layers\":[]}",
        &[],
    );
    assert_eq!(r.code(), "MANIFEST_INVALID");
    let r = put_manifest(
        &s,
        "team/app",
        "x",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
        b"{\"schemaVersion\":1}",
        &[],
    );
    assert_eq!(r.code(), "MANIFEST_INVALID");
    let r = curl("GET", &s.url("/v2/team/app/manifests/x"), &[], None);
    assert_eq!(r.status, 404);

    // An index may only name manifests already in the repository.
    let other = image_manifest((&cfg, 38), &[]);
    let od = sha256(&other);
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": md, "size": m.len(), "platform": {"architecture": "amd64", "os": "linux"}},
            {"mediaType": OCI_MANIFEST, "digest": od, "size": other.len(), "platform": {"architecture": "arm64", "os": "linux"}}
        ]
    }))
    .expect("json");
    let r = put_manifest(&s, "team/app", "multi", OCI_INDEX, &index, &[]);
    assert_eq!(r.code(), "MANIFEST_BLOB_UNKNOWN");
    assert_eq!(r.json()["errors"][0]["detail"]["digest"], json!(od));
    let r = put_manifest(&s, "team/app", &od, OCI_MANIFEST, &other, &[]);
    assert_eq!(r.status, 201);
    let r = put_manifest(&s, "team/app", "multi", OCI_INDEX, &index, &[]);
    assert_eq!(r.status, 201, "{}", r.text());
    let r = curl("GET", &s.url("/v2/team/app/manifests/multi"), &[], None);
    assert_eq!(
        (r.header("Content-Type"), r.body.clone()),
        (Some(OCI_INDEX), index)
    );

    // Deletes: a tag alone, then a manifest with its tags.
    let r = curl("DELETE", &s.url("/v2/team/app/manifests/docker"), &[], None);
    assert_eq!(r.status, 202);
    let r = curl(
        "DELETE",
        &s.url(&format!("/v2/team/app/manifests/{md}")),
        &[],
        None,
    );
    assert_eq!(r.status, 202);
    let r = curl("GET", &s.url("/v2/team/app/manifests/1"), &[], None);
    assert_eq!(r.code(), "MANIFEST_UNKNOWN");
    let r = curl(
        "DELETE",
        &s.url(&format!("/v2/team/app/manifests/{md}")),
        &[],
        None,
    );
    assert_eq!((r.status, r.code().as_str()), (404, "MANIFEST_UNKNOWN"));
    let r = curl("GET", &s.url("/v2/team/app/tags/list"), &[], None);
    assert_eq!(r.json()["tags"], json!(["multi"]));
}

/// Sends a PATCH that announces `total` bytes but sends only `sent`, then
/// closes the connection.
fn cut_patch(s: &Server, path: &str, data: &[u8], total: usize) {
    let mut c = TcpStream::connect(("127.0.0.1", s.port)).expect("connect");
    write!(
        c,
        "PATCH {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: {total}\r\n\r\n"
    )
    .expect("headers");
    c.write_all(data).expect("body");
    c.flush().expect("flush");
    std::thread::sleep(Duration::from_millis(300));
    drop(c);
}

#[test]
fn chunked_upload_cut_half_way_then_resumed() {
    let dir = Scratch::new("api-chunked");
    let s = Server::start(&dir.0, "");
    let data = blob(3, 300_000);
    let d = sha256(&data);
    let r = curl("POST", &s.url("/v2/team/app/blobs/uploads/"), &[], None);
    assert_eq!(r.status, 202);
    assert_eq!(r.header("Range"), Some("0-0"));
    let loc = r.header("Location").expect("location").to_string();
    let uuid = r.header("Docker-Upload-UUID").expect("uuid").to_string();
    assert!(loc.ends_with(&uuid));

    // First chunk with a Content-Range.
    let r = curl(
        "PATCH",
        &s.url(&loc),
        &["-H", "Content-Range: 0-99999"],
        Some(&data[..100_000]),
    );
    assert_eq!(r.status, 202, "{}", r.text());
    assert_eq!(r.header("Range"), Some("0-99999"));
    // Out of order: refused, nothing appended.
    let r = curl(
        "PATCH",
        &s.url(&loc),
        &["-H", "Content-Range: 150000-199999"],
        Some(&data[150_000..200_000]),
    );
    assert_eq!((r.status, r.code().as_str()), (416, "RANGE_INVALID"));
    assert_eq!(r.header("Range"), Some("0-99999"));

    // Cut half-way through the second chunk.
    cut_patch(&s, &loc, &data[100_000..150_000], 100_000);
    let mut got = String::new();
    for _ in 0..50 {
        let r = curl("GET", &s.url(&loc), &[], None);
        assert_eq!(r.status, 204);
        got = r.header("Range").unwrap_or("").to_string();
        if got == "0-149999" {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        got, "0-149999",
        "the bytes that arrived before the cut are kept"
    );

    // Resume from where the server is, and finish with the last chunk.
    let r = curl(
        "PATCH",
        &s.url(&loc),
        &["-H", "Content-Range: 150000-249999"],
        Some(&data[150_000..250_000]),
    );
    assert_eq!(r.status, 202);
    let r = curl(
        "PUT",
        &s.url(&format!("{loc}?digest={d}")),
        &["-H", "Content-Range: 250000-299999"],
        Some(&data[250_000..]),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.header("Docker-Content-Digest"), Some(d.as_str()));
    let r = curl("GET", &s.url(&format!("/v2/team/app/blobs/{d}")), &[], None);
    assert_eq!(r.body, data);
    let r = curl(
        "GET",
        &s.url(&format!("/v2/team/app/blobs/{d}")),
        &["-H", "Range: bytes=1000-1999"],
        None,
    );
    assert_eq!(r.status, 206);
    assert_eq!(r.header("Content-Range"), Some("bytes 1000-1999/300000"));
    assert_eq!(r.body, &data[1000..2000]);
    let r = curl(
        "GET",
        &s.url(&format!("/v2/team/app/blobs/{d}")),
        &["-H", "Range: bytes=400000-"],
        None,
    );
    assert_eq!(r.status, 416);
    assert_eq!(r.header("Content-Range"), Some("bytes */300000"));
    // The upload is gone; a cancelled one too.
    let r = curl("GET", &s.url(&loc), &[], None);
    assert_eq!(r.code(), "BLOB_UPLOAD_UNKNOWN");
    let r = curl("POST", &s.url("/v2/team/app/blobs/uploads/"), &[], None);
    let loc2 = r.header("Location").expect("location").to_string();
    assert_eq!(curl("DELETE", &s.url(&loc2), &[], None).status, 204);
    assert_eq!(curl("GET", &s.url(&loc2), &[], None).status, 404);
    // An upload belongs to its repository.
    let r = curl("POST", &s.url("/v2/team/app/blobs/uploads/"), &[], None);
    let loc3 = r.header("Location").expect("location").to_string();
    let stolen = loc3.replace("/team/app/", "/team/other/");
    assert_eq!(
        curl("GET", &s.url(&stolen), &[], None).code(),
        "BLOB_UPLOAD_UNKNOWN"
    );
}

#[test]
fn cross_repository_mount_and_blob_delete() {
    let dir = Scratch::new("api-mount");
    let s = Server::start(&dir.0, "");
    let data = blob(4, 4096);
    let d = push_blob(&s, "src/app", &data, &[]);
    let r = curl(
        "POST",
        &s.url(&format!(
            "/v2/dst/app/blobs/uploads/?mount={d}&from=src/app"
        )),
        &[],
        None,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        r.header("Location"),
        Some(format!("/v2/dst/app/blobs/{d}").as_str())
    );
    assert_eq!(
        curl("GET", &s.url(&format!("/v2/dst/app/blobs/{d}")), &[], None).body,
        data
    );
    // Mounting what the source does not have starts an ordinary upload.
    let other = sha256(b"absent");
    let r = curl(
        "POST",
        &s.url(&format!(
            "/v2/dst/app/blobs/uploads/?mount={other}&from=src/app"
        )),
        &[],
        None,
    );
    assert_eq!(r.status, 202);
    assert!(r.header("Docker-Upload-UUID").is_some());

    let r = curl(
        "DELETE",
        &s.url(&format!("/v2/dst/app/blobs/{d}")),
        &[],
        None,
    );
    assert_eq!(r.status, 202);
    assert_eq!(
        curl("HEAD", &s.url(&format!("/v2/dst/app/blobs/{d}")), &[], None).status,
        404
    );
    assert_eq!(
        curl("HEAD", &s.url(&format!("/v2/src/app/blobs/{d}")), &[], None).status,
        200
    );
    let r = curl(
        "DELETE",
        &s.url(&format!("/v2/dst/app/blobs/{d}")),
        &[],
        None,
    );
    assert_eq!(r.code(), "BLOB_UNKNOWN");
}

#[test]
fn deletes_disabled_and_readonly() {
    let dir = Scratch::new("api-nodelete");
    // The environment overrides the file's storage.delete.enabled: true.
    let s = Server::start_with(
        &dir.0,
        "",
        &[("REGISTRY_STORAGE_DELETE_ENABLED", "false")],
        "http",
    );
    let d = push_blob(&s, "r", b"data", &[]);
    let r = curl("DELETE", &s.url(&format!("/v2/r/blobs/{d}")), &[], None);
    assert_eq!((r.status, r.code().as_str()), (405, "UNSUPPORTED"));
    assert_eq!(
        curl("HEAD", &s.url(&format!("/v2/r/blobs/{d}")), &[], None).status,
        200
    );
    drop(s);

    let dir2 = Scratch::new("api-readonly");
    let s = Server::start(&dir2.0, "");
    let d = push_blob(&s, "r", b"data", &[]);
    let mut s = s;
    s.kill9();
    let text = std::fs::read_to_string(&s.config).expect("config") + "";
    let text = text.replace(
        "  delete:\n",
        "  maintenance:\n    readonly:\n      enabled: true\n  delete:\n",
    );
    std::fs::write(&s.config, text).expect("config");
    s.spawn();
    let r = curl("POST", &s.url("/v2/r/blobs/uploads/"), &[], None);
    assert_eq!((r.status, r.code().as_str()), (405, "UNSUPPORTED"));
    let r = curl("DELETE", &s.url(&format!("/v2/r/blobs/{d}")), &[], None);
    assert_eq!(r.status, 405);
    assert_eq!(
        curl("GET", &s.url(&format!("/v2/r/blobs/{d}")), &[], None).body,
        b"data"
    );
}

#[test]
fn tags_and_catalog_paginate_with_link_headers() {
    let dir = Scratch::new("api-pages");
    let s = Server::start(&dir.0, "");
    let cfg = push_blob(&s, "p/app", b"cfg", &[]);
    let m = image_manifest((&cfg, 3), &[]);
    for t in ["a", "b", "c", "d", "e"] {
        assert_eq!(
            put_manifest(&s, "p/app", t, OCI_MANIFEST, &m, &[]).status,
            201
        );
    }
    let r = curl("GET", &s.url("/v2/p/app/tags/list?n=2"), &[], None);
    assert_eq!(r.json(), json!({"name": "p/app", "tags": ["a", "b"]}));
    assert_eq!(
        r.header("Link"),
        Some("</v2/p/app/tags/list?last=b&n=2>; rel=\"next\"")
    );
    let r = curl("GET", &s.url("/v2/p/app/tags/list?n=2&last=b"), &[], None);
    assert_eq!(r.json()["tags"], json!(["c", "d"]));
    let r = curl("GET", &s.url("/v2/p/app/tags/list?n=2&last=d"), &[], None);
    assert_eq!(r.json()["tags"], json!(["e"]));
    assert_eq!(r.header("Link"), None);
    let r = curl("GET", &s.url("/v2/p/app/tags/list?n=x"), &[], None);
    assert_eq!(
        (r.status, r.code().as_str()),
        (400, "PAGINATION_NUMBER_INVALID")
    );

    for repo in ["p/b", "p/c", "q"] {
        let c = push_blob(&s, repo, b"cfg", &[]);
        assert_eq!(
            put_manifest(
                &s,
                repo,
                "1",
                OCI_MANIFEST,
                &image_manifest((&c, 3), &[]),
                &[]
            )
            .status,
            201
        );
    }
    let r = curl("GET", &s.url("/v2/_catalog"), &[], None);
    assert_eq!(
        r.json()["repositories"],
        json!(["p/app", "p/b", "p/c", "q"])
    );
    let r = curl("GET", &s.url("/v2/_catalog?n=3"), &[], None);
    assert_eq!(r.json()["repositories"], json!(["p/app", "p/b", "p/c"]));
    assert_eq!(
        r.header("Link"),
        Some("</v2/_catalog?last=p%2Fc&n=3>; rel=\"next\"")
    );
    let r = curl("GET", &s.url("/v2/_catalog?n=3&last=p%2Fc"), &[], None);
    assert_eq!(r.json()["repositories"], json!(["q"]));
}

#[test]
fn referrers_api_with_artifact_type_filter() {
    let dir = Scratch::new("api-referrers");
    let s = Server::start(&dir.0, "");
    let cfg = push_blob(&s, "r", b"cfg", &[]);
    let empty = push_blob(&s, "r", b"{}", &[]);
    let subject = image_manifest((&cfg, 3), &[]);
    let sd = sha256(&subject);
    assert_eq!(
        put_manifest(&s, "r", "1", OCI_MANIFEST, &subject, &[]).status,
        201
    );
    let mut digests = vec![];
    for (i, at) in [
        "application/vnd.example.sbom",
        "application/vnd.example.sig",
    ]
    .iter()
    .enumerate()
    {
        let art = serde_json::to_vec(&json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": at,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
            "layers": [{"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2}],
            "subject": {"mediaType": OCI_MANIFEST, "digest": sd, "size": subject.len()},
            "annotations": {"n": i.to_string()}
        }))
        .expect("json");
        let ad = sha256(&art);
        let r = put_manifest(&s, "r", &ad, OCI_MANIFEST, &art, &[]);
        assert_eq!(r.status, 201, "{}", r.text());
        assert_eq!(r.header("OCI-Subject"), Some(sd.as_str()));
        digests.push(ad);
    }
    let r = curl("GET", &s.url(&format!("/v2/r/referrers/{sd}")), &[], None);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some(OCI_INDEX));
    let v = r.json();
    let mut got: Vec<String> = v["manifests"]
        .as_array()
        .expect("array")
        .iter()
        .map(|m| m["digest"].as_str().unwrap_or("").to_string())
        .collect();
    got.sort();
    digests.sort();
    assert_eq!(got, digests);
    let r = curl(
        "GET",
        &s.url(&format!(
            "/v2/r/referrers/{sd}?artifactType=application/vnd.example.sig"
        )),
        &[],
        None,
    );
    assert_eq!(r.header("OCI-Filters-Applied"), Some("artifactType"));
    let ms = r.json()["manifests"].clone();
    assert_eq!(ms.as_array().map(Vec::len), Some(1));
    assert_eq!(ms[0]["artifactType"], json!("application/vnd.example.sig"));
    assert_eq!(ms[0]["annotations"]["n"], json!("1"));
    let r = curl(
        "GET",
        &s.url(&format!("/v2/r/referrers/{}", sha256(b"none"))),
        &[],
        None,
    );
    assert_eq!(r.json()["manifests"], json!([]));
    let r = curl("GET", &s.url("/v2/r/referrers/sha256:bad"), &[], None);
    assert_eq!(r.code(), "DIGEST_INVALID");
}

#[test]
fn bad_configurations_are_refused_and_version_answers() {
    let dir = Scratch::new("api-config");
    let (ok, out, _) = run(Command::new(BIN).arg("--version"));
    assert!(ok && out.starts_with("berth-registry "), "{out}");
    let cases = [
        ("version: 0.1\nstorage:\n  filesystem:\n    rootdir: /x\n", "rootdir"),
        ("version: 0.1\nstorage:\n  filesystem: {}\nhttp:\n  addr: 127.0.0.1:http\n", "http.addr"),
        ("version: 0.1\nstorage:\n  inmemory: {}\n", "inmemory"),
        ("version: 0.1\nstorage:\n  filesystem: {}\nauth:\n  htpasswd:\n    realm: r\n    path: /nonexistent/breg\n", "/nonexistent/breg"),
        ("version: 0.1\nstorage:\n  filesystem: {}\nhttp:\n  tls:\n    certificate: /nonexistent/c.pem\n    key: /nonexistent/k.pem\n", "/nonexistent/c.pem"),
    ];
    for (text, needle) in cases {
        let p = dir.path("bad.yml");
        std::fs::write(&p, text).expect("write");
        let (ok, _, err) = run(Command::new(BIN).arg(&p));
        assert!(!ok, "{text}");
        assert!(err.contains(needle), "{text}: {err}");
    }
    // `berth-registry CONFIG` serves, as `registry CONFIG` does.
    let port = free_port();
    let good = dir.path("good.yml");
    std::fs::write(&good, format!("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n", dir.path("root").display())).expect("write");
    let mut child = Command::new(BIN)
        .arg(&good)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    let r = curl("GET", &format!("http://127.0.0.1:{port}/v2/"), &[], None);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(r.status, 200);
    let (ok, _, err) = run(Command::new(BIN).args(["serve", "/nonexistent/breg.yml"]));
    assert!(!ok && err.contains("/nonexistent/breg.yml"), "{err}");
    let (ok, _, err) = run(Command::new(BIN).args(["garbage-collect", "--bogus", "x"]));
    assert!(!ok && err.contains("--bogus"), "{err}");
}
