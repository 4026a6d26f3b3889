//! berthd with `--storage-driver vfs`: containers run from plain copies of
//! their image, with volumes, and nothing is overlay-mounted. (Its own test
//! binary: the daemon's flags come from the process environment.)

use berth_e2e::Daemon;

#[test]
fn vfs_driver_runs_containers_from_copies() {
    std::env::set_var("BERTH_E2E_BERTHD_ARGS", "--storage-driver vfs");
    let d = Daemon::start();
    let driver = d.docker(&["info", "-f", "{{.Driver}}"]);
    driver.ok();
    if !d.is_dockerd() {
        driver.stdout_is("vfs\n");
    }
    let o = d.docker(&[
        "run",
        "-d",
        "--name",
        "bvol-vfs",
        "-v",
        "bvol-vfsvol:/data",
        "busybox",
        "sh",
        "-c",
        "head -c 5000 /dev/zero > /grown; echo kept > /data/f; sleep 1000",
    ]);
    o.ok();
    assert_eq!(
        d.inspect("bvol-vfs", "{{.GraphDriver.Name}}"),
        driver.stdout.trim_end()
    );
    if !d.is_dockerd() {
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let root = d.data_root.display().to_string();
        assert!(
            !mounts
                .lines()
                .any(|l| l.contains(&root) && l.contains(" overlay ")),
            "the vfs driver mounted an overlay"
        );
    }
    let size = berth_e2e::wait_for(std::time::Duration::from_secs(10), || {
        let s = d.docker(&["ps", "-s", "--format", "{{.Size}}"]);
        s.stdout.starts_with("5kB").then_some(s.stdout.clone())
    });
    assert!(size.is_some(), "ps -s did not show the container's 5kB");
    d.docker(&["exec", "bvol-vfs", "cat", "/data/f"])
        .ok()
        .stdout_is("kept\n");
    d.docker(&["rm", "-f", "bvol-vfs"]).ok();
    d.docker(&[
        "run",
        "--rm",
        "-v",
        "bvol-vfsvol:/data",
        "busybox",
        "cat",
        "/data/f",
    ])
    .ok()
    .stdout_is("kept\n");
    if !d.is_dockerd() {
        let left: Vec<_> = std::fs::read_dir(d.data_root.join("vfs/dir"))
            .map(|r| r.filter_map(Result::ok).map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "rm left container copies: {left:?}");
    }
}
