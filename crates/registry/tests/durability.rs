//! A real berth-registry process under load and crashes: concurrent
//! pushes of one blob, kill -9 during pushes, garbage collection, and
//! blobs made durable before a manifest names them.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

#[test]
fn concurrent_pushes_of_the_same_blob() {
    let dir = Scratch::new("api-concurrent");
    let s = Server::start(&dir.0, "");
    let data = blob(5, 3 << 20);
    let d = sha256(&data);
    let url = s.url("");
    std::thread::scope(|sc| {
        let mut hs = vec![];
        for i in 0..8 {
            let (data, d, url) = (&data, &d, &url);
            hs.push(sc.spawn(move || {
                let repo = format!("c/r{}", i % 3);
                if i % 2 == 0 {
                    curl(
                        "POST",
                        &format!("{url}/v2/{repo}/blobs/uploads/?digest={d}"),
                        &[],
                        Some(data),
                    )
                    .status
                } else {
                    let r = curl(
                        "POST",
                        &format!("{url}/v2/{repo}/blobs/uploads/"),
                        &[],
                        None,
                    );
                    let loc = r.header("Location").unwrap_or("").to_string();
                    let r = curl("PATCH", &format!("{url}{loc}"), &[], Some(data));
                    assert_eq!(r.status, 202);
                    curl("PUT", &format!("{url}{loc}?digest={d}"), &[], None).status
                }
            }));
        }
        for h in hs {
            assert_eq!(h.join().expect("thread"), 201);
        }
    });
    for i in 0..3 {
        let r = curl("GET", &s.url(&format!("/v2/c/r{i}/blobs/{d}")), &[], None);
        assert_eq!(sha256(&r.body), d);
    }
    assert_eq!(
        std::fs::read_dir(s.root.join("tmp")).expect("tmp").count(),
        0
    );
    assert_eq!(
        std::fs::read_dir(s.root.join("blobs/sha256"))
            .expect("blobs")
            .count(),
        1
    );
}

/// Pushes images (two layers, a config, a tagged manifest) in a loop until
/// the registry goes away.
fn push_loop(url: &str, worker: usize) {
    for n in 0.. {
        let repo = format!("k/w{worker}");
        let l1 = blob((worker * 7 + n) as u8, 200_000 + n * 13);
        let l2 = blob((worker * 11 + n) as u8, 100_000 + n * 7);
        let cfg = format!("{{\"w\":{worker},\"n\":{n}}}").into_bytes();
        for b in [&l1, &l2, &cfg] {
            let d = sha256(b);
            let r = try_curl(
                "POST",
                &format!("{url}/v2/{repo}/blobs/uploads/?digest={d}"),
                &["--max-time", "5"],
                Some(b),
            );
            if r.map(|r| r.status) != Ok(201) {
                return;
            }
        }
        let m = image_manifest(
            (&sha256(&cfg), cfg.len()),
            &[(&sha256(&l1), l1.len()), (&sha256(&l2), l2.len())],
        );
        let r = try_curl(
            "PUT",
            &format!("{url}/v2/{repo}/manifests/t{n}"),
            &[
                "--max-time",
                "5",
                "-H",
                &format!("Content-Type: {OCI_MANIFEST}"),
            ],
            Some(&m),
        );
        if r.map(|r| r.status) != Ok(201) {
            return;
        }
    }
}

#[test]
fn kill_9_during_pushes_never_leaves_a_manifest_without_its_blobs() {
    let dir = Scratch::new("api-kill9");
    let mut s = Server::start(&dir.0, "");
    let url = s.url("");
    for round in 0..3 {
        std::thread::scope(|sc| {
            let hs: Vec<_> = (0..4)
                .map(|w| {
                    let url = url.clone();
                    sc.spawn(move || push_loop(&url, w))
                })
                .collect();
            // Kill once some pushes have landed, at a different point each round.
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            while curl("GET", &s.url("/v2/_catalog"), &[], None).json()["repositories"]
                .as_array()
                .is_none_or(|a| a.len() < 2)
            {
                assert!(std::time::Instant::now() < deadline, "no push landed");
                std::thread::sleep(Duration::from_millis(50));
            }
            std::thread::sleep(Duration::from_millis(150 + round * 170));
            s.kill9();
            for h in hs {
                h.join().expect("pusher");
            }
        });
        s.spawn();
        assert_eq!(
            std::fs::read_dir(s.root.join("tmp")).expect("tmp").count(),
            0,
            "tmp cleaned at start"
        );
        let repos = curl("GET", &s.url("/v2/_catalog"), &[], None).json()["repositories"].clone();
        let repos = repos.as_array().cloned().unwrap_or_default();
        assert!(!repos.is_empty(), "round {round}: some pushes landed");
        let mut checked = 0;
        for repo in repos {
            let repo = repo.as_str().unwrap_or_default().to_string();
            let tags = curl("GET", &s.url(&format!("/v2/{repo}/tags/list")), &[], None).json()
                ["tags"]
                .clone();
            for t in tags.as_array().cloned().unwrap_or_default() {
                let t = t.as_str().unwrap_or_default();
                let r = curl(
                    "GET",
                    &s.url(&format!("/v2/{repo}/manifests/{t}")),
                    &[],
                    None,
                );
                assert_eq!(
                    r.status, 200,
                    "{repo}:{t} is listed, so it must be readable"
                );
                let m = r.json();
                let mut ds = vec![m["config"]["digest"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()];
                for l in m["layers"].as_array().cloned().unwrap_or_default() {
                    ds.push(l["digest"].as_str().unwrap_or_default().to_string());
                }
                for d in ds {
                    let b = curl("GET", &s.url(&format!("/v2/{repo}/blobs/{d}")), &[], None);
                    assert_eq!(b.status, 200, "{repo}:{t} names {d}, which must exist");
                    assert_eq!(sha256(&b.body), d, "{repo}:{t}: {d} is complete");
                }
                checked += 1;
            }
        }
        assert!(checked > 0);
    }
}

#[test]
fn garbage_collect_sweeps_what_no_manifest_references() {
    let dir = Scratch::new("api-gc");
    let mut s = Server::start(&dir.0, "");
    let cfg = push_blob(&s, "g", b"cfg-a", &[]);
    let la = push_blob(&s, "g", &blob(6, 1000), &[]);
    let ma = image_manifest((&cfg, 5), &[(&la, 1000)]);
    assert_eq!(
        put_manifest(&s, "g", "a", OCI_MANIFEST, &ma, &[]).status,
        201
    );
    let lb = push_blob(&s, "g", &blob(7, 1000), &[]);
    let mb = image_manifest((&cfg, 5), &[(&lb, 1000)]);
    let mbd = sha256(&mb);
    assert_eq!(
        put_manifest(&s, "g", &mbd, OCI_MANIFEST, &mb, &[]).status,
        201
    );
    let orphan = push_blob(&s, "g", &blob(8, 1000), &[]);
    // Two uploads left behind: one fresh, one a week old.
    let fresh = curl("POST", &s.url("/v2/g/blobs/uploads/"), &[], None);
    let fresh = fresh
        .header("Docker-Upload-UUID")
        .expect("uuid")
        .to_string();
    let old = curl("POST", &s.url("/v2/g/blobs/uploads/"), &[], None);
    let old = old.header("Docker-Upload-UUID").expect("uuid").to_string();
    let old_data = s.root.join("uploads").join(&old).join("data");
    let week = std::time::SystemTime::now() - Duration::from_secs(8 * 24 * 3600);
    std::fs::File::options()
        .write(true)
        .open(&old_data)
        .expect("upload")
        .set_modified(week)
        .expect("mtime");
    s.kill9();
    let blob_file = |d: &str| {
        s.root
            .join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
    };

    let (ok, out, err) = run(Command::new(BIN)
        .arg("garbage-collect")
        .arg(&s.config)
        .arg("--dry-run"));
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!("blob eligible for deletion: {orphan}")),
        "{out}"
    );
    assert!(blob_file(&orphan).exists(), "dry run removes nothing");

    let (ok, out, err) = run(Command::new(BIN).arg("garbage-collect").arg(&s.config));
    assert!(ok, "{err}");
    assert!(out.contains(&format!("g: marking manifest {mbd}")), "{out}");
    assert!(!blob_file(&orphan).exists());
    assert!(
        out.contains(&format!("upload eligible for deletion: g {old}")),
        "{out}"
    );
    assert!(!s.root.join("uploads").join(&old).exists());
    assert!(s.root.join("uploads").join(&fresh).exists());
    for d in [&cfg, &la, &lb] {
        assert!(blob_file(d).exists(), "{d} is referenced");
    }

    let (ok, out, err) = run(Command::new(BIN)
        .args(["garbage-collect", "-m"])
        .arg(&s.config));
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!("g: manifest eligible for deletion: {mbd}")),
        "{out}"
    );
    assert!(!blob_file(&lb).exists() && !blob_file(&mbd).exists());
    assert!(blob_file(&la).exists() && blob_file(&cfg).exists());

    s.spawn();
    let r = curl("GET", &s.url("/v2/g/manifests/a"), &[], None);
    assert_eq!(r.body, ma);
    assert_eq!(
        curl("HEAD", &s.url(&format!("/v2/g/blobs/{la}")), &[], None).status,
        200
    );
    assert_eq!(
        curl("GET", &s.url(&format!("/v2/g/manifests/{mbd}")), &[], None).status,
        404
    );
    assert_eq!(
        curl("HEAD", &s.url(&format!("/v2/g/blobs/{orphan}")), &[], None).status,
        404
    );
}

#[test]
fn pending_blobs_become_durable_before_a_manifest_and_are_resolved_at_start() {
    let dir = Scratch::new("api-pending");
    let mut s = Server::start(&dir.0, "");
    // Large enough to be served from a memory mapping, chunked in one
    // request and resumed from the hash state of the first.
    let big = blob(7, 3 << 20);
    let d = sha256(&big);
    let r = curl("POST", &s.url("/v2/p/blobs/uploads/"), &[], None);
    let loc = r.header("Location").expect("location").to_string();
    let r = curl("PATCH", &s.url(&loc), &[], Some(&big[..1 << 20]));
    assert_eq!(r.status, 202);
    let r = curl(
        "PUT",
        &s.url(&format!("{loc}?digest={d}")),
        &[],
        Some(&big[1 << 20..]),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let r = curl("GET", &s.url(&format!("/v2/p/blobs/{d}")), &[], None);
    assert_eq!((r.status, r.body.len()), (200, big.len()));
    assert!(r.body == big, "the blob reads back as pushed");
    let r = curl(
        "GET",
        &s.url(&format!("/v2/p/blobs/{d}")),
        &["-H", "Range: bytes=5000-2100000"],
        None,
    );
    assert_eq!(r.status, 206);
    assert!(r.body == big[5000..=2_100_000], "ranges of a mapped blob");

    let cfg = b"{}".to_vec();
    let cd = push_blob(&s, "p", &cfg, &[]);
    let m = image_manifest((&cd, cfg.len()), &[(&d, big.len())]);
    assert_eq!(
        put_manifest(&s, "p", "v1", OCI_MANIFEST, &m, &[]).status,
        201
    );
    // The manifest is stored only once what it names is durable.
    for x in [&d, &cd] {
        let hex = x.trim_start_matches("sha256:");
        assert!(
            s.root.join("blobs/sha256").join(hex).is_file(),
            "{x} durable"
        );
        assert!(
            !s.root.join("pending/sha256").join(hex).exists(),
            "{x} not pending"
        );
    }

    // What a crash leaves in pending/: kept when its content matches its
    // name, removed when not.
    s.kill9();
    let good = blob(9, 70_000);
    let gd = sha256(&good);
    let pending = s.root.join("pending/sha256");
    std::fs::write(pending.join(gd.trim_start_matches("sha256:")), &good).expect("write");
    let bad_name = sha256(b"not this");
    std::fs::write(
        pending.join(bad_name.trim_start_matches("sha256:")),
        b"torn",
    )
    .expect("write");
    s.spawn();
    assert_eq!(std::fs::read_dir(&pending).expect("pending").count(), 0);
    assert_eq!(
        std::fs::read(
            s.root
                .join("blobs/sha256")
                .join(gd.trim_start_matches("sha256:"))
        )
        .expect("resolved blob"),
        good
    );
    assert!(!s
        .root
        .join("blobs/sha256")
        .join(bad_name.trim_start_matches("sha256:"))
        .exists());
    let r = curl("GET", &s.url("/v2/p/manifests/v1"), &[], None);
    assert_eq!(r.status, 200);
}
