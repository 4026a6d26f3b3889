//! `berth swarm ...` and `berth node ...`.

use crate::args::{NodeCmd, SwarmCmd};
use crate::client::Client;
use crate::commands::{node, swarm};
use crate::Failure;

pub async fn run_swarm(c: &Client, cmd: SwarmCmd) -> Result<i32, Failure> {
    match cmd {
        SwarmCmd::Init(a) => swarm::init(c, a).await,
        SwarmCmd::Join(a) => swarm::join(c, a).await,
        SwarmCmd::JoinToken(a) => swarm::join_token(c, a).await,
        SwarmCmd::Leave { force, extra } => swarm::leave(c, force, &extra).await,
        SwarmCmd::Update { spec, extra } => swarm::update(c, spec, &extra).await,
        SwarmCmd::Unlock { extra } => swarm::unlock(c, &extra).await,
        SwarmCmd::UnlockKey(a) => swarm::unlock_key(c, a).await,
        SwarmCmd::Ca(a) => swarm::ca(c, a).await,
    }
}

pub async fn run_node(c: &Client, cmd: NodeCmd) -> Result<i32, Failure> {
    match cmd {
        NodeCmd::Ls(a) => node::ls(c, a).await,
        NodeCmd::Inspect(a) => node::inspect(c, a).await,
        NodeCmd::Update(a) => node::update(c, a).await,
        NodeCmd::Promote { nodes } => node::set_role(c, nodes, true).await,
        NodeCmd::Demote { nodes } => node::set_role(c, nodes, false).await,
        NodeCmd::Rm { force, nodes } => node::rm(c, nodes, force).await,
        NodeCmd::Ps(a) => node::ps(c, a).await,
    }
}
