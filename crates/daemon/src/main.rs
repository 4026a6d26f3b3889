//! berthd: reads its configuration, takes the data root, opens the engine,
//! re-adopts running containers, and serves the Engine API until SIGTERM.

mod config;
mod memory;
mod params;
#[cfg(test)]
mod props;
mod routes;
mod server;
mod tls;

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Parser;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter};

use crate::config::{Config, Flags};

fn main() {
    memory::limit_arenas();
    tls::install_crypto_provider();
    let flags = Flags::parse();
    let config = match Config::load(&flags) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("berthd: {e:#}");
            std::process::exit(1);
        }
    };
    let (filter, reload_handle) = reload::Layer::new(EnvFilter::new(&config.log_level));
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_target(false)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        .init();
    // Two workers are plenty for a container engine's control plane and keep it small.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(64)
        // Idle blocking threads (and their stacks) go soon after a burst.
        .thread_keep_alive(std::time::Duration::from_secs(2))
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(e) = rt.block_on(run(config, reload_handle)) {
        eprintln!("berthd: {e:#}");
        std::process::exit(1);
    }
    // Blocking readers (logs -f, attach bridges) must not hold the exit.
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
}

type ReloadHandle = reload::Handle<EnvFilter, tracing_subscriber::Registry>;

/// Holds the data root: a second daemon on it fails here, clearly.
fn lock_data_root(config: &Config) -> anyhow::Result<File> {
    std::fs::create_dir_all(&config.data_root)
        .with_context(|| format!("creating data root {}", config.data_root.display()))?;
    let path = config.data_root.join("berthd.lock");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)?;
    // SAFETY: flock on an fd we own; no memory is involved.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let holder = std::fs::read_to_string(&path).unwrap_or_default();
        bail!(
            "another berthd (pid {}) is already using data root {}; stop it or use another --data-root",
            holder.trim(),
            config.data_root.display()
        );
    }
    f.set_len(0)?;
    write!(f, "{}", std::process::id())?;
    Ok(f)
}

fn write_pidfile(path: &PathBuf) -> anyhow::Result<()> {
    if let Ok(old) = std::fs::read_to_string(path) {
        if let Ok(pid) = old.trim().parse::<i32>() {
            if pid != std::process::id() as i32
                && nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
                && std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .is_ok_and(|c| c.trim() == "berthd")
            {
                bail!(
                    "pid file found, ensure berthd is not running or delete {}",
                    path.display()
                );
            }
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, std::process::id().to_string())
        .with_context(|| format!("writing pid file {}", path.display()))
}

async fn run(config: Config, reload_handle: ReloadHandle) -> anyhow::Result<()> {
    if let Some(d) = &config.storage_driver {
        if d != "overlay2" && d != "vfs" {
            bail!("storage driver {d:?} is not supported (supported: overlay2, vfs)");
        }
    }
    // Certificates first: a bad file stops the start before anything is taken.
    let tls_config = config.tls.as_ref().map(tls::server_config).transpose()?;
    let _lock = lock_data_root(&config)?;
    write_pidfile(&config.pidfile)?;
    if !config.shim_binary.exists() {
        bail!("shim binary {} not found", config.shim_binary.display());
    }
    let engine = berth_engine::Engine::open(berth_engine::EngineConfig {
        data_root: config.data_root.clone(),
        exec_root: config.exec_root.clone(),
        shim_binary: config.shim_binary.clone(),
        cgroup_parent: config.cgroup_parent.clone(),
        labels: config.labels.clone(),
        network: config.network.clone(),
        log_driver: config.log_driver.clone(),
        log_opts: config.log_opts.clone(),
        storage_driver: config.storage_driver.clone(),
        runtimes: config.runtimes.clone(),
        registry: berth_distribution::RegistryOptions {
            insecure: config.insecure_registries.clone(),
            mirrors: config.registry_mirrors.clone(),
            certs_dirs: vec![
                config.registry_certs_dir.clone(),
                config.data_root.join("certs.d"),
            ],
        },
    })
    .map_err(|e| anyhow::anyhow!("opening the engine: {e}"))?;
    routes::build::sweep_contexts(&config.data_root);
    engine
        .restore()
        .await
        .map_err(|e| anyhow::anyhow!("setting up networking: {e}"))?;

    let swarm = Arc::new(
        berth_swarm::cluster::Cluster::start(berth_swarm::cluster::ClusterConfig {
            state_dir: config.data_root.join("swarm"),
            description: node_description(&engine)?,
        })
        .await,
    );
    let router = routes::router(routes::Daemon {
        engine: engine.clone(),
        swarm: swarm.clone(),
    });
    let mut sockets = Vec::new();
    for host in &config.hosts {
        let Some(path) = host.strip_prefix("unix://") else {
            let listener = tls::bind_tcp(host, tls_config.is_some()).await?;
            // dockerd warns for plain TCP and for TLS that does not verify clients.
            if config.tls.as_ref().is_none_or(|t| !t.verify_clients) {
                for line in tls::plain_tcp_warning(host).lines() {
                    tracing::warn!("{line}");
                }
            }
            tracing::info!("API listen on {}", listener.local_addr()?);
            tokio::spawn(tls::serve_tcp(listener, tls_config.clone(), router.clone()));
            continue;
        };
        let path = PathBuf::from(path);
        let listener = server::bind_unix(&path).with_context(|| format!("listening on {host}"))?;
        tracing::info!("API listen on {}", path.display());
        sockets.push(path);
        tokio::spawn(server::serve_unix(listener, router.clone()));
    }
    tokio::spawn(memory::trim_when_idle());
    tracing::info!(version = berth_engine::system::VERSION, data_root = %config.data_root.display(), "daemon has completed initialization");

    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut usr1 = signal(SignalKind::user_defined1())?;
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => reload(&config, &reload_handle),
            _ = usr1.recv() => dump_state(&engine),
        }
    }
    tracing::info!("processing signal 'terminated'");
    swarm.shutdown().await;
    if !config.live_restore {
        stop_all(&engine).await;
        engine.networks().shutdown().await;
    }
    for s in &sockets {
        let _ = std::fs::remove_file(s);
    }
    let _ = std::fs::remove_file(&config.pidfile);
    tracing::info!("daemon shutdown complete");
    Ok(())
}

/// What this engine reports to the swarm about itself (`node inspect`'s
/// `Description`), from the same facts as `/info`.
fn node_description(
    engine: &berth_engine::Engine,
) -> anyhow::Result<berth_api::views::swarm::NodeDescription> {
    use berth_api::views::swarm::{EngineDescription, EnginePlugin, Platform, Resources};
    let info = engine
        .system()
        .info()
        .map_err(|e| anyhow::anyhow!("reading the engine's facts: {e}"))?;
    let kinds = [
        ("Log", &info.plugins.log),
        ("Network", &info.plugins.network),
        ("Volume", &info.plugins.volume),
    ];
    let plugins = kinds
        .into_iter()
        .flat_map(|(kind, names)| {
            names.iter().flatten().map(move |name| EnginePlugin {
                kind: kind.into(),
                name: name.clone(),
            })
        })
        .collect();
    let labels: indexmap::IndexMap<String, String> = info
        .labels
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect();
    Ok(berth_api::views::swarm::NodeDescription {
        hostname: info.name,
        platform: Platform {
            architecture: info.architecture,
            os: info.os_type,
        },
        resources: Resources {
            nano_cpus: info.ncpu * 1_000_000_000,
            memory_bytes: info.mem_total,
        },
        engine: EngineDescription {
            engine_version: info.server_version,
            labels: (!labels.is_empty()).then_some(labels),
            plugins,
        },
        tls_info: Default::default(),
    })
}

fn reload(config: &Config, handle: &ReloadHandle) {
    match config.reloadable() {
        Ok((debug_on, level, labels)) => {
            let level = if debug_on { "debug".to_string() } else { level };
            match handle.reload(EnvFilter::new(&level)) {
                Ok(()) => {
                    tracing::info!(debug = debug_on, log_level = %level, labels = ?labels, "reloaded configuration")
                }
                Err(e) => tracing::error!("reloading the log level: {e}"),
            }
        }
        Err(e) => tracing::error!("reloading {}: {e:#}", config.config_file.display()),
    }
}

/// SIGUSR1: what every task of the daemon is doing, in the log.
fn dump_state(engine: &Arc<berth_engine::Engine>) {
    let metrics = tokio::runtime::Handle::current().metrics();
    tracing::info!(
        workers = metrics.num_workers(),
        alive_tasks = metrics.num_alive_tasks(),
        "=== BEGIN state dump ==="
    );
    match engine
        .containers()
        .list(true, None, false, &Default::default())
    {
        Ok(list) => {
            for c in list {
                tracing::info!(container_id = %c.id, name = ?c.names, state = %c.state, status = %c.status, "container");
            }
        }
        Err(e) => tracing::error!("state dump: {e}"),
    }
    tracing::info!("=== END state dump ===");
}

/// Without live restore, dockerd stops its containers on shutdown; so do we.
async fn stop_all(engine: &Arc<berth_engine::Engine>) {
    let Ok(list) = engine
        .containers()
        .list(false, None, false, &Default::default())
    else {
        return;
    };
    let mut tasks = Vec::new();
    for c in list {
        let engine = engine.clone();
        tasks.push(tokio::spawn(async move {
            let _ = engine.containers().stop_for_shutdown(&c.id).await;
        }));
    }
    for t in tasks {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(15), t).await;
    }
}
