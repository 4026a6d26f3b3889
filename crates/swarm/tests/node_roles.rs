//! Role changes through the `SwarmNode` facade on 127.0.0.1: promote,
//! demote (a follower and the leader), a restart, a crash in the middle of
//! a demotion.

mod node_harness;

use std::time::{Duration, Instant};

use berth_swarm::ca::Role;
use berth_swarm::store::NodeState;
use node_harness::{leader, wait_until, TNode, GRACE};

#[test]
fn a_promoted_worker_becomes_a_voter_and_a_demoted_one_goes_back() {
    let m = TNode::init("mgr");
    let (w, _) = TNode::join(&m, Role::Worker, "worker");
    let w_id = w.id();
    assert!(wait_until(Duration::from_secs(5), || m.state_of(&w_id)
        == Some(NodeState::Ready)));

    let start = Instant::now();
    m.block_on(m.mgr().promote(&w_id)).expect("promote");
    assert!(
        wait_until(Duration::from_secs(10), || {
            let seen = m.block_on(m.mgr().managers());
            seen.len() == 2
                && seen
                    .iter()
                    .all(|s| s.reachability == berth_swarm::Reachability::Reachable)
        }),
        "the promoted worker is a voter: {:?}",
        m.block_on(m.mgr().managers())
    );
    eprintln!("promotion to voter: {:?}", start.elapsed());
    assert_eq!(w.node().info().role, Role::Manager);
    let wm = w.mgr();
    assert_eq!(wm.node_cert().identity.role, Role::Manager);
    assert!(m.seen(&w_id).unwrap().manager.is_some());
    // It has the replicated store and takes writes (forwarded to the leader).
    assert!(wait_until(Duration::from_secs(5), || wm.nodes().len() == 2));
    assert!(
        wait_until(Duration::from_secs(5), || w.try_label("promoted").is_ok()),
        "a write through the promoted manager"
    );
    assert!(wait_until(Duration::from_secs(5), || m
        .seen(&w_id)
        .is_some_and(|n| n.spec.labels.contains_key("promoted"))));
    drop(wm);

    // Demoted: out of Raft, a worker again, still heartbeating.
    m.block_on(m.mgr().demote(&w_id)).expect("demote");
    assert!(
        wait_until(Duration::from_secs(10), || w.node().manager().is_none()),
        "the demoted node stops its manager"
    );
    assert_eq!(m.block_on(m.mgr().managers()).len(), 1);
    assert!(
        wait_until(Duration::from_secs(5), || {
            let crt =
                std::fs::read_to_string(w.dir.path().join("swarm/certificates/swarm-node.crt"))
                    .unwrap();
            let key =
                std::fs::read_to_string(w.dir.path().join("swarm/certificates/swarm-node.key"))
                    .unwrap();
            berth_swarm::ca::NodeCert::from_pem(crt, key)
                .unwrap()
                .identity
                .role
                == Role::Worker
        }),
        "a worker certificate on disk"
    );
    assert!(!w.dir.path().join("swarm/raft").exists());
    assert_eq!(w.node().info().role, Role::Worker);
    std::thread::sleep(GRACE * 2);
    assert_eq!(m.state_of(&w_id), Some(NodeState::Ready));
    m.try_label("after-demote").expect("a write");

    // And promoted again: a fresh Raft ID and log, a voter again.
    m.block_on(m.mgr().promote(&w_id)).expect("promote again");
    assert!(
        wait_until(Duration::from_secs(10), || m
            .block_on(m.mgr().managers())
            .len()
            == 2
            && w.node().manager().is_some()),
        "promoted again: {:?}",
        m.block_on(m.mgr().managers())
    );
    assert!(wait_until(Duration::from_secs(5), || w
        .try_label("again")
        .is_ok()));
}

#[test]
fn a_restarted_manager_is_a_manager_and_ready_again() {
    let mut m = TNode::init("mgr");
    let (w, _) = TNode::join(&m, Role::Worker, "worker");
    let m_id = m.id();
    assert!(wait_until(Duration::from_secs(5), || m.state_of(&m_id)
        == Some(NodeState::Ready)));
    m.crash();
    m.restart();
    assert_eq!(m.id(), m_id);
    assert_eq!(m.node().info().role, Role::Manager);
    assert!(wait_until(Duration::from_secs(5), || m.mgr().is_leader()));
    // The new leader's sessions start empty: both nodes come back Ready.
    assert!(
        wait_until(Duration::from_secs(10), || [&m_id, &w.id()]
            .iter()
            .all(|id| m.state_of(id) == Some(NodeState::Ready))),
        "{:?}",
        m.mgr().nodes()
    );
}

#[test]
fn the_leader_demoted_hands_over_and_carries_on_as_a_worker() {
    let a = TNode::init("mgr-a");
    let (b, _) = TNode::join(&a, Role::Manager, "mgr-b");
    let (c, _) = TNode::join(&a, Role::Manager, "mgr-c");
    let nodes = [a, b, c];
    let a_id = nodes[0].id();
    assert!(nodes[0].mgr().is_leader());
    assert!(wait_until(Duration::from_secs(5), || nodes
        .iter()
        .all(|n| nodes[0].state_of(&n.id()) == Some(NodeState::Ready))));
    // (demote refuses while the others are not yet seen reachable)
    assert!(wait_until(Duration::from_secs(5), || {
        let seen = nodes[0].block_on(nodes[0].mgr().managers());
        seen.len() == 3
            && seen
                .iter()
                .all(|s| s.reachability == berth_swarm::Reachability::Reachable)
    }));

    nodes[0]
        .block_on(nodes[0].mgr().demote(&a_id))
        .expect("the leader demotes itself");
    assert!(
        wait_until(Duration::from_secs(10), || nodes[0]
            .node()
            .manager()
            .is_none()),
        "the old leader stops its manager"
    );
    let refs: Vec<&TNode> = nodes.iter().collect();
    assert!(wait_until(Duration::from_secs(10), || leader(&refs).is_some()));
    let l = &nodes[leader(&refs).unwrap()];
    assert_ne!(l.id(), a_id);
    assert_eq!(l.block_on(l.mgr().managers()).len(), 2);
    assert!(
        wait_until(Duration::from_secs(10), || l.state_of(&a_id)
            == Some(NodeState::Ready)
            && l.seen(&a_id).unwrap().spec.role == Role::Worker),
        "{:?}",
        l.seen(&a_id)
    );
    assert_eq!(nodes[0].node().info().role, Role::Worker);
    l.try_label("after-handover").expect("a write");
}

#[test]
fn a_node_that_crashed_mid_demotion_comes_back_a_worker_with_a_worker_certificate() {
    // Three managers once it is promoted, so two can demote it while it is down.
    let m = TNode::init("mgr");
    let (_b, _) = TNode::join(&m, Role::Manager, "mgr-b");
    let (mut w, _) = TNode::join(&m, Role::Worker, "worker");
    let w_id = w.id();
    m.block_on(m.mgr().promote(&w_id)).expect("promote");
    assert!(wait_until(Duration::from_secs(10), || m
        .block_on(m.mgr().managers())
        .len()
        == 3));
    // Demoted while it is down, and it crashed after giving up Raft but
    // before its worker certificate: a worker's state.json, no raft/, a
    // manager's certificate.
    w.crash();
    m.block_on(m.mgr().demote(&w_id))
        .expect("demote a down manager");
    let swarm = w.dir.path().join("swarm");
    std::fs::remove_dir_all(swarm.join("raft")).unwrap();
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(swarm.join("state.json")).unwrap()).unwrap();
    let worker_state = serde_json::json!({ "raft_id": 0, "addr": state["addr"] });
    std::fs::write(swarm.join("state.json"), worker_state.to_string()).unwrap();
    let cert_role = || {
        let read = |f: &str| std::fs::read_to_string(swarm.join("certificates").join(f)).unwrap();
        berth_swarm::ca::NodeCert::from_pem(read("swarm-node.crt"), read("swarm-node.key"))
            .unwrap()
            .identity
            .role
    };
    assert_eq!(cert_role(), Role::Manager);

    w.restart();
    assert!(w.node().manager().is_none());
    assert!(
        wait_until(Duration::from_secs(10), || cert_role() == Role::Worker),
        "the worker's certificate is renewed as a worker's"
    );
    assert!(wait_until(Duration::from_secs(10), || m.state_of(&w_id)
        == Some(NodeState::Ready)));
    assert_eq!(m.block_on(m.mgr().managers()).len(), 2);
}
