//! Pull, push and login against real registries on loopback: berth-registry
//! (TLS + htpasswd) and CNCF distribution (`docker-registry`), driven by the
//! docker CLI. Registries run where the daemon's loopback is: on the host
//! for berthd, in the harness's netns for dockerd (`BERTH_E2E_DAEMON=dockerd`).
//! Everything the tests make is under the daemon's tmp dir (prefix `bpl`).

use berth_e2e::registry::{
    berth_registry, free_port, in_daemon_net, ok, plain_registry, start_registry,
};
use berth_e2e::{bin_dir, Cli, Daemon};

#[test]
fn push_pull_login_berth_registry_tls_htpasswd() {
    let d = Daemon::start();
    let (_reg, host) = berth_registry(&d);
    let image = format!("{host}/bpl/busybox:v1");
    let id = d.inspect("busybox", "{{.Id}}");

    // Without credentials: refused, before any progress.
    d.docker(&["tag", "busybox", &image]).ok();
    let o = d.docker_stdin(&["pull", &format!("{host}/bpl/busybox:v1")], b"");
    o.fails();
    // Wrong password: a clear error; right one: stored by the CLI.
    let o = d.docker(&["login", "-u", "alice", "-p", "wrong", &host]);
    o.fails().stderr_has(&format!(
        "login attempt to https://{host}/v2/ failed with status: 401 Unauthorized"
    ));
    d.docker_stdin(
        &["login", "-u", "alice", "--password-stdin", &host],
        b"s3cret\n",
    )
    .ok()
    .stdout_has("Login Succeeded");

    let o = d.docker(&["push", &image]);
    o.ok()
        .stdout_has(&format!(
            "The push refers to repository [{host}/bpl/busybox]"
        ))
        .stdout_has("v1: digest: sha256:");
    // Again: nothing to upload.
    d.docker(&["push", &image])
        .ok()
        .stdout_has("Layer already exists");

    d.docker(&["rmi", &image, "busybox"]).ok();
    let o = d.docker(&["pull", &image]);
    o.ok()
        // dockerd names the repository path, without the registry.
        .stdout_has("v1: Pulling from bpl/busybox\n")
        .stdout_has("Pull complete")
        .stdout_has(&format!("Status: Downloaded newer image for {image}"));
    assert_eq!(
        d.inspect(&image, "{{.Id}}"),
        id,
        "same image id after the round trip"
    );
    let digest = d.inspect(&image, "{{index .RepoDigests 0}}");
    assert!(digest.contains("@sha256:"), "{digest}");
    d.docker(&["pull", &image])
        .ok()
        .stdout_has(&format!("Status: Image is up to date for {image}"));
    d.docker(&["pull", &digest]).ok();
    d.docker(&["run", "--rm", &image, "echo", "round", "trip"])
        .ok()
        .stdout_is("round trip\n");

    // Missing tag and missing repository: dockerd's wording.
    d.docker(&["pull", &format!("{host}/bpl/busybox:nope")])
        .fails()
        .stderr_has(&format!(
            "manifest for {host}/bpl/busybox:nope not found: manifest unknown"
        ));
    d.docker(&["pull", &format!("{host}/bpl/nothere:v1")])
        .fails()
        .stderr_has("not found");
    // A missing local image cannot be pushed.
    d.docker(&["push", &format!("{host}/bpl/absent:v1")])
        .fails()
        .stderr_has("An image does not exist locally with the tag");
    d.docker(&["logout", &host]).ok();
}

#[test]
fn cncf_distribution_round_trip_and_corrupted_blob() {
    let d = Daemon::start();
    let dir = d.tmp().join("bpl-cncf");
    std::fs::create_dir_all(&dir).expect("dir");
    let port = free_port();
    let root = dir.join("root");
    let config = dir.join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            root.display()
        ),
    )
    .expect("config");
    let _reg = start_registry(&d, "/usr/bin/docker-registry", &config, port);
    let host = format!("127.0.0.1:{port}");
    let image = format!("{host}/bpl/bb:latest");
    let id = d.inspect("busybox", "{{.Id}}");
    let layer = d.inspect("busybox", "{{index .RootFS.Layers 0}}");
    d.docker(&["tag", "busybox", &image]).ok();
    d.docker(&["push", &image])
        .ok()
        .stdout_has("latest: digest: sha256:");
    d.docker(&["rmi", &image, "busybox"]).ok();
    d.docker(&["pull", &image]).ok().stdout_has("Pull complete");
    assert_eq!(d.inspect(&image, "{{.Id}}"), id);
    assert_eq!(d.inspect(&image, "{{index .RootFS.Layers 0}}"), layer);
    // Pushed elsewhere, the pulled layer goes out byte for byte.
    let layer_digest = |repo: &str| -> String {
        let m = ok(in_daemon_net(&d, "curl")
            .args([
                "-sf",
                "-H",
                "Accept: application/vnd.docker.distribution.manifest.v2+json",
            ])
            .arg(format!("http://{host}/v2/{repo}/manifests/latest")));
        let m: serde_json::Value = serde_json::from_str(&m).expect("manifest json");
        m["layers"][0]["digest"].as_str().unwrap_or("").to_string()
    };
    // skopeo compresses with other settings than berth: a pull of its
    // image and a push elsewhere must keep skopeo's bytes.
    let archive = d.tmp().join("bpl-bb.tar");
    d.docker(&["save", "-o", &archive.display().to_string(), &image])
        .ok();
    ok(in_daemon_net(&d, "skopeo")
        .args(["copy", "--quiet", "--dest-tls-verify=false"])
        .arg(format!("docker-archive:{}", archive.display()))
        .arg(format!("docker://{host}/bpl/sk:latest")));
    assert_ne!(layer_digest("bpl/sk"), layer_digest("bpl/bb"));
    d.docker(&["rmi", &image]).ok();
    let sk = format!("{host}/bpl/sk:latest");
    d.docker(&["pull", &sk]).ok().stdout_has("Pull complete");
    let copy = format!("{host}/bpl/sk2:latest");
    d.docker(&["tag", &sk, &copy]).ok();
    d.docker(&["push", &copy]).ok();
    // berth's promise; dockerd 20.10 recompresses here (seen: its own
    // gzip digest in bpl/sk2), so this line checks berthd only.
    if !d.is_dockerd() {
        assert_eq!(layer_digest("bpl/sk2"), layer_digest("bpl/sk"));
    }
    d.docker(&["rmi", &copy, &sk]).ok();
    d.docker(&["pull", &image]).ok();

    // Corrupt the layer blob in the registry's storage: the pull fails
    // with dockerd's message and stores nothing.
    let manifest = ok(in_daemon_net(&d, "curl")
        .args([
            "-sf",
            "-H",
            "Accept: application/vnd.docker.distribution.manifest.v2+json",
        ])
        .arg(format!("http://{host}/v2/bpl/bb/manifests/latest")));
    let m: serde_json::Value = serde_json::from_str(&manifest).expect("manifest json");
    let blob = m["layers"][0]["digest"]
        .as_str()
        .expect("layer digest")
        .to_string();
    let hex = blob.trim_start_matches("sha256:");
    let data = root.join(format!(
        "docker/registry/v2/blobs/sha256/{}/{hex}/data",
        &hex[..2]
    ));
    let mut bytes = std::fs::read(&data).expect("blob data");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&data, bytes).expect("corrupt");
    d.docker(&["rmi", &image]).ok();
    d.docker(&["pull", &image]).fails().stderr_has(&format!(
        "filesystem layer verification failed for digest {blob}"
    ));
    d.docker(&["image", "ls", "-q", &format!("{host}/bpl/bb")])
        .ok()
        .stdout_is("");
}

/// The `berth` CLI: login (stored in config.json), push, pull with
/// docker's plain lines off a terminal, `-q`, logout.
#[test]
fn berth_cli_login_push_pull_logout() {
    let d = Daemon::start();
    if !d.clis().contains(&Cli::Berth) {
        eprintln!("berth CLI not built or not asked for against dockerd: skipped");
        return;
    }
    let (_reg, host) = berth_registry(&d);
    let image = format!("{host}/bpl/cli:v1");
    d.run(Cli::Berth, &["login", "-u", "alice", "-p", "nope", &host])
        .fails()
        .stderr_has("401 Unauthorized");
    d.run(Cli::Berth, &["login", "-u", "alice", "-p", "s3cret", &host])
        .ok()
        .stdout_has("Login Succeeded");
    let cfg = std::fs::read_to_string(d.dir.join("cli/config.json")).expect("config.json");
    assert!(cfg.contains("YWxpY2U6czNjcmV0"), "{cfg}");
    d.run(Cli::Berth, &["tag", "busybox", &image]).ok();
    d.run(Cli::Berth, &["push", &image])
        .ok()
        .stdout_has("v1: digest: sha256:");
    d.run(Cli::Berth, &["rmi", &image]).ok();
    let o = d.run(Cli::Berth, &["pull", &image]);
    o.ok();
    assert_eq!(
        o.lines().first().map(|s| s.to_string()),
        Some("v1: Pulling from bpl/cli".to_string()),
        "{o}"
    );
    o.stdout_has("Already exists")
        .stdout_has(&format!("Status: Downloaded newer image for {image}"));
    d.run(Cli::Berth, &["pull", "-q", &image])
        .ok()
        .stdout_is(&format!("{image}\n"));
    d.run(Cli::Berth, &["logout", &host])
        .ok()
        .stdout_is(&format!("Removing login credentials for {host}\n"));
    d.run(Cli::Berth, &["pull", &image])
        .fails()
        .stderr_has("no basic auth credentials");
}

/// Requests to `repo` in a registry's log: (blob uploads completed, i.e.
/// PUTs, mounts answered 201). berth-registry logs `method=PUT
/// path=/v2/REPO/...`, CNCF distribution an access log line `"PUT
/// /v2/REPO/... HTTP/1.1" 201`.
fn upload_requests(log: &str, repo: &str) -> (usize, usize) {
    let uploads = format!("/v2/{repo}/blobs/uploads/");
    let mut writes = 0;
    let mut mounts = 0;
    for l in log.lines() {
        if l.contains(&format!("method=PUT path={uploads}"))
            || l.contains(&format!("\"PUT {uploads}"))
        {
            writes += 1;
        }
        if (l.contains(&format!("method=POST path={uploads}")) && l.contains("status=201"))
            || (l.contains(&format!("\"POST {uploads}?"))
                && l.contains("mount=")
                && l.contains("\" 201 "))
        {
            mounts += 1;
        }
    }
    (writes, mounts)
}

/// A push to another repository of the same registry mounts the layers
/// it already holds (dockerd's "Mounted from"), uploading only the image
/// config; a re-push finds everything ("Layer already exists").
#[test]
fn cross_repository_mount_on_push() {
    let d = Daemon::start();
    // berth-registry (TLS, htpasswd) and CNCF distribution (plain HTTP).
    let (breg, bhost) = berth_registry(&d);
    d.docker_stdin(
        &["login", "-u", "alice", "--password-stdin", &bhost],
        b"s3cret\n",
    )
    .ok();
    let port = free_port();
    let (creg, dir) = plain_registry(&d, "/usr/bin/docker-registry", "bpl-mount", port);
    let logs = [d.tmp().join("bpl-breg/config.log"), dir.join("config.log")];
    for (host, log) in [
        (bhost.clone(), &logs[0]),
        (format!("127.0.0.1:{port}"), &logs[1]),
    ] {
        let a = format!("{host}/bpl/a:1");
        let b = format!("{host}/bpl/b:1");
        d.docker(&["tag", "busybox", &a]).ok();
        d.docker(&["push", &a]).ok().stdout_has("Pushed");
        d.docker(&["tag", &a, &b]).ok();
        let o = d.docker(&["push", &b]);
        o.ok().stdout_has("Mounted from bpl/a");
        assert!(!o.stdout.contains("Pushed"), "{o}");
        let text = std::fs::read_to_string(log).expect("registry log");
        let (writes, mounts) = upload_requests(&text, "bpl/b");
        // One upload: the image config (docker never mounts that).
        assert_eq!((writes, mounts), (1, 1), "{host}: uploads to bpl/b\n{text}");
        d.docker(&["push", &b])
            .ok()
            .stdout_has("Layer already exists");
        assert_eq!(
            upload_requests(&std::fs::read_to_string(log).expect("log"), "bpl/b"),
            (1, 1),
            "{host}: a re-push uploads nothing"
        );
        // The mounted repository serves the image.
        d.docker(&["rmi", &a, &b]).ok();
        d.docker(&["pull", &b])
            .ok()
            .stdout_has("Downloaded newer image");
        d.docker(&["run", "--rm", &b, "echo", "mounted"])
            .ok()
            .stdout_is("mounted\n");
        d.docker(&["rmi", &b]).ok();
    }
    drop((breg, creg));
}

/// `docker search REGISTRY/term` through the daemon against
/// berth-registry's `/v1/search`: docker's table, `--limit`, `--filter`,
/// `--format`, `--no-trunc`, and bad input refused with dockerd's words.
#[test]
fn search_a_registry() {
    let d = Daemon::start();
    let port = free_port();
    let (_reg, _) = plain_registry(
        &d,
        &bin_dir().join("berth-registry").display().to_string(),
        "bpl-search",
        port,
    );
    let host = format!("127.0.0.1:{port}");
    for repo in ["bpl/tools", "bpl/toolbox", "other/web"] {
        let r = format!("{host}/{repo}:1");
        d.docker(&["tag", "busybox", &r]).ok();
        d.docker(&["push", &r]).ok();
    }
    // docker 20's table has an AUTOMATED column, dropped since docker 25.
    let clis: Vec<Cli> = d
        .clis()
        .into_iter()
        .filter(|c| *c != Cli::Docker20)
        .collect();
    for cli in clis {
        let o = d.run(cli, &["search", &format!("{host}/tool")]);
        o.ok();
        let lines = o.lines();
        assert_eq!(
            berth_e2e::columns(lines[0]),
            vec!["NAME", "DESCRIPTION", "STARS", "OFFICIAL"],
            "{cli:?}: {o}"
        );
        let names: Vec<String> = lines[1..]
            .iter()
            .map(|l| berth_e2e::columns(l)[0].clone())
            .collect();
        assert_eq!(names, vec!["bpl/toolbox", "bpl/tools"], "{cli:?}: {o}");
        assert!(lines[1].trim_end().ends_with(" 0"), "{cli:?}: {o}");
        d.run(
            cli,
            &[
                "search",
                "--format",
                "{{.Name}}|{{.StarCount}}|{{.IsOfficial}}|{{.Description}}",
                "--limit",
                "1",
                &format!("{host}/bpl"),
            ],
        )
        .ok()
        .stdout_is("bpl/toolbox|0||\n");
        d.run(
            cli,
            &[
                "search",
                "--format",
                "{{.Name}}",
                "--no-trunc",
                &format!("{host}/WEB"),
            ],
        )
        .ok()
        .stdout_is("other/web\n");
        // No repository has stars or is official.
        for f in ["stars=1", "is-official=true"] {
            d.run(cli, &["search", "--filter", f, &format!("{host}/tool")])
                .ok()
                .stdout_is("NAME      DESCRIPTION   STARS     OFFICIAL\n");
        }
        d.run(
            cli,
            &[
                "search",
                "--format",
                "{{.Name}}",
                "--filter",
                "is-official=false",
                &format!("{host}/web"),
            ],
        )
        .ok()
        .stdout_is("other/web\n");
        d.run(
            cli,
            &["search", "--filter", "stars=x", &format!("{host}/tool")],
        )
        .fails()
        // dockerd 20.10 capitalizes "Invalid"; newer ones do not.
        .stderr_has("filter 'stars=x'");
        d.run(
            cli,
            &["search", "--filter", "color=red", &format!("{host}/tool")],
        )
        .fails()
        .stderr_has("filter 'color'");
        d.run(cli, &["search", "--limit", "101", &format!("{host}/tool")])
            .fails()
            // dockerd 20.10 writes "Limit", newer ones "limit".
            .stderr_has("imit 101 is outside the range of [1, 100]");
        d.run(cli, &["search", &format!("http://{host}/tool")])
            .fails()
            // dockerd 20.10: "Invalid repository name (ex: ...)"; newer
            // ones (and berthd): "invalid repository name: ... scheme".
            .stderr_has("nvalid repository name");
    }
    // The registry answers the v1 call in Docker Hub's shape.
    let body = ok(in_daemon_net(&d, "curl")
        .args(["-sf"])
        .arg(format!("http://{host}/v1/search?q=tool&n=1")));
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["num_results"], 2, "{v}");
    assert_eq!(v["query"], "tool", "{v}");
    assert_eq!(v["results"][0]["name"], "bpl/toolbox", "{v}");
    assert_eq!(v["results"].as_array().map(Vec::len), Some(1), "{v}");
}

/// `--registry-mirror`: docker.io images come from the mirror first; an
/// image the mirror lacks, or a mirror that is down, falls back to
/// registry-1.docker.io (unreachable here: its error is the one shown).
#[test]
fn registry_mirror_first_then_upstream() {
    let port = free_port();
    let d = Daemon::start_with(
        &[
            "--registry-mirror".into(),
            format!("http://127.0.0.1:{port}"),
        ],
        |_| {},
    );
    let (reg, dir) = plain_registry(&d, "/usr/bin/docker-registry", "bpl-mirror", port);
    let held = format!("127.0.0.1:{port}/library/busybox:latest");
    let id = d.inspect("busybox", "{{.Id}}");
    d.docker(&["tag", "busybox", &held]).ok();
    d.docker(&["push", &held]).ok();
    d.docker(&["rmi", &held, "busybox"]).ok();
    let log_len = std::fs::metadata(dir.join("config.log"))
        .map(|m| m.len() as usize)
        .unwrap_or(0);
    d.docker(&["pull", "busybox"])
        .ok()
        .stdout_has("latest: Pulling from library/busybox")
        .stdout_has("Status: Downloaded newer image for busybox:latest");
    assert_eq!(d.inspect("busybox", "{{.Id}}"), id);
    let log = std::fs::read_to_string(dir.join("config.log")).unwrap_or_default();
    let during_pull = log.get(log_len..).unwrap_or("");
    assert!(
        during_pull.contains("/v2/library/busybox/manifests/"),
        "the mirror served the manifest:\n{during_pull}"
    );
    d.docker(&["run", "--rm", "busybox", "echo", "mirrored"])
        .ok()
        .stdout_is("mirrored\n");
    // Not on the mirror: the upstream is asked, and its error shown.
    d.docker(&["pull", "busybox:nothere"])
        .fails()
        .stderr_has("registry-1.docker.io");
    // The mirror down: the same.
    drop(reg);
    d.docker(&["rmi", "busybox"]).ok();
    d.docker(&["pull", "busybox"])
        .fails()
        .stderr_has("registry-1.docker.io");
}
