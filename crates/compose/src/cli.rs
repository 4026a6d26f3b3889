//! The command line, in docker compose v2's grammar, and [`run`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::loader::{self, LoadOptions};
use crate::project::{self, Ctx};
use crate::Error;

#[derive(Parser, Debug)]
#[command(
    name = "docker compose",
    about = "Define and run multi-container applications"
)]
pub struct Cli {
    /// Compose configuration files
    #[arg(short = 'f', long = "file")]
    pub files: Vec<PathBuf>,
    /// Project name
    #[arg(short = 'p', long = "project-name")]
    pub project_name: Option<String>,
    /// Specify an alternate working directory
    #[arg(long = "project-directory")]
    pub project_directory: Option<PathBuf>,
    /// Specify an alternate environment file
    #[arg(long = "env-file")]
    pub env_file: Vec<PathBuf>,
    /// Specify a profile to enable
    #[arg(long = "profile")]
    pub profile: Vec<String>,
    /// Control when to print ANSI control characters (accepted, plain output)
    #[arg(long = "ansi")]
    pub ansi: Option<String>,
    /// Progress type (accepted, plain output)
    #[arg(long = "progress")]
    pub progress: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Parse, resolve and render compose file in canonical format
    Config(ConfigArgs),
    /// Create and start containers
    Up(UpArgs),
    /// Stop and remove containers, networks
    Down(DownArgs),
    /// List containers
    Ps(PsArgs),
    /// List running compose projects
    Ls(LsArgs),
    /// Show the Docker Compose version information
    Version(VersionArgs),
    /// Start services
    Start(ServicesArgs),
    /// Stop services
    Stop(StopArgs),
    /// Restart service containers
    Restart(StopArgs),
    /// Force stop service containers
    Kill(KillArgs),
    /// Pause services
    Pause(ServicesArgs),
    /// Unpause services
    Unpause(ServicesArgs),
    /// Removes stopped service containers
    Rm(RmArgs),
    /// View output from containers
    Logs(LogsArgs),
    /// Execute a command in a running container
    Exec(ExecArgs),
    /// Pull service images
    Pull(ServicesArgs),
    /// Build or rebuild services
    Build(ServicesArgs),
    /// List images used by the created containers
    Images(ServicesArgs),
    /// Print the public port for a port binding
    Port(PortArgs),
    /// Run a one-off command on a service
    Run(RunArgs),
    /// Display the running processes
    Top(ServicesArgs),
    /// Block until containers of all (or specified) services stop
    Wait(ServicesArgs),
    /// Scale services
    Scale(ScaleArgs),
}

#[derive(Args, Debug, Default)]
pub struct ScaleArgs {
    /// Don't start linked services
    #[arg(long)]
    pub no_deps: bool,
    /// SERVICE=REPLICAS
    #[arg(required = true)]
    pub scale: Vec<String>,
}

#[derive(Args, Debug, Default)]
pub struct RunArgs {
    /// Run container in background and print its name
    #[arg(short, long)]
    pub detach: bool,
    /// Automatically remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Set environment variables
    #[arg(short, long)]
    pub env: Vec<String>,
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub entrypoint: Option<String>,
    #[arg(short, long)]
    pub user: Option<String>,
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Don't start linked services
    #[arg(long)]
    pub no_deps: bool,
    /// Run command with the service's ports published
    #[arg(long)]
    pub service_ports: bool,
    /// Disable pseudo-TTY allocation (the default here)
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    #[arg(short = 'i', long)]
    pub interactive: bool,
    pub service: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug, Default)]
pub struct ConfigArgs {
    /// Print the service names, one per line
    #[arg(long)]
    pub services: bool,
    /// Print the volume names, one per line
    #[arg(long)]
    pub volumes: bool,
    /// Only validate the configuration, don't print anything
    #[arg(short, long)]
    pub quiet: bool,
    /// Format the output: yaml or json
    #[arg(long, default_value = "yaml")]
    pub format: String,
}

#[derive(Args, Debug, Default, Clone)]
pub struct UpArgs {
    /// Detached mode: run containers in the background
    #[arg(short, long)]
    pub detach: bool,
    /// Build images before starting containers
    #[arg(long)]
    pub build: bool,
    #[arg(long)]
    pub force_recreate: bool,
    #[arg(long)]
    pub no_recreate: bool,
    #[arg(long)]
    pub no_deps: bool,
    #[arg(long)]
    pub no_start: bool,
    /// Scale SERVICE to NUM instances
    #[arg(long, value_name = "SERVICE=NUM")]
    pub scale: Vec<String>,
    /// Wait for services to be running|healthy
    #[arg(long)]
    pub wait: bool,
    #[arg(long)]
    pub remove_orphans: bool,
    #[arg(long)]
    pub abort_on_container_exit: bool,
    #[arg(long)]
    pub exit_code_from: Option<String>,
    #[arg(short = 't', long)]
    pub timeout: Option<i64>,
    pub services: Vec<String>,
}

#[derive(Args, Debug, Default)]
pub struct DownArgs {
    /// Remove named volumes and anonymous volumes
    #[arg(short, long)]
    pub volumes: bool,
    #[arg(long)]
    pub remove_orphans: bool,
    /// Remove images used by services: "local" or "all"
    #[arg(long)]
    pub rmi: Option<String>,
    #[arg(short = 't', long)]
    pub timeout: Option<i64>,
}

#[derive(Args, Debug, Default)]
pub struct PsArgs {
    #[arg(short, long)]
    pub all: bool,
    #[arg(short, long)]
    pub quiet: bool,
    #[arg(long)]
    pub services: bool,
    #[arg(long)]
    pub format: Option<String>,
    pub service_names: Vec<String>,
}

#[derive(Args, Debug, Default)]
pub struct LsArgs {
    #[arg(short, long)]
    pub all: bool,
    #[arg(short, long)]
    pub quiet: bool,
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Args, Debug, Default)]
pub struct VersionArgs {
    #[arg(long)]
    pub short: bool,
    #[arg(short, long)]
    pub format: Option<String>,
}

#[derive(Args, Debug, Default)]
pub struct ServicesArgs {
    pub services: Vec<String>,
}

#[derive(Args, Debug, Default)]
pub struct StopArgs {
    #[arg(short = 't', long)]
    pub timeout: Option<i64>,
    pub services: Vec<String>,
}

#[derive(Args, Debug, Default)]
pub struct KillArgs {
    #[arg(short, long)]
    pub signal: Option<String>,
    pub services: Vec<String>,
}

#[derive(Args, Debug, Default)]
pub struct RmArgs {
    #[arg(short, long)]
    pub force: bool,
    #[arg(short, long)]
    pub stop: bool,
    #[arg(short, long)]
    pub volumes: bool,
    pub services: Vec<String>,
}

#[derive(Args, Debug, Default)]
pub struct LogsArgs {
    #[arg(short, long)]
    pub follow: bool,
    #[arg(short, long)]
    pub timestamps: bool,
    #[arg(long)]
    pub tail: Option<String>,
    #[arg(long)]
    pub no_log_prefix: bool,
    pub services: Vec<String>,
}

#[derive(Args, Debug, Default)]
pub struct ExecArgs {
    #[arg(short, long)]
    pub detach: bool,
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    #[arg(short, long)]
    pub env: Vec<String>,
    #[arg(short, long)]
    pub user: Option<String>,
    #[arg(short, long)]
    pub workdir: Option<String>,
    #[arg(long, default_value_t = 1)]
    pub index: u64,
    pub service: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug, Default)]
pub struct PortArgs {
    #[arg(long, default_value = "tcp")]
    pub protocol: String,
    #[arg(long, default_value_t = 1)]
    pub index: u64,
    pub service: String,
    pub private_port: u16,
}

impl Cli {
    fn load_options(&self) -> LoadOptions {
        LoadOptions {
            files: self.files.clone(),
            project_name: self.project_name.clone(),
            project_directory: self.project_directory.clone(),
            env_files: self.env_file.clone(),
            profiles: self.profile.clone(),
            env: std::env::vars().collect(),
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
        }
    }
}

/// Runs one compose command line (the arguments after `compose`);
/// answers the exit code. Errors are printed to stderr.
pub async fn run(args: Vec<String>) -> i32 {
    run_with(berth_client::context::GlobalOpts::default(), args).await
}

/// [`run`] with the daemon chosen by the caller's global options, as
/// `berth -H HOST compose ...` gives them (the environment and the current
/// context otherwise, as for every berth command).
pub async fn run_with(daemon: berth_client::context::GlobalOpts, args: Vec<String>) -> i32 {
    let cli = match Cli::try_parse_from(std::iter::once("compose".to_string()).chain(args)) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    match dispatch(cli, &daemon).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

fn client(daemon: &berth_client::context::GlobalOpts) -> Result<berth_client::Client, Error> {
    use berth_client::context;
    context::resolve(daemon, &context::process_env)
        .and_then(|r| berth_client::Client::from_resolved(&r).map_err(|e| e.to_string()))
        .map_err(Error::new)
}

async fn dispatch(cli: Cli, daemon: &berth_client::context::GlobalOpts) -> Result<i32, Error> {
    let opts = cli.load_options();
    match &cli.command {
        Command::Version(a) => return Ok(project::info::version(a)),
        Command::Ls(a) => return project::info::ls(&client(daemon)?, a).await,
        _ => {}
    }
    let project = loader::load(&opts)?;
    if let Command::Config(a) = &cli.command {
        return project::info::config(&project, a);
    }
    let ctx = Ctx {
        client: client(daemon)?,
        project,
    };
    match cli.command {
        Command::Up(a) => project::up::up(&ctx, &a).await,
        Command::Down(a) => project::down::down(&ctx, &a).await,
        Command::Ps(a) => project::ps::ps(&ctx, &a).await,
        Command::Start(a) => project::ops::start(&ctx, &a.services).await,
        Command::Stop(a) => project::ops::stop(&ctx, &a.services, a.timeout).await,
        Command::Restart(a) => project::ops::restart(&ctx, &a.services, a.timeout).await,
        Command::Kill(a) => project::ops::kill(&ctx, &a.services, a.signal.as_deref()).await,
        Command::Pause(a) => project::ops::pause(&ctx, &a.services, true).await,
        Command::Unpause(a) => project::ops::pause(&ctx, &a.services, false).await,
        Command::Rm(a) => project::ops::rm(&ctx, &a).await,
        Command::Logs(a) => project::ps::logs(&ctx, &a).await,
        Command::Exec(a) => project::ps::exec(&ctx, &a).await,
        Command::Pull(a) => project::images::pull(&ctx, &a.services).await,
        Command::Build(a) => project::images::build_all(&ctx, &a.services).await,
        Command::Images(a) => project::images::images(&ctx, &a.services).await,
        Command::Port(a) => project::ps::port(&ctx, &a).await,
        Command::Run(a) => project::run::run(&ctx, &a).await,
        Command::Top(a) => project::ops::top(&ctx, &a.services).await,
        Command::Wait(a) => project::ops::wait(&ctx, &a.services).await,
        Command::Scale(a) => {
            let services = a
                .scale
                .iter()
                .map(|s| {
                    s.split_once('=')
                        .map(|(k, _)| k.to_string())
                        .unwrap_or_default()
                })
                .collect();
            let up = UpArgs {
                detach: true,
                no_deps: a.no_deps,
                scale: a.scale,
                services,
                ..UpArgs::default()
            };
            project::up::up(&ctx, &up).await
        }
        Command::Config(_) | Command::Version(_) | Command::Ls(_) => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// clap's own consistency checks (e.g. a short flag used twice).
    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_before_the_command() {
        let cli = Cli::try_parse_from(["compose", "-f", "a.yml", "-p", "x", "logs", "-f", "web"])
            .unwrap();
        assert_eq!(cli.files, vec![PathBuf::from("a.yml")]);
        let Command::Logs(l) = cli.command else {
            panic!()
        };
        assert!(l.follow);
        assert_eq!(l.services, vec!["web".to_string()]);
    }
}
