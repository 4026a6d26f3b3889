//! Three managers on 127.0.0.1: election, replication, failover, rejoin,
//! quorum loss.

mod common;

use std::time::{Duration, Instant};

use berth_swarm::{Reachability, LOST_QUORUM};
use common::{leader_index, wait_until, TestNode};

/// Snapshot often so the third manager joins from a snapshot and the log is compacted.
const SNAPSHOT_EVERY: u64 = 20;

fn three_managers() -> Vec<TestNode> {
    let a = TestNode::init(SNAPSHOT_EVERY);
    // Enough writes that a snapshot is taken and the log purged before C joins.
    let a_id = a.mgr().node_id().to_string();
    for i in 0..50 {
        a.set_label(&a_id, "seq", &i.to_string())
            .expect("write on a one-manager swarm");
    }
    // Compaction runs in the background: wait for it, so the joiners must
    // get a snapshot (the first entries are gone from the log).
    assert!(
        wait_until(Duration::from_secs(5), || a
            .mgr()
            .metrics()
            .purged
            .is_some()),
        "the log was compacted"
    );
    let (b, took_b) = TestNode::join(&a, SNAPSHOT_EVERY);
    let (c, took_c) = TestNode::join(&a, SNAPSHOT_EVERY);
    eprintln!("join times: {took_b:?} {took_c:?}");
    let nodes = vec![a, b, c];
    assert!(
        wait_until(Duration::from_secs(5), || nodes
            .iter()
            .all(|n| n.managers_in_store() == 3)),
        "every manager should see 3 managers in its store"
    );
    nodes
}

#[test]
fn three_managers_elect_replicate_fail_over_and_refuse_writes_without_quorum() {
    let mut nodes = three_managers();
    let a_id = nodes[0].mgr().node_id().to_string();

    // One leader, all agree, all reachable.
    let leader = leader_index(&nodes).expect("a leader");
    let leader_raft = nodes[leader].mgr().raft_id();
    assert!(nodes.iter().all(|n| n.mgr().leader() == Some(leader_raft)));
    let seen = nodes[(leader + 1) % 3].block_on(nodes[(leader + 1) % 3].mgr().managers());
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(seen.iter().filter(|m| m.leader).count(), 1, "{seen:?}");
    assert!(
        wait_until(Duration::from_secs(3), || {
            let s = nodes[leader].block_on(nodes[leader].mgr().managers());
            s.iter().all(|m| m.reachability == Reachability::Reachable)
        }),
        "all managers reachable from the leader"
    );
    // The joined node got the state from a snapshot: the writes before it joined are there.
    // (Its metrics are published asynchronously: wait for them.)
    assert!(
        wait_until(Duration::from_secs(3), || nodes[2]
            .mgr()
            .metrics()
            .snapshot
            .is_some()),
        "the third manager installed a snapshot"
    );
    assert_eq!(nodes[2].label(&a_id, "seq").as_deref(), Some("49"));

    // A write on a follower is forwarded and replicated everywhere.
    let follower = (leader + 1) % 3;
    nodes[follower]
        .set_label(&a_id, "from", "follower")
        .expect("forwarded write");
    assert!(wait_until(Duration::from_secs(3), || nodes
        .iter()
        .all(|n| n.label(&a_id, "from").as_deref() == Some("follower"))));

    // Kill the leader: a new one within ~2 s and writes accepted.
    nodes[leader].crash();
    let survivor = (leader + 1) % 3;
    let start = Instant::now();
    let mut attempt = 0;
    let mut elected = None;
    let failover = loop {
        if elected.is_none()
            && nodes
                .iter()
                .enumerate()
                .any(|(i, n)| i != leader && n.mgr().is_leader())
        {
            elected = Some(start.elapsed());
        }
        attempt += 1;
        if nodes[survivor]
            .set_label(&a_id, "after", "failover")
            .is_ok()
        {
            break start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no write accepted 10 s after the leader died"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    eprintln!(
        "failover: new leader after {elected:?}, first write accepted {failover:?} after the leader died ({attempt} attempts)"
    );
    assert!(
        failover < Duration::from_secs(2),
        "failover took {failover:?}"
    );
    let new_leader = leader_index(&nodes).expect("a new leader");
    assert_ne!(new_leader, leader);
    assert!(
        wait_until(Duration::from_secs(3), || {
            let s = nodes[new_leader].block_on(nodes[new_leader].mgr().managers());
            s.iter().any(|m| {
                m.raft_id == leader_raft && m.reachability == Reachability::Unreachable && !m.leader
            })
        }),
        "the dead leader is shown unreachable"
    );

    // The old leader restarts from its directory and follows, with the new write.
    nodes[leader].restart();
    assert!(
        wait_until(Duration::from_secs(5), || nodes[leader]
            .label(&a_id, "after")
            .as_deref()
            == Some("failover")),
        "the restarted manager catches up"
    );
    assert!(
        !nodes[leader].mgr().is_leader(),
        "the restarted manager follows"
    );
    assert_eq!(
        nodes[leader].mgr().leader(),
        nodes[new_leader].mgr().leader()
    );

    // Two of three down: writes refused with dockerd's message, reads answer.
    let last = (0..3).find(|&i| i != new_leader && i != leader).unwrap();
    nodes[new_leader].crash();
    nodes[leader].crash();
    let err = nodes[last]
        .set_label(&a_id, "quorum", "lost")
        .expect_err("a write without quorum");
    assert_eq!(err.message, LOST_QUORUM);
    assert_eq!(nodes[last].managers_in_store(), 3, "reads still answer");
    assert_eq!(
        nodes[last].label(&a_id, "after").as_deref(),
        Some("failover")
    );
    // Still refused a moment later (no leader can be elected alone).
    std::thread::sleep(Duration::from_millis(800));
    let err = nodes[last]
        .set_label(&a_id, "quorum", "lost")
        .expect_err("a write without quorum");
    assert_eq!(err.message, LOST_QUORUM);

    // One comes back: quorum again, writes accepted.
    nodes[leader].restart();
    assert!(
        wait_until(Duration::from_secs(5), || nodes[last]
            .set_label(&a_id, "quorum", "back")
            .is_ok()),
        "writes accepted again with 2 of 3 managers"
    );
}

#[test]
fn demote_removes_a_manager_from_raft_and_node_rm_follows_swarmkits_rules() {
    let mut nodes = three_managers();
    let leader = leader_index(&nodes).expect("a leader");
    let victim = (leader + 1) % 3;
    let victim_id = nodes[victim].mgr().node_id().to_string();
    let l = &nodes[leader];

    // A manager cannot be removed before it is demoted.
    let err = l
        .block_on(l.mgr().remove_node(&victim_id, true))
        .unwrap_err();
    assert!(
        err.message
            .contains("must be demoted to worker before removal"),
        "{}",
        err.message
    );

    l.block_on(l.mgr().demote(&victim_id)).expect("demote");
    let managers = l.block_on(l.mgr().managers());
    assert_eq!(managers.len(), 2, "{managers:?}");
    assert!(managers.iter().all(|m| m.node_id != victim_id));
    assert_eq!(l.managers_in_store(), 2);

    // The demoted node goes away: two voters are both up, so writes go on.
    nodes[victim].crash();
    let l = &nodes[leader];
    let a_id = l.mgr().node_id().to_string();
    l.set_label(&a_id, "after", "demote")
        .expect("write with 2 of 2 managers");

    // node rm: refused while the node is Ready, done with --force.
    let err = l
        .block_on(l.mgr().remove_node(&victim_id, false))
        .unwrap_err();
    assert_eq!(err.message, format!("rpc error: code = FailedPrecondition desc = node {victim_id} is not down and can't be removed"));
    l.block_on(l.mgr().remove_node(&victim_id, true))
        .expect("node rm --force");
    assert!(!l.mgr().nodes().contains_key(&victim_id));

    // The last two: demoting one leaves one; the last is never demoted.
    let other = (0..3).find(|&i| i != leader && i != victim).unwrap();
    let other_id = nodes[other].mgr().node_id().to_string();
    let l = &nodes[leader];
    l.block_on(l.mgr().demote(&other_id))
        .expect("demote to one manager");
    let err = l.block_on(l.mgr().demote(l.mgr().node_id())).unwrap_err();
    assert!(
        err.message
            .ends_with("attempting to demote the last manager of the swarm"),
        "{}",
        err.message
    );
    l.set_label(&a_id, "alone", "yes")
        .expect("a single manager has its own quorum");
}

#[test]
fn a_leader_left_alone_refuses_writes_and_shows_the_others_unreachable() {
    let mut nodes = three_managers();
    let leader = leader_index(&nodes).expect("a leader");
    let a_id = nodes[0].mgr().node_id().to_string();
    for (i, node) in nodes.iter_mut().enumerate() {
        if i != leader {
            node.crash();
        }
    }
    let l = &nodes[leader];
    let start = Instant::now();
    let err = l.set_label(&a_id, "alone", "yes").expect_err("no quorum");
    eprintln!("alone leader refused a write after {:?}", start.elapsed());
    assert_eq!(err.message, LOST_QUORUM);
    assert!(start.elapsed() < Duration::from_secs(5));
    let seen = l.block_on(l.mgr().managers());
    let unreachable = seen
        .iter()
        .filter(|m| m.reachability == Reachability::Unreachable)
        .count();
    assert_eq!(unreachable, 2, "{seen:?}");
    assert_eq!(l.managers_in_store(), 3, "reads answer");
}

#[test]
fn managers_joining_at_the_same_time_all_get_in() {
    let a = TestNode::init(1000);
    let addr = a.mgr().addr().to_string();
    let token = a.manager_token();
    let joins: Vec<_> = (0..2)
        .map(|_| {
            let (addr, token) = (addr.clone(), token.clone());
            std::thread::spawn(move || TestNode::try_join(&addr, &token, 1000))
        })
        .collect();
    let joined: Vec<TestNode> = joins
        .into_iter()
        .map(|j| j.join().unwrap().expect("concurrent join").0)
        .collect();
    assert!(wait_until(Duration::from_secs(5), || {
        let s = a.block_on(a.mgr().managers());
        s.len() == 3 && s.iter().all(|m| m.reachability == Reachability::Reachable)
    }));
    assert!(joined.iter().all(|n| n.managers_in_store() == 3
        || wait_until(Duration::from_secs(3), || n.managers_in_store() == 3)));
}

#[test]
fn a_manager_joins_through_a_follower() {
    let nodes = three_managers();
    let leader = leader_index(&nodes).expect("a leader");
    let follower = &nodes[(leader + 1) % 3];
    let (d, took) = TestNode::join(follower, SNAPSHOT_EVERY);
    eprintln!("join through a follower: {took:?}");
    assert!(wait_until(Duration::from_secs(5), || {
        let s = nodes[leader].block_on(nodes[leader].mgr().managers());
        s.len() == 4 && s.iter().all(|m| m.reachability == Reachability::Reachable)
    }));
    assert!(wait_until(Duration::from_secs(3), || d.managers_in_store() == 4));
    assert_eq!(d.mgr().leader(), nodes[leader].mgr().leader());
}
