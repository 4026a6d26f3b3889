//! What every swarm test types: init, join tokens, join, `node ls` parsed,
//! `info` fields, and waiting for a node's state to reach the managers.

use std::time::Duration;

use super::{Cluster, Node};
use crate::{wait_for, Out};

/// One row of `docker node ls`, as a manager lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    pub id: String,
    pub hostname: String,
    /// `Ready`, `Down`, `Unknown`.
    pub status: String,
    /// `Active`, `Pause`, `Drain`.
    pub availability: String,
    /// `Leader`, `Reachable`, `Unreachable`, or empty for a worker.
    pub manager_status: String,
    /// The node the command ran on (the `*` after its ID in the table).
    pub is_self: bool,
}

/// The `--format` of [`Node::try_node_ls`]: one field per column, tab-separated.
const NODE_LS_FORMAT: &str =
    "{{.ID}}\t{{.Hostname}}\t{{.Status}}\t{{.Availability}}\t{{.ManagerStatus}}\t{{.Self}}";

impl Node {
    /// `docker node ls` on this node, parsed; the command's output when it
    /// fails (e.g. a worker, or no leader).
    pub fn try_node_ls(&self) -> Result<Vec<NodeRow>, Box<Out>> {
        let o = self.docker(&["node", "ls", "--format", NODE_LS_FORMAT]);
        if o.code != Some(0) {
            return Err(Box::new(o));
        }
        let rows = o.stdout.lines().map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() == 6).then(|| NodeRow {
                id: f[0].to_string(),
                hostname: f[1].to_string(),
                status: f[2].to_string(),
                availability: f[3].to_string(),
                manager_status: f[4].to_string(),
                is_self: f[5] == "true",
            })
        });
        match rows.collect::<Option<Vec<_>>>() {
            Some(v) => Ok(v),
            None => o.fail("node ls: a row without six tab-separated fields"),
        }
    }

    /// `docker node ls` on this node, parsed; panics if it fails.
    #[track_caller]
    pub fn node_ls(&self) -> Vec<NodeRow> {
        self.try_node_ls()
            .unwrap_or_else(|o| o.fail("node ls failed"))
    }

    /// The row of the node named `hostname` in this (manager) node's `node ls`.
    #[track_caller]
    pub fn row_of(&self, hostname: &str) -> NodeRow {
        let rows = self.node_ls();
        rows.iter()
            .find(|r| r.hostname == hostname)
            .cloned()
            .unwrap_or_else(|| panic!("node ls on node {} lacks {hostname}: {rows:?}", self.index))
    }

    /// `docker info -f FORMAT`, trimmed; panics if it fails.
    #[track_caller]
    pub fn info(&self, format: &str) -> String {
        let o = self.docker(&["info", "-f", format]);
        o.ok();
        o.stdout.trim().to_string()
    }

    /// The node's swarm node ID (empty when in no swarm).
    #[track_caller]
    pub fn swarm_node_id(&self) -> String {
        self.info("{{.Swarm.NodeID}}")
    }
}

/// The role a node joins with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Worker,
    Manager,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Worker => "worker",
            Role::Manager => "manager",
        }
    }
}

impl Cluster {
    /// `docker swarm init --advertise-addr <addr>` on node `i`; panics
    /// unless it prints dockerd's greeting.
    #[track_caller]
    pub fn swarm_init(&self, i: usize) -> Out {
        let o = self
            .node(i)
            .docker(&["swarm", "init", "--advertise-addr", self.addr(i)]);
        o.ok().stdout_has("Swarm initialized: current node (");
        o
    }

    /// `docker swarm join-token -q <role>` on node `i`.
    #[track_caller]
    pub fn join_token(&self, i: usize, role: Role) -> String {
        let o = self
            .node(i)
            .docker(&["swarm", "join-token", "-q", role.name()]);
        o.ok();
        let token = o.stdout.trim().to_string();
        if !token.starts_with("SWMTKN-1-") {
            o.fail("join-token -q: not a SWMTKN-1 token");
        }
        token
    }

    /// `docker swarm join --token <token> --advertise-addr <addr(i)>
    /// <addr(via)>:2377` on node `i`; the caller checks the outcome.
    pub fn try_join(&self, i: usize, token: &str, via: usize) -> Out {
        let remote = format!("{}:2377", self.addr(via));
        self.node(i).docker(&[
            "swarm",
            "join",
            "--token",
            token,
            "--advertise-addr",
            self.addr(i),
            &remote,
        ])
    }

    /// Joins node `i` through node `via` as `role`; panics unless it prints
    /// "This node joined a swarm as a <role>.".
    #[track_caller]
    pub fn join(&self, i: usize, token: &str, via: usize, role: Role) {
        self.try_join(i, token, via)
            .ok()
            .stdout_is(&format!("This node joined a swarm as a {}.\n", role.name()));
    }
}

/// `key: value` lines of a `--pretty` or `info` text, whitespace trimmed
/// (docker aligns them with tabs and spaces that differ between versions).
pub fn pretty_fields(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// Panics unless `o` printed a `key: value` line (see [`pretty_fields`]).
#[track_caller]
pub fn has_field(o: &Out, key: &str, value: &str) {
    if !pretty_fields(&o.stdout)
        .iter()
        .any(|(k, v)| k == key && v == value)
    {
        o.fail(&format!("no line {key:?}: {value:?}"));
    }
}

impl Cluster {
    /// Polls node `i`'s `node ls` until `want` holds for the row of
    /// `hostname` (state changes reach every manager within seconds).
    #[track_caller]
    pub fn wait_row(&self, i: usize, hostname: &str, want: impl Fn(&NodeRow) -> bool) -> NodeRow {
        let got = wait_for(Duration::from_secs(45), || {
            let rows = self.node(i).try_node_ls().ok()?;
            rows.into_iter()
                .find(|r| r.hostname == hostname)
                .filter(|r| want(r))
        });
        got.unwrap_or_else(|| {
            panic!(
                "[{}] {hostname} never reached the wanted state; node ls on node {i}: {:?}",
                self.test,
                self.node(i).try_node_ls()
            )
        })
    }
}
