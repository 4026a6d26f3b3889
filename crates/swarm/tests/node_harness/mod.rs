//! Nodes through the `SwarmNode` facade for the node tests: each in its
//! own tokio runtime (a crash drops every task it has), temp dir and
//! 127.0.0.1 port, with a short dispatcher period.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use berth_swarm::ca::Role;
use berth_swarm::store::{ClusterSpec, Node, NodeState};
use berth_swarm::{ManagerConfig, SwarmNode};
use tokio::runtime::Runtime;

/// The dispatcher's period in these tests; the grace is 3 of them.
pub const PERIOD: Duration = Duration::from_millis(300);
pub const GRACE: Duration = Duration::from_millis(900);

/// One node in its own runtime, so a crash drops every task it has.
pub struct TNode {
    pub dir: tempfile::TempDir,
    rt: Option<Runtime>,
    pub node: Option<SwarmNode>,
    hostname: String,
}

pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

pub fn config(dir: &std::path::Path, hostname: &str) -> ManagerConfig {
    let mut c = ManagerConfig::new(dir.join("swarm"), SocketAddr::from(([127, 0, 0, 1], 0)));
    c.hostname = hostname.into();
    c.description.engine.engine_version = "test-engine".into();
    c
}

impl TNode {
    pub fn init(hostname: &str) -> TNode {
        Self::init_with(hostname, ClusterSpec::default())
    }

    pub fn init_with(hostname: &str, spec: ClusterSpec) -> TNode {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = runtime();
        let spec = ClusterSpec {
            heartbeat_period_ns: PERIOD.as_nanos() as u64,
            ..spec
        };
        let node = rt
            .block_on(SwarmNode::init(config(dir.path(), hostname), spec, None))
            .expect("init");
        TNode {
            dir,
            rt: Some(rt),
            node: Some(node),
            hostname: hostname.into(),
        }
    }

    /// Join through `via` with its worker or manager token; returns the
    /// node and how long the join took.
    pub fn join(via: &TNode, role: Role, hostname: &str) -> (TNode, Duration) {
        let cluster = via.mgr().cluster().expect("cluster");
        let token = match role {
            Role::Worker => cluster.join_tokens.worker.to_string(),
            Role::Manager => cluster.join_tokens.manager.to_string(),
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = runtime();
        let start = Instant::now();
        let node = rt
            .block_on(SwarmNode::join(
                config(dir.path(), hostname),
                via.mgr().addr(),
                &token,
            ))
            .expect("join");
        let took = start.elapsed();
        let n = TNode {
            dir,
            rt: Some(rt),
            node: Some(node),
            hostname: hostname.into(),
        };
        (n, took)
    }

    pub fn node(&self) -> &SwarmNode {
        self.node.as_ref().expect("node is down")
    }

    pub fn mgr(&self) -> std::sync::Arc<berth_swarm::Manager> {
        self.node().manager().expect("a manager")
    }

    pub fn id(&self) -> String {
        self.node().info().node_id
    }

    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.as_ref().expect("node is down").block_on(f)
    }

    /// Node `id` as this manager's store has it.
    pub fn seen(&self, id: &str) -> Option<Node> {
        self.mgr().nodes().get(id).cloned()
    }

    pub fn state_of(&self, id: &str) -> Option<NodeState> {
        self.seen(id).map(|n| n.status.state)
    }

    /// kill -9 as far as one process can.
    pub fn crash(&mut self) {
        let node = self.node.take();
        let rt = self.rt.take().expect("already down");
        drop(node);
        rt.shutdown_timeout(Duration::from_millis(200));
    }

    pub fn restart(&mut self) {
        assert!(self.node.is_none(), "still running");
        let rt = runtime();
        let cfg = config(self.dir.path(), &self.hostname);
        let node = rt
            .block_on(SwarmNode::open(cfg))
            .expect("open")
            .expect("swarm state on disk");
        self.rt = Some(rt);
        self.node = Some(node);
    }
}

impl Drop for TNode {
    fn drop(&mut self) {
        if self.rt.is_some() {
            self.crash();
        }
    }
}

pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Records every node seen Down in a manager's store, polling often
/// (a flap to Down and back between two checks of a test would go unseen).
pub struct DownWatcher {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<Vec<String>>,
}

impl DownWatcher {
    pub fn start(mgr: std::sync::Arc<berth_swarm::Manager>) -> DownWatcher {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut down = Vec::new();
            while !flag.load(std::sync::atomic::Ordering::SeqCst) {
                for n in mgr.nodes().values() {
                    if n.status.state == NodeState::Down && !down.contains(&n.id) {
                        down.push(n.id.clone());
                    }
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            down
        });
        DownWatcher { stop, thread }
    }

    pub fn stop(self) -> Vec<String> {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.thread.join().expect("watcher")
    }
}

/// The node that leads, among those running managers.
pub fn leader(nodes: &[&TNode]) -> Option<usize> {
    nodes
        .iter()
        .position(|n| n.node.is_some() && n.node().manager().is_some_and(|m| m.is_leader()))
}

impl TNode {
    /// Label this node through its own manager (forwarded to the leader),
    /// reading again when a status write got in between, as a client would.
    pub fn try_label(&self, key: &str) -> Result<u64, berth_api::Error> {
        let mgr = self.mgr();
        let mut tries = 0;
        loop {
            // (A manager that just started may not have the store yet.)
            let mut n = mgr
                .nodes()
                .get(&self.id())
                .cloned()
                .ok_or_else(|| berth_api::Error::not_found("not replicated here yet"))?;
            n.spec.labels.insert(key.into(), "yes".into());
            match self.block_on(mgr.propose(berth_swarm::store::Command::UpdateNode(Box::new(n)))) {
                Err(e) if e.message == "update out of sequence" && tries < 5 => tries += 1,
                r => return r,
            }
        }
    }
}
