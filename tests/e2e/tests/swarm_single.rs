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

/// docker-py's swarm API (code nobody here wrote): init, the swarm's and
/// the node's attributes, an update, the errors it raises, leave.
#[test]
fn python_sdk_drives_a_one_node_swarm() {
    let d = start();
    let addr = format!("127.0.0.1:{}", free_port());
    let script = format!(
        r#"python3 - <<'EOF'
import docker
c = docker.from_env()
node_id = c.swarm.init(listen_addr="{addr}", advertise_addr="{addr}")
print(len(node_id))
c.swarm.reload()
print(c.swarm.attrs["Spec"]["Orchestration"]["TaskHistoryRetentionLimit"])
print(c.swarm.attrs["JoinTokens"]["Worker"].startswith("SWMTKN-1-"))
c.swarm.update(task_history_retention_limit=9)
c.swarm.reload()
print(c.swarm.attrs["Spec"]["Orchestration"]["TaskHistoryRetentionLimit"])
nodes = c.nodes.list(filters={{"role": "manager"}})
print(len(nodes), nodes[0].id == node_id, nodes[0].attrs["ManagerStatus"]["Leader"])
print(c.nodes.list(filters={{"role": "worker"}}))
n = c.nodes.get(node_id)
n.update({{"Availability": "pause", "Role": "manager", "Labels": {{"k": "v"}}}})
n.reload()
print(n.attrs["Spec"]["Availability"], n.attrs["Spec"]["Labels"])
try:
    c.swarm.init(listen_addr="{addr}", advertise_addr="{addr}")
except docker.errors.APIError as e:
    print(e.status_code, "already part of a swarm" in str(e))
try:
    c.swarm.leave()
except docker.errors.APIError as e:
    print(e.status_code)
print(c.swarm.leave(force=True))
print(c.info()["Swarm"]["LocalNodeState"])
EOF"#
    );
    d.sh(&script).ok().stdout_is(
        "25\n5\nTrue\n9\n1 True True\n[]\npause {'k': 'v'}\n503 True\n503\nTrue\ninactive\n",
    );
}

/// The docker 20.10 CLI (API 1.41) reads the same swarm.
#[test]
fn the_docker_20_cli_sees_the_swarm() {
    let d = start();
    init(&d);
    let out = d.docker20(&[
        "node",
        "ls",
        "--format",
        "{{.Self}} {{.Status}} {{.ManagerStatus}}",
    ]);
    out.ok().stdout_is("true Ready Leader\n");
    d.docker20(&[
        "info",
        "--format",
        "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}",
    ])
    .ok()
    .stdout_is("active true\n");
    d.docker20(&["swarm", "leave", "--force"]).ok();
}

/// Autolock: the key is printed once, a restarted manager is locked and
/// refuses to serve until `swarm unlock` gets the right key; a wrong one
/// is refused; the key rotates; autolock turns off.
#[test]
fn an_autolocked_manager_restarts_locked_until_unlocked() {
    let mut d = start();
    let addr = format!("127.0.0.1:{}", free_port());
    d.docker(&[
        "swarm",
        "init",
        "--autolock",
        "--listen-addr",
        &addr,
        "--advertise-addr",
        &addr,
    ])
    .ok()
    .stdout_has("To unlock a swarm manager after it restarts, run the `docker swarm unlock`")
    .stdout_has("SWMKEY-1-");
    let key = d.docker(&["swarm", "unlock-key", "-q"]);
    key.ok();
    let key = key.stdout.trim().to_string();
    assert!(key.starts_with("SWMKEY-1-"), "{key}");
    d.stop();
    d.restart();
    assert_eq!(info(&d, "{{.Swarm.LocalNodeState}}"), "locked");
    d.docker(&["node", "ls"])
        .code_is(1)
        .stderr_has("Swarm is encrypted and needs to be unlocked before it can be used.");
    let wrong = "SWMKEY-1-ZmFrZWtleWZha2VrZXlmYWtla2V5ZmFrZWtleWZha2U";
    d.docker_stdin(&["swarm", "unlock"], format!("{wrong}\n").as_bytes())
        .code_is(1)
        .stderr_has("invalid key");
    assert_eq!(info(&d, "{{.Swarm.LocalNodeState}}"), "locked");
    d.docker_stdin(&["swarm", "unlock"], format!("{key}\n").as_bytes())
        .ok();
    let back = berth_e2e::wait_for(std::time::Duration::from_secs(30), || {
        let out = d.docker(&["node", "ls", "--format", "{{.ManagerStatus}}"]);
        (out.code == Some(0) && out.stdout.contains("Leader")).then_some(())
    });
    assert!(back.is_some(), "the unlocked manager leads again");
    d.docker(&["swarm", "unlock-key", "--rotate", "-q"]).ok();
    let rotated = d.docker(&["swarm", "unlock-key", "-q"]);
    assert_ne!(rotated.stdout.trim(), key);
    d.docker(&["swarm", "update", "--autolock=false"]).ok();
    d.docker(&["swarm", "unlock-key"])
        .code_is(1)
        .stderr_has("no unlock key is set");
    d.docker(&["swarm", "leave", "--force"]).ok();
}
