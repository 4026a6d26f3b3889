//! `berth swarm init|join|join-token|leave|update|unlock|unlock-key|ca`,
//! as docker 28 prints them (cli/command/swarm).

use std::io::{BufRead, IsTerminal, Write};

use berth_api::model::SwarmJoinRequest;
use berth_api::units::parse_duration;
use berth_api::views::swarm::{ExternalCa, InitRequest, Swarm, SwarmSpec};
use berth_client::{JoinRequest, RotateFlags};

use crate::args::{
    SwarmCaArgs, SwarmInitArgs, SwarmJoinArgs, SwarmJoinTokenArgs, SwarmSpecArgs,
    SwarmUnlockKeyArgs,
};
use crate::client::Client;
use crate::usage::{arg_count_failure, usage_line};
use crate::Failure;

/// The docker CLI's default `--listen-addr`.
const DEFAULT_LISTEN_ADDR: &str = "0.0.0.0:2377";

/// A flag's bad value, as pflag words it (exit 125, with the usage).
fn bad_flag(path: &str, value: &str, flag: &str, why: &str) -> Failure {
    Failure::usage(format!(
        "invalid argument \"{value}\" for \"{flag}\" flag: {why}\n\n{}\n\nRun 'berth {path} --help' for more information",
        usage_line(path)
    ))
}

/// A Go duration flag in nanoseconds, refused in `time.ParseDuration`'s
/// words.
fn duration_flag(path: &str, flag: &str, value: &str) -> Result<i64, Failure> {
    if let Some(s) = parse_duration(value) {
        return Ok((s * 1e9).round() as i64);
    }
    if value == "0" {
        return Ok(0);
    }
    let digits = |c: char| c.is_ascii_digit() || c == '.';
    let why = match value.trim_start_matches(digits) {
        "" if !value.is_empty() => format!("time: missing unit in duration \"{value}\""),
        rest if rest.len() < value.len() => {
            let unit: String = rest.chars().take_while(|c| !digits(*c)).collect();
            if matches!(unit.as_str(), "ns" | "us" | "µs" | "ms" | "s" | "m" | "h") {
                format!("time: invalid duration \"{value}\"")
            } else {
                format!("time: unknown unit \"{unit}\" in duration \"{value}\"")
            }
        }
        _ => format!("time: invalid duration \"{value}\""),
    };
    Err(bad_flag(path, value, flag, &why))
}

/// A signed integer flag (pflag's `Int64Var`), with strconv's wording.
fn int_flag<T: std::str::FromStr>(path: &str, flag: &str, value: &str) -> Result<T, Failure> {
    number_flag(path, flag, value, "ParseInt")
}

/// An unsigned integer flag (pflag's `Uint32Var`).
fn uint_flag<T: std::str::FromStr>(path: &str, flag: &str, value: &str) -> Result<T, Failure> {
    number_flag(path, flag, value, "ParseUint")
}

fn number_flag<T: std::str::FromStr>(
    path: &str,
    flag: &str,
    value: &str,
    func: &str,
) -> Result<T, Failure> {
    value.parse().map_err(|_| {
        bad_flag(
            path,
            value,
            flag,
            &format!("strconv.{func}: parsing \"{value}\": invalid syntax"),
        )
    })
}

/// A bool flag's value (`--autolock=false`), by Go's `strconv.ParseBool`.
fn bool_flag(path: &str, flag: &str, value: &str) -> Result<bool, Failure> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(bad_flag(
            path,
            value,
            flag,
            &format!("strconv.ParseBool: parsing \"{value}\": invalid syntax"),
        )),
    }
}

/// `--listen-addr` as the CLI's `NodeAddrOption`: a missing host or port
/// takes the default's.
fn node_addr(value: &str) -> String {
    match value.rsplit_once(':') {
        None => format!("{value}:2377"),
        Some(("", port)) => format!("0.0.0.0:{port}"),
        Some((host, "")) => format!("{host}:2377"),
        Some(_) => value.to_string(),
    }
}

/// `--external-ca protocol=cfssl,url=https://...[,cacert=FILE][,k=v]`.
fn parse_external_ca(path: &str, value: &str) -> Result<ExternalCa, Failure> {
    let mut ca = ExternalCa::default();
    let mut options = indexmap::IndexMap::new();
    let bad = |why: String| bad_flag(path, value, "--external-ca", &why);
    for field in value.split(',') {
        let (k, v) = field
            .split_once('=')
            .ok_or_else(|| bad(format!("invalid field '{field}' must be a key=value pair")))?;
        match k.to_ascii_lowercase().as_str() {
            "protocol" => {
                if !v.eq_ignore_ascii_case("cfssl") {
                    return Err(bad(format!("unrecognized external CA protocol {v}")));
                }
                ca.protocol = "cfssl".into();
            }
            "url" => ca.url = v.to_string(),
            "cacert" => {
                let pem = std::fs::read_to_string(v)
                    .map_err(|e| bad(format!("unable to read CA cert for external CA: {e}")))?;
                ca.ca_cert = pem;
            }
            _ => {
                options.insert(k.to_string(), v.to_string());
            }
        }
    }
    if ca.protocol.is_empty() {
        return Err(bad(
            "the external-ca option needs a protocol= parameter".into()
        ));
    }
    if ca.url.is_empty() {
        return Err(bad("the external-ca option needs a url= parameter".into()));
    }
    ca.options = Some(options);
    Ok(ca)
}

/// The docker CLI's `mergeSwarmSpec`: only the flags given change the
/// spec. `trust_root` fills external CAs given without a `cacert`.
fn merge_spec(
    path: &str,
    spec: &mut SwarmSpec,
    a: &SwarmSpecArgs,
    trust_root: &str,
) -> Result<(), Failure> {
    if let Some(v) = &a.task_history_limit {
        spec.orchestration.task_history_retention_limit =
            Some(int_flag(path, "--task-history-limit", v)?);
    }
    if let Some(v) = &a.dispatcher_heartbeat {
        spec.dispatcher.heartbeat_period = duration_flag(path, "--dispatcher-heartbeat", v)?;
    }
    if let Some(v) = &a.cert_expiry {
        spec.ca_config.node_cert_expiry = duration_flag(path, "--cert-expiry", v)?;
    }
    if !a.external_ca.is_empty() {
        let mut cas = Vec::new();
        for v in &a.external_ca {
            let mut ca = parse_external_ca(path, v)?;
            if ca.ca_cert.is_empty() {
                ca.ca_cert = trust_root.to_string();
            }
            cas.push(ca);
        }
        spec.ca_config.external_cas = Some(cas);
    }
    if let Some(on) = &a.autolock {
        spec.encryption_config.auto_lock_managers = bool_flag(path, "--autolock", on)?;
    }
    Ok(())
}

/// The CLI checks `--availability` before asking the daemon.
fn availability(value: &str) -> Result<String, Failure> {
    let lower = value.to_ascii_lowercase();
    match lower.as_str() {
        "active" | "pause" | "drain" => Ok(lower),
        _ => Err(Failure::msg(format!(
            "invalid availability \"{value}\", only active, pause and drain are supported"
        ))),
    }
}

/// docker's hint after an autolock turns on.
fn print_unlock_command(key: &str) {
    if !key.is_empty() {
        print!(
            "To unlock a swarm manager after it restarts, run the `berth swarm unlock`\ncommand and provide the following key:\n\n    {key}\n\nRemember to store this key in a password manager, since without it you\nwill not be able to restart the manager.\n"
        );
    }
}

async fn fetch_unlock_key(c: &Client) -> Result<String, Failure> {
    c.swarm_unlock_key()
        .await
        .map(|k| k.unlock_key)
        .map_err(|e| Failure::msg(format!("could not fetch unlock key: {e}")))
}

/// The join command lines for a node (docker's `printJoinCommand`): the
/// tokens from `GET /swarm`, the address from the node's manager status.
async fn print_join_command(
    c: &Client,
    node_id: &str,
    worker: bool,
    manager: bool,
) -> Result<(), Failure> {
    let node = c.inspect_node(node_id).await?;
    let swarm = c.swarm_inspect().await?;
    if let Some(ms) = &node.manager_status {
        let line = |role: &str, token: &str| {
            print!(
                "To add a {role} to this swarm, run the following command:\n\n    berth swarm join --token {token} {}\n\n",
                ms.addr
            )
        };
        if worker {
            line("worker", &swarm.join_tokens.worker);
        }
        if manager {
            line("manager", &swarm.join_tokens.manager);
        }
    }
    Ok(())
}

pub async fn init(c: &Client, a: SwarmInitArgs) -> Result<i32, Failure> {
    let path = "swarm init";
    let mut spec = SwarmSpec::default();
    merge_spec(path, &mut spec, &a.spec, "")?;
    let mut pools = Vec::new();
    for p in &a.default_addr_pool {
        let net: ipnet::IpNet = p.parse().map_err(|_| {
            bad_flag(
                path,
                p,
                "--default-addr-pool",
                &format!("invalid string being converted to CIDR: {p}"),
            )
        })?;
        pools.push(net.trunc().to_string());
    }
    let request = InitRequest {
        listen_addr: node_addr(a.listen_addr.as_deref().unwrap_or(DEFAULT_LISTEN_ADDR)),
        advertise_addr: a.advertise_addr,
        data_path_addr: a.data_path_addr,
        data_path_port: match &a.data_path_port {
            Some(v) => uint_flag(path, "--data-path-port", v)?,
            None => 0,
        },
        default_addr_pool: (!pools.is_empty()).then_some(pools),
        force_new_cluster: a.force_new_cluster,
        subnet_size: match &a.default_addr_pool_mask_length {
            Some(v) => uint_flag(path, "--default-addr-pool-mask-length", v)?,
            None => 24,
        },
        auto_lock_managers: spec.encryption_config.auto_lock_managers,
        availability: availability(&a.availability)?,
        spec,
    };
    let node_id = match c.swarm_init(&request).await {
        Ok(id) => id,
        Err(e) => {
            let m = e.to_string();
            if m.contains("could not choose an IP address to advertise") {
                return Err(Failure::msg(format!(
                    "{m} - specify one with --advertise-addr"
                )));
            }
            return Err(Failure::msg(m));
        }
    };
    print!("Swarm initialized: current node ({node_id}) is now a manager.\n\n");
    print_join_command(c, &node_id, true, false).await?;
    println!("To add a manager to this swarm, run 'berth swarm join-token manager' and follow the instructions.");
    if request.auto_lock_managers {
        print_unlock_command(&fetch_unlock_key(c).await?);
    }
    Ok(0)
}

pub async fn join(c: &Client, a: SwarmJoinArgs) -> Result<i32, Failure> {
    if a.remote.len() != 1 {
        return Err(arg_count_failure("swarm join", "exactly 1 argument"));
    }
    let request = JoinRequest {
        request: SwarmJoinRequest {
            listen_addr: node_addr(a.listen_addr.as_deref().unwrap_or(DEFAULT_LISTEN_ADDR)),
            advertise_addr: a.advertise_addr,
            data_path_addr: a.data_path_addr,
            remote_addrs: Some(a.remote),
            join_token: a.token,
        },
        availability: availability(&a.availability)?,
    };
    c.swarm_join(&request).await?;
    let info = c.system_info().await?;
    if info.swarm.control_available {
        println!("This node joined a swarm as a manager.");
    } else {
        println!("This node joined a swarm as a worker.");
    }
    Ok(0)
}

pub async fn join_token(c: &Client, a: SwarmJoinTokenArgs) -> Result<i32, Failure> {
    let [role] = a.role.as_slice() else {
        return Err(arg_count_failure("swarm join-token", "exactly 1 argument"));
    };
    let (worker, manager) = (role == "worker", role == "manager");
    if !worker && !manager {
        return Err(Failure::msg(format!("unknown role {role}")));
    }
    if a.rotate {
        let sw = c.swarm_inspect().await?;
        let rotate = RotateFlags {
            worker_token: worker,
            manager_token: manager,
            unlock_key: false,
        };
        c.swarm_update(sw.cluster.version.index, &sw.cluster.spec, rotate)
            .await?;
        if !a.quiet {
            print!("Successfully rotated {role} join token.\n\n");
        }
    }
    // Read again: the update above changed the tokens.
    let sw = c.swarm_inspect().await?;
    if a.quiet {
        let token = if worker {
            &sw.join_tokens.worker
        } else {
            &sw.join_tokens.manager
        };
        println!("{token}");
        return Ok(0);
    }
    let info = c.system_info().await?;
    print_join_command(c, &info.swarm.node_id, worker, manager).await?;
    Ok(0)
}

pub async fn leave(c: &Client, force: bool, extra: &[String]) -> Result<i32, Failure> {
    if !extra.is_empty() {
        return Err(no_args_failure("swarm leave"));
    }
    c.swarm_leave(force).await?;
    println!("Node left the swarm.");
    Ok(0)
}

/// docker's `NoArgs` wording.
fn no_args_failure(path: &str) -> Failure {
    Failure::msg(format!(
        "berth: 'berth {path}' accepts no arguments\n\n{}\n\nRun 'berth {path} --help' for more information",
        usage_line(path)
    ))
}

pub async fn update(c: &Client, a: SwarmSpecArgs, extra: &[String]) -> Result<i32, Failure> {
    if !extra.is_empty() {
        return Err(no_args_failure("swarm update"));
    }
    let given = a.autolock.is_some()
        || a.cert_expiry.is_some()
        || a.dispatcher_heartbeat.is_some()
        || !a.external_ca.is_empty()
        || a.task_history_limit.is_some();
    if !given {
        // docker's PreRunE answers no flags with the help text, exit 0.
        let mut cmd = <crate::args::Cli as clap::CommandFactory>::command();
        if let Some(u) = cmd
            .find_subcommand_mut("swarm")
            .and_then(|s| s.find_subcommand_mut("update"))
        {
            let _ = u.print_help();
        }
        return Ok(0);
    }
    // The flags' values are checked before the daemon is asked.
    merge_spec("swarm update", &mut SwarmSpec::default(), &a, "")?;
    let mut sw = c.swarm_inspect().await?;
    let was_locked = sw.cluster.spec.encryption_config.auto_lock_managers;
    let trust_root = sw.cluster.tls_info.trust_root.clone();
    merge_spec("swarm update", &mut sw.cluster.spec, &a, &trust_root)?;
    c.swarm_update(
        sw.cluster.version.index,
        &sw.cluster.spec,
        RotateFlags::default(),
    )
    .await?;
    println!("Swarm updated.");
    if sw.cluster.spec.encryption_config.auto_lock_managers && !was_locked {
        print_unlock_command(&fetch_unlock_key(c).await?);
    }
    Ok(0)
}

/// docker's `readKey`: a hidden prompt on a terminal, else one line.
fn read_key() -> Result<String, Failure> {
    if std::io::stdin().is_terminal() {
        print!("Enter unlock key: ");
        let _ = std::io::stdout().flush();
        let key = read_hidden_line().map_err(|e| Failure::msg(e.to_string()))?;
        println!();
        Ok(key)
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| Failure::msg(e.to_string()))?;
        Ok(line.trim().to_string())
    }
}

/// One line from the terminal with echo off (Go's `term.ReadPassword`),
/// on nix's termios, which the CLI already uses for raw mode.
fn read_hidden_line() -> std::io::Result<String> {
    use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
    let stdin = std::io::stdin();
    let orig = tcgetattr(&stdin).map_err(std::io::Error::from)?;
    let mut quiet = orig.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    tcsetattr(&stdin, SetArg::TCSANOW, &quiet).map_err(std::io::Error::from)?;
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    let _ = tcsetattr(&stdin, SetArg::TCSANOW, &orig);
    read?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

pub async fn unlock(c: &Client, extra: &[String]) -> Result<i32, Failure> {
    if !extra.is_empty() {
        return Err(no_args_failure("swarm unlock"));
    }
    let info = c.system_info().await?;
    match info.swarm.local_node_state.as_str() {
        "inactive" => return Err(Failure::msg("Error: This node is not part of a swarm")),
        "locked" => {}
        "pending" | "active" | "error" => return Err(Failure::msg("Error: swarm is not locked")),
        _ => {}
    }
    let key = read_key()?;
    c.swarm_unlock(&key).await?;
    Ok(0)
}

pub async fn unlock_key(c: &Client, a: SwarmUnlockKeyArgs) -> Result<i32, Failure> {
    if !a.extra.is_empty() {
        return Err(no_args_failure("swarm unlock-key"));
    }
    if a.rotate {
        let sw = c.swarm_inspect().await?;
        if !sw.cluster.spec.encryption_config.auto_lock_managers {
            return Err(Failure::msg(
                "cannot rotate because autolock is not turned on",
            ));
        }
        let rotate = RotateFlags {
            unlock_key: true,
            ..Default::default()
        };
        c.swarm_update(sw.cluster.version.index, &sw.cluster.spec, rotate)
            .await?;
        if !a.quiet {
            print!("Successfully rotated manager unlock key.\n\n");
        }
    }
    let key = fetch_unlock_key(c).await?;
    if key.is_empty() {
        return Err(Failure::msg("no unlock key is set"));
    }
    if a.quiet {
        println!("{key}");
    } else {
        print_unlock_command(&key);
    }
    Ok(0)
}

fn display_trust_root(sw: &Swarm) -> Result<i32, Failure> {
    let root = sw.cluster.tls_info.trust_root.trim();
    if root.is_empty() {
        return Err(Failure::msg("No CA information available"));
    }
    println!("{root}");
    Ok(0)
}

/// Go's `open PATH: no such file or directory`.
fn go_open_error(file: &str, e: &std::io::Error) -> String {
    let why = match e.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code)
            .desc()
            .to_ascii_lowercase(),
        None => e.to_string(),
    };
    format!("open {file}: {why}")
}

fn read_pem(path: &str, flag: &str, value: &Option<String>) -> Result<String, Failure> {
    match value {
        None => Ok(String::new()),
        Some(file) => std::fs::read_to_string(file)
            .map_err(|e| bad_flag(path, file, flag, &go_open_error(file, &e))),
    }
}

pub async fn ca(c: &Client, a: SwarmCaArgs) -> Result<i32, Failure> {
    let path = "swarm ca";
    if !a.extra.is_empty() {
        return Err(no_args_failure(path));
    }
    let ca_cert = read_pem(path, "--ca-cert", &a.ca_cert)?;
    let ca_key = read_pem(path, "--ca-key", &a.ca_key)?;
    let ca_flags = SwarmSpecArgs {
        cert_expiry: a.cert_expiry.clone(),
        external_ca: a.external_ca.clone(),
        ..Default::default()
    };
    merge_spec(path, &mut SwarmSpec::default(), &ca_flags, "")?;
    let mut sw = c.swarm_inspect().await?;
    if !a.rotate {
        let given = [
            ("ca-cert", a.ca_cert.is_some()),
            ("ca-key", a.ca_key.is_some()),
            ("cert-expiry", a.cert_expiry.is_some()),
            ("external-ca", !a.external_ca.is_empty()),
        ];
        if let Some((flag, _)) = given.iter().find(|(_, on)| *on) {
            return Err(Failure::msg(format!(
                "`--{flag}` flag requires the `--rotate` flag to update the CA"
            )));
        }
        return display_trust_root(&sw);
    }
    if !a.external_ca.is_empty() && a.ca_cert.is_none() {
        return Err(Failure::msg("rotating to an external CA requires the `--ca-cert` flag to specify the external CA's cert - to add an external CA with the current root CA certificate, use the `update` command instead"));
    }
    if a.ca_cert.is_some() && a.external_ca.is_empty() && a.ca_key.is_none() {
        return Err(Failure::msg(
            "the --ca-cert flag requires that a --ca-key flag and/or --external-ca flag be provided as well",
        ));
    }
    let spec = &mut sw.cluster.spec;
    merge_spec(path, spec, &ca_flags, &ca_cert)?;
    spec.ca_config.signing_ca_cert = ca_cert.clone();
    spec.ca_config.signing_ca_key = ca_key.clone();
    if ca_cert.is_empty() && ca_key.is_empty() {
        spec.ca_config.force_rotate += 1;
    }
    c.swarm_update(sw.cluster.version.index, spec, RotateFlags::default())
        .await?;
    if a.detach {
        return Ok(0);
    }
    wait_for_root_rotation(c, a.quiet).await?;
    if a.quiet {
        return Ok(0);
    }
    display_trust_root(&c.swarm_inspect().await?)
}

/// Waits as docker's `RootRotationProgress` does: polls every 200ms until
/// the rotation is over and every node has a certificate from the new
/// issuer and trusts the new root. Its progress is what docker shows off
/// a terminal (the counts are bars, which it hides there): the targets,
/// then the desired root's digest on each poll.
async fn wait_for_root_rotation(c: &Client, quiet: bool) -> Result<(), Failure> {
    use sha2::Digest;
    if !quiet {
        print!(
            "desired root digest: \n  rotated TLS certificates: \n  rotated CA certificates:  \n"
        );
    }
    let mut done = false;
    loop {
        let sw = c.swarm_inspect().await?;
        if done {
            return Ok(());
        }
        let nodes = c.list_nodes(None).await?;
        let want = &sw.cluster.tls_info;
        if !quiet {
            let digest = sha2::Sha256::digest(want.trust_root.as_bytes());
            println!("desired root digest: sha256:{digest:x}");
            let _ = std::io::stdout().flush();
        }
        let certs_right = nodes.iter().all(|n| {
            let have = &n.description.tls_info;
            have.cert_issuer_public_key == want.cert_issuer_public_key
                && have.cert_issuer_subject == want.cert_issuer_subject
        });
        let roots_right = nodes
            .iter()
            .all(|n| n.description.tls_info.trust_root == want.trust_root);
        done = certs_right && !sw.cluster.root_rotation_in_progress && roots_right;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// `info`'s Swarm section (docker's `printSwarmInfo`), after its
/// `Swarm: <state>` line.
pub fn info_lines(s: &berth_api::views::SwarmInfo) -> Vec<String> {
    use berth_api::units::human_duration;
    let mut out = vec![format!(" Swarm: {}", s.local_node_state)];
    if matches!(s.local_node_state.as_str(), "inactive" | "locked") {
        return out;
    }
    out.push(format!("  NodeID: {}", s.node_id));
    if !s.error.is_empty() {
        out.push(format!("  Error: {}", s.error));
    }
    out.push(format!("  Is Manager: {}", s.control_available));
    let healthy = s.control_available && s.error.is_empty() && s.local_node_state != "error";
    if let (Some(cl), true) = (&s.cluster, healthy) {
        out.push(format!("  ClusterID: {}", cl.id));
        out.push(format!("  Managers: {}", s.managers.unwrap_or(0)));
        out.push(format!("  Nodes: {}", s.nodes.unwrap_or(0)));
        if let Some(pools) = &cl.default_addr_pool {
            let joined: String = pools.iter().map(|p| format!("{p}  ")).collect();
            out.push(format!("  Default Address Pool: {joined}"));
            out.push(format!("  SubnetSize: {}", cl.subnet_size));
        }
        if cl.data_path_port > 0 {
            out.push(format!("  Data Path Port: {}", cl.data_path_port));
        }
        let spec = &cl.spec;
        out.push("  Orchestration:".into());
        out.push(format!(
            "   Task History Retention Limit: {}",
            spec.orchestration.task_history_retention_limit.unwrap_or(0)
        ));
        out.push("  Raft:".into());
        out.push(format!(
            "   Snapshot Interval: {}",
            spec.raft.snapshot_interval
        ));
        out.push(format!(
            "   Number of Old Snapshots to Retain: {}",
            spec.raft.keep_old_snapshots
        ));
        out.push(format!("   Heartbeat Tick: {}", spec.raft.heartbeat_tick));
        out.push(format!("   Election Tick: {}", spec.raft.election_tick));
        out.push("  Dispatcher:".into());
        out.push(format!(
            "   Heartbeat Period: {}",
            human_duration(spec.dispatcher.heartbeat_period / 1_000_000_000)
        ));
        out.push("  CA Configuration:".into());
        out.push(format!(
            "   Expiry Duration: {}",
            human_duration(spec.ca_config.node_cert_expiry / 1_000_000_000)
        ));
        out.push(format!("   Force Rotate: {}", spec.ca_config.force_rotate));
        let signing = spec.ca_config.signing_ca_cert.trim();
        if !signing.is_empty() {
            out.push(format!("   Signing CA Certificate: \n{signing}\n"));
        }
        if let Some(cas) = spec
            .ca_config
            .external_cas
            .as_ref()
            .filter(|c| !c.is_empty())
        {
            out.push("   External CAs:".into());
            for ca in cas {
                out.push(format!("     {}: {}", ca.protocol, ca.url));
            }
        }
        out.push(format!(
            "  Autolock Managers: {}",
            spec.encryption_config.auto_lock_managers
        ));
        out.push(format!(
            "  Root Rotation In Progress: {}",
            cl.root_rotation_in_progress
        ));
    }
    out.push(format!("  Node Address: {}", s.node_addr));
    let mut managers: Vec<&str> = s
        .remote_managers
        .iter()
        .flatten()
        .map(|m| m.addr.as_str())
        .collect();
    if !managers.is_empty() {
        managers.sort();
        out.push("  Manager Addresses:".into());
        out.extend(managers.iter().map(|m| format!("   {m}")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_take_the_default_host_and_port() {
        assert_eq!(node_addr("127.0.0.1:4000"), "127.0.0.1:4000");
        assert_eq!(node_addr("eth0"), "eth0:2377");
        assert_eq!(node_addr(":4000"), "0.0.0.0:4000");
    }

    #[test]
    fn spec_flags_change_only_what_was_given() {
        let mut spec = SwarmSpec::default();
        let a = SwarmSpecArgs {
            task_history_limit: Some("7".into()),
            dispatcher_heartbeat: Some("10s".into()),
            ..Default::default()
        };
        merge_spec("swarm update", &mut spec, &a, "").unwrap();
        assert_eq!(spec.orchestration.task_history_retention_limit, Some(7));
        assert_eq!(spec.dispatcher.heartbeat_period, 10_000_000_000);
        assert_eq!(spec.ca_config.node_cert_expiry, 0);
        let bad = SwarmSpecArgs {
            cert_expiry: Some("soon".into()),
            ..Default::default()
        };
        let e = merge_spec("swarm update", &mut spec, &bad, "").unwrap_err();
        assert!(e.message.starts_with(
            "invalid argument \"soon\" for \"--cert-expiry\" flag: time: invalid duration \"soon\""
        ));
        assert_eq!(e.code, 125);
    }

    #[test]
    fn external_cas_need_a_protocol_and_a_url() {
        let ca =
            parse_external_ca("swarm update", "protocol=cfssl,url=https://ca.example").unwrap();
        assert_eq!(
            (ca.protocol.as_str(), ca.url.as_str()),
            ("cfssl", "https://ca.example")
        );
        assert!(parse_external_ca("swarm update", "url=https://x").is_err());
        assert!(parse_external_ca("swarm update", "protocol=vault,url=https://x").is_err());
        assert!(availability("Drain").is_ok() && availability("off").is_err());
    }
}
