//! A service's container as the Engine API's create body: the compose
//! model mapped onto `Config`/`HostConfig`/`NetworkingConfig` as docker
//! compose v2 maps it (volumes as mounts, bind volumes as `Binds`, secrets
//! and configs as read-only bind mounts of their files, the first network
//! at create and the others connected before start).

use berth_api::container_config::{ContainerConfig, HostConfig};
use berth_api::model::{EndpointIPAMConfig, EndpointSettings};
use berth_api::types::{HealthConfig, LogConfig, Mount, NetworkingConfig, PortBinding};
use indexmap::IndexMap;
use serde::Serialize;
use serde_json::json;

use super::*;
use crate::model::{Project, Service};

/// The body of `POST /containers/create`: the `Config` fields beside
/// `HostConfig` and `NetworkingConfig`.
#[derive(Debug, Serialize)]
pub struct CreateRequest {
    #[serde(flatten)]
    pub config: ContainerConfig,
    #[serde(rename = "HostConfig")]
    pub host_config: HostConfig,
    #[serde(rename = "NetworkingConfig")]
    pub networking_config: NetworkingConfig,
}

/// Go duration text (`1m30s`, `500ms`) to nanoseconds.
pub fn duration_ns(s: &str) -> Result<i64, Error> {
    berth_api::units::parse_duration(s)
        .map(|secs| (secs * 1e9) as i64)
        .ok_or_else(|| Error::new(format!("invalid duration {s:?}")))
}

fn bytes(s: &str) -> Result<i64, Error> {
    berth_api::units::ram_in_bytes(s).map_err(Error::new)
}

/// The network endpoint settings of `service` on network `key`.
pub fn endpoint(project: &Project, service: &str, key: &str) -> EndpointSettings {
    let svc = &project.model.services[service];
    let mut aliases = vec![service.to_string()];
    let mut ep = EndpointSettings::default();
    if let Some(Some(n)) = svc.networks.get(key) {
        aliases.extend(n.aliases.iter().cloned());
        if let Some(ip) = &n.ipv4_address {
            ep.ipam_config = Some(EndpointIPAMConfig {
                i_pv4_address: ip.clone(),
                ..Default::default()
            });
        }
    }
    ep.aliases = Some(aliases);
    if !svc.links.is_empty() {
        ep.links = Some(
            svc.links
                .iter()
                .map(|l| match l.split_once(':') {
                    Some((a, b)) => format!("{}:{b}", link_target(project, a)),
                    None => format!("{}:{l}", link_target(project, l)),
                })
                .collect(),
        );
    }
    ep
}

fn link_target(project: &Project, service: &str) -> String {
    match project.model.services.get(service) {
        Some(s) => container_name(&project.name, service, s, 1),
        None => service.to_string(),
    }
}

/// The full network name of a service's network key.
pub fn network_name(project: &Project, key: &str) -> String {
    project
        .model
        .networks
        .get(key)
        .and_then(|n| n.name.clone())
        .unwrap_or_else(|| format!("{}_{key}", project.name))
}

fn labels(
    project: &Project,
    service: &str,
    svc: &Service,
    n: u64,
    hash: &str,
) -> IndexMap<String, String> {
    let mut l = svc.labels.clone();
    let files: Vec<String> = project
        .config_files
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    let deps: Vec<String> = svc
        .depends_on
        .iter()
        .map(|(d, c)| format!("{d}:{}:{}", c.condition.as_str(), c.restart))
        .collect();
    for (k, v) in [
        (PROJECT, project.name.clone()),
        (SERVICE, service.to_string()),
        (NUMBER, n.to_string()),
        (ONEOFF, "False".to_string()),
        (HASH, hash.to_string()),
        (WORKING_DIR, project.working_dir.display().to_string()),
        (CONFIG_FILES, files.join(",")),
        (DEPENDS_ON, deps.join(",")),
        (IMAGE, image_name(&project.name, service, svc)),
        (VERSION, COMPOSE_VERSION.to_string()),
    ] {
        l.insert(k.to_string(), v);
    }
    l
}

fn healthcheck(svc: &Service) -> Result<Option<HealthConfig>, Error> {
    let Some(h) = &svc.healthcheck else {
        return Ok(None);
    };
    let d = |v: &Option<String>| {
        v.as_deref()
            .map(duration_ns)
            .transpose()
            .map(Option::unwrap_or_default)
    };
    Ok(Some(HealthConfig {
        test: if h.disable {
            Some(vec!["NONE".into()])
        } else {
            (!h.test.is_empty()).then(|| h.test.clone())
        },
        interval: d(&h.interval)?,
        timeout: d(&h.timeout)?,
        retries: h.retries.unwrap_or(0) as i64,
        start_period: d(&h.start_period)?,
        start_interval: d(&h.start_interval)?,
    }))
}

fn mounts(project: &Project, svc: &Service, hc: &mut HostConfig) {
    let mut binds = Vec::new();
    let mut mounts = Vec::new();
    for v in &svc.volumes {
        match v.kind.as_str() {
            "bind" => {
                let ro = if v.read_only { ":ro" } else { "" };
                binds.push(format!(
                    "{}:{}{ro}",
                    v.source.clone().unwrap_or_default(),
                    v.target
                ));
            }
            kind => {
                let source = match (&v.source, kind) {
                    (Some(s), "volume") => project
                        .model
                        .volumes
                        .get(s)
                        .and_then(|d| d.name.clone())
                        .unwrap_or_else(|| s.clone()),
                    (Some(s), _) => s.clone(),
                    (None, _) => String::new(),
                };
                mounts.push(Mount {
                    target: v.target.clone(),
                    source,
                    r#type: kind.to_string(),
                    read_only: v.read_only,
                    volume_options: v
                        .volume
                        .as_ref()
                        .filter(|o| o.nocopy)
                        .map(|_| json!({"NoCopy": true})),
                    ..Mount::default()
                });
            }
        }
    }
    let files = [
        (&svc.secrets, &project.model.secrets, "/run/secrets/"),
        (&svc.configs, &project.model.configs, "/"),
    ];
    for (refs, defs, dir) in files {
        for r in refs {
            // Secrets from `environment`/`content` are copied in after
            // create ([`inline_files`]).
            let Some(file) = defs.get(&r.source).and_then(|d| d.file.clone()) else {
                continue;
            };
            let target = match &r.target {
                Some(t) if t.starts_with('/') => t.clone(),
                Some(t) => format!("{dir}{t}"),
                None => format!("{dir}{}", r.source),
            };
            mounts.push(Mount {
                target,
                source: file,
                r#type: "bind".into(),
                read_only: true,
                ..Mount::default()
            });
        }
    }
    hc.binds = (!binds.is_empty()).then_some(binds);
    hc.mounts = (!mounts.is_empty()).then_some(mounts);
}

fn ports(svc: &Service, config: &mut ContainerConfig, hc: &mut HostConfig) {
    let mut exposed: IndexMap<String, serde_json::Value> = IndexMap::new();
    for e in &svc.expose {
        let key = if e.contains('/') {
            e.clone()
        } else {
            format!("{e}/tcp")
        };
        exposed.insert(key, json!({}));
    }
    let mut bindings: berth_api::types::PortMap = IndexMap::new();
    for p in &svc.ports {
        let key = format!("{}/{}", p.target, p.protocol);
        exposed.insert(key.clone(), json!({}));
        let b = PortBinding {
            host_ip: p.host_ip.clone().unwrap_or_default(),
            host_port: p.published.clone().unwrap_or_default(),
        };
        bindings
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(b);
    }
    config.exposed_ports = (!exposed.is_empty()).then_some(exposed);
    hc.port_bindings = (!bindings.is_empty()).then_some(bindings);
}

fn restart_policy(svc: &Service) -> berth_api::types::RestartPolicy {
    let r = svc.restart.clone().unwrap_or_default();
    let (name, count) = match r.split_once(':') {
        Some((n, c)) => (n.to_string(), c.parse().unwrap_or(0)),
        None => (r, 0),
    };
    berth_api::types::RestartPolicy {
        name: if name == "no" { String::new() } else { name },
        maximum_retry_count: count,
    }
}

fn resources(svc: &Service, hc: &mut HostConfig) -> Result<(), Error> {
    let limits = svc.deploy.as_ref().and_then(|d| d.resources.as_ref());
    let lim = limits.and_then(|r| r.limits.as_ref());
    let res = limits.and_then(|r| r.reservations.as_ref());
    if let Some(m) = lim
        .and_then(|l| l.memory.as_deref())
        .or(svc.mem_limit.as_deref())
    {
        hc.memory = bytes(m)?;
    }
    if let Some(m) = res.and_then(|l| l.memory.as_deref()) {
        hc.memory_reservation = bytes(m)?;
    }
    if let Some(c) = lim.and_then(|l| l.cpus.as_deref()).or(svc.cpus.as_deref()) {
        let cpus: f64 = c
            .parse()
            .map_err(|_| Error::new(format!("invalid cpus value {c:?}")))?;
        hc.nano_cpus = (cpus * 1e9) as i64;
    }
    if let Some(p) = lim.and_then(|l| l.pids) {
        hc.pids_limit = Some(p as i64);
    }
    if let Some(s) = &svc.shm_size {
        hc.shm_size = bytes(s)?;
    }
    Ok(())
}

/// The create body of container `n` of `service`.
pub fn request(
    project: &Project,
    service: &str,
    n: u64,
    hash: &str,
) -> Result<CreateRequest, Error> {
    let svc = &project.model.services[service];
    let mut config = ContainerConfig {
        image: image_name(&project.name, service, svc),
        cmd: svc.command.clone(),
        entrypoint: svc.entrypoint.clone(),
        env: Some(
            svc.environment
                .iter()
                .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
                .collect(),
        ),
        labels: Some(labels(project, service, svc, n, hash)),
        hostname: svc.hostname.clone().unwrap_or_default(),
        domainname: svc.domainname.clone().unwrap_or_default(),
        user: svc.user.clone().unwrap_or_default(),
        working_dir: svc.working_dir.clone().unwrap_or_default(),
        tty: svc.tty,
        open_stdin: svc.stdin_open,
        stop_signal: svc.stop_signal.clone().unwrap_or_default(),
        healthcheck: healthcheck(svc)?,
        mac_address: svc.mac_address.clone().unwrap_or_default(),
        ..ContainerConfig::default()
    };
    if let Some(g) = &svc.stop_grace_period {
        config.stop_timeout = Some(duration_ns(g)? / 1_000_000_000);
    }
    let mut hc = HostConfig {
        cap_add: (!svc.cap_add.is_empty()).then(|| svc.cap_add.clone()),
        cap_drop: (!svc.cap_drop.is_empty()).then(|| svc.cap_drop.clone()),
        privileged: svc.privileged,
        readonly_rootfs: svc.read_only,
        init: svc.init,
        dns: (!svc.dns.is_empty()).then(|| svc.dns.clone()),
        dns_search: (!svc.dns_search.is_empty()).then(|| svc.dns_search.clone()),
        extra_hosts: (!svc.extra_hosts.is_empty()).then(|| {
            svc.extra_hosts
                .iter()
                .map(|h| h.replacen('=', ":", 1))
                .collect()
        }),
        sysctls: (!svc.sysctls.is_empty()).then(|| svc.sysctls.clone()),
        security_opt: (!svc.security_opt.is_empty()).then(|| svc.security_opt.clone()),
        group_add: (!svc.group_add.is_empty()).then(|| svc.group_add.clone()),
        volumes_from: (!svc.volumes_from.is_empty()).then(|| {
            svc.volumes_from
                .iter()
                .map(|v| {
                    let (name, mode) = v.split_once(':').unwrap_or((v, ""));
                    let target = match project.model.services.get(name) {
                        Some(s) => container_name(&project.name, name, s, 1),
                        None => name.trim_start_matches("container:").to_string(),
                    };
                    if mode.is_empty() {
                        target
                    } else {
                        format!("{target}:{mode}")
                    }
                })
                .collect()
        }),
        pid_mode: svc.pid.clone().unwrap_or_default(),
        ipc_mode: svc.ipc.clone().unwrap_or_default(),
        userns_mode: svc.userns_mode.clone().unwrap_or_default(),
        cgroup_parent: svc.cgroup_parent.clone().unwrap_or_default(),
        restart_policy: restart_policy(svc),
        ..HostConfig::default()
    };
    if !svc.tmpfs.is_empty() {
        hc.tmpfs = Some(
            svc.tmpfs
                .iter()
                .map(|t| match t.split_once(':') {
                    Some((p, o)) => (p.to_string(), o.to_string()),
                    None => (t.clone(), String::new()),
                })
                .collect(),
        );
    }
    if !svc.ulimits.is_empty() {
        hc.ulimits = Some(
            svc.ulimits
                .iter()
                .map(|(name, u)| json!({"Name": name, "Soft": u.soft, "Hard": u.hard}))
                .collect(),
        );
    }
    if let Some(l) = &svc.logging {
        hc.log_config = LogConfig {
            r#type: l.driver.clone().unwrap_or_default(),
            config: l.options.clone(),
        };
    }
    resources(svc, &mut hc)?;
    mounts(project, svc, &mut hc);
    ports(svc, &mut config, &mut hc);
    let mut networking = NetworkingConfig::default();
    match (&svc.network_mode, svc.networks.keys().next()) {
        (Some(mode), _) => {
            hc.network_mode = match mode.strip_prefix("service:") {
                Some(s) => match project.model.services.get(s) {
                    Some(other) => {
                        format!("container:{}", container_name(&project.name, s, other, 1))
                    }
                    None => mode.clone(),
                },
                None => mode.clone(),
            }
        }
        (None, Some(first)) => {
            let name = network_name(project, first);
            hc.network_mode = name.clone();
            let mut eps = IndexMap::new();
            eps.insert(name, endpoint(project, service, first));
            networking.endpoints_config = Some(eps);
        }
        (None, None) => {}
    }
    Ok(CreateRequest {
        config,
        host_config: hc,
        networking_config: networking,
    })
}

/// The secrets and configs given inline (`content:`) or from the
/// environment (`environment:`), as a tar to extract at `/` in the
/// created container, as docker compose copies them in; `None` without any.
pub fn inline_files(project: &Project, service: &str) -> Result<Option<Vec<u8>>, Error> {
    let svc = &project.model.services[service];
    let mut b = tar::Builder::new(Vec::new());
    let mut any = false;
    let files = [
        (&svc.secrets, &project.model.secrets, "run/secrets/"),
        (&svc.configs, &project.model.configs, ""),
    ];
    for (refs, defs, dir) in files {
        for r in refs {
            let Some(def) = defs.get(&r.source) else {
                continue;
            };
            let data = match (&def.content, &def.environment) {
                (Some(c), _) => c.clone(),
                (None, Some(var)) => project.env.get(var).cloned().unwrap_or_default(),
                _ => continue,
            };
            let path = match &r.target {
                Some(t) if t.starts_with('/') => t.trim_start_matches('/').to_string(),
                Some(t) => format!("{dir}{t}"),
                None => format!("{dir}{}", r.source),
            };
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(r.mode.map(|m| m as u32).unwrap_or(0o444));
            h.set_uid(r.uid.as_deref().and_then(|u| u.parse().ok()).unwrap_or(0));
            h.set_gid(r.gid.as_deref().and_then(|g| g.parse().ok()).unwrap_or(0));
            b.append_data(&mut h, &path, data.as_bytes())
                .map_err(|e| Error::new(format!("secret {}: {e}", r.source)))?;
            any = true;
        }
    }
    if !any {
        return Ok(None);
    }
    b.into_inner()
        .map(Some)
        .map_err(|e| Error::new(format!("secrets: {e}")))
}
