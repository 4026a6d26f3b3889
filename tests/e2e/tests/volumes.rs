//! Volumes, bind mounts, tmpfs and `--volumes-from`, as a docker user
//! types them. Every object a test makes is named `bvol...`.

use std::path::Path;

use berth_e2e::fixture::{busybox_tar, TarBuilder};
use berth_e2e::{columns, is_hex64, Cli, Daemon};

/// busybox plus `/data/seed` and `/evil -> <host path>`, imported with
/// `VOLUME /data` as `bvolimg:latest`.
fn import_seeded_image(d: &Daemon, evil_target: &Path) {
    let base = busybox_tar();
    let mut tar = base[..base.len() - 1024].to_vec();
    let mut extra = TarBuilder::default();
    extra.dir("data", 0o755);
    extra.file("data/seed", b"seed\n", 0o640);
    extra.symlink("evil", &evil_target.display().to_string());
    tar.extend(extra.finish());
    let o = d.docker_stdin(
        &[
            "import",
            "--change",
            "CMD [\"sh\"]",
            "--change",
            "VOLUME /data",
            "-",
            "bvolimg:latest",
        ],
        &tar,
    );
    o.ok();
}

fn volume_names(d: &Daemon) -> Vec<String> {
    let o = d.docker(&["volume", "ls", "-q"]);
    o.ok();
    let mut v: Vec<String> = o.lines().iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

#[test]
fn named_volume_is_shared_survives_a_crash_and_refuses_removal_in_use() {
    let mut d = Daemon::start();
    d.docker(&["volume", "create", "--label", "bvol.k=v", "bvol-data"])
        .ok()
        .stdout_is("bvol-data\n");
    // Generated names are 64 hex digits.
    let o = d.docker(&["volume", "create"]);
    o.ok();
    let generated = o.stdout.trim().to_string();
    assert!(is_hex64(&generated), "{o}");

    let mountpoint = d.data_root.join("volumes/bvol-data/_data");
    let o = d.docker(&[
        "volume",
        "inspect",
        "-f",
        "{{.Name}} {{.Driver}} {{.Scope}} {{.Mountpoint}} {{.Labels}} {{.Options}}",
        "bvol-data",
    ]);
    o.ok().stdout_is(&format!(
        "bvol-data local local {} map[bvol.k:v] map[]\n",
        mountpoint.display()
    ));
    let v = d.get("/volumes/bvol-data");
    v.status_is(200);
    let created = v.json()["CreatedAt"].as_str().unwrap_or("").to_string();
    assert!(
        chrono_like(&created),
        "CreatedAt is RFC 3339 in seconds: {created}"
    );

    // A first container writes, a second one reads.
    d.docker(&[
        "run",
        "--name",
        "bvol-writer",
        "-v",
        "bvol-data:/data",
        "busybox",
        "sh",
        "-c",
        "echo written-by-one > /data/msg",
    ])
    .ok();
    d.docker(&[
        "run",
        "--rm",
        "-v",
        "bvol-data:/in:ro",
        "busybox",
        "cat",
        "/in/msg",
    ])
    .ok()
    .stdout_is("written-by-one\n");
    assert_eq!(
        std::fs::read_to_string(mountpoint.join("msg")).unwrap_or_default(),
        "written-by-one\n",
        "the volume's content is in its Mountpoint on the host"
    );

    // Mounts in inspect and in ps.
    let writer_id = d.inspect("bvol-writer", "{{.Id}}");
    d.docker(&[
        "inspect",
        "-f",
        "{{range .Mounts}}{{.Type}} {{.Name}} {{.Source}} {{.Destination}} {{.Driver}} {{.Mode}} {{.RW}} [{{.Propagation}}]{{end}}",
        "bvol-writer",
    ])
    .ok()
    .stdout_is(&format!(
        "volume bvol-data {} /data local z true []\n",
        mountpoint.display()
    ));
    d.docker(&["ps", "-a", "--format", "{{.Names}} {{.Mounts}}"])
        .ok()
        .stdout_is("bvol-writer bvol-data\n");
    d.docker(&[
        "ps",
        "-a",
        "-f",
        "volume=bvol-data",
        "--format",
        "{{.Names}}",
    ])
    .ok()
    .stdout_is("bvol-writer\n");
    d.docker(&[
        "ps",
        "-a",
        "-f",
        "volume=bvol-other",
        "--format",
        "{{.Names}}",
    ])
    .ok()
    .stdout_is("");

    // In use (even by a stopped container): 409 naming the container.
    let o = d.docker(&["volume", "rm", "bvol-data"]);
    o.code_is(1).stderr_has(&format!(
        "remove bvol-data: volume is in use - [{writer_id}]"
    ));
    let r = d.http("DELETE", "/volumes/bvol-data", None, b"");
    r.status_is(409);
    assert!(r.message().contains(&writer_id), "{}", r.message());
    assert!(
        mountpoint.join("msg").exists(),
        "a refused rm changed nothing"
    );

    // dangling filter: the used one is not dangling, the generated one is.
    d.docker(&["volume", "ls", "-q", "-f", "dangling=true"])
        .ok()
        .stdout_is(&format!("{generated}\n"));
    for cli in d.clis() {
        d.run(cli, &["volume", "ls", "-q", "-f", "label=bvol.k=v"])
            .ok()
            .stdout_is("bvol-data\n");
        d.run(
            cli,
            &[
                "volume",
                "inspect",
                "-f",
                "{{.Name}} {{.Driver}}",
                "bvol-data",
            ],
        )
        .ok()
        .stdout_is("bvol-data local\n");
    }
    d.docker(&["volume", "ls", "-q", "-f", "name=bvol-d"])
        .ok()
        .stdout_is("bvol-data\n");

    // kill -9 of the daemon: the volumes and their content stay.
    d.kill9();
    if d.is_dockerd() {
        // dockerd 20.10 restarted at once after a crash times out waiting
        // for its old containerd; give it the pause live_restore.rs gives.
        std::thread::sleep(std::time::Duration::from_secs(2));
    }
    d.restart();
    assert_eq!(volume_names(&d), {
        let mut v = vec!["bvol-data".to_string(), generated.clone()];
        v.sort();
        v
    });
    d.docker(&["volume", "inspect", "-f", "{{.Labels}}", "bvol-data"])
        .ok()
        .stdout_is("map[bvol.k:v]\n");
    d.docker(&[
        "run",
        "--rm",
        "-v",
        "bvol-data:/data",
        "busybox",
        "cat",
        "/data/msg",
    ])
    .ok()
    .stdout_is("written-by-one\n");

    // Once the container is gone the volume can go, with its directory.
    d.docker(&["rm", "bvol-writer"]).ok();
    d.docker(&["volume", "rm", "bvol-data", &generated])
        .ok()
        .stdout_is(&format!("bvol-data\n{generated}\n"));
    assert!(!d.data_root.join("volumes/bvol-data").exists());
    let o = d.docker(&["volume", "inspect", "bvol-data"]);
    o.code_is(1).stderr_has("get bvol-data: no such volume");
    d.get("/volumes/bvol-data").status_is(404);
    // -f on a missing volume is quiet success, as docker.
    d.docker(&["volume", "rm", "-f", "bvol-gone"]).ok();
}

/// `2026-12-01T06:36:09Z` or with an offset: RFC 3339 without fractions.
fn chrono_like(s: &str) -> bool {
    s.len() >= 20 && s.as_bytes()[10] == b'T' && !s.contains('.')
}

#[test]
fn binds_tmpfs_and_the_backup_restore_recipe() {
    let d = Daemon::start();
    let tmp = d.tmp();
    let host = tmp.join("bvol-host");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("in"), "from-host\n").unwrap();
    let hs = host.display().to_string();

    // A read-only bind refuses writes; -v and --mount alike.
    for spec in [
        vec!["-v".to_string(), format!("{hs}:/ro:ro")],
        vec![
            "--mount".to_string(),
            format!("type=bind,source={hs},target=/ro,readonly"),
        ],
    ] {
        let mut args = vec!["run", "--rm"];
        args.extend(spec.iter().map(String::as_str));
        args.extend(["busybox", "sh", "-c", "cat /ro/in; echo x > /ro/new"]);
        let o = d.docker(&args);
        o.code_is(1).stderr_has("Read-only file system");
        assert_eq!(o.stdout, "from-host\n", "{o}");
        assert!(!host.join("new").exists(), "a read-only bind was written");
    }
    // A writable bind writes through to the host.
    d.docker(&[
        "run",
        "--rm",
        "-v",
        &format!("{hs}:/rw"),
        "busybox",
        "sh",
        "-c",
        "echo back > /rw/out",
    ])
    .ok();
    assert_eq!(std::fs::read_to_string(host.join("out")).unwrap(), "back\n");
    // -v creates a missing host directory, as dockerd does for Binds.
    let fresh = tmp.join("bvol-fresh/sub");
    d.docker(&[
        "run",
        "--rm",
        "-v",
        &format!("{}:/w", fresh.display()),
        "busybox",
        "sh",
        "-c",
        "echo made > /w/f",
    ])
    .ok();
    assert_eq!(std::fs::read_to_string(fresh.join("f")).unwrap(), "made\n");

    // Propagation: a slave/shared bind needs a source mount that can
    // propagate, as dockerd checks; a shared one does.
    let private = tmp.join("bvol-prop");
    std::fs::create_dir_all(&private).unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        &private,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=1m"),
    )
    .expect("mounting a test tmpfs");
    let ps = private.display().to_string();
    let set = |flag: nix::mount::MsFlags| {
        nix::mount::mount(None::<&str>, &private, None::<&str>, flag, None::<&str>)
            .expect("setting propagation");
    };
    set(nix::mount::MsFlags::MS_PRIVATE);
    let refused = d.docker(&[
        "run",
        "--rm",
        "-v",
        &format!("{ps}:/h:rslave"),
        "busybox",
        "true",
    ]);
    set(nix::mount::MsFlags::MS_SHARED);
    let shared = d.docker(&[
        "run",
        "--rm",
        "--mount",
        &format!("type=bind,source={ps},target=/h,bind-propagation=rshared"),
        "busybox",
        "sh",
        "-c",
        "grep ' /h ' /proc/self/mountinfo",
    ]);
    let _ = nix::mount::umount2(&private, nix::mount::MntFlags::MNT_DETACH);
    refused.code_is(125).stderr_has(&format!(
        "path {ps} is mounted on {ps} but it is not a shared or slave mount"
    ));
    shared.ok().stdout_has(" shared:");

    // tmpfs: memory-backed, with the size asked, empty at every start.
    let script = "ls -A /scratch; echo hi > /scratch/f; grep ' /scratch ' /proc/mounts";
    let first = d.docker(&[
        "run",
        "--name",
        "bvol-tmpfs",
        "--tmpfs",
        "/scratch:size=1m",
        "busybox",
        "sh",
        "-c",
        script,
    ]);
    first.ok();
    let line = first.stdout.trim_end();
    assert!(
        line.starts_with("tmpfs /scratch tmpfs ") && line.contains("size=1024k"),
        "{first}"
    );
    let again = d.docker(&["start", "-a", "bvol-tmpfs"]);
    again.ok();
    assert_eq!(
        again.stdout, first.stdout,
        "the tmpfs kept a file over a restart"
    );
    let o = d.docker(&[
        "run",
        "--rm",
        "--mount",
        "type=tmpfs,target=/t,tmpfs-size=2m,tmpfs-mode=1770",
        "busybox",
        "sh",
        "-c",
        "grep ' /t ' /proc/mounts; stat -c %a /t",
    ]);
    o.ok();
    assert!(
        o.stdout.starts_with("tmpfs /t tmpfs ")
            && o.stdout.contains("size=2048k")
            && o.stdout.ends_with("\n1770\n"),
        "{o}"
    );

    // The backup/restore recipe of docker's docs, byte for byte.
    d.docker(&[
        "run",
        "--name",
        "bvol-db",
        "-v",
        "/data",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /data/sub && head -c 200000 /dev/urandom > /data/sub/blob && echo hello > /data/hello",
    ])
    .ok();
    d.sh("docker run --rm --volumes-from bvol-db -v $(pwd):/backup busybox tar cvf /backup/db.tar /data")
        .ok();
    assert!(tmp.join("db.tar").exists());
    d.docker(&[
        "run", "--name", "bvol-db2", "-v", "/data", "busybox", "true",
    ])
    .ok();
    d.sh("docker run --rm --volumes-from bvol-db2 -v $(pwd):/backup busybox sh -c 'cd / && tar xvf /backup/db.tar'")
        .ok();
    let sums = |c: &str| {
        let o = d.docker(&[
            "run",
            "--rm",
            "--volumes-from",
            &format!("{c}:ro"),
            "busybox",
            "md5sum",
            "/data/sub/blob",
            "/data/hello",
        ]);
        o.ok();
        o.stdout.clone()
    };
    let (a, b) = (sums("bvol-db"), sums("bvol-db2"));
    assert_eq!(a, b, "restored bytes differ");
    assert_eq!(a.lines().count(), 2);
    // --volumes-from NAME:ro is read-only.
    d.docker(&[
        "run",
        "--rm",
        "--volumes-from",
        "bvol-db:ro",
        "busybox",
        "touch",
        "/data/x",
    ])
    .code_is(1)
    .stderr_has("Read-only file system");
}

#[test]
fn image_volumes_copy_up_nocopy_and_symlinked_targets() {
    let d = Daemon::start();
    let outside = d.tmp().join("bvol-outside");
    std::fs::create_dir_all(&outside).unwrap();
    import_seeded_image(&d, &outside);

    // The image's VOLUME: an anonymous volume filled from the image.
    let o = d.docker(&["run", "--name", "bvol-anon", "bvolimg", "cat", "/data/seed"]);
    o.ok().stdout_is("seed\n");
    let anon = d.inspect("bvol-anon", "{{range .Mounts}}{{.Name}}{{end}}");
    assert!(is_hex64(&anon), "anonymous volume name: {anon}");
    assert_eq!(
        d.inspect("bvol-anon", "{{json .Config.Volumes}}"),
        "{\"/data\":{}}"
    );
    // A named volume, empty, is filled too, keeping the file's mode.
    d.docker(&[
        "run",
        "--rm",
        "-v",
        "bvol-seeded:/data",
        "bvolimg",
        "stat",
        "-c",
        "%a %s",
        "/data/seed",
    ])
    .ok()
    .stdout_is("640 5\n");
    // The copy happens at create, before any start.
    d.docker(&[
        "create",
        "--name",
        "bvol-cu",
        "-v",
        "bvol-cu:/data",
        "bvolimg",
    ])
    .ok();
    d.docker(&[
        "run",
        "--rm",
        "-v",
        "bvol-cu:/x",
        "busybox",
        "cat",
        "/x/seed",
    ])
    .ok()
    .stdout_is("seed\n");
    d.docker(&["rm", "bvol-cu"]).ok();
    d.docker(&["volume", "rm", "bvol-cu"]).ok();
    // ... unless nocopy, with -v or --mount.
    d.docker(&[
        "run",
        "--rm",
        "-v",
        "bvol-nc1:/data:nocopy",
        "bvolimg",
        "ls",
        "-A",
        "/data",
    ])
    .ok()
    .stdout_is("");
    d.docker(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,src=bvol-nc2,dst=/data,volume-nocopy",
        "bvolimg",
        "ls",
        "-A",
        "/data",
    ])
    .ok()
    .stdout_is("");

    // A symlink in the image at the target keeps the mount inside the rootfs.
    d.docker(&[
        "run",
        "--rm",
        "-v",
        "bvol-evil:/evil",
        "bvolimg",
        "sh",
        "-c",
        "echo inside > /evil/f",
    ])
    .ok();
    assert!(
        std::fs::read_dir(&outside).unwrap().next().is_none(),
        "the mount followed the image's symlink out of the rootfs"
    );
    d.docker(&[
        "run",
        "--rm",
        "-v",
        "bvol-evil:/v",
        "busybox",
        "cat",
        "/v/f",
    ])
    .ok()
    .stdout_is("inside\n");

    // --rm and rm -v remove anonymous volumes, never named ones.
    let before = volume_names(&d);
    d.docker(&["run", "--rm", "-v", "/extra", "bvolimg", "true"])
        .ok();
    assert_eq!(volume_names(&d), before, "--rm left anonymous volumes");
    d.docker(&["rm", "-v", "bvol-anon"]).ok();
    assert!(
        !volume_names(&d).contains(&anon),
        "rm -v left the anonymous volume"
    );
    assert!(volume_names(&d).contains(&"bvol-seeded".to_string()));

    // prune: anonymous volumes by default (API >= 1.42), all with -a.
    d.docker(&["run", "--name", "bvol-p", "-v", "/p", "busybox", "true"])
        .ok();
    let p = d.inspect("bvol-p", "{{range .Mounts}}{{.Name}}{{end}}");
    d.docker(&["rm", "bvol-p"]).ok();
    assert!(volume_names(&d).contains(&p));
    let o = d.docker(&["volume", "prune", "-f"]);
    o.ok().stdout_has("Deleted Volumes:\n").stdout_has(&p);
    assert!(!volume_names(&d).contains(&p));
    if !d.is_dockerd() {
        // dockerd 20.10 (API 1.41) pruned named volumes too.
        assert!(volume_names(&d).contains(&"bvol-seeded".to_string()));
        let o = d.docker(&["volume", "prune", "-af"]);
        o.ok().stdout_has("bvol-seeded\n");
    }
    assert_eq!(volume_names(&d), Vec::<String>::new());

    // Below API 1.42 a prune takes named volumes too, as dockerd 20.10 does.
    d.docker(&["volume", "create", "bvol-old-api"]).ok();
    if !d.is_dockerd() {
        let r = d.post_json("/v1.47/volumes/prune", "");
        r.status_is(200);
        assert_eq!(
            r.json()["VolumesDeleted"],
            serde_json::Value::Null,
            "{}",
            r.text()
        );
    }
    let r = d.post_json("/v1.41/volumes/prune", "");
    r.status_is(200);
    assert_eq!(
        r.json()["VolumesDeleted"],
        serde_json::json!(["bvol-old-api"]),
        "{}",
        r.text()
    );
}

#[test]
fn system_df_lists_volumes_with_sizes() {
    let d = Daemon::start();
    d.docker(&[
        "run",
        "--name",
        "bvol-sized",
        "-v",
        "bvol-sz:/s",
        "busybox",
        "sh",
        "-c",
        "printf 0123456789 > /s/a; mkdir /s/d; printf abc > /s/d/b",
    ])
    .ok();
    d.docker(&["volume", "create", "bvol-unused"]).ok();
    let o = d.docker(&["system", "df", "-v"]);
    o.ok();
    let rows: Vec<Vec<String>> = o
        .stdout
        .split("Local Volumes space usage:")
        .nth(1)
        .unwrap_or("")
        .lines()
        .map(columns)
        .collect();
    assert!(
        rows.contains(&vec!["VOLUME NAME".into(), "LINKS".into(), "SIZE".into()]),
        "{o}"
    );
    assert!(
        rows.contains(&vec!["bvol-sz".into(), "1".into(), "13B".into()]),
        "{o}"
    );
    assert!(
        rows.contains(&vec!["bvol-unused".into(), "0".into(), "0B".into()]),
        "{o}"
    );
    let df = d.get("/system/df");
    df.status_is(200);
    let vols = df.json()["Volumes"].as_array().cloned().unwrap_or_default();
    let sz = vols
        .iter()
        .find(|v| v["Name"] == "bvol-sz")
        .unwrap_or_else(|| panic!("bvol-sz missing from /system/df: {}", df.text()));
    assert_eq!(sz["UsageData"]["Size"], 13, "{}", df.text());
    assert_eq!(sz["UsageData"]["RefCount"], 1, "{}", df.text());
    let o = d.docker(&["system", "df"]);
    o.ok();
    let line = o
        .lines()
        .into_iter()
        .find(|l| l.starts_with("Local Volumes"))
        .map(columns)
        .unwrap_or_default();
    assert_eq!(line, ["Local Volumes", "2", "1", "13B", "0B (0%)"], "{o}");

    // berth's own CLI prints what docker's does.
    if d.clis().contains(&Cli::Berth) {
        for args in [
            &["volume", "ls"][..],
            &[
                "volume",
                "ls",
                "--format",
                "{{.Name}} {{.Driver}} {{.Labels}}",
            ],
            &["volume", "inspect", "bvol-sz", "bvol-unused"],
            &["system", "df"],
        ] {
            let ours = d.run(Cli::Berth, args);
            ours.ok();
            let theirs = d.docker(args);
            ours.stdout_is(&theirs.stdout);
        }
    }
}

#[test]
fn bad_mounts_and_names_are_refused_and_change_nothing() {
    let d = Daemon::start();
    let tmp = d.tmp();
    let missing = tmp.join("bvol-missing");
    let ms = missing.display().to_string();
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec!["--mount".into(), format!("type=bind,source={ms},target=/x")],
            format!(
                "invalid mount config for type \"bind\": bind source path does not exist: {ms}"
            ),
        ),
        (
            vec!["-v".into(), "bvol-rel:rel".into()],
            "invalid mount path: 'rel' mount path must be absolute".into(),
        ),
        (
            vec![
                "--mount".into(),
                "type=volume,src=bvol-rel2,target=rel".into(),
            ],
            "invalid mount path: 'rel' mount path must be absolute".into(),
        ),
        (
            vec!["--tmpfs".into(), "rel".into()],
            "invalid mount path: 'rel' mount path must be absolute".into(),
        ),
        (
            vec!["-v".into(), "bvol-mode:/x:bogus".into()],
            "invalid mode: bogus".into(),
        ),
        (
            vec!["-v".into(), "bvol/x:/x".into()],
            "\"bvol/x\" includes invalid characters for a local volume name".into(),
        ),
        (
            vec!["--volumes-from".into(), "bvol-nope".into()],
            "No such container: bvol-nope".into(),
        ),
    ];
    for (flags, want) in &cases {
        let mut args = vec!["create"];
        args.extend(flags.iter().map(String::as_str));
        args.push("busybox");
        let o = d.docker(&args);
        o.code_is(1).stderr_has(want);
        if o.stderr.contains("Unable to find image") {
            o.fail("the daemon's answer made the CLI try a pull");
        }
    }
    assert!(!missing.exists(), "a refused --mount made its source");
    d.docker(&["ps", "-aq"]).ok().stdout_is("");
    assert_eq!(volume_names(&d), Vec::<String>::new());

    for name in ["bvol/x", "..", "b"] {
        let o = d.docker(&["volume", "create", name]);
        o.code_is(1);
        if name == "b" {
            o.stderr_has("volume name is too short");
        } else {
            o.stderr_has(&format!("create {name}: \"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"));
        }
    }
    d.docker(&["volume", "create", "-o", "bogus=1", "bvol-opt"])
        .code_is(1)
        .stderr_has("create bvol-opt: invalid option: \"bogus\"");
    d.docker(&["volume", "create", "-o", "type=tmpfs", "bvol-opt"])
        .code_is(1)
        .stderr_has("create bvol-opt: missing required option: \"device\"");
    let r = d.post_json("/volumes/create", r#"{"Name": "../bvol"}"#);
    r.status_is(400);
    d.docker(&["volume", "ls", "-f", "bogus=1"])
        .code_is(1)
        .stderr_has("Invalid filter 'bogus'");
    assert_eq!(volume_names(&d), Vec::<String>::new());
    let left: Vec<_> = std::fs::read_dir(d.data_root.join("volumes"))
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.file_name())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "refused volumes left directories: {left:?}"
    );

    // Duplicate mount points: refused at create.
    d.docker(&["create", "-v", "bvol-d1:/x", "-v", "bvol-d2:/x", "busybox"])
        .code_is(1)
        .stderr_has("Duplicate mount point: /x");
    d.docker(&["ps", "-aq"]).ok().stdout_is("");
}

#[test]
fn device_option_volume_mounts_tmpfs_at_first_use() {
    let d = Daemon::start();
    d.docker(&[
        "volume",
        "create",
        "-o",
        "type=tmpfs",
        "-o",
        "device=tmpfs",
        "-o",
        "o=size=1m",
        "bvol-mem",
    ])
    .ok();
    d.docker(&[
        "volume",
        "inspect",
        "-f",
        "{{.Options.type}} {{.Options.device}} {{.Options.o}}",
        "bvol-mem",
    ])
    .ok()
    .stdout_is("tmpfs tmpfs size=1m\n");
    let o = d.docker(&[
        "run",
        "--rm",
        "-v",
        "bvol-mem:/m",
        "busybox",
        "sh",
        "-c",
        "grep ' /m ' /proc/mounts; echo x > /m/f; cat /m/f",
    ]);
    o.ok();
    assert!(
        o.stdout.starts_with("tmpfs /m tmpfs ") && o.stdout.contains("size=1024k"),
        "{o}"
    );
    assert!(o.stdout.ends_with("\nx\n"), "{o}");
    // Unmounted with its last user: the content was memory only.
    d.docker(&[
        "run",
        "--rm",
        "-v",
        "bvol-mem:/m",
        "busybox",
        "ls",
        "-A",
        "/m",
    ])
    .ok()
    .stdout_is("");
    d.docker(&["volume", "rm", "bvol-mem"]).ok();

    // Volume events, as dockerd sends them.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    d.docker(&[
        "events",
        "--since",
        "1m",
        "--until",
        "0s",
        "--filter",
        "type=volume",
        "--format",
        "{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.driver}} {{.Actor.Attributes.destination}}",
    ])
    .ok()
    .stdout_is(
        "create bvol-mem local <no value>\n\
         create bvol-mem local <no value>\n\
         mount bvol-mem local /m\n\
         unmount bvol-mem local <no value>\n\
         create bvol-mem local <no value>\n\
         mount bvol-mem local /m\n\
         unmount bvol-mem local <no value>\n\
         destroy bvol-mem local <no value>\n",
    );
}
