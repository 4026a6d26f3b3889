//! Bind mounts, tmpfs and `--volumes-from` (the documentation's
//! backup/restore recipe), as a docker user types them. Every object a test
//! makes is named `bvol...`.

use std::path::Path;

use berth_e2e::Daemon;

#[test]
fn binds_tmpfs_and_the_backup_restore_recipe() {
    let d = Daemon::start();
    let tmp = d.tmp();
    let host = tmp.join("bvol-host");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("in"), "from-host\n").unwrap();
    let hs = host.display().to_string();

    read_only_and_writable_binds(&d, &tmp, &host, &hs);
    bind_propagation_needs_a_propagating_source(&d, &tmp);
    tmpfs_is_sized_and_empty_at_every_start(&d);
    backup_restore_recipe(&d, &tmp);
}

/// A read-only bind refuses writes (-v and --mount alike); a writable one
/// writes through; -v creates a missing host directory.
fn read_only_and_writable_binds(d: &Daemon, tmp: &Path, host: &Path, hs: &str) {
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
}

/// Propagation: a slave/shared bind needs a source mount that can
/// propagate, as dockerd checks; a shared one does.
fn bind_propagation_needs_a_propagating_source(d: &Daemon, tmp: &Path) {
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
}

/// tmpfs: memory-backed, with the size asked, empty at every start.
fn tmpfs_is_sized_and_empty_at_every_start(d: &Daemon) {
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
}

/// The backup/restore recipe of docker's docs, byte for byte.
fn backup_restore_recipe(d: &Daemon, tmp: &Path) {
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
