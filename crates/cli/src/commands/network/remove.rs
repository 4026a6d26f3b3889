//! `network rm` and `network prune`.

use super::{with_usage, PruneArgs, RmArgs};
use crate::client::{q, Client};
use crate::commands::container::filters_json;
use crate::Failure;
use berth_api::model::NetworkPruneResponse;

pub async fn rm(c: &Client, a: RmArgs) -> Result<i32, Failure> {
    let mut code = 0;
    for n in &a.names {
        match c.call("DELETE", &format!("/networks/{}", q(n))).await {
            Ok(()) => println!("{n}"),
            Err(e) if a.force && e.status() == Some(404) => {}
            Err(e) => {
                eprintln!("{e}");
                code = 1;
            }
        }
    }
    if code != 0 {
        // docker 28's bare StatusError prints so.
        return Err(Failure::msg("exit status 1"));
    }
    Ok(0)
}

pub const PRUNE_WARNING: &str =
    "WARNING! This will remove all custom networks not used by at least one container.";

pub async fn prune(c: &Client, a: PruneArgs) -> Result<i32, Failure> {
    let filters = filters_json(&a.filter).map_err(|e| {
        let mut e = with_usage(e, "network prune");
        e.message = e.message.replacen("\"-f, --filter\"", "\"--filter\"", 1);
        e
    })?;
    let Some(v): Option<NetworkPruneResponse> =
        crate::commands::prune_post(c, "networks", PRUNE_WARNING, a.force, || Ok(filters)).await?
    else {
        return Ok(0);
    };
    crate::commands::print_deleted("Deleted Networks:", &v.networks_deleted);
    Ok(0)
}
