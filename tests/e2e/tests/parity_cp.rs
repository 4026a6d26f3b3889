//! `docker cp` into and out of a container's volumes and bind mounts, as
//! dockerd does it: both directions, running and stopped containers, and
//! the stat (`HEAD .../archive`) endpoint. dockerd mounts the container's
//! volumes over its rootfs for the operation, so a path under a mount point
//! is the volume's content, never the (empty) directory under it.

use berth_e2e::Daemon;

#[test]
fn cp_reaches_volumes_and_binds_running_and_stopped() {
    let d = Daemon::start();
    let t = d.tmp();
    let bind = t.join("bind");
    std::fs::create_dir_all(&bind).expect("mkdir");
    std::fs::write(bind.join("from-host"), "on the host\n").expect("write");
    std::fs::write(t.join("in.txt"), "copied in\n").expect("write");
    let input = t.join("in.txt").display().to_string();
    let bind_spec = format!("{}:/bind", bind.display());
    d.docker(&[
        "run",
        "-d",
        "--name",
        "cpv",
        "-v",
        "cpvol:/data",
        "-v",
        &bind_spec,
        "busybox",
        "sleep",
        "300",
    ])
    .ok();
    // In, running: into the volume and into the bind mount.
    d.docker(&["cp", &input, "cpv:/data/vol.txt"]).ok();
    d.docker(&["cp", &input, "cpv:/bind/bound.txt"]).ok();
    d.docker(&["exec", "cpv", "cat", "/data/vol.txt", "/bind/bound.txt"])
        .ok()
        .stdout_is("copied in\ncopied in\n");
    assert_eq!(
        std::fs::read_to_string(bind.join("bound.txt")).expect("on the host"),
        "copied in\n"
    );
    // Out, running.
    let out1 = t.join("out1").display().to_string();
    d.docker(&["cp", "cpv:/bind/from-host", &out1]).ok();
    assert_eq!(
        std::fs::read_to_string(&out1).expect("read"),
        "on the host\n"
    );
    // The stat endpoint sees the file in the volume.
    let head = d.http(
        "HEAD",
        "/containers/cpv/archive?path=/data/vol.txt",
        None,
        b"",
    );
    head.status_is(200);
    assert!(
        head.header("X-Docker-Container-Path-Stat").is_some(),
        "no stat header\n{head}"
    );
    d.docker(&["stop", "-t", "1", "cpv"]).ok();
    // Out, stopped: the volume's and the bind's content, as a directory.
    let out2 = t.join("out2").display().to_string();
    d.docker(&["cp", "cpv:/data", &out2]).ok();
    assert_eq!(
        std::fs::read_to_string(t.join("out2/vol.txt")).expect("read"),
        "copied in\n"
    );
    let out3 = t.join("out3").display().to_string();
    d.docker(&["cp", "cpv:/bind/from-host", &out3]).ok();
    assert_eq!(
        std::fs::read_to_string(&out3).expect("read"),
        "on the host\n"
    );
    let head = d.http(
        "HEAD",
        "/containers/cpv/archive?path=/bind/from-host",
        None,
        b"",
    );
    head.status_is(200);
    // In, stopped: lands in the volume, seen by the next start.
    d.docker(&["cp", &input, "cpv:/data/while-stopped.txt"])
        .ok();
    d.docker(&[
        "run",
        "--rm",
        "-v",
        "cpvol:/v",
        "busybox",
        "cat",
        "/v/while-stopped.txt",
    ])
    .ok()
    .stdout_is("copied in\n");
    d.docker(&["rm", "-f", "cpv"]).ok();
    d.docker(&["volume", "rm", "cpvol"]).ok();
}

#[test]
fn cp_into_a_never_started_container_volume_and_read_only_mounts() {
    let d = Daemon::start();
    let t = d.tmp();
    std::fs::write(t.join("in.txt"), "x\n").expect("write");
    let input = t.join("in.txt").display().to_string();
    // Created, never started: its volume is made at create.
    d.docker(&[
        "create",
        "--name",
        "cpc",
        "--read-only",
        "-v",
        "cpcvol:/data",
        "-v",
        "cpro:/ro:ro",
        "busybox",
        "cat",
        "/data/in.txt",
    ])
    .ok();
    // A read-only rootfs does not stop a copy into a writable volume.
    d.docker(&["cp", &input, "cpc:/data/"]).ok();
    d.docker(&["start", "-a", "cpc"]).ok().stdout_is("x\n");
    // A read-only volume refuses, with dockerd's message.
    d.docker(&["cp", &input, "cpc:/ro/"])
        .fails()
        .stderr_has("mounted volume is marked read-only");
    // Outside the volumes, the read-only rootfs refuses.
    d.docker(&["cp", &input, "cpc:/tmp/"])
        .fails()
        .stderr_has("container rootfs is marked read-only");
    d.docker(&["rm", "-f", "cpc"]).ok();
    d.docker(&["volume", "rm", "cpcvol", "cpro"]).ok();
}
