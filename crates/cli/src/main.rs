//! `berth`: docker's grammar; the grammar is `berth_cli::args`, the
//! commands behind it `berth_cli::dispatch`.

use berth_cli::args::Cli;
use berth_cli::client::Client;
use berth_cli::context::{self, GlobalOpts};
use berth_cli::dispatch::{self, Group};
use clap::Parser;

fn main() {
    // Output piped into `head` ends quietly when the reader goes, as the
    // docker CLI's does (Go dies of SIGPIPE on stdout); Rust ignores
    // SIGPIPE, so println! would panic on the closed pipe instead.
    // SAFETY: setting a signal's disposition before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            match e.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let _ = e.print();
                    std::process::exit(0);
                }
                _ => {
                    let (text, code) = berth_cli::usage::docker_error(
                        &e,
                        &<Cli as clap::CommandFactory>::command(),
                    );
                    eprintln!("{text}");
                    std::process::exit(code);
                }
            }
        }
    };
    if cli.version {
        println!(
            "berth version {}, build {}",
            env!("CARGO_PKG_VERSION"),
            option_env!("BERTH_GIT_COMMIT").unwrap_or("unknown")
        );
        return;
    }
    let Some(cmd) = cli.cmd else {
        eprintln!("Usage:  berth [OPTIONS] COMMAND\n\nRun 'berth --help' for more information");
        std::process::exit(1);
    };
    let gopts = GlobalOpts {
        hosts: cli.host.clone(),
        context: cli.context.clone(),
        config: cli.config.clone(),
        tls: cli.tls.unwrap_or(false),
        tlsverify: cli.tlsverify,
        tlscacert: cli.tlscacert.clone(),
        tlscert: cli.tlscert.clone(),
        tlskey: cli.tlskey.clone(),
    };
    // docker warns about a config.json it cannot read, then goes on.
    let config_dir = berth_cli::config::dir(gopts.config.as_deref(), &context::process_env);
    let _ = berth_cli::config::CONFIG_DIR.set(config_dir.clone());
    if let (_, Some(w)) = berth_cli::config::load(&config_dir) {
        eprintln!("{w}");
    }
    if let Err(e) = context::check_conflict(&gopts) {
        eprintln!("{e}");
        std::process::exit(1);
    }
    let group = Group::of(cmd);
    if let Group::Context(c) = group {
        std::process::exit(match dispatch::context::run(&gopts, c) {
            Ok(code) => code,
            Err(f) => {
                eprintln!("{}", f.message);
                f.code
            }
        });
    }
    if let Group::Compose(args) = group {
        std::process::exit(compose(gopts, args));
    }
    let client = match context::resolve(&gopts, &context::process_env)
        .and_then(|r| Client::from_resolved(&r).map_err(|e| e.to_string()))
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Failed to initialize: {e}");
            std::process::exit(1);
        }
    };
    let _ = (cli.debug, cli.log_level);
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("starting the runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = rt.block_on(async {
        match dispatch::run(&client, group).await {
            Ok(code) => code,
            Err(f) => {
                eprintln!("{}", f.message);
                f.code
            }
        }
    });
    // Leave at once: a detached stdin reader must not hold the exit.
    std::process::exit(code);
}

/// `berth compose ...`: the same code as the `berth-compose` binary and the
/// docker CLI plugin, on a runtime of its own (compose works on independent
/// services in parallel).
fn compose(gopts: GlobalOpts, args: Vec<String>) -> i32 {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(berth_compose::run_with(gopts, args)),
        Err(e) => {
            eprintln!("starting the runtime: {e}");
            1
        }
    }
}
