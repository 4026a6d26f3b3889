//! `docker pause` / `unpause`: the container's processes freeze and thaw.

use std::time::Duration;

use berth_e2e::Daemon;

#[test]
fn pause_freezes_and_unpause_thaws() {
    let d = Daemon::start();
    d.docker(&[
        "run",
        "-d",
        "--name",
        "pz",
        "busybox",
        "sh",
        "-c",
        "while true; do echo tick; sleep 0.1; done",
    ])
    .ok();
    std::thread::sleep(Duration::from_millis(500));
    d.docker(&["pause", "pz"]).ok().stdout_is("pz\n");
    assert_eq!(
        d.inspect("pz", "{{.State.Status}} {{.State.Paused}}"),
        "paused true"
    );
    d.docker(&["ps", "--format", "{{.Status}}"])
        .ok()
        .stdout_has("(Paused)");
    d.docker(&["pause", "pz"])
        .code_is(1)
        .stderr_has("is already paused");
    let frozen = d.docker(&["logs", "pz"]).stdout.lines().count();
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        d.docker(&["logs", "pz"]).stdout.lines().count(),
        frozen,
        "output while paused"
    );
    d.docker(&["unpause", "pz"]).ok().stdout_is("pz\n");
    std::thread::sleep(Duration::from_millis(800));
    assert!(
        d.docker(&["logs", "pz"]).stdout.lines().count() > frozen,
        "no output after unpause"
    );
    d.docker(&["unpause", "pz"])
        .code_is(1)
        .stderr_has("is not paused");
    // A paused container still stops.
    d.docker(&["pause", "pz"]).ok();
    d.docker(&["stop", "-t", "1", "pz"]).ok();
    assert_eq!(
        d.inspect("pz", "{{.State.Status}} {{.State.Paused}}"),
        "exited false"
    );
}
