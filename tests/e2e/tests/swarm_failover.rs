//! A swarm's managers under failure, through the real docker CLI 28, on a
//! cluster of separate nodes (`berth_e2e::cluster`): kill -9 of the
//! leader, loss of quorum, a cut-off leader.
//!
//! Run with `--test-threads=1`: each test takes the whole machine's
//! daemon slots.

use std::time::{Duration, Instant};

use berth_e2e::cluster::{Cluster, Role};
use berth_e2e::{wait_for, Out};

/// dockerd's answer to a write when no manager leads (swarmkit's
/// `errNoLeader`, wrapped by the gRPC status).
const NO_LEADER: &str = "The swarm does not have a leader. It's possible that too few managers are online. Make sure more than half of the managers are online.";

/// How long an election may take. dockerd's swarmkit waits 10 ticks of 1 s
/// before it calls one, so it needs about 10-20 s; berth aims at 2 s.
const ELECTION: Duration = Duration::from_secs(60);

/// Three managers, nodes 1 (the leader), 2 and 3, all Reachable.
fn three_managers() -> Cluster {
    let c = Cluster::start(3);
    c.swarm_init(1);
    let token = c.join_token(1, Role::Manager);
    c.join(2, &token, 1, Role::Manager);
    c.join(3, &token, 1, Role::Manager);
    for h in ["node-2", "node-3"] {
        c.wait_row(1, h, |r| r.manager_status == "Reachable");
    }
    c
}

/// A write through node `i`: a label on node-2.
fn label(c: &Cluster, i: usize, label: &str) -> Out {
    c.node(i)
        .docker(&["node", "update", "--label-add", label, "node-2"])
}

/// The hostname every listed manager agrees leads, seen from node `i`.
fn leader_seen_by(c: &Cluster, i: usize) -> Option<String> {
    let rows = c.node(i).try_node_ls().ok()?;
    let leaders: Vec<String> = rows
        .into_iter()
        .filter(|r| r.manager_status == "Leader")
        .map(|r| r.hostname)
        .collect();
    (leaders.len() == 1).then(|| leaders[0].clone())
}

#[track_caller]
fn labels_seen_by(c: &Cluster, i: usize) -> String {
    let o = c
        .node(i)
        .docker(&["node", "inspect", "-f", "{{json .Spec.Labels}}", "node-2"]);
    o.ok();
    o.stdout.trim().to_string()
}

#[test]
fn kill9_of_the_leader_elects_another_that_takes_writes_and_it_rejoins() {
    let mut c = three_managers();
    // Acknowledged writes, the last one just before the crash: none may
    // be lost.
    for k in 0..5 {
        label(&c, 1, &format!("before{k}=1")).ok();
    }
    c.kill9(1);
    let killed = Instant::now();
    let via = wait_for(ELECTION, || {
        [2, 3]
            .into_iter()
            .find(|&i| label(&c, i, "after=1").code == Some(0))
    })
    .unwrap_or_else(|| label(&c, 2, "after=1").fail("no write accepted after the leader died"));
    let took = killed.elapsed();
    eprintln!(
        "berth-e2e: [{}] {}: first write accepted {took:?} after kill -9 of the leader (via node {via})",
        c.test,
        c.flavor.name()
    );
    let new_leader = leader_seen_by(&c, via).expect("one leader after the failover");
    assert!(
        ["node-2", "node-3"].contains(&new_leader.as_str()),
        "{new_leader}"
    );
    c.wait_row(via, "node-1", |r| r.manager_status == "Unreachable");
    let other = if via == 2 { 3 } else { 2 };
    let all = concat!(
        r#"{"after":"1","before0":"1","before1":"1","#,
        r#""before2":"1","before3":"1","before4":"1"}"#
    );
    assert!(
        wait_for(Duration::from_secs(10), || (labels_seen_by(&c, other)
            == all)
            .then_some(()))
        .is_some()
    );

    // The old leader comes back as a follower, with what it missed.
    c.restart(1);
    c.wait_row(via, "node-1", |r| r.manager_status == "Reachable");
    let seen = wait_for(Duration::from_secs(30), || leader_seen_by(&c, 1));
    assert_eq!(seen.as_deref(), Some(new_leader.as_str()));
    assert_eq!(labels_seen_by(&c, 1), all);
    label(&c, 1, "back=1").ok();
}

#[test]
fn without_quorum_writes_are_refused_and_come_back_with_it() {
    let mut c = three_managers();
    c.kill9(2);
    c.kill9(3);
    // The first write may time out at the leader that lost its quorum;
    // once it steps down, every write is refused at once.
    let refused = wait_for(ELECTION, || {
        let o = label(&c, 1, "lonely=1");
        o.stderr.contains(NO_LEADER).then_some(o)
    })
    .unwrap_or_else(|| {
        label(&c, 1, "lonely=1").fail("a write was not refused for want of a leader")
    });
    let want = format!("Error response from daemon: rpc error: code = Unknown desc = {NO_LEADER}");
    refused.code_is(1).stderr_has(&want);
    // Reads: dockerd sends them to the leader too, so they fail with the
    // same words; berthd answers them from the manager's own copy, as the
    // issue asks ("reads still answer"), and shows no one as leader.
    let ls = c.node(1).docker(&["node", "ls"]);
    if c.flavor.name() == "dockerd" {
        ls.code_is(1).stderr_has(&want);
    } else {
        ls.ok();
        assert!(!ls.stdout.contains("Leader"), "{}", ls.stdout);
        assert!(ls.stdout.contains("Unreachable"), "{}", ls.stdout);
    }
    // What the node knows of itself still answers.
    assert_eq!(c.node(1).info("{{.Swarm.LocalNodeState}}"), "active");
    assert_eq!(c.node(1).info("{{.Swarm.ControlAvailable}}"), "true");

    // One manager back makes two of three: a quorum again.
    c.restart(2);
    let back = wait_for(ELECTION, || {
        (label(&c, 1, "quorum=1").code == Some(0)).then_some(())
    });
    assert!(back.is_some(), "{}", label(&c, 1, "quorum=1"));
    assert!(leader_seen_by(&c, 1).is_some());
}

#[test]
fn a_cut_off_leader_is_replaced_and_heals_without_a_split_brain() {
    let c = three_managers();
    c.cut(1);
    let cut = Instant::now();
    let via = wait_for(ELECTION, || {
        [2, 3]
            .into_iter()
            .find(|&i| label(&c, i, "cut=1").code == Some(0))
    })
    .unwrap_or_else(|| label(&c, 2, "cut=1").fail("no write accepted while node 1 was cut off"));
    eprintln!(
        "berth-e2e: [{}] {}: first write accepted {:?} after the leader's link went down (via node {via})",
        c.test,
        c.flavor.name(),
        cut.elapsed()
    );
    let new_leader = leader_seen_by(&c, via).expect("one leader on the majority side");
    assert_ne!(new_leader, "node-1");
    c.heal(1);
    c.wait_row(via, "node-1", |r| r.manager_status == "Reachable");
    // Every manager agrees on the leader and has the write of the majority.
    for i in 1..=3 {
        let seen = wait_for(Duration::from_secs(30), || {
            leader_seen_by(&c, i).filter(|l| *l == new_leader)
        });
        assert_eq!(seen.as_deref(), Some(new_leader.as_str()), "node {i}");
        assert_eq!(labels_seen_by(&c, i), "{\"cut\":\"1\"}", "node {i}");
    }
}

#[test]
fn force_new_cluster_on_the_last_manager_brings_the_swarm_back() {
    let mut c = three_managers();
    label(&c, 1, "kept=1").ok();
    let id = c.node(1).swarm_node_id();
    c.kill9(2);
    c.kill9(3);
    // Writes without a quorum fail (the first may time out at the old
    // leader, then "no leader"); none of them may appear later.
    wait_for(ELECTION, || {
        let o = label(&c, 1, "refused=1");
        if o.code == Some(0) {
            o.fail("a write was accepted by 1 of 3 managers");
        }
        o.stderr.contains(NO_LEADER).then_some(())
    })
    .unwrap_or_else(|| label(&c, 1, "refused=1").fail("the lone manager kept a quorum"));
    let o = c.node(1).docker(&[
        "swarm",
        "init",
        "--force-new-cluster",
        "--advertise-addr",
        c.addr(1),
    ]);
    o.ok().stdout_has(&format!(
        "Swarm initialized: current node ({id}) is now a manager."
    ));
    // The same node, the same objects, one manager that leads them.
    let back = wait_for(ELECTION, || {
        (label(&c, 1, "again=1").code == Some(0)).then_some(())
    });
    assert!(back.is_some(), "{}", label(&c, 1, "again=1"));
    assert_eq!(leader_seen_by(&c, 1).as_deref(), Some("node-1"));
    assert_eq!(c.node(1).node_ls().len(), 3);
    // swarmkit drops the log entries no quorum committed when it forces a
    // new cluster: a write the client was told failed stays undone.
    assert_eq!(
        labels_seen_by(&c, 1),
        r#"{"again":"1","kept":"1"}"#,
        "the labels after --force-new-cluster"
    );
    assert_eq!(c.node(1).info("{{.Swarm.Managers}}"), "1");
    // The other managers left the Raft membership: listed, led by none.
    for h in ["node-2", "node-3"] {
        assert_eq!(c.node(1).row_of(h).manager_status, "", "{h}");
    }
}
