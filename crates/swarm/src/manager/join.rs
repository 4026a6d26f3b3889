//! `swarm init` and `swarm join`: the first manager's cluster, and a new
//! node's certificate and (for managers) its place in Raft.

use std::collections::BTreeMap;
use std::time::Duration;

use berth_api::Error;
use rand::RngCore;

use super::{save_identity, Inner, LocalState, Manager, ManagerConfig, Paths};
use crate::ca::{new_id, JoinToken, JoinTokens, NodeCert, NodeIdentity, Role, RootCa};
use crate::raft::Peer;
use crate::store::{
    Availability, Cluster, ClusterSpec, Command, CommandResult, ManagerInfo, Meta, Node, NodeSpec,
    NodeState, NodeStatus,
};
use crate::transport::{
    tls, JoinRequest, JoinResponse, MembershipOp, PeerClient, Request, Response,
};

/// How long one join RPC may take.
const JOIN_RPC_TIMEOUT: Duration = Duration::from_secs(5);

/// dockerd's answer to init or join on a node already in a swarm (a 503
/// there; berth_api has no such kind yet, so a conflict here).
pub const ALREADY_IN_SWARM: &str =
    "This node is already part of a swarm. Use \"docker swarm leave\" to leave this swarm and join another one.";

/// What `bootstrap` needs to make a new swarm's first objects.
struct FirstManager {
    identity: NodeIdentity,
    hostname: String,
    addr: String,
    raft_id: u64,
    cluster_id: String,
    spec: ClusterSpec,
    ca: RootCa,
}

pub(crate) fn new_raft_id() -> u64 {
    // 0 is never a Raft ID (swarmkit's raft.None).
    loop {
        let id = rand::rng().next_u64();
        if id != 0 {
            return id;
        }
    }
}

pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn node_object(identity: &NodeIdentity, hostname: &str, addr: &str, raft_id: u64) -> Node {
    let t = now();
    let host = addr
        .rsplit_once(':')
        .map(|(h, _)| h)
        .unwrap_or(addr)
        .to_string();
    Node {
        id: identity.node_id.clone(),
        meta: Meta {
            version: 0,
            created_at: t.clone(),
            updated_at: t,
        },
        spec: NodeSpec {
            role: identity.role,
            availability: Availability::Active,
            labels: BTreeMap::new(),
        },
        hostname: hostname.to_string(),
        status: NodeStatus {
            state: NodeState::Ready,
            message: String::new(),
            addr: host,
        },
        manager: (identity.role == Role::Manager).then(|| ManagerInfo {
            raft_id,
            addr: addr.to_string(),
        }),
        tls_info: None,
        description: None,
    }
}

pub(crate) fn refuse_if_in_swarm(config: &ManagerConfig) -> Result<(), Error> {
    if Paths::new(&config.state_dir).state.exists() {
        return Err(Error::conflict(ALREADY_IN_SWARM));
    }
    Ok(())
}

fn expect_applied(r: CommandResult) -> Result<(), Error> {
    match r {
        CommandResult::Applied { .. } => Ok(()),
        CommandResult::Conflict(m) => Err(Error::conflict(m)),
        CommandResult::NotFound(m) => Err(Error::not_found(m)),
    }
}

impl Inner {
    /// Serve a join: check the token, sign the CSR with the role the token
    /// grants, record the node.
    pub(crate) async fn handle_join(&self, j: JoinRequest) -> Result<JoinResponse, Error> {
        let token = JoinToken::parse(&j.token)?;
        let cluster = self
            .reader
            .read(|d| d.cluster.clone())
            .ok_or_else(super::propose::lost_quorum)?;
        let role = cluster.join_tokens.role_for(&token)?;
        // The next root during a rotation (see rotate_ca).
        let (ca, chain, issuer) = super::rotate_ca::signing_ca(&cluster)?;
        let identity = NodeIdentity {
            node_id: new_id(),
            role,
            cluster_id: cluster.id.clone(),
        };
        let cert_pem = ca.issue(
            &j.csr_pem,
            &identity,
            Duration::from_secs(cluster.spec.cert_expiry_secs),
        )?;
        let cert_pem = super::rotate_ca::with_chain(cert_pem, &chain);
        let raft_id = if role == Role::Manager {
            new_raft_id()
        } else {
            0
        };
        let mut node = node_object(&identity, &j.hostname, &j.addr, raft_id);
        node.tls_info = Some(issuer);
        expect_applied(self.propose(Command::CreateNode(Box::new(node))).await?)?;
        Ok(JoinResponse {
            node_id: identity.node_id,
            cluster_id: cluster.id,
            cert_pem,
            ca_pem: cluster.root_ca_cert,
            raft_id,
        })
    }
}

/// Get a node certificate from the manager at `remote` with `token`. The
/// remote's root CA must hash to the token's digest and the remote must
/// hold a certificate from it before the token is sent.
pub async fn request_certificate(
    remote: &str,
    token: &str,
    addr: &str,
    hostname: &str,
) -> Result<(RootCa, NodeCert, JoinResponse), Error> {
    let parsed = JoinToken::parse(token)?;
    let client = PeerClient::new(remote.to_string(), tls::join_client_config()?);
    let unreachable = |e: std::io::Error| {
        Error::internal(format!("could not reach the manager at {remote}: {e}"))
    };
    let ca_pem = match client
        .call(&Request::GetRootCa, JOIN_RPC_TIMEOUT)
        .await
        .map_err(unreachable)?
    {
        Response::RootCa(pem) => pem,
        other => {
            return Err(Error::internal(format!(
                "unexpected answer from {remote}: {other:?}"
            )))
        }
    };
    let ca = RootCa::from_pem(&ca_pem, None)?;
    if ca.digest() != parsed.ca_digest {
        let expected: String = parsed
            .ca_digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        // swarmkit's DownloadRootCA wording
        return Err(Error::invalid(format!(
            "remote CA does not match fingerprint. Expected: {expected}"
        )));
    }
    // The token goes only to a server proven to hold a certificate from that root.
    let client = PeerClient::new(remote.to_string(), tls::join_client_config_pinned(&ca)?);
    let (key_pem, csr_pem) = NodeCert::new_key_and_csr()?;
    let req = JoinRequest {
        token: token.to_string(),
        csr_pem,
        addr: addr.to_string(),
        hostname: hostname.to_string(),
    };
    let resp = match client
        .call(&Request::Join(req), JOIN_RPC_TIMEOUT)
        .await
        .map_err(unreachable)?
    {
        Response::Join(r) => r,
        Response::Error(e) => return Err(e.into()),
        other => {
            return Err(Error::internal(format!(
                "unexpected answer from {remote}: {other:?}"
            )))
        }
    };
    let node = NodeCert::from_pem(resp.cert_pem.clone(), key_pem)?;
    Ok((ca, node, resp))
}

impl Manager {
    /// `swarm init`: a new cluster with this node its only manager and
    /// leader. `external_ca` is a root loaded with its key (`--external-ca`
    /// signing remotely is not supported yet); None generates one.
    pub async fn init(
        config: ManagerConfig,
        spec: ClusterSpec,
        external_ca: Option<RootCa>,
    ) -> Result<Manager, Error> {
        refuse_if_in_swarm(&config)?;
        let ca = match external_ca {
            Some(ca) => ca,
            None => RootCa::generate()?,
        };
        let cluster_id = new_id();
        let identity = NodeIdentity {
            node_id: new_id(),
            role: Role::Manager,
            cluster_id: cluster_id.clone(),
        };
        let node = NodeCert::issue_local(
            &ca,
            identity.clone(),
            Duration::from_secs(spec.cert_expiry_secs),
        )?;
        let (listener, addr) = Self::bind(&config).await?;
        let state = LocalState {
            raft_id: new_raft_id(),
            addr: addr.clone(),
        };
        let paths = Paths::new(&config.state_dir);
        let at_rest = save_identity(&paths, &ca, &node, &state)?;
        let hostname = config.hostname.clone();
        let started = Self::start(config, listener, ca.clone(), node, state.clone(), at_rest);
        let manager = match started.await {
            Ok(m) => m,
            Err(e) => return Err(paths.undo(e)),
        };
        let first = FirstManager {
            identity,
            hostname,
            addr,
            raft_id: state.raft_id,
            cluster_id,
            spec,
            ca,
        };
        // With --autolock the key file is sealed before init returns.
        let bootstrapped = manager.bootstrap(first).await;
        match bootstrapped.and_then(|()| manager.inner.reconcile_unlock_key()) {
            Ok(()) => Ok(manager),
            Err(e) => {
                manager.shutdown().await;
                Err(paths.undo(e))
            }
        }
    }

    /// Make the one-voter Raft and the first objects of a new swarm.
    async fn bootstrap(&self, first: FirstManager) -> Result<(), Error> {
        let FirstManager {
            identity,
            hostname,
            addr,
            raft_id,
            cluster_id,
            spec,
            ca,
        } = first;
        let manager = self;
        let state = LocalState {
            raft_id,
            addr: addr.clone(),
        };
        let members = BTreeMap::from([(
            state.raft_id,
            Peer {
                addr: addr.clone(),
                node_id: identity.node_id.clone(),
            },
        )]);
        manager
            .inner
            .raft
            .initialize(members)
            .await
            .map_err(|e| Error::internal(format!("raft initialize: {e}")))?;
        if manager.wait_for_leader(Duration::from_secs(5)).await != Some(state.raft_id) {
            return Err(Error::internal(
                "the new swarm did not elect its first manager",
            ));
        }
        let t = now();
        let cluster = Cluster {
            id: cluster_id,
            meta: Meta {
                version: 0,
                created_at: t.clone(),
                updated_at: t,
            },
            unlock_key: spec.autolock.then(crate::lock::UnlockKey::generate),
            root_rotation: None,
            spec,
            root_ca_cert: ca.cert_pem().to_string(),
            root_ca_key: ca.key_pem().map(str::to_string),
            join_tokens: JoinTokens::generate(ca.digest()),
        };
        manager
            .propose(Command::CreateCluster(Box::new(cluster)))
            .await?;
        let mut me = node_object(&identity, &hostname, &addr, state.raft_id);
        me.tls_info = Some(ca.issuer_info()?);
        manager.propose(Command::CreateNode(Box::new(me))).await?;
        Ok(())
    }

    /// `swarm join --token <manager token> <remote>`: get a manager
    /// certificate, start Raft empty and have the leader add this node
    /// (as a learner, then a voter once caught up).
    pub async fn join(config: ManagerConfig, remote: &str, token: &str) -> Result<Manager, Error> {
        refuse_if_in_swarm(&config)?;
        let (listener, addr) = Self::bind(&config).await?;
        let (ca, node, resp) = request_certificate(remote, token, &addr, &config.hostname).await?;
        if node.identity.role != Role::Manager {
            return Err(Error::invalid(
                "this is a worker join token; a manager joins with the manager token",
            ));
        }
        Self::join_with_certificate(config, listener, addr, remote, (ca, node, resp)).await
    }

    /// The rest of a manager's join once it holds its certificate.
    pub(crate) async fn join_with_certificate(
        config: ManagerConfig,
        listener: tokio::net::TcpListener,
        addr: String,
        remote: &str,
        (ca, node, resp): (RootCa, NodeCert, JoinResponse),
    ) -> Result<Manager, Error> {
        let state = LocalState {
            raft_id: resp.raft_id,
            addr: addr.clone(),
        };
        let paths = Paths::new(&config.state_dir);
        let at_rest = save_identity(&paths, &ca, &node, &state)?;
        let manager = match Self::start(config, listener, ca, node, state.clone(), at_rest).await {
            Ok(m) => m,
            Err(e) => return Err(paths.undo(e)),
        };
        match manager.add_to_raft(remote).await {
            Ok(()) => Ok(manager),
            Err(e) => {
                manager.shutdown().await;
                Err(paths.undo(e))
            }
        }
    }

    /// Have the leader (through the manager at `remote`) add this manager
    /// to Raft: a learner first, a voter once it has caught up.
    pub(crate) async fn add_to_raft(&self, remote: &str) -> Result<(), Error> {
        let peer = Peer {
            addr: self.inner.addr.clone(),
            node_id: self.inner.identity.node_id.clone(),
        };
        let op = Request::Membership(MembershipOp::Add {
            raft_id: self.inner.raft_id,
            peer,
        });
        match self
            .inner
            .peers
            .client(remote)
            .call(&op, JOIN_RPC_TIMEOUT * 2)
            .await
        {
            Ok(Response::Membership) => Ok(()),
            Ok(Response::Error(e)) => Err(e.into()),
            Ok(other) => Err(Error::internal(format!(
                "unexpected answer from {remote}: {other:?}"
            ))),
            Err(e) => Err(Error::internal(format!(
                "could not reach the manager at {remote}: {e}"
            ))),
        }
    }

    /// Replace a join token (`swarm join-token --rotate`).
    pub async fn rotate_join_token(&self, role: Role) -> Result<JoinToken, Error> {
        let mut cluster = self.cluster().ok_or_else(super::propose::lost_quorum)?;
        cluster.join_tokens.rotate(role);
        cluster.meta.updated_at = now();
        let token = match role {
            Role::Worker => cluster.join_tokens.worker.clone(),
            Role::Manager => cluster.join_tokens.manager.clone(),
        };
        self.propose(Command::UpdateCluster(Box::new(cluster)))
            .await?;
        Ok(token)
    }
}
