//! The engine side of compose: the names and `com.docker.compose.*` labels
//! docker compose v2 gives a project's objects (so docker-compose 1.29 and
//! berth compose see each other's projects), finding a project's
//! containers, and the commands.

pub mod create;
pub mod down;
pub mod images;
pub mod info;
pub mod ops;
pub mod ps;
pub mod run;
pub mod up;

use berth_api::types::ContainerSummary;
use berth_client::Client;
use sha2::{Digest, Sha256};

use crate::model::{Project, Service};
use crate::Error;

pub const PROJECT: &str = "com.docker.compose.project";
pub const SERVICE: &str = "com.docker.compose.service";
pub const NUMBER: &str = "com.docker.compose.container-number";
pub const ONEOFF: &str = "com.docker.compose.oneoff";
pub const HASH: &str = "com.docker.compose.config-hash";
pub const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
pub const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
pub const DEPENDS_ON: &str = "com.docker.compose.depends_on";
pub const IMAGE: &str = "com.docker.compose.image";
pub const VERSION: &str = "com.docker.compose.version";
pub const NETWORK: &str = "com.docker.compose.network";
pub const VOLUME: &str = "com.docker.compose.volume";

/// The compose version written in labels (docker compose v2's line).
pub const COMPOSE_VERSION: &str = "2.29.0";

/// A loaded project and the daemon it is converged on.
pub struct Ctx {
    pub client: Client,
    pub project: Project,
}

/// `PROJECT-SERVICE-N`, or the service's `container_name`.
pub fn container_name(project: &str, service: &str, svc: &Service, n: u64) -> String {
    match &svc.container_name {
        Some(c) => c.clone(),
        None => format!("{project}-{service}-{n}"),
    }
}

/// The image a service runs: its `image`, else `PROJECT-SERVICE` (built).
pub fn image_name(project: &str, service: &str, svc: &Service) -> String {
    svc.image
        .clone()
        .unwrap_or_else(|| format!("{project}-{service}"))
}

/// The `config-hash` label: a digest of the service's configuration
/// without what only changes the number of containers, so a second `up`
/// with nothing changed recreates nothing.
pub fn config_hash(svc: &Service) -> String {
    let mut s = svc.clone();
    s.scale = None;
    if let Some(d) = &mut s.deploy {
        d.replicas = None;
    }
    let json = serde_json::to_vec(&s).unwrap_or_default();
    hex::encode(Sha256::digest(&json))
}

/// The number of containers a service wants: `--scale`, `scale`,
/// `deploy.replicas`, else 1.
pub fn replicas(svc: &Service) -> u64 {
    svc.scale
        .or(svc.deploy.as_ref().and_then(|d| d.replicas))
        .unwrap_or(1)
}

/// The project's containers (not one-off ones), all or running only,
/// sorted by service then number.
pub async fn containers(
    c: &Client,
    project: &str,
    all: bool,
) -> Result<Vec<ContainerSummary>, Error> {
    let mut list = c
        .list_containers_labelled(all, &[format!("{PROJECT}={project}")])
        .await?;
    list.retain(|c| c.labels.get(ONEOFF).map(String::as_str) != Some("True"));
    list.sort_by_key(|c| (service_of(c).to_string(), number_of(c)));
    Ok(list)
}

/// Every container of the project, one-off (`run`) ones included, as
/// `down` removes them.
pub async fn with_one_offs(c: &Client, project: &str) -> Result<Vec<ContainerSummary>, Error> {
    let mut list = c
        .list_containers_labelled(true, &[format!("{PROJECT}={project}")])
        .await?;
    list.sort_by_key(|c| (service_of(c).to_string(), number_of(c)));
    Ok(list)
}

pub fn service_of(c: &ContainerSummary) -> &str {
    c.labels
        .get(SERVICE)
        .map(String::as_str)
        .unwrap_or_default()
}

pub fn number_of(c: &ContainerSummary) -> u64 {
    c.labels
        .get(NUMBER)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

pub fn name_of(c: &ContainerSummary) -> String {
    c.names
        .first()
        .map(|n| n.trim_start_matches('/').to_string())
        .unwrap_or_else(|| c.id.chars().take(12).collect())
}

/// Narrows `list` to the named services (all when none is named); a name
/// that is not a service is compose's error.
pub fn check_services(project: &Project, names: &[String]) -> Result<(), Error> {
    for n in names {
        if !project.model.services.contains_key(n) {
            return Err(Error::new(format!("no such service: {n}")));
        }
    }
    Ok(())
}

pub fn selected<'a>(list: &'a [ContainerSummary], names: &[String]) -> Vec<&'a ContainerSummary> {
    list.iter()
        .filter(|c| names.is_empty() || names.iter().any(|n| n == service_of(c)))
        .collect()
}

/// Progress lines as docker compose prints them without a terminal.
pub fn progress(kind: &str, name: &str, state: &str) {
    eprintln!(" {kind} {name}  {state}");
}
