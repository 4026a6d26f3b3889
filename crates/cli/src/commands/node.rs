//! `berth node ls|inspect|update|promote|demote|rm|ps`, as docker 28
//! prints them (cli/command/node).

use berth_api::views::swarm::Node;
use serde_json::{json, Value};

use crate::args::{NodeInspectArgs, NodeLsArgs, NodePsArgs, NodeUpdateArgs};
use crate::client::Client;
use crate::commands::container::filters_json;
use crate::format::template::Template;
use crate::format::{ago, bytes_size, render_rows};
use crate::usage::arg_count_failure;
use crate::Failure;

/// docker's `node ls` table.
const NODE_TABLE: &str = "table {{.ID}} {{if .Self}}*{{else}} {{ end }}\t{{.Hostname}}\t{{.Status}}\t{{.Availability}}\t{{.ManagerStatus}}\t{{.EngineVersion}}";

/// docker's `node inspect --pretty` (its `nodeInspectPrettyTemplate`,
/// over the fields [`pretty_fields`] computes).
const NODE_PRETTY: &str = r#"ID:			{{.ID}}
{{- if .Name }}
Name:			{{.Name}}
{{- end }}
{{- if .Labels }}
Labels:
{{- range $k, $v := .Labels }}
 - {{ $k }}{{if $v }}={{ $v }}{{ end }}
{{- end }}{{ end }}
Hostname:              	{{.Hostname}}
Joined at:             	{{.CreatedAt}}
Status:
 State:			{{.StatusState}}
 {{- if .HasStatusMessage}}
 Message:              	{{.StatusMessage}}
 {{- end}}
 Availability:         	{{.SpecAvailability}}
 {{- if .StatusAddr}}
 Address:		{{.StatusAddr}}
 {{- end}}
{{- if .HasManagerStatus}}
Manager Status:
 Address:		{{.ManagerStatusAddr}}
 Raft Status:		{{.ManagerStatusReachability}}
 {{- if .IsManagerStatusLeader}}
 Leader:		Yes
 {{- else}}
 Leader:		No
 {{- end}}
{{- end}}
Platform:
 Operating System:	{{.PlatformOS}}
 Architecture:		{{.PlatformArchitecture}}
Resources:
 CPUs:			{{.ResourceNanoCPUs}}
 Memory:		{{.ResourceMemory}}
{{- if .HasEnginePlugins}}
Plugins:
{{- range $k, $v := .EnginePlugins }}
 {{ $k }}:{{if $v }}		{{ $v }}{{ end }}
{{- end }}
{{- end }}
Engine Version:		{{.EngineVersion}}
{{- if .EngineLabels}}
Engine Labels:
{{- range $k, $v := .EngineLabels }}
 - {{ $k }}{{if $v }}={{ $v }}{{ end }}
{{- end }}{{- end }}
{{- if .HasTLSInfo}}
TLS Info:
 TrustRoot:
{{.TLSInfoTrustRoot}}
 Issuer Subject:	{{.TLSInfoCertIssuerSubject}}
 Issuer Public Key:	{{.TLSInfoCertIssuerPublicKey}}
{{- end}}"#;

/// docker's `command.PrettyPrint`: the first letter up, the rest down.
pub fn pretty(s: &str) -> String {
    let mut chars = s.chars();
    match (chars.next(), s.len()) {
        (None, _) => String::new(),
        (Some(c), 1) => c.to_lowercase().collect(),
        (Some(c), _) => c
            .to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect(),
    }
}

/// `self` as the docker CLI resolves it for `inspect` and `ps`.
async fn reference(c: &Client, r: &str) -> Result<String, Failure> {
    if r != "self" {
        return Ok(r.to_string());
    }
    let info = c.system_info().await?;
    if info.swarm.node_id.is_empty() {
        // As docker: a swarm call says why better than /info does.
        c.list_nodes(None).await?;
        return Err(Failure::msg("node ID not found in /info"));
    }
    Ok(info.swarm.node_id)
}

/// One row of `node ls`, docker's `nodeContext` fields (sorted, as its
/// `json` prints them).
fn row(n: &Node, self_id: &str, cluster_tls: Option<&berth_api::views::swarm::TLSInfo>) -> Value {
    let manager = match &n.manager_status {
        Some(m) if m.leader => "Leader".to_string(),
        Some(m) => pretty(&m.reachability),
        None => String::new(),
    };
    let tls = match cluster_tls {
        None => "Unknown",
        Some(t) if *t == n.description.tls_info => "Ready",
        Some(_) => "Needs Rotation",
    };
    json!({
        "Availability": pretty(&n.spec.availability),
        "EngineVersion": n.description.engine.engine_version,
        "Hostname": n.description.hostname,
        "ID": n.id,
        "ManagerStatus": manager,
        "Self": n.id == self_id,
        "Status": pretty(&n.status.state),
        "TLSStatus": tls,
    })
}

/// Go's `sortorder.NaturalLess`, enough for host names: digit runs
/// compare as numbers.
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    fn chunks(s: &str) -> Vec<(bool, String)> {
        let mut out: Vec<(bool, String)> = Vec::new();
        for ch in s.chars() {
            let digit = ch.is_ascii_digit();
            match out.last_mut() {
                Some((d, run)) if *d == digit => run.push(ch),
                _ => out.push((digit, ch.to_string())),
            }
        }
        out
    }
    let (ca, cb) = (chunks(a), chunks(b));
    for ((da, ra), (db, rb)) in ca.iter().zip(cb.iter()) {
        let ord = if *da && *db {
            let (ta, tb) = (ra.trim_start_matches('0'), rb.trim_start_matches('0'));
            ta.len().cmp(&tb.len()).then_with(|| ta.cmp(tb))
        } else {
            ra.cmp(rb)
        };
        if ord != std::cmp::Ordering::Equal {
            return ord;
        }
    }
    ca.len().cmp(&cb.len())
}

pub async fn ls(c: &Client, a: NodeLsArgs) -> Result<i32, Failure> {
    let filters = if a.filter.is_empty() {
        None
    } else {
        Some(filters_json(&a.filter).map_err(|f| Failure {
            message: format!(
                "{}\n\n{}\n\nRun 'berth node ls --help' for more information",
                f.message,
                crate::usage::usage_line("node ls")
            ),
            code: f.code,
        })?)
    };
    let mut nodes = c.list_nodes(filters.as_deref()).await?;
    // docker reads /info only when it prints more than IDs.
    let info = if !nodes.is_empty() && !a.quiet {
        Some(c.system_info().await?)
    } else {
        None
    };
    nodes.sort_by(|x, y| natural_cmp(&x.description.hostname, &y.description.hostname));
    let self_id = info
        .as_ref()
        .map(|i| i.swarm.node_id.as_str())
        .unwrap_or("");
    let cluster_tls = info
        .as_ref()
        .and_then(|i| i.swarm.cluster.as_ref())
        .map(|c| &c.tls_info);
    let rows: Vec<Value> = nodes.iter().map(|n| row(n, self_id, cluster_tls)).collect();
    let format = match a.format.as_deref() {
        None | Some("") | Some("table") if a.quiet => Some("{{.ID}}".to_string()),
        Some("raw") if a.quiet => Some("node_id: {{.ID}}\n".to_string()),
        Some("raw") => Some("node_id: {{.ID}}\nhostname: {{.Hostname}}\nstatus: {{.Status}}\navailability: {{.Availability}}\nmanager_status: {{.ManagerStatus}}\n".to_string()),
        _ => a.format,
    };
    let text = render_rows(
        format.as_deref(),
        NODE_TABLE,
        &json!({"ID": "ID", "Self": "", "Hostname": "HOSTNAME", "Status": "STATUS", "Availability": "AVAILABILITY", "ManagerStatus": "MANAGER STATUS", "EngineVersion": "ENGINE VERSION", "TLSStatus": "TLS STATUS"}),
        &rows,
        "*node.nodeContext",
    )
    // docker's node formatter words both kinds of template error so.
    .map_err(|e| {
        let why = e
            .strip_prefix("failed to execute template: ")
            .or_else(|| e.strip_prefix("failed to parse template: "))
            .unwrap_or(&e);
        Failure::msg(format!("template parsing error: {why}"))
    })?;
    print!("{text}");
    Ok(0)
}

/// The fields docker's `nodeInspectContext` offers the pretty template.
fn pretty_fields(n: &Node) -> Value {
    let d = &n.description;
    let mut plugins: indexmap::IndexMap<String, Vec<String>> = indexmap::IndexMap::new();
    for p in &d.engine.plugins {
        plugins
            .entry(p.kind.clone())
            .or_default()
            .push(p.name.clone());
    }
    let plugins: serde_json::Map<String, Value> = plugins
        .into_iter()
        .map(|(k, mut v)| {
            v.sort_by(|a, b| natural_cmp(a, b));
            (k, Value::String(v.join(", ")))
        })
        .collect();
    let created = chrono::DateTime::parse_from_rfc3339(&n.created_at)
        .map(|t| ago(t.timestamp()))
        .unwrap_or_default();
    let ms = n.manager_status.clone().unwrap_or_default();
    let tls = &d.tls_info;
    json!({
        "ID": n.id,
        "Name": n.spec.name,
        "Labels": n.spec.labels,
        "Hostname": d.hostname,
        "CreatedAt": pretty(&created),
        "StatusState": pretty(&n.status.state),
        "HasStatusMessage": !n.status.message.is_empty(),
        "StatusMessage": pretty(&n.status.message),
        "SpecAvailability": pretty(&n.spec.availability),
        "StatusAddr": n.status.addr,
        "HasManagerStatus": n.manager_status.is_some(),
        "ManagerStatusAddr": ms.addr,
        "ManagerStatusReachability": pretty(&ms.reachability),
        "IsManagerStatusLeader": ms.leader,
        "PlatformOS": d.platform.os,
        "PlatformArchitecture": d.platform.architecture,
        "ResourceNanoCPUs": d.resources.nano_cpus / 1_000_000_000,
        "ResourceMemory": bytes_size(d.resources.memory_bytes as f64),
        "HasEnginePlugins": !d.engine.plugins.is_empty(),
        "EnginePlugins": plugins,
        "EngineVersion": d.engine.engine_version,
        "EngineLabels": d.engine.labels.clone().unwrap_or_default(),
        "HasTLSInfo": *tls != Default::default(),
        "TLSInfoTrustRoot": tls.trust_root,
        "TLSInfoCertIssuerSubject": tls.cert_issuer_subject,
        "TLSInfoCertIssuerPublicKey": tls.cert_issuer_public_key,
    })
}

pub async fn inspect(c: &Client, a: NodeInspectArgs) -> Result<i32, Failure> {
    if a.nodes.is_empty() {
        return Err(arg_count_failure("node inspect", "at least 1 argument"));
    }
    if a.pretty {
        // docker's pretty writer stops at the first node it cannot read
        // and prints nothing then.
        let t = Template::parse(NODE_PRETTY).map_err(Failure::msg)?;
        let mut out = String::new();
        for r in &a.nodes {
            let id = reference(c, r).await?;
            let node = c.inspect_node(&id).await?;
            out.push_str(&t.render(&pretty_fields(&node)).map_err(Failure::msg)?);
            out.push('\n');
        }
        print!("{out}");
        return Ok(0);
    }
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for r in &a.nodes {
        let got = match reference(c, r).await {
            Ok(id) => c
                .get_json(&format!("/nodes/{}", crate::client::q(&id)))
                .await
                .map_err(|e| e.to_string()),
            Err(f) => Err(f.message),
        };
        match got {
            Ok(v) => found.push(v),
            Err(e) => errors.push(e),
        }
    }
    crate::commands::print_inspect(found, a.format.as_deref())?;
    if errors.is_empty() {
        Ok(0)
    } else {
        Err(Failure::msg(errors.join("\n")))
    }
}

/// What a role change does to a node before it is written back, or
/// `None` when there is nothing to write (docker's `errNoRoleChange`).
type Merge<'a> = dyn Fn(&mut Node) -> Result<Option<()>, Failure> + 'a;

/// docker's `updateNodes`: read, merge, write at the read version; stop at
/// the first failure.
async fn update_nodes(
    c: &Client,
    ids: &[String],
    merge: &Merge<'_>,
    success: &dyn Fn(&str),
) -> Result<i32, Failure> {
    for id in ids {
        let mut node = c.inspect_node(id).await?;
        if merge(&mut node)?.is_none() {
            continue;
        }
        c.update_node(&node.id, node.version.index, &node.spec)
            .await?;
        success(id);
    }
    Ok(0)
}

pub async fn update(c: &Client, a: NodeUpdateArgs) -> Result<i32, Failure> {
    if a.nodes.len() != 1 {
        return Err(arg_count_failure("node update", "exactly 1 argument"));
    }
    let merge = |node: &mut Node| {
        let spec = &mut node.spec;
        if let Some(r) = &a.role {
            spec.role = r.clone();
        }
        if let Some(av) = &a.availability {
            spec.availability = av.clone();
        }
        for l in &a.label_add {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            spec.labels.insert(k.to_string(), v.to_string());
        }
        for k in &a.label_rm {
            if spec.labels.shift_remove(k).is_none() {
                return Err(Failure::msg(format!(
                    "key {k} doesn't exist in node's labels"
                )));
            }
        }
        Ok(Some(()))
    };
    let name = a.nodes[0].clone();
    update_nodes(c, &a.nodes, &merge, &|_| println!("{name}")).await
}

/// `node promote` and `node demote`.
pub async fn set_role(c: &Client, ids: Vec<String>, manager: bool) -> Result<i32, Failure> {
    let path = if manager {
        "node promote"
    } else {
        "node demote"
    };
    if ids.is_empty() {
        return Err(arg_count_failure(path, "at least 1 argument"));
    }
    let role = if manager { "manager" } else { "worker" };
    let merge = |node: &mut Node| {
        if node.spec.role == role {
            println!("Node {} is already a {role}.", node.id);
            return Ok(None);
        }
        node.spec.role = role.to_string();
        Ok(Some(()))
    };
    let success = |id: &str| {
        if manager {
            println!("Node {id} promoted to a manager in the swarm.");
        } else {
            println!("Manager {id} demoted in the swarm.");
        }
    };
    update_nodes(c, &ids, &merge, &success).await
}

pub async fn rm(c: &Client, ids: Vec<String>, force: bool) -> Result<i32, Failure> {
    if ids.is_empty() {
        return Err(arg_count_failure("node rm", "at least 1 argument"));
    }
    let mut errors = Vec::new();
    for id in &ids {
        match c.remove_node(id, force).await {
            Ok(()) => println!("{id}"),
            Err(e) => errors.push(e.to_string()),
        }
    }
    if errors.is_empty() {
        Ok(0)
    } else {
        Err(Failure::msg(errors.join("\n")))
    }
}

/// docker's task table (`task.DefaultFormat`).
const TASK_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.Image}}\t{{.Node}}\t{{.DesiredState}}\t{{.CurrentState}}\t{{.Error}}\t{{.Ports}}";

/// `node ps`: the nodes resolved and checked as docker does; their tasks
/// come with services (berthd runs none yet), so the table is empty.
pub async fn ps(c: &Client, a: NodePsArgs) -> Result<i32, Failure> {
    let refs = if a.nodes.is_empty() {
        vec!["self".to_string()]
    } else {
        a.nodes.clone()
    };
    if !a.filter.is_empty() {
        filters_json(&a.filter)?;
    }
    let mut errors = Vec::new();
    for r in &refs {
        let got = match reference(c, r).await {
            Ok(id) => c
                .inspect_node(&id)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Err(f) => Err(f.message),
        };
        if let Err(e) = got {
            errors.push(e);
        }
    }
    if errors.is_empty() {
        let format = match a.format.as_deref() {
            None | Some("") | Some("table") if a.quiet => Some("{{.ID}}"),
            f => f,
        };
        let text = render_rows(
            format,
            TASK_TABLE,
            &json!({"ID": "ID", "Name": "NAME", "Image": "IMAGE", "Node": "NODE", "DesiredState": "DESIRED STATE", "CurrentState": "CURRENT STATE", "Error": "ERROR", "Ports": "PORTS"}),
            &[],
            "*task.formatter.taskContext",
        )
        .map_err(Failure::msg)?;
        print!("{text}");
        return Ok(0);
    }
    Err(Failure::msg(errors.join("\n")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_print_capitalized() {
        assert_eq!(pretty("ready"), "Ready");
        assert_eq!(pretty("REACHABLE"), "Reachable");
        assert_eq!(pretty(""), "");
    }

    #[test]
    fn host_names_sort_naturally() {
        let mut v = vec!["node10", "node2", "alpha", "node1"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, ["alpha", "node1", "node2", "node10"]);
    }

    #[test]
    fn the_self_row_and_manager_status() {
        let mut n = Node {
            id: "abc".into(),
            ..Default::default()
        };
        n.status.state = "ready".into();
        n.spec.availability = "active".into();
        n.manager_status = Some(berth_api::views::swarm::ManagerStatus {
            leader: true,
            ..Default::default()
        });
        let r = row(&n, "abc", None);
        assert_eq!(r["Self"], true);
        assert_eq!(r["ManagerStatus"], "Leader");
        assert_eq!(r["Status"], "Ready");
        assert_eq!(r["TLSStatus"], "Unknown");
        let text = render_rows(None, NODE_TABLE, &json!({"ID": "ID", "Self": "", "Hostname": "HOSTNAME", "Status": "STATUS", "Availability": "AVAILABILITY", "ManagerStatus": "MANAGER STATUS", "EngineVersion": "ENGINE VERSION"}), &[r], "T").unwrap();
        assert!(text.starts_with("ID        HOSTNAME   STATUS"), "{text:?}");
        assert!(text.contains("\nabc *  "), "{text:?}");
    }
}
