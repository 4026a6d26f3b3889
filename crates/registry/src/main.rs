//! berth-registry: `serve CONFIG`, `CONFIG`, `garbage-collect CONFIG
//! [--dry-run] [--delete-untagged]`, `--version`, as CNCF distribution's
//! `registry` binary. Arguments are few and positional like distribution's
//! cobra commands, so they are read by hand.

use std::path::PathBuf;
use std::process::ExitCode;

use berth_registry::config::Config;

const USAGE: &str = "usage: berth-registry serve CONFIG.yml
       berth-registry CONFIG.yml
       berth-registry garbage-collect CONFIG.yml [--dry-run|-d] [--delete-untagged|-m]
       berth-registry --version
The configuration path may also come from REGISTRY_CONFIGURATION_PATH.";

fn config_path(arg: Option<&String>) -> Result<PathBuf, String> {
    match arg {
        Some(p) => Ok(PathBuf::from(p)),
        None => std::env::var_os("REGISTRY_CONFIGURATION_PATH")
            .map(PathBuf::from)
            .ok_or_else(|| format!("configuration path unspecified\n{USAGE}")),
    }
}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(format!("berth_registry={level}"))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("berth_registry=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

fn serve(path: PathBuf) -> Result<(), String> {
    let config = Config::load(&path).map_err(|e| e.to_string())?;
    init_logging(&config.log_level);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        tokio::select! {
            r = berth_registry::run(config) => r.map_err(|e| format!("{e:#}")),
            _ = shutdown_signal() => {
                tracing::info!("shutting down");
                Ok(())
            }
        }
    })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut t), Ok(mut i)) => {
            tokio::select! {
                _ = t.recv() => {}
                _ = i.recv() => {}
            }
        }
        _ => std::future::pending::<()>().await,
    }
}

fn garbage_collect(args: &[String]) -> Result<(), String> {
    let mut dry = false;
    let mut untagged = false;
    let mut path = None;
    for a in args {
        match a.as_str() {
            "--dry-run" | "-d" => dry = true,
            "--delete-untagged" | "-m" => untagged = true,
            s if s.starts_with('-') => return Err(format!("unknown flag {s}\n{USAGE}")),
            _ if path.is_some() => return Err(format!("unexpected argument {a}\n{USAGE}")),
            _ => path = Some(a.clone()),
        }
    }
    let path = config_path(path.as_ref())?;
    let config = Config::load(&path).map_err(|e| e.to_string())?;
    if !config.root.is_dir() {
        return Err(format!(
            "the storage root {} does not exist: nothing to collect",
            config.root.display()
        ));
    }
    let storage = berth_registry::storage::Storage::open(&config.root)
        .map_err(|e| format!("opening the storage root {}: {e}", config.root.display()))?;
    let mut out = std::io::stdout().lock();
    berth_registry::gc::collect(&storage, dry, untagged, &mut out)
        .map_err(|e| format!("garbage collection failed: {e}"))?;
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let res = match args.first().map(String::as_str) {
        Some("--version" | "-v" | "version") => {
            println!("berth-registry {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Some("--help" | "-h" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some("serve") => match args.len() {
            1 | 2 => config_path(args.get(1)).and_then(serve),
            _ => Err(format!("too many arguments\n{USAGE}")),
        },
        Some("garbage-collect") => garbage_collect(&args[1..]),
        Some(s) if s.starts_with('-') => Err(format!("unknown flag {s}\n{USAGE}")),
        Some(_) if args.len() == 1 => serve(PathBuf::from(&args[0])),
        Some(_) => Err(format!("unknown command {:?}\n{USAGE}", args[0])),
        None => config_path(None).and_then(serve),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("berth-registry: {e}");
            ExitCode::FAILURE
        }
    }
}
