//! Acknowledged writes survive a crash; restart from disk keeps them all,
//! through snapshots and log compaction.

mod common;

use std::time::Duration;

use berth_swarm::store::Command;
use common::{wait_until, TestNode};

#[test]
fn every_acknowledged_write_survives_a_crash_and_restart() {
    // Snapshot every 10 entries so the restart reads a snapshot plus a log tail.
    let mut a = TestNode::init(10);
    let id = a.mgr().node_id().to_string();
    let mut acked = Vec::new();
    for i in 0..45 {
        let v = a
            .set_label(&id, &format!("k{i}"), &i.to_string())
            .expect("write");
        acked.push(v);
    }
    let before = a.mgr().nodes();
    let m = a.mgr().metrics();
    assert!(m.snapshot.is_some(), "a snapshot was taken");
    assert!(m.purged.is_some(), "the log was compacted");

    a.crash();
    a.restart();
    assert!(
        wait_until(Duration::from_secs(5), || a.mgr().is_leader()),
        "the single manager leads again"
    );
    assert_eq!(a.mgr().nodes(), before, "the store is as acknowledged");
    for i in 0..45 {
        assert_eq!(a.label(&id, &format!("k{i}")), Some(i.to_string()));
    }
    // Versions keep increasing and stale updates are refused.
    let node = a.mgr().nodes().get(&id).cloned().unwrap();
    let v = a.set_label(&id, "after", "restart").unwrap();
    assert!(v > *acked.last().unwrap());
    let err = a
        .block_on(a.mgr().propose(Command::UpdateNode(Box::new(node))))
        .unwrap_err();
    assert_eq!(err.message, "update out of sequence");
}

#[test]
fn a_second_init_on_the_same_state_is_refused() {
    let a = TestNode::init(1000);
    let cfg =
        berth_swarm::ManagerConfig::new(a.dir.path().join("swarm"), "127.0.0.1:0".parse().unwrap());
    let err = a
        .block_on(berth_swarm::Manager::init(cfg, Default::default(), None))
        .err()
        .expect("refused");
    assert!(
        err.message
            .starts_with("This node is already part of a swarm."),
        "{}",
        err.message
    );
}
