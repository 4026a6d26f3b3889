//! Managers in one test process: each on its own tokio runtime (so a
//! "crash" is dropping the runtime with every task of that manager),
//! its own temp dir and its own 127.0.0.1 port.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use berth_swarm::ca::Role;
use berth_swarm::store::{ClusterSpec, Command, Node};
use berth_swarm::{Manager, ManagerConfig};
use tokio::runtime::Runtime;

pub struct TestNode {
    pub dir: tempfile::TempDir,
    pub port: u16,
    rt: Option<Runtime>,
    mgr: Option<Manager>,
    snapshot_every: u64,
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn config(dir: &std::path::Path, port: u16, snapshot_every: u64) -> ManagerConfig {
    let mut c = ManagerConfig::new(dir.join("swarm"), SocketAddr::from(([127, 0, 0, 1], port)));
    c.snapshot_every = snapshot_every;
    c
}

impl TestNode {
    pub fn init(snapshot_every: u64) -> TestNode {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = runtime();
        let mgr = rt
            .block_on(Manager::init(
                config(dir.path(), 0, snapshot_every),
                ClusterSpec::default(),
                None,
            ))
            .expect("init");
        let port = mgr.addr().rsplit_once(':').unwrap().1.parse().unwrap();
        TestNode {
            dir,
            port,
            rt: Some(rt),
            mgr: Some(mgr),
            snapshot_every,
        }
    }

    /// Join `remote` as a manager; returns the node and how long the join took.
    pub fn join(remote: &TestNode, snapshot_every: u64) -> (TestNode, Duration) {
        let token = remote.manager_token();
        Self::try_join(remote.mgr().addr(), &token, snapshot_every).expect("join")
    }

    pub fn try_join(
        remote: &str,
        token: &str,
        snapshot_every: u64,
    ) -> Result<(TestNode, Duration), berth_api::Error> {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = runtime();
        let start = Instant::now();
        let mgr = rt.block_on(Manager::join(
            config(dir.path(), 0, snapshot_every),
            remote,
            token,
        ))?;
        let took = start.elapsed();
        let port = mgr.addr().rsplit_once(':').unwrap().1.parse().unwrap();
        Ok((
            TestNode {
                dir,
                port,
                rt: Some(rt),
                mgr: Some(mgr),
                snapshot_every,
            },
            took,
        ))
    }

    pub fn mgr(&self) -> &Manager {
        self.mgr.as_ref().expect("node is down")
    }

    pub fn is_up(&self) -> bool {
        self.mgr.is_some()
    }

    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.as_ref().expect("node is down").block_on(f)
    }

    pub fn manager_token(&self) -> String {
        self.mgr()
            .cluster()
            .expect("cluster object")
            .join_tokens
            .manager
            .to_string()
    }

    pub fn worker_token(&self) -> String {
        self.mgr()
            .cluster()
            .expect("cluster object")
            .join_tokens
            .worker
            .to_string()
    }

    /// kill -9, as far as one process can: every task of this manager is
    /// dropped mid-flight, nothing is shut down cleanly.
    pub fn crash(&mut self) {
        let mgr = self.mgr.take();
        let rt = self.rt.take().expect("already down");
        drop(mgr);
        rt.shutdown_timeout(Duration::from_millis(200));
    }

    /// Start again from the state directory on the same port.
    pub fn restart(&mut self) {
        assert!(self.mgr.is_none(), "still running");
        let rt = runtime();
        let cfg = config(self.dir.path(), self.port, self.snapshot_every);
        let deadline = Instant::now() + Duration::from_secs(5);
        let mgr = loop {
            match rt.block_on(Manager::open(cfg.clone())) {
                Ok(m) => break m,
                // the old listener may take a moment to be released
                Err(e) if Instant::now() < deadline && e.message.contains("failed to listen") => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err(e) => panic!("restart: {e:?}"),
            }
        };
        self.rt = Some(rt);
        self.mgr = Some(mgr);
    }

    /// Set a label on node `id` (read, modify, propose; read again when
    /// the dispatcher's status write got in between, as a client would).
    pub fn set_label(&self, id: &str, key: &str, value: &str) -> Result<u64, berth_api::Error> {
        let mut tries = 0;
        loop {
            let mut node: Node = self.mgr().nodes().get(id).cloned().expect("node");
            node.spec.labels.insert(key.into(), value.into());
            match self.block_on(self.mgr().propose(Command::UpdateNode(Box::new(node)))) {
                Err(e) if e.message == "update out of sequence" && tries < 5 => tries += 1,
                r => return r,
            }
        }
    }

    pub fn label(&self, id: &str, key: &str) -> Option<String> {
        self.mgr()
            .nodes()
            .get(id)
            .and_then(|n| n.spec.labels.get(key).cloned())
    }

    pub fn managers_in_store(&self) -> usize {
        self.mgr()
            .nodes()
            .values()
            .filter(|n| n.spec.role == Role::Manager)
            .count()
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        if self.rt.is_some() {
            self.crash();
        }
    }
}

/// Poll `f` until it is true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The index of the node that leads, as the running nodes see it.
pub fn leader_index(nodes: &[TestNode]) -> Option<usize> {
    nodes.iter().position(|n| n.is_up() && n.mgr().is_leader())
}
