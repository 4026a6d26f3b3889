//! The swarm walkthrough of the seeds, through the real docker CLI 28, on a
//! cluster of separate nodes (`berth_e2e::cluster`): init, join managers
//! and workers by token, `node ls`, `info`, `node inspect --pretty`, drain,
//! labels, promote, demote, `node rm`, `swarm leave`.
//!
//! Run with `--test-threads=1`: each test takes the whole machine's
//! daemon slots.

use berth_e2e::cluster::{has_field, Cluster, NodeRow, Role};
use berth_e2e::Cli;
use std::time::Instant;

/// What dockerd answers a worker for any cluster-wide command.
const WORKER_REFUSAL: &str = "This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager.";

/// Three managers (nodes 1-3) and two workers (4-5).
fn five_node_swarm() -> Cluster {
    let c = Cluster::start(5);
    c.swarm_init(1);
    let manager = c.join_token(1, Role::Manager);
    let worker = c.join_token(1, Role::Worker);
    assert_ne!(manager, worker, "the two roles' tokens differ");
    // The same CA digest (the third dash-separated field) pins both.
    assert_eq!(manager.split('-').nth(2), worker.split('-').nth(2));
    // Workers join through a second manager too; each join is timed for
    // the record (the goal for berth: under 0.5 s).
    for (i, token, via, role) in [
        (2, &manager, 1, Role::Manager),
        (3, &manager, 1, Role::Manager),
        (4, &worker, 1, Role::Worker),
        (5, &worker, 2, Role::Worker),
    ] {
        let started = Instant::now();
        c.join(i, token, via, role);
        eprintln!(
            "berth-e2e: [{}] {}: node {i} joined as a {} in {:?}",
            c.test,
            c.flavor.name(),
            role.name(),
            started.elapsed()
        );
    }
    c
}

#[test]
fn init_join_and_list_three_managers_and_two_workers() {
    let c = five_node_swarm();
    let rows = c.node(1).node_ls();
    assert_eq!(rows.len(), 5, "{rows:?}");
    let status = |h: &str| {
        rows.iter()
            .find(|r| r.hostname == h)
            .unwrap_or_else(|| panic!("no {h} in {rows:?}"))
            .manager_status
            .clone()
    };
    assert_eq!(status("node-1"), "Leader");
    // A joining manager is Reachable once the others heard from it.
    for h in ["node-2", "node-3"] {
        c.wait_row(1, h, |r| r.manager_status == "Reachable");
    }
    assert_eq!(status("node-4"), "");
    assert_eq!(status("node-5"), "");
    let me: Vec<&NodeRow> = rows.iter().filter(|r| r.is_self).collect();
    assert_eq!(me.len(), 1, "{rows:?}");
    assert_eq!(me[0].hostname, "node-1");
    assert_eq!(me[0].id, c.node(1).swarm_node_id());
    for h in ["node-2", "node-3", "node-4", "node-5"] {
        c.wait_row(1, h, |r| r.status == "Ready" && r.availability == "Active");
    }
    // Every manager lists the same five, with the same leader.
    for i in [2, 3] {
        let rows = c.node(i).node_ls();
        assert_eq!(rows.len(), 5, "node {i}: {rows:?}");
        let leaders: Vec<&str> = rows
            .iter()
            .filter(|r| r.manager_status == "Leader")
            .map(|r| r.hostname.as_str())
            .collect();
        assert_eq!(leaders, ["node-1"], "node {i}: {rows:?}");
    }
    // The table a person reads: the columns and the `*` after our ID.
    let table = c.node(1).docker(&["node", "ls"]);
    table.ok();
    let header = berth_e2e::columns(table.lines()[0]);
    assert_eq!(
        header,
        [
            "ID",
            "HOSTNAME",
            "STATUS",
            "AVAILABILITY",
            "MANAGER STATUS",
            "ENGINE VERSION"
        ],
        "{table}"
    );
    table.stdout_has(&format!("{} *", me[0].id));
    for i in 1..=3 {
        eprintln!(
            "berth-e2e: [{}] {}: manager node {i} resident memory {:?} KiB",
            c.test,
            c.flavor.name(),
            c.node(i).rss_kib()
        );
    }
    // The docker CLI 20.10 reads the same swarm the same way.
    let old = c.node(1).run(Cli::Docker20, &["node", "ls"]);
    old.ok();
    assert_eq!(berth_e2e::columns(old.lines()[0]), header, "{old}");
    assert_eq!(old.lines().len(), 6, "{old}");
    let token = c
        .node(1)
        .run(Cli::Docker20, &["swarm", "join-token", "-q", "worker"]);
    token
        .ok()
        .stdout_is(&format!("{}\n", c.join_token(1, Role::Worker)));
}

#[test]
fn info_and_inspect_pretty_describe_the_swarm() {
    let c = five_node_swarm();
    let info = c.node(1).docker(&["info"]);
    info.ok();
    for (k, v) in [
        ("Swarm", "active"),
        ("Is Manager", "true"),
        ("Managers", "3"),
        ("Nodes", "5"),
        ("NodeID", &c.node(1).swarm_node_id()),
        ("Node Address", c.addr(1)),
    ] {
        has_field(&info, k, v);
    }
    let cluster_id = c.node(1).info("{{.Swarm.Cluster.ID}}");
    assert_eq!(c.node(4).info("{{.Swarm.LocalNodeState}}"), "active");
    assert_eq!(c.node(4).info("{{.Swarm.ControlAvailable}}"), "false");
    has_field(&c.node(4).docker(&["info"]), "Is Manager", "false");
    assert_eq!(c.node(2).info("{{.Swarm.Cluster.ID}}"), cluster_id);

    let pretty = c.node(1).docker(&["node", "inspect", "--pretty", "self"]);
    pretty.ok();
    for (k, v) in [
        ("ID", c.node(1).swarm_node_id().as_str()),
        ("Hostname", "node-1"),
        ("State", "Ready"),
        ("Availability", "Active"),
        ("Address", c.addr(1)),
        ("Leader", "Yes"),
        ("Raft Status", "Reachable"),
    ] {
        has_field(&pretty, k, v);
    }
    pretty.stdout_has("Manager Status:");
    // A worker's description has no manager section.
    let worker = c.node(1).docker(&["node", "inspect", "--pretty", "node-4"]);
    has_field(&worker, "Hostname", "node-4");
    has_field(&worker, "Address", c.addr(4));
    assert!(!worker.stdout.contains("Manager Status"), "{worker}");
    // A worker cannot read the cluster's state.
    for args in [&["node", "ls"][..], &["node", "inspect", "self"]] {
        c.node(4)
            .docker(args)
            .code_is(1)
            .stderr_has(&format!("Error response from daemon: {WORKER_REFUSAL}"));
    }
}
