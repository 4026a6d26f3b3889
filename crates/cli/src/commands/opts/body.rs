//! The typed body of `POST /containers/create` for `run`/`create`'s flags,
//! as the docker CLI builds it: `Config`, `HostConfig` (its resources in
//! [`resources`]) and the endpoints of `--network`.
//!
//! Device, ulimit and blkio entries stay `serde_json::Value`: the API's
//! `HostConfig` keeps them so (`berth_api::container_config`).

use berth_api::container_config::{ContainerConfig, HostConfig};
use berth_api::types::{LogConfig, Mount};
use berth_client::CreateRequest;
use indexmap::IndexMap;
use serde_json::Value;

use super::{
    env_list, healthcheck, parse_device, parse_labels, parse_ports, parse_throttle_device,
    parse_ulimit, parse_volumes, parse_weight_device, ram_in_bytes, restart_policy, security_opts,
    CreateOpts,
};
use crate::Failure;

/// The create request for these flags. `attach`: the streams the CLI will
/// attach (none when detached); `console`: the terminal's `(rows, cols)`.
pub fn create_body(
    opts: &CreateOpts,
    attach: bool,
    console: Option<(u16, u16)>,
) -> Result<CreateRequest, Failure> {
    let (mut exposed, bindings) = parse_ports(&opts.publish)?;
    for e in &opts.expose {
        let (p, proto) = e.split_once('/').unwrap_or((e, "tcp"));
        exposed.insert(format!("{p}/{proto}"), Value::Object(Default::default()));
    }
    let (volumes, binds) = parse_volumes(&opts.volume)?;
    // The flags are checked in the docker CLI's order, so that of two bad
    // values the same one is reported.
    let mut host_config = host_config(opts, console)?;
    let healthcheck = healthcheck(opts)?;
    let (network, endpoints) = crate::commands::network::endpoints_config(opts)?;
    let mut config = config(opts, attach)?;
    config.healthcheck = healthcheck;
    config.exposed_ports = non_empty_map(exposed);
    config.volumes = non_empty_map(volumes);
    host_config.binds = non_empty(binds);
    host_config.port_bindings = Some(bindings);
    host_config.network_mode = network;
    host_config.restart_policy = restart_policy(opts.restart.as_deref())?;
    Ok(CreateRequest {
        config,
        host_config,
        endpoints,
    })
}

/// `None` for an empty list: the docker CLI sends `null` there.
fn non_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

fn non_empty_map<V>(m: IndexMap<String, V>) -> Option<IndexMap<String, V>> {
    (!m.is_empty()).then_some(m)
}

/// A flag's value error, as pflag words it.
fn invalid(value: &str, flag: &str, why: impl std::fmt::Display) -> Failure {
    Failure::usage(format!(
        "invalid argument \"{value}\" for \"{flag}\" flag: {why}"
    ))
}

/// `Config`: what runs, and which streams are attached.
fn config(opts: &CreateOpts, attach: bool) -> Result<ContainerConfig, Failure> {
    let entrypoint = opts.entrypoint.as_ref().map(|e| vec![e.clone()]);
    let streams = |name: &str| {
        attach
            && (opts.attach.is_empty() || opts.attach.iter().any(|a| a.eq_ignore_ascii_case(name)))
    };
    let stdin = if opts.attach.is_empty() {
        attach && opts.interactive
    } else {
        streams("stdin")
    };
    Ok(ContainerConfig {
        hostname: opts.hostname.clone().unwrap_or_default(),
        domainname: opts.domainname.clone().unwrap_or_default(),
        user: opts.user.clone().unwrap_or_default(),
        attach_stdin: stdin,
        attach_stdout: streams("stdout"),
        attach_stderr: streams("stderr"),
        tty: opts.tty,
        open_stdin: opts.interactive,
        stdin_once: stdin,
        env: Some(env_list(opts)?),
        cmd: non_empty(opts.command.clone()),
        image: opts.image.clone(),
        working_dir: opts.workdir.clone().unwrap_or_default(),
        entrypoint,
        labels: Some(parse_labels(&opts.label)),
        stop_signal: opts.stop_signal.clone().unwrap_or_default(),
        stop_timeout: opts.stop_timeout,
        ..ContainerConfig::default()
    })
}

/// `HostConfig` but for the binds, ports, network and restart policy,
/// which [`create_body`] fills.
fn host_config(opts: &CreateOpts, console: Option<(u16, u16)>) -> Result<HostConfig, Failure> {
    let mounts = opts
        .mount
        .iter()
        .map(|m| crate::commands::mount::parse_mount(m).map_err(|e| invalid(m, "--mount", e)))
        .collect::<Result<Vec<Mount>, Failure>>()?;
    let mut hc = HostConfig::default();
    resources(opts, &mut hc)?;
    let security_opt = security_opts(&opts.security_opt)?;
    let pairs = |items: &[String], sep: char| -> IndexMap<String, String> {
        items
            .iter()
            .map(|o| {
                let (k, v) = o.split_once(sep).unwrap_or((o, ""));
                (k.to_string(), v.to_string())
            })
            .collect()
    };
    let devices = opts
        .device
        .iter()
        .map(|d| parse_device(d))
        .collect::<Result<Vec<Value>, Failure>>()?;
    let mut sysctls = IndexMap::new();
    for s in &opts.sysctl {
        let Some((k, v)) = s.split_once('=') else {
            return Err(invalid(
                s,
                "--sysctl",
                format!("sysctl '{s}' is not allowed"),
            ));
        };
        sysctls.insert(k.to_string(), v.to_string());
    }
    let (h, w) = console.unwrap_or((0, 0));
    Ok(HostConfig {
        mounts: non_empty(mounts),
        volumes_from: non_empty(opts.volumes_from.clone()),
        publish_all_ports: opts.publish_all,
        auto_remove: opts.rm,
        dns: Some(opts.dns.clone()),
        dns_options: Some(opts.dns_option.clone()),
        dns_search: Some(opts.dns_search.clone()),
        extra_hosts: non_empty(opts.add_host.clone()),
        privileged: opts.privileged,
        cap_add: non_empty(opts.cap_add.clone()),
        cap_drop: non_empty(opts.cap_drop.clone()),
        readonly_rootfs: opts.read_only,
        security_opt: non_empty(security_opt),
        devices: non_empty(devices),
        device_cgroup_rules: non_empty(opts.device_cgroup_rule.clone()),
        sysctls: non_empty_map(sysctls),
        group_add: non_empty(opts.group_add.clone()),
        tmpfs: non_empty_map(pairs(&opts.tmpfs, ':')),
        init: opts.init.then_some(true),
        runtime: opts.runtime.clone().unwrap_or_default(),
        pid_mode: opts.pid.clone().unwrap_or_default(),
        ipc_mode: opts.ipc.clone().unwrap_or_default(),
        console_size: Some(vec![h.into(), w.into()]),
        log_config: LogConfig {
            r#type: opts.log_driver.clone().unwrap_or_default(),
            config: pairs(&opts.log_opt, '='),
        },
        ..hc
    })
}

/// The resource flags (`--memory`, `--cpus`, blkio, ulimits...) into
/// `HostConfig`, with the docker CLI's checks.
fn resources(opts: &CreateOpts, hc: &mut HostConfig) -> Result<(), Failure> {
    let ram = |v: &Option<String>, flag: &str| -> Result<i64, Failure> {
        match v.as_deref() {
            None => Ok(0),
            Some(m) => ram_in_bytes(m).map_err(|e| invalid(m, flag, e)),
        }
    };
    // Swap and reservation take docker's -1 (unlimited) as is.
    let bytes = |v: &Option<String>, flag: &str| -> Result<i64, Failure> {
        match v.as_deref() {
            Some("-1") => Ok(-1),
            _ => ram(v, flag),
        }
    };
    hc.memory = ram(&opts.memory, "-m, --memory")?;
    hc.shm_size = ram(&opts.shm_size, "--shm-size")?;
    hc.memory_swap = bytes(&opts.memory_swap, "--memory-swap")?;
    hc.memory_reservation = bytes(&opts.memory_reservation, "--memory-reservation")?;
    // The docker CLI leaves -1 (its default) unsent, and checks the range.
    hc.memory_swappiness = match opts.memory_swappiness {
        None | Some(-1) => None,
        Some(s) if (0..=100).contains(&s) => Some(s),
        Some(s) => {
            return Err(Failure::usage(format!(
                "invalid value: {s}. Valid memory swappiness range is 0-100"
            )))
        }
    };
    let each = |flag: &str, vals: &[String], parse: &dyn Fn(&str) -> Result<Value, String>| {
        vals.iter()
            .map(|v| parse(v).map_err(|e| invalid(v, flag, e)))
            .collect::<Result<Vec<Value>, Failure>>()
    };
    let throttle = |iops: bool| move |v: &str| parse_throttle_device(v, iops);
    hc.blkio_device_read_bps = Some(each(
        "--device-read-bps",
        &opts.device_read_bps,
        &throttle(false),
    )?);
    hc.blkio_device_write_bps = Some(each(
        "--device-write-bps",
        &opts.device_write_bps,
        &throttle(false),
    )?);
    hc.blkio_device_read_i_ops = Some(each(
        "--device-read-iops",
        &opts.device_read_iops,
        &throttle(true),
    )?);
    hc.blkio_device_write_i_ops = Some(each(
        "--device-write-iops",
        &opts.device_write_iops,
        &throttle(true),
    )?);
    hc.blkio_weight_device = Some(each(
        "--blkio-weight-device",
        &opts.blkio_weight_device,
        &parse_weight_device,
    )?);
    hc.ulimits = non_empty(each("--ulimit", &opts.ulimit, &parse_ulimit)?);
    hc.nano_cpus = opts.cpus.map(|c| (c * 1e9) as i64).unwrap_or(0);
    hc.cpu_shares = opts.cpu_shares.unwrap_or(0);
    hc.oom_kill_disable = Some(opts.oom_kill_disable);
    hc.cpu_period = opts.cpu_period.unwrap_or(0);
    hc.cpu_quota = opts.cpu_quota.unwrap_or(0);
    hc.cpuset_cpus = opts.cpuset_cpus.clone().unwrap_or_default();
    hc.cpuset_mems = opts.cpuset_mems.clone().unwrap_or_default();
    hc.pids_limit = opts.pids_limit;
    hc.blkio_weight = opts.blkio_weight.unwrap_or(0);
    Ok(())
}
