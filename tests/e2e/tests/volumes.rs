//! Named volumes as a docker user types them: sharing, removal while in
//! use, a daemon crash, `system df`, bad mounts and names, and device
//! options (bind mounts and tmpfs are in `volumes_binds.rs`, volumes an
//! image declares in `volumes_image.rs`). Every object a test makes is
//! named `bvol...`.

use std::path::Path;

use berth_e2e::volumes::volume_names;
use berth_e2e::{columns, is_hex64, Cli, Daemon};

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

    a_first_container_writes_a_second_reads(&d, &mountpoint);
    mounts_in_inspect_and_ps(&d, &mountpoint);
    in_use_is_refused_naming_the_container(&d, &mountpoint);
    dangling_label_and_name_filters(&d, &generated);
    volumes_survive_a_daemon_crash(&mut d, &generated);
    unused_volume_goes_with_its_directory(&d, &generated);
}

/// A first container writes, a second one reads.
fn a_first_container_writes_a_second_reads(d: &Daemon, mountpoint: &Path) {
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
}

/// Mounts in inspect and in ps.
fn mounts_in_inspect_and_ps(d: &Daemon, mountpoint: &Path) {
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
}

/// In use (even by a stopped container): 409 naming the container.
fn in_use_is_refused_naming_the_container(d: &Daemon, mountpoint: &Path) {
    let writer_id = d.inspect("bvol-writer", "{{.Id}}");
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
}

/// dangling filter: the used one is not dangling, the generated one is.
fn dangling_label_and_name_filters(d: &Daemon, generated: &str) {
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
}

/// kill -9 of the daemon: the volumes and their content stay.
fn volumes_survive_a_daemon_crash(d: &mut Daemon, generated: &str) {
    d.kill9();
    if d.is_dockerd() {
        // dockerd 20.10 restarted at once after a crash times out waiting
        // for its old containerd; give it the pause live_restore.rs gives.
        std::thread::sleep(std::time::Duration::from_secs(2));
    }
    d.restart();
    assert_eq!(volume_names(d), {
        let mut v = vec!["bvol-data".to_string(), generated.to_string()];
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
}

/// Once the container is gone the volume can go, with its directory.
fn unused_volume_goes_with_its_directory(d: &Daemon, generated: &str) {
    d.docker(&["rm", "bvol-writer"]).ok();
    d.docker(&["volume", "rm", "bvol-data", generated])
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
