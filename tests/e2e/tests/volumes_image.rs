//! Volumes an image declares (`VOLUME`): copy-up of the image's content,
//! `nocopy`, and symlinked targets that must not escape. Every object a
//! test makes is named `bvol...`.

use std::path::Path;

use berth_e2e::fixture::{busybox_tar, TarBuilder};
use berth_e2e::volumes::volume_names;
use berth_e2e::{is_hex64, Daemon};

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
    named_volumes_are_filled_unless_nocopy(&d);
    a_symlinked_target_stays_in_the_rootfs(&d, &outside);
    rm_takes_anonymous_volumes_only(&d, &anon);
    prune_by_api_version(&d);
}

/// A named volume, empty, is filled too, keeping the file's mode, at
/// create; unless nocopy, with -v or --mount.
fn named_volumes_are_filled_unless_nocopy(d: &Daemon) {
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
}

/// A symlink in the image at the target keeps the mount inside the rootfs.
fn a_symlinked_target_stays_in_the_rootfs(d: &Daemon, outside: &Path) {
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
        std::fs::read_dir(outside).unwrap().next().is_none(),
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
}

/// --rm and rm -v remove anonymous volumes, never named ones.
fn rm_takes_anonymous_volumes_only(d: &Daemon, anon: &str) {
    let before = volume_names(d);
    d.docker(&["run", "--rm", "-v", "/extra", "bvolimg", "true"])
        .ok();
    assert_eq!(volume_names(d), before, "--rm left anonymous volumes");
    d.docker(&["rm", "-v", "bvol-anon"]).ok();
    assert!(
        !volume_names(d).contains(&anon.to_string()),
        "rm -v left the anonymous volume"
    );
    assert!(volume_names(d).contains(&"bvol-seeded".to_string()));
}

/// prune: anonymous volumes by default (API >= 1.42), all with -a; below
/// API 1.42 named volumes too, as dockerd 20.10 does.
fn prune_by_api_version(d: &Daemon) {
    // prune: anonymous volumes by default (API >= 1.42), all with -a.
    d.docker(&["run", "--name", "bvol-p", "-v", "/p", "busybox", "true"])
        .ok();
    let p = d.inspect("bvol-p", "{{range .Mounts}}{{.Name}}{{end}}");
    d.docker(&["rm", "bvol-p"]).ok();
    assert!(volume_names(d).contains(&p));
    let o = d.docker(&["volume", "prune", "-f"]);
    o.ok().stdout_has("Deleted Volumes:\n").stdout_has(&p);
    assert!(!volume_names(d).contains(&p));
    if !d.is_dockerd() {
        // dockerd 20.10 (API 1.41) pruned named volumes too.
        assert!(volume_names(d).contains(&"bvol-seeded".to_string()));
        let o = d.docker(&["volume", "prune", "-af"]);
        o.ok().stdout_has("bvol-seeded\n");
    }
    assert_eq!(volume_names(d), Vec::<String>::new());

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
