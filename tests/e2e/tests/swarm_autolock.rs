//! Autolock through the real docker CLI 28, on a node of the cluster
//! fixture (`berth_e2e::cluster`): a restarted manager of a locked swarm
//! serves nothing until `swarm unlock` gets the right key; a wrong key is
//! refused; a rotated key replaces the old one.
//!
//! Run with `--test-threads=1`: each test takes the whole machine's
//! daemon slots.

use berth_e2e::cluster::Cluster;

const LOCKED: &str = "Error response from daemon: Swarm is encrypted and needs to be unlocked before it can be used. Please use \"docker swarm unlock\" to unlock it.";

#[test]
fn a_restarted_locked_manager_serves_only_after_unlock_with_the_right_key() {
    let mut c = Cluster::start(1);
    let init = c
        .node(1)
        .docker(&["swarm", "init", "--autolock", "--advertise-addr", c.addr(1)]);
    init.ok()
        .stdout_has("To unlock a swarm manager after it restarts, run the `docker swarm unlock`");
    let key = c.node(1).docker(&["swarm", "unlock-key", "-q"]);
    key.ok();
    let key = key.stdout.trim().to_string();
    assert!(key.starts_with("SWMKEY-1-"), "{key}");
    assert!(init.stdout.contains(&key), "{init}");
    c.node(1)
        .docker(&["swarm", "unlock"])
        .code_is(1)
        .stderr_has("Error: swarm is not locked");

    c.stop(1);
    c.restart(1);
    assert_eq!(c.node(1).info("{{.Swarm.LocalNodeState}}"), "locked");
    c.node(1)
        .docker(&["node", "ls"])
        .code_is(1)
        .stderr_has(LOCKED);
    // The key is not on the node: a wrong one (well-formed or not) is
    // refused and the node stays locked.
    let wrong = format!("SWMKEY-1-{}", "A".repeat(key.len() - 9));
    for (bad, says) in [
        (
            wrong.as_str(),
            "swarm could not be unlocked: invalid key provided",
        ),
        ("not-a-key", "invalid key string"),
    ] {
        c.node(1)
            .docker_stdin(&["swarm", "unlock"], &format!("{bad}\n"))
            .code_is(1)
            .stderr_has(&format!("Error response from daemon: {says}"));
        assert_eq!(c.node(1).info("{{.Swarm.LocalNodeState}}"), "locked");
    }
    c.node(1)
        .docker_stdin(&["swarm", "unlock"], &format!("{key}\n"))
        .ok();
    assert_eq!(c.node(1).info("{{.Swarm.LocalNodeState}}"), "active");
    assert_eq!(c.node(1).node_ls().len(), 1);

    // A rotated key: the old one no longer unlocks.
    let rotated = c.node(1).docker(&["swarm", "unlock-key", "-q", "--rotate"]);
    rotated.ok();
    let new_key = rotated.stdout.trim().to_string();
    assert_ne!(new_key, key);
    c.stop(1);
    c.restart(1);
    c.node(1)
        .docker_stdin(&["swarm", "unlock"], &format!("{key}\n"))
        .code_is(1)
        .stderr_has("swarm could not be unlocked: invalid key provided");
    c.node(1)
        .docker_stdin(&["swarm", "unlock"], &format!("{new_key}\n"))
        .ok();
    assert_eq!(c.node(1).node_ls().len(), 1);
}
