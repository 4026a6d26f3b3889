//! Container commands: run, create, start, stop, kill, restart, rm,
//! rename, pause, unpause, ps, logs, attach, wait, exec, top, prune.
//! One file per command where they are long; the short ones are here.

mod exec;
mod logs;
mod ps;
mod run;
#[cfg(test)]
mod tests;

pub use exec::{exec, ExecOpts};
pub use logs::{logs, LogsOpts};
pub use ps::{container_row, ellipsis, filters_json, headers, ports_text, ps, short_id, PsOpts};
pub use run::{attach, create, pull, run, start};

use crate::client::{q, Client, ClientError};
use crate::format::human_size;
use crate::Failure;
use berth_api::model::ContainerPruneResponse;

const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

/// `run`/`create` errors as docker prints them, with its exit codes:
/// 125 for the CLI or daemon, 126 when the command cannot be run, 127
/// when it is not found.
pub fn run_failure(cmd: &str, e: impl Into<Failure>) -> Failure {
    let f: Failure = e.into();
    let code = if f.message.contains("executable file not found")
        || f.message.contains("no such file or directory")
    {
        127
    } else if f.message.contains("permission denied") {
        126
    } else {
        125
    };
    let message = if f.message.starts_with("invalid argument") {
        format!(
            "{}\n\n{}\n\nRun 'berth {cmd} --help' for more information",
            f.message,
            crate::usage::usage_line(cmd)
        )
    } else {
        format!(
            "berth: {}\n\nRun 'berth {cmd} --help' for more information",
            f.message
        )
    };
    Failure { message, code }
}

/// Runs `f` on each name, printing the name on success and the error
/// otherwise; exit 1 if any failed (docker's multi-object behaviour).
pub async fn each<F, Fut>(names: &[String], f: F) -> Result<i32, Failure>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<String, ClientError>>,
{
    let mut code = 0;
    for n in names {
        match f(n.clone()).await {
            Ok(out) => println!("{out}"),
            Err(e) => {
                eprintln!("{e}");
                code = 1;
            }
        }
    }
    Ok(code)
}

/// `stop`, `restart`, `kill`, `pause`, `unpause`: one POST per container.
pub async fn simple(
    c: &Client,
    ids: Vec<String>,
    action: &str,
    query: String,
) -> Result<i32, Failure> {
    each(&ids, |id| {
        let query = query.clone();
        async move {
            c.call("POST", &format!("/containers/{}/{action}{query}", q(&id)))
                .await
                .map(|_| id)
        }
    })
    .await
}

pub async fn rm(c: &Client, ids: Vec<String>, force: bool, volumes: bool) -> Result<i32, Failure> {
    each(&ids, |id| async move {
        c.call(
            "DELETE",
            &format!(
                "/containers/{}?force={}&v={}",
                q(&id),
                force as u8,
                volumes as u8
            ),
        )
        .await
        .map(|_| id)
    })
    .await
}

pub async fn rename(c: &Client, container: &str, new_name: &str) -> Result<i32, Failure> {
    let new_name = new_name.trim();
    if new_name.is_empty() || new_name == "/" {
        return Err(Failure::msg(
            "Error: neither old nor new names may be empty",
        ));
    }
    c.call(
        "POST",
        &format!("/containers/{}/rename?name={}", q(container), q(new_name)),
    )
    .await?;
    Ok(0)
}

pub async fn wait(c: &Client, ids: Vec<String>) -> Result<i32, Failure> {
    let mut code = 0;
    for id in ids {
        match c.wait_container(&id, "not-running").await {
            Ok(v) => println!("{}", v.status_code),
            Err(e) => {
                eprintln!("{e}");
                code = 1;
            }
        }
    }
    Ok(code)
}

pub async fn prune(c: &Client, force: bool, filters: Vec<String>) -> Result<i32, Failure> {
    let warning = "WARNING! This will remove all stopped containers.";
    let Some(v): Option<ContainerPruneResponse> =
        super::prune_post(c, "containers", warning, force, || filters_json(&filters)).await?
    else {
        return Ok(0);
    };
    super::print_deleted("Deleted Containers:", &v.containers_deleted);
    println!(
        "Total reclaimed space: {}",
        human_size(v.space_reclaimed as f64)
    );
    Ok(0)
}

/// `top`: the daemon's `ps` rows for the container, as a table.
pub async fn top(c: &Client, id: &str, ps_args: &str) -> Result<i32, Failure> {
    let mut path = format!("/containers/{}/top", q(id));
    if !ps_args.is_empty() {
        path.push_str(&format!("?ps_args={}", q(ps_args)));
    }
    let v = c.get_json(&path).await?;
    let titles: Vec<&str> = v["Titles"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str())
        .collect();
    let rows: Vec<Vec<String>> = v["Processes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            r.as_array()
                .into_iter()
                .flatten()
                .map(|c| c.as_str().unwrap_or("").to_string())
                .collect()
        })
        .collect();
    print!("{}", crate::format::table_min(&titles, &rows, 20));
    Ok(0)
}
