//! `docker top`: the host's `ps` with the user's arguments, keeping the rows
//! of the container's processes, as dockerd does. The container's processes
//! are those in its init's pid namespace, which holds on any cgroup layout.

use std::collections::HashSet;

use berth_api::views::ContainerTopResponse;
use berth_api::{Error, Result};

use crate::containers::container::Status;
use crate::containers::Containers;

impl Containers<'_> {
    /// `GET /containers/{id}/top?ps_args=`.
    pub fn top(&self, key: &str, ps_args: &str) -> Result<ContainerTopResponse> {
        let h = self.lookup(key)?;
        let r = h.snapshot();
        if r.state.status != Status::Running {
            return Err(Error::conflict(format!(
                "Container {} is not running",
                r.id
            )));
        }
        let pids = namespace_pids(r.state.pid as i32)?;
        let args: Vec<&str> = if ps_args.trim().is_empty() {
            vec!["-ef"]
        } else {
            ps_args.split_whitespace().collect()
        };
        let out = std::process::Command::new("ps")
            .args(&args)
            .output()
            .map_err(|e| Error::internal(format!("running ps: {e}")))?;
        if !out.status.success() {
            return Err(Error::internal(format!(
                "ps: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        parse_ps(&String::from_utf8_lossy(&out.stdout), &pids)
    }
}

/// Every process in the pid namespace of `init`.
fn namespace_pids(init: i32) -> Result<HashSet<i32>> {
    let ns = std::fs::read_link(format!("/proc/{init}/ns/pid"))
        .map_err(|e| Error::internal(format!("reading the container's pid namespace: {e}")))?;
    let mut pids = HashSet::new();
    for entry in std::fs::read_dir("/proc")?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if std::fs::read_link(format!("/proc/{pid}/ns/pid")).is_ok_and(|p| p == ns) {
            pids.insert(pid);
        }
    }
    Ok(pids)
}

/// Splits `ps` output into titles and the rows whose PID is in `pids`; the
/// last column keeps its spaces (the command line).
fn parse_ps(output: &str, pids: &HashSet<i32>) -> Result<ContainerTopResponse> {
    let mut lines = output.lines();
    let header = lines.next().unwrap_or("");
    let titles: Vec<&str> = header.split_whitespace().collect();
    let pid_col = titles
        .iter()
        .position(|t| *t == "PID")
        .ok_or_else(|| Error::invalid("Couldn't find PID field in ps output"))?;
    let mut processes = Vec::new();
    for line in lines {
        let mut fields: Vec<String> = Vec::new();
        let mut rest = line.trim_start();
        for i in 0..titles.len() {
            if i + 1 == titles.len() {
                fields.push(rest.trim_end().to_string());
                break;
            }
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            fields.push(rest[..end].to_string());
            rest = rest[end..].trim_start();
        }
        let pid = fields.get(pid_col).and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            processes.push(fields);
        }
    }
    Ok(ContainerTopResponse {
        titles: Some(titles.iter().map(|t| t.to_string()).collect()),
        processes: Some(processes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_container_rows_and_whole_commands() {
        let out = "UID          PID    PPID  C STIME TTY          TIME CMD\n\
                   root           1       0  0 10:00 ?        00:00:01 /sbin/init\n\
                   root        4242    4200  0 10:01 ?        00:00:00 sleep 1000 --flag x\n";
        let v = parse_ps(out, &HashSet::from([4242])).unwrap();
        assert_eq!(v.titles.unwrap()[1], "PID");
        let processes = v.processes.unwrap();
        assert_eq!(processes.len(), 1);
        assert_eq!(processes[0][7], "sleep 1000 --flag x");
        assert!(parse_ps("USER COMMAND\nroot x\n", &HashSet::new()).is_err());
    }
}
