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
    // The specs as acknowledged (the status is not compared: the restarted
    // leader's dispatcher marks its nodes unknown until they report).
    let specs = |nodes: std::collections::BTreeMap<String, berth_swarm::store::Node>| {
        nodes
            .into_iter()
            .map(|(id, n)| (id, n.spec))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        specs(a.mgr().nodes()),
        specs(before),
        "the store is as acknowledged"
    );
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

/// Set by the parent of `kill9_child`: the state directory to write in.
const CHILD_DIR: &str = "BERTH_SWARM_KILL9_DIR";

/// Run only as the child of `acknowledged_writes_survive_kill_9`: init a
/// one-manager swarm and write labels, printing each acknowledged one.
#[test]
#[ignore = "run by acknowledged_writes_survive_kill_9 in a child process"]
fn kill9_child() {
    use std::io::Write;
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let cfg = berth_swarm::ManagerConfig::new(
        std::path::PathBuf::from(dir),
        "127.0.0.1:0".parse().unwrap(),
    );
    let mut cfg = cfg;
    cfg.snapshot_every = 25;
    let mgr = rt
        .block_on(berth_swarm::Manager::init(cfg, Default::default(), None))
        .unwrap();
    let id = mgr.node_id().to_string();
    let mut out = std::io::stdout();
    for i in 0.. {
        let mut node = mgr.nodes().get(&id).cloned().unwrap();
        node.spec.labels.insert(format!("k{i}"), i.to_string());
        rt.block_on(mgr.propose(Command::UpdateNode(Box::new(node))))
            .unwrap();
        writeln!(out, "ACK {i}").unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("swarm");
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "kill9_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, &state)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut last_ack = None;
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(n) = line.strip_prefix("ACK ") {
            last_ack = Some(n.parse::<u32>().unwrap());
            if last_ack == Some(80) {
                break;
            }
        }
    }
    // SIGKILL mid-stream: the child is writing its next labels.
    child.kill().unwrap();
    child.wait().unwrap();
    let last_ack = last_ack.expect("the child acknowledged writes");

    let rt = tokio::runtime::Runtime::new().unwrap();
    let cfg = berth_swarm::ManagerConfig::new(state, "127.0.0.1:0".parse().unwrap());
    let mgr = rt.block_on(berth_swarm::Manager::open(cfg)).unwrap();
    assert!(rt
        .block_on(mgr.wait_for_leader(Duration::from_secs(5)))
        .is_some());
    let nodes = mgr.nodes();
    let node = nodes.values().next().expect("the node survived");
    for i in 0..=last_ack {
        assert_eq!(
            node.spec.labels.get(&format!("k{i}")),
            Some(&i.to_string()),
            "acknowledged write {i} lost"
        );
    }
    rt.block_on(mgr.shutdown());
}
