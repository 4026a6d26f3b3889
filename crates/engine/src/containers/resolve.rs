//! How a container's process is resolved from the image and the request,
//! exactly as dockerd does it: config merge, entrypoint and cmd, env, user.

use std::path::Path;

use berth_api::{ContainerConfig, Error, Result};
use berth_store::RunConfig;

pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Fills what the request left unset from the image's config (moby's
/// `merge`): env by key, labels, exposed ports, volumes, and entrypoint/cmd
/// with the rule that a user entrypoint drops the image's cmd.
pub fn merge(user: &mut ContainerConfig, image: &RunConfig) {
    if user.user.is_empty() {
        user.user = image.user.clone();
    }
    let mut env: Vec<String> = image.env.clone().unwrap_or_default();
    for e in user.env.clone().unwrap_or_default() {
        let key = e.split('=').next().unwrap_or("");
        env.retain(|x| x.split('=').next().unwrap_or("") != key);
        env.push(e);
    }
    user.env = Some(env);
    if let Some(labels) = &image.labels {
        let mut merged = labels.clone();
        for (k, v) in user.labels.clone().unwrap_or_default() {
            merged.insert(k, v);
        }
        user.labels = Some(merged);
    }
    if let Some(ports) = &image.exposed_ports {
        let mut merged = user.exposed_ports.clone().unwrap_or_default();
        for (k, v) in ports {
            merged.entry(k.clone()).or_insert(v.clone());
        }
        user.exposed_ports = Some(merged);
    }
    if let Some(vols) = &image.volumes {
        let mut merged = user.volumes.clone().unwrap_or_default();
        for (k, v) in vols {
            merged.entry(k.clone()).or_insert(v.clone());
        }
        user.volumes = Some(merged);
    }
    if user.entrypoint.as_ref().is_none_or(|e| e.is_empty()) {
        if user.cmd.as_ref().is_none_or(|c| c.is_empty()) {
            user.cmd = image.cmd.clone();
        }
        if user.entrypoint.is_none() {
            user.entrypoint = image.entrypoint.clone();
        }
    }
    if user.working_dir.is_empty() {
        user.working_dir = image.working_dir.clone();
    }
    if user.stop_signal.is_empty() {
        user.stop_signal = image.stop_signal.clone().unwrap_or_default();
    }
    if user.healthcheck.is_none() {
        user.healthcheck = image.healthcheck.clone();
    }
    if user.shell.is_none() {
        user.shell = image.shell.clone();
    }
    if user.on_build.is_none() {
        user.on_build = image.on_build.clone();
    }
}

/// The process's path and args (moby's `getEntrypointAndArgs`); an
/// entrypoint of `[""]` (`--entrypoint ""`) means none.
pub fn entrypoint_and_args(c: &ContainerConfig) -> Result<(String, Vec<String>)> {
    let entrypoint: Vec<String> = c
        .entrypoint
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    let cmd = c.cmd.clone().unwrap_or_default();
    let mut all = entrypoint;
    all.extend(cmd);
    if all.is_empty() {
        return Err(Error::invalid("no command specified"));
    }
    let path = all.remove(0);
    Ok((path, all))
}

/// The environment the process gets: PATH if missing, HOSTNAME, TERM with a tty.
pub fn process_env(c: &ContainerConfig) -> Vec<String> {
    let mut env = c.env.clone().unwrap_or_default();
    let has = |env: &[String], k: &str| env.iter().any(|e| e.split('=').next() == Some(k));
    if !has(&env, "PATH") {
        env.insert(0, DEFAULT_PATH.to_string());
    }
    if !has(&env, "HOSTNAME") {
        env.insert(1.min(env.len()), format!("HOSTNAME={}", c.hostname));
    }
    if c.tty && !has(&env, "TERM") {
        env.push("TERM=xterm".into());
    }
    env
}

/// Resolves `--user` (`name`, `uid`, `name:group`, `uid:gid`) against the
/// container's own `/etc/passwd` and `/etc/group`; returns uid, gid and the
/// user's supplementary groups.
pub fn user(rootfs: &Path, spec: &str) -> Result<(u32, u32, Vec<u32>)> {
    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).unwrap_or_default();
    let group = std::fs::read_to_string(rootfs.join("etc/group")).unwrap_or_default();
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let u = if u.is_empty() { "0" } else { u };
    let entries = passwd.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 4).then(|| {
            (
                f[0].to_string(),
                f[2].parse::<u32>().ok(),
                f[3].parse::<u32>().ok(),
            )
        })
    });
    let mut found = None;
    for (name, uid, gid) in entries {
        if name == u || uid.map(|x| x.to_string()) == Some(u.to_string()) {
            found = Some((name, uid.unwrap_or(0), gid.unwrap_or(0)));
            break;
        }
    }
    let (name, uid, mut gid) = match (found, u.parse::<u32>()) {
        (Some(f), _) => f,
        (None, Ok(uid)) => (String::new(), uid, 0),
        (None, Err(_)) => {
            return Err(Error::invalid(format!(
                "unable to find user {u}: no matching entries in passwd file"
            )))
        }
    };
    let groups: Vec<(String, u32, Vec<String>)> = group
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 3).then(|| {
                let members = f
                    .get(3)
                    .map(|m| m.split(',').map(str::to_string).collect())
                    .unwrap_or_default();
                f[2].parse::<u32>()
                    .ok()
                    .map(|id| (f[0].to_string(), id, members))
            })?
        })
        .collect();
    if let Some(g) = g {
        gid = match groups
            .iter()
            .find(|(n, id, _)| n == g || id.to_string() == g)
        {
            Some((_, id, _)) => *id,
            None => g.parse::<u32>().map_err(|_| {
                Error::invalid(format!(
                    "unable to find group {g}: no matching entries in group file"
                ))
            })?,
        };
    }
    // runc's `GetExecUser`: a user's member groups count only in the
    // implicit form (`name`, not `name:group`).
    let extra = if name.is_empty() || g.is_some() {
        vec![]
    } else {
        groups
            .iter()
            .filter(|(_, _, m)| m.contains(&name))
            .map(|(_, id, _)| *id)
            .collect()
    };
    Ok((uid, gid, extra))
}

/// The OCI `process.user` of a container's process, as moby's `getUser`
/// builds it for the init process and for an exec with a user: uid and
/// gid from `spec`, and as additional gids the gid itself, the user's
/// member groups and the container's `--group-add` (all resolved against
/// the container's files as they are now), each once.
pub fn process_user(
    rootfs: &Path,
    spec: &str,
    hc: &berth_api::HostConfig,
) -> Result<(u32, u32, Vec<u32>)> {
    let (uid, gid, sgids) = user(rootfs, spec)?;
    let mut gids = vec![gid];
    for g in sgids
        .into_iter()
        .chain(crate::containers::security::group_add(rootfs, hc)?)
    {
        if !gids.contains(&g) {
            gids.push(g);
        }
    }
    Ok((uid, gid, gids))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(ep: Option<Vec<&str>>, cmd: Option<Vec<&str>>) -> ContainerConfig {
        ContainerConfig {
            entrypoint: ep.map(|v| v.into_iter().map(String::from).collect()),
            cmd: cmd.map(|v| v.into_iter().map(String::from).collect()),
            ..Default::default()
        }
    }

    fn image(ep: Option<Vec<&str>>, cmd: Option<Vec<&str>>) -> RunConfig {
        RunConfig {
            entrypoint: ep.map(|v| v.into_iter().map(String::from).collect()),
            cmd: cmd.map(|v| v.into_iter().map(String::from).collect()),
            env: Some(vec!["PATH=/bin".into(), "A=1".into()]),
            ..Default::default()
        }
    }

    #[test]
    fn entrypoint_rules() {
        // Image cmd used when the user gives none.
        let mut c = cfg(None, None);
        merge(&mut c, &image(None, Some(vec!["sh"])));
        assert_eq!(entrypoint_and_args(&c).unwrap(), ("sh".into(), vec![]));
        // User cmd goes after the image entrypoint.
        let mut c = cfg(None, Some(vec!["-c", "x"]));
        merge(&mut c, &image(Some(vec!["/bin/sh"]), Some(vec!["ignored"])));
        assert_eq!(
            entrypoint_and_args(&c).unwrap(),
            ("/bin/sh".into(), vec!["-c".into(), "x".into()])
        );
        // A user entrypoint drops the image cmd.
        let mut c = cfg(Some(vec!["echo"]), None);
        merge(&mut c, &image(Some(vec!["/bin/sh"]), Some(vec!["ignored"])));
        assert_eq!(entrypoint_and_args(&c).unwrap(), ("echo".into(), vec![]));
        // --entrypoint "" clears the entrypoint; the user's cmd runs.
        let mut c = cfg(Some(vec![""]), Some(vec!["ls"]));
        merge(&mut c, &image(Some(vec!["/bin/sh"]), Some(vec!["ignored"])));
        assert_eq!(entrypoint_and_args(&c).unwrap(), ("ls".into(), vec![]));
        let mut c = cfg(Some(vec![""]), None);
        merge(&mut c, &image(Some(vec!["/bin/sh"]), Some(vec!["x"])));
        assert!(entrypoint_and_args(&c).is_err());
    }

    #[test]
    fn env_merges_by_key() {
        let mut c = ContainerConfig {
            env: Some(vec!["A=2".into(), "B=3".into()]),
            ..Default::default()
        };
        merge(&mut c, &image(None, Some(vec!["sh"])));
        assert_eq!(c.env.unwrap(), vec!["PATH=/bin", "A=2", "B=3"]);
    }

    #[test]
    fn users_from_passwd() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("etc/group"),
            "root:x:0:\nwheel:x:10:nobody\nnogroup:x:65534:\n",
        )
        .unwrap();
        assert_eq!(user(dir.path(), "").unwrap(), (0, 0, vec![]));
        assert_eq!(
            user(dir.path(), "nobody").unwrap(),
            (65534, 65534, vec![10])
        );
        assert_eq!(user(dir.path(), "1000:1000").unwrap(), (1000, 1000, vec![]));
        // The explicit form takes no member groups (runc's rule).
        assert_eq!(
            user(dir.path(), "nobody:wheel").unwrap(),
            (65534, 10, vec![])
        );
        let e = user(dir.path(), "ghost").unwrap_err();
        assert_eq!(
            e.message,
            "unable to find user ghost: no matching entries in passwd file"
        );
    }

    #[test]
    fn process_user_adds_gid_members_and_group_add_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("etc/group"),
            "root:x:0:\nwheel:x:10:nobody\nnogroup:x:65534:\n",
        )
        .unwrap();
        let hc = berth_api::HostConfig {
            group_add: Some(vec!["nogroup".into(), "4242".into()]),
            ..Default::default()
        };
        // What dockerd's runc gives: `id` there prints
        // groups=10(wheel),4242,65534(nogroup) for `-u nobody`.
        assert_eq!(
            process_user(dir.path(), "nobody", &hc).unwrap(),
            (65534, 65534, vec![65534, 10, 4242])
        );
        assert_eq!(
            process_user(dir.path(), "1234", &hc).unwrap(),
            (1234, 0, vec![0, 65534, 4242])
        );
        assert_eq!(
            process_user(dir.path(), "nobody:wheel", &Default::default()).unwrap(),
            (65534, 10, vec![10])
        );
        let bad = berth_api::HostConfig {
            group_add: Some(vec!["ghosts".into()]),
            ..Default::default()
        };
        assert!(process_user(dir.path(), "", &bad).is_err());
    }
}
