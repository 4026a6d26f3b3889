//! `/nodes`: list with filters, inspect by ID, ID prefix or hostname,
//! update (labels, availability, role) and remove, with dockerd's words.

use std::collections::BTreeMap;

use base64::Engine as _;
use berth_api::views::swarm::{
    EngineDescription, EnginePlugin, ManagerStatus, Node as NodeView, NodeDescription, NodeSpec,
    NodeStatus, ObjectVersion, Platform, Resources, TLSInfo,
};
use berth_api::Error;

use super::{spec, Cluster};
use crate::ca::Role;
use crate::manager::{Manager, Reachability};
use crate::store::{Availability, Node, NodeState};

/// `GET /nodes?filters=...`, the keys dockerd accepts.
#[derive(Debug, Clone, Default)]
pub struct NodeFilters {
    pub id: Vec<String>,
    pub name: Vec<String>,
    pub role: Vec<String>,
    pub membership: Vec<String>,
    /// `label`: engine labels, `key` or `key=value`.
    pub label: Vec<String>,
    /// `node.label`: node spec labels, `key` or `key=value`.
    pub node_label: Vec<String>,
}

fn labels_match(want: &[String], have: &BTreeMap<String, String>) -> bool {
    want.iter().all(|w| match w.split_once('=') {
        Some((k, v)) => have.get(k).is_some_and(|hv| hv == v),
        None => have.contains_key(w.as_str()),
    })
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::Manager => "manager",
        Role::Worker => "worker",
    }
}

fn availability_name(a: Availability) -> &'static str {
    match a {
        Availability::Active => "active",
        Availability::Pause => "pause",
        Availability::Drain => "drain",
    }
}

fn state_name(s: NodeState) -> &'static str {
    match s {
        NodeState::Unknown => "unknown",
        NodeState::Down => "down",
        NodeState::Ready => "ready",
        NodeState::Disconnected => "disconnected",
    }
}

impl NodeFilters {
    fn matches(&self, n: &NodeView) -> bool {
        let any = |list: &[String], f: &dyn Fn(&str) -> bool| {
            list.is_empty() || list.iter().any(|v| f(v))
        };
        let engine_labels: BTreeMap<String, String> = n
            .description
            .engine
            .labels
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let node_labels: BTreeMap<String, String> = n
            .spec
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        any(&self.id, &|v| n.id.starts_with(v))
            && any(&self.name, &|v| n.description.hostname.starts_with(v))
            && any(&self.role, &|v| n.spec.role == v)
            // every node berth lists has been accepted into the swarm
            && any(&self.membership, &|v| v == "accepted")
            && labels_match(&self.label, &engine_labels)
            && labels_match(&self.node_label, &node_labels)
    }
}

/// What the node reported at its last session start, as the API shows it.
fn description_view(n: &Node, root_tls: &TLSInfo) -> NodeDescription {
    let d = n.description.clone().unwrap_or_default();
    let tls_info = match &n.tls_info {
        Some(t) => {
            let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
            TLSInfo {
                trust_root: t.trust_root.clone(),
                cert_issuer_subject: b64(&t.cert_issuer_subject),
                cert_issuer_public_key: b64(&t.cert_issuer_public_key),
            }
        }
        None => root_tls.clone(),
    };
    NodeDescription {
        hostname: n.hostname.clone(),
        platform: Platform {
            architecture: d.platform.architecture,
            os: d.platform.os,
        },
        resources: Resources {
            nano_cpus: d.resources.nano_cpus,
            memory_bytes: d.resources.memory_bytes,
        },
        engine: EngineDescription {
            engine_version: d.engine.engine_version,
            labels: (!d.engine.labels.is_empty()).then(|| d.engine.labels.into_iter().collect()),
            plugins: d
                .engine
                .plugins
                .into_iter()
                .map(|(kind, name)| EnginePlugin { kind, name })
                .collect(),
        },
        tls_info,
    }
}

/// The API view of a stored node, with its MANAGER STATUS.
fn node_view(
    n: &Node,
    status: Option<&crate::manager::ManagerStatus>,
    root_tls: &TLSInfo,
) -> NodeView {
    NodeView {
        id: n.id.clone(),
        version: ObjectVersion {
            index: n.meta.version,
        },
        created_at: n.meta.created_at.clone(),
        updated_at: n.meta.updated_at.clone(),
        spec: NodeSpec {
            name: String::new(),
            labels: n
                .spec
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            role: role_name(n.spec.role).into(),
            availability: availability_name(n.spec.availability).into(),
        },
        description: description_view(n, root_tls),
        status: NodeStatus {
            state: state_name(n.status.state).into(),
            message: n.status.message.clone(),
            addr: n.status.addr.clone(),
        },
        // Only members of the Raft membership have a manager status: after
        // a force-new-cluster the old managers are listed with none, as
        // dockerd lists them, until they are demoted or removed.
        manager_status: n
            .manager
            .as_ref()
            .zip(status)
            .map(|(info, s)| ManagerStatus {
                leader: s.leader,
                reachability: match s.reachability {
                    Reachability::Reachable => "reachable",
                    Reachability::Unreachable => "unreachable",
                }
                .into(),
                addr: info.addr.clone(),
            }),
    }
}

pub(super) fn parse_availability(s: &str) -> Result<Availability, Error> {
    match s.to_ascii_lowercase().as_str() {
        "active" | "" => Ok(Availability::Active),
        "pause" => Ok(Availability::Pause),
        "drain" => Ok(Availability::Drain),
        _ => Err(Error::invalid(format!("invalid Availability: {s:?}"))),
    }
}

fn parse_role(s: &str) -> Result<Role, Error> {
    match s.to_ascii_lowercase().as_str() {
        "worker" => Ok(Role::Worker),
        "manager" => Ok(Role::Manager),
        _ => Err(Error::invalid(format!("invalid Role: {s:?}"))),
    }
}

impl Cluster {
    async fn node_views(&self, m: &Manager) -> Vec<NodeView> {
        let statuses = m.managers().await;
        let root_tls = m
            .cluster()
            .map(|c| spec::tls_info(&c.root_ca_cert))
            .unwrap_or_default();
        m.nodes()
            .values()
            .map(|n| {
                let status = statuses.iter().find(|s| s.node_id == n.id);
                node_view(n, status, &root_tls)
            })
            .collect()
    }

    /// `GET /nodes`.
    pub async fn nodes(&self, filters: &NodeFilters) -> Result<Vec<NodeView>, Error> {
        let m = self.manager().await?;
        let mut views: Vec<NodeView> = self
            .node_views(&m)
            .await
            .into_iter()
            .filter(|n| filters.matches(n))
            .collect();
        views.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(views)
    }

    /// A node by full ID, then hostname, then unique ID prefix (swarmkit's
    /// order).
    pub async fn node(&self, reference: &str) -> Result<NodeView, Error> {
        let m = self.manager().await?;
        let views = self.node_views(&m).await;
        // `self` is the CLI's word, resolved there (from /info), not here
        let reference = reference.to_string();
        if let Some(n) = views.iter().find(|n| n.id == reference) {
            return Ok(n.clone());
        }
        let by_name: Vec<&NodeView> = views
            .iter()
            .filter(|n| n.description.hostname == reference)
            .collect();
        let candidates = if by_name.is_empty() {
            views
                .iter()
                .filter(|n| n.id.starts_with(&reference))
                .collect()
        } else {
            by_name
        };
        match candidates.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(Error::not_found(format!("node {reference} not found"))),
            _ => Err(Error::invalid(format!(
                "node {reference} is ambiguous ({} matches found)",
                candidates.len()
            ))),
        }
    }

    /// `POST /nodes/{id}/update?version=N`.
    pub async fn update_node(
        &self,
        reference: &str,
        version: u64,
        spec: NodeSpec,
    ) -> Result<(), Error> {
        let id = self.node(reference).await?.id;
        let availability = parse_availability(&spec.availability)?;
        let role = parse_role(&spec.role)?;
        let m = self.manager().await?;
        let current = m
            .nodes()
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("node {id} not found")))?;
        if current.meta.version != version {
            return Err(Error::invalid(
                "rpc error: code = Unknown desc = update out of sequence",
            ));
        }
        if role == Role::Worker && current.spec.role == Role::Manager {
            m.demote(&id).await?;
        } else if role == Role::Manager && current.spec.role == Role::Worker {
            m.promote(&id).await?;
        }
        let labels: BTreeMap<String, String> = spec.labels.into_iter().collect();
        m.update_node_unversioned(&id, |n| {
            n.spec.availability = availability;
            n.spec.labels = labels.clone();
        })
        .await?;
        Ok(())
    }

    /// `DELETE /nodes/{id}[?force=1]`.
    pub async fn remove_node(&self, reference: &str, force: bool) -> Result<(), Error> {
        let id = self.node(reference).await?.id;
        let m = self.manager().await?;
        m.remove_node(&id, force).await
    }
}
