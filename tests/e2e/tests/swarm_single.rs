//! A one-node swarm through the docker CLI: init, what `node ls`, `info`
//! and `join-token` show, updates of the swarm and the node, the refusals
//! dockerd gives (init twice, demote or leave the last manager), a daemon
//! restart that keeps the swarm, and leave. Multi-node clusters are in
//! the cluster tests.

use berth_e2e::Daemon;

/// dockerd 20.10 refuses swarm mode with `--live-restore` ("incompatible
/// with swarm mode"), which the harness gives it; berthd has no such
/// limit, and reads the flag as dockerd does.
fn start() -> Daemon {
    Daemon::start_with(&["--live-restore=false".to_string()], |_| {})
}

/// A port free on this host now (the daemon listens on it in its own
/// namespace, or in this one for berthd).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    l.local_addr().expect("bound").port()
}

fn init(d: &Daemon) -> String {
    let addr = format!("127.0.0.1:{}", free_port());
    let out = d.docker(&[
        "swarm",
        "init",
        "--listen-addr",
        &addr,
        "--advertise-addr",
        &addr,
    ]);
    out.ok()
        .stdout_has("Swarm initialized: current node (")
        .stdout_has(") is now a manager.")
        .stdout_has("docker swarm join --token SWMTKN-1-")
        .stdout_has(&addr);
    addr
}

fn info(d: &Daemon, format: &str) -> String {
    let out = d.docker(&["info", "--format", format]);
    out.ok();
    out.stdout.trim().to_string()
}

#[test]
fn a_one_node_swarm_shows_updates_and_leaves_as_dockerd() {
    let d = start();
    init(&d);
    d.docker(&["swarm", "init"])
        .code_is(1)
        .stderr_has("This node is already part of a swarm. Use \"docker swarm leave\" to leave this swarm and join another one.");

    let ls = d.docker(&[
        "node",
        "ls",
        "--format",
        "{{.Self}} {{.Status}} {{.Availability}} {{.ManagerStatus}}",
    ]);
    ls.ok().stdout_is("true Ready Active Leader\n");
    assert_eq!(
        info(&d, "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}} {{.Swarm.Managers}} {{.Swarm.Nodes}}"),
        "active true 1 1"
    );
    let node_id = info(&d, "{{.Swarm.NodeID}}");
    assert_eq!(node_id.len(), 25, "node ID {node_id:?}");

    let worker = d.docker(&["swarm", "join-token", "-q", "worker"]);
    worker.ok();
    let manager = d.docker(&["swarm", "join-token", "-q", "manager"]);
    manager.ok();
    assert!(worker.stdout.starts_with("SWMTKN-1-"), "{}", worker.stdout);
    assert_ne!(worker.stdout, manager.stdout);
    // same CA digest, different secrets
    assert_eq!(worker.stdout[..60], manager.stdout[..60]);
    d.docker(&["swarm", "join-token", "--rotate", "worker"])
        .ok()
        .stdout_has("Successfully rotated worker join token.");
    let rotated = d.docker(&["swarm", "join-token", "-q", "worker"]);
    assert_ne!(rotated.stdout, worker.stdout);

    d.docker(&["swarm", "update", "--task-history-limit", "7"])
        .ok()
        .stdout_has("Swarm updated.");
    assert_eq!(
        info(
            &d,
            "{{.Swarm.Cluster.Spec.Orchestration.TaskHistoryRetentionLimit}}"
        ),
        "7"
    );

    // the CLI resolves `self` for inspect and ps only; update takes an ID
    d.docker(&[
        "node",
        "update",
        "--label-add",
        "zone=a",
        "--availability",
        "drain",
        &node_id,
    ])
    .ok();
    let inspect = d.docker(&[
        "node",
        "inspect",
        "self",
        "--format",
        "{{.ID}} {{.Spec.Labels.zone}} {{.Spec.Availability}} {{.Spec.Role}}",
    ]);
    inspect
        .ok()
        .stdout_is(&format!("{node_id} a drain manager\n"));
    d.docker(&["node", "update", "--availability", "bogus", &node_id])
        .fails();
    d.docker(&["node", "update", "--availability", "active", "self"])
        .code_is(1)
        .stderr_has("node self not found");
    d.docker(&["node", "inspect", "nosuchnode"])
        .code_is(1)
        .stderr_has("nosuchnode not found");
    d.docker(&["node", "demote", &node_id])
        .code_is(1)
        .stderr_has("attempting to demote the last manager of the swarm");

    d.docker(&["swarm", "leave"])
        .code_is(1)
        .stderr_has("Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message.");
    d.docker(&["swarm", "leave", "--force"])
        .ok()
        .stdout_has("Node left the swarm.");
    assert_eq!(info(&d, "{{.Swarm.LocalNodeState}}"), "inactive");
    d.docker(&["node", "ls"])
        .code_is(1)
        .stderr_has("This node is not a swarm manager.");
}

#[test]
fn a_restarted_daemon_is_still_the_swarm_s_manager() {
    let mut d = start();
    init(&d);
    let node_id = info(&d, "{{.Swarm.NodeID}}");
    let cluster_id = info(&d, "{{.Swarm.Cluster.ID}}");
    d.stop();
    d.restart();
    let back = berth_e2e::wait_for(std::time::Duration::from_secs(30), || {
        let out = d.docker(&["node", "ls", "--format", "{{.ID}} {{.ManagerStatus}}"]);
        (out.code == Some(0) && out.stdout.contains("Leader")).then(|| out.stdout.clone())
    })
    .expect("the restarted manager leads its swarm again");
    assert_eq!(back, format!("{node_id} Leader\n"));
    assert_eq!(info(&d, "{{.Swarm.Cluster.ID}}"), cluster_id);
    d.docker(&["swarm", "leave", "--force"]).ok();
}
