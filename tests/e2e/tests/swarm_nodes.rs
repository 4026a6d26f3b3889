//! Managing a swarm's nodes through the real docker CLI 28, on a cluster of
//! separate nodes (`berth_e2e::cluster`): availability, labels, promote,
//! demote, `node rm` with and without `--force`, a worker's `swarm leave`.
//!
//! Run with `--test-threads=1`: each test takes the whole machine's
//! daemon slots.

use berth_e2e::cluster::{has_field, Cluster, Role};

/// A manager (node 1) and two workers (nodes 2 and 3).
fn one_manager_two_workers() -> Cluster {
    let c = Cluster::start(3);
    c.swarm_init(1);
    let worker = c.join_token(1, Role::Worker);
    c.join(2, &worker, 1, Role::Worker);
    c.join(3, &worker, 1, Role::Worker);
    c
}

#[test]
fn availability_and_labels_are_updated_by_hostname() {
    let c = one_manager_two_workers();
    let m = c.node(1);
    for (flag, shown) in [("drain", "Drain"), ("pause", "Pause"), ("active", "Active")] {
        m.docker(&["node", "update", "--availability", flag, "node-2"])
            .ok()
            .stdout_is("node-2\n");
        assert_eq!(m.row_of("node-2").availability, shown);
        let spec = m.docker(&["node", "inspect", "-f", "{{.Spec.Availability}}", "node-2"]);
        spec.ok().stdout_is(&format!("{flag}\n"));
    }
    m.docker(&["node", "update", "--availability", "sideways", "node-2"])
        .fails()
        .stderr_has("sideways");
    assert_eq!(m.row_of("node-2").availability, "Active");

    m.docker(&["node", "update", "--label-add", "zone=east", "node-3"])
        .ok()
        .stdout_is("node-3\n");
    m.docker(&["node", "update", "--label-add", "ssd", "node-3"])
        .ok();
    let labels = m.docker(&["node", "inspect", "-f", "{{json .Spec.Labels}}", "node-3"]);
    labels.ok().stdout_is("{\"ssd\":\"\",\"zone\":\"east\"}\n");
    let pretty = m.docker(&["node", "inspect", "--pretty", "node-3"]);
    pretty.ok().stdout_has(" - zone=east");
    m.docker(&["node", "update", "--label-rm", "zone", "node-3"])
        .ok();
    let labels = m.docker(&["node", "inspect", "-f", "{{json .Spec.Labels}}", "node-3"]);
    labels.ok().stdout_is("{\"ssd\":\"\"}\n");
    // A worker may change nothing.
    c.node(2)
        .docker(&["node", "update", "--label-add", "x=y", "node-2"])
        .code_is(1)
        .stderr_has("This node is not a swarm manager. Worker nodes can't be used");
}

#[test]
fn promote_and_demote_change_a_nodes_role() {
    let c = one_manager_two_workers();
    let m = c.node(1);
    // The only manager cannot be demoted: no one would be left to lead.
    m.docker(&["node", "demote", "node-1"])
        .code_is(1)
        .stderr_has("attempting to demote the last manager of the swarm");
    m.docker(&["node", "promote", "node-3"])
        .ok()
        .stdout_is("Node node-3 promoted to a manager in the swarm.\n");
    c.wait_row(1, "node-3", |r| r.manager_status == "Reachable");
    // The promoted node serves the cluster's state itself now.
    let rows = berth_e2e::wait_for(std::time::Duration::from_secs(30), || {
        c.node(3).try_node_ls().ok()
    })
    .unwrap_or_else(|| c.node(3).node_ls());
    assert_eq!(rows.len(), 3, "{rows:?}");
    has_field(&c.node(3).docker(&["info"]), "Is Manager", "true");
    has_field(&m.docker(&["info"]), "Managers", "2");

    m.docker(&["node", "demote", "node-3"])
        .ok()
        .stdout_is("Manager node-3 demoted in the swarm.\n");
    c.wait_row(1, "node-3", |r| r.manager_status.is_empty());
    berth_e2e::wait_for(std::time::Duration::from_secs(30), || {
        let o = c.node(3).docker(&["node", "ls"]);
        (o.code == Some(1)).then_some(o)
    })
    .unwrap_or_else(|| c.node(3).docker(&["node", "ls"]))
    .code_is(1)
    .stderr_has("This node is not a swarm manager. Worker nodes can't be used");
    has_field(&m.docker(&["info"]), "Managers", "1");
}

#[test]
fn node_rm_refuses_a_live_node_unless_forced_and_takes_a_left_one() {
    let c = one_manager_two_workers();
    let m = c.node(1);
    let id2 = c.node(2).swarm_node_id();
    m.docker(&["node", "rm", "node-2"])
        .code_is(1)
        .stderr_has(&format!("node {id2} is not down and can't be removed"));
    assert_eq!(m.node_ls().len(), 3);
    m.docker(&["node", "rm", "--force", "node-2"])
        .ok()
        .stdout_is("node-2\n");
    let rows = m.node_ls();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows.iter().all(|r| r.hostname != "node-2"), "{rows:?}");

    // A worker leaves by itself; the managers see it go Down, and then it
    // can be removed without --force.
    c.node(3)
        .docker(&["swarm", "leave"])
        .ok()
        .stdout_is("Node left the swarm.\n");
    assert_eq!(c.node(3).info("{{.Swarm.LocalNodeState}}"), "inactive");
    c.wait_row(1, "node-3", |r| r.status == "Down");
    m.docker(&["node", "rm", "node-3"])
        .ok()
        .stdout_is("node-3\n");
    assert_eq!(m.node_ls().len(), 1);
    m.docker(&["node", "rm", "node-3"])
        .code_is(1)
        .stderr_has("node node-3 not found");
}

#[test]
fn a_cut_off_worker_goes_down_and_is_ready_again_when_healed() {
    let c = one_manager_two_workers();
    c.wait_row(1, "node-2", |r| r.status == "Ready");
    c.cut(2);
    // No heartbeat reaches the managers: the node is Down after the
    // dispatcher's grace period (dockerd: a few heartbeat periods of 5 s).
    c.wait_row(1, "node-2", |r| r.status == "Down");
    assert_eq!(c.node(1).row_of("node-3").status, "Ready");
    c.heal(2);
    c.wait_row(1, "node-2", |r| r.status == "Ready");
}
