//! The command line's grammar (clap): the global flags, the top-level
//! commands, and one file per command group with its flags. `dispatch`
//! runs what these parse into.

use clap::{Parser, Subcommand};

use crate::commands::{network, opts, resources};

mod container;
mod context;
mod image;
mod plugin;
mod swarm;
mod system;
mod volume;

pub use container::*;
pub use context::*;
pub use image::*;
pub use plugin::*;
pub use swarm::*;
pub use system::*;
pub use volume::*;

#[derive(Parser)]
#[command(
    name = "berth",
    about = "A self-sufficient runtime for containers",
    disable_version_flag = true
)]
pub struct Cli {
    /// Location of client config files
    #[arg(long = "config")]
    pub config: Option<String>,
    /// Name of the context to use to connect to the daemon (overrides
    /// DOCKER_HOST env var and default context set with "docker context use")
    #[arg(short = 'c', long = "context")]
    pub context: Option<String>,
    /// Enable debug mode
    #[arg(short = 'D', long = "debug")]
    pub debug: bool,
    /// Daemon socket to connect to
    #[arg(short = 'H', long = "host")]
    pub host: Vec<String>,
    /// Set the logging level ("debug", "info", "warn", "error", "fatal")
    #[arg(short = 'l', long = "log-level")]
    pub log_level: Option<String>,
    /// Use TLS; implied by --tlsverify
    #[arg(long = "tls", num_args = 0..=1, default_missing_value = "true", require_equals = true, action = clap::ArgAction::Set)]
    pub tls: Option<bool>,
    /// Trust certs signed only by this CA (default "~/.docker/ca.pem")
    #[arg(long = "tlscacert")]
    pub tlscacert: Option<String>,
    /// Path to TLS certificate file (default "~/.docker/cert.pem")
    #[arg(long = "tlscert")]
    pub tlscert: Option<String>,
    /// Path to TLS key file (default "~/.docker/key.pem")
    #[arg(long = "tlskey")]
    pub tlskey: Option<String>,
    /// Use TLS and verify the remote
    #[arg(long = "tlsverify", num_args = 0..=1, default_missing_value = "true", require_equals = true, action = clap::ArgAction::Set)]
    pub tlsverify: Option<bool>,
    /// Print version information and quit
    #[arg(short = 'v', long = "version")]
    pub version: bool,
    #[command(subcommand)]
    pub cmd: Option<Cmd>,
}

#[derive(Subcommand)]
pub enum Cmd {
    /// Create and run a new container from an image
    #[command(disable_help_flag = true)]
    Run(RunArgs),
    /// Create a new container
    #[command(disable_help_flag = true)]
    Create(opts::CreateOpts),
    /// Start one or more stopped containers
    Start(StartArgs),
    /// Stop one or more running containers
    Stop(StopArgs),
    /// Kill one or more running containers
    Kill(KillArgs),
    /// Restart one or more containers
    Restart(StopArgs),
    /// Remove one or more containers
    Rm(RmArgs),
    /// Rename a container
    Rename { container: String, new_name: String },
    /// Pause all processes within one or more containers
    Pause(Ids),
    /// Inspect changes to files or directories on a container's filesystem
    Diff { container: String },
    /// Export a container's filesystem as a tar archive
    Export(ExportArgs),
    /// Create a new image from a container's changes
    Commit(CommitArgs),
    /// Update configuration of one or more containers
    Update(resources::UpdateOpts),
    /// Copy files/folders between a container and the local filesystem
    Cp(crate::commands::cp::CpOpts),
    /// Display a live stream of container(s) resource usage statistics
    Stats(resources::StatsOpts),
    /// Display the running processes of a container
    Top {
        container: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Unpause all processes within one or more containers
    Unpause(Ids),
    /// List containers
    #[command(alias = "list")]
    Ps(PsArgs),
    /// Fetch the logs of a container
    Logs(LogsArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(AttachArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(Ids),
    /// Execute a command in a running container
    Exec(ExecArgs),
    /// Return low-level information on Docker objects
    Inspect(InspectArgs),
    /// List images
    Images(ImagesArgs),
    /// Remove one or more images
    Rmi(RmiArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag { source: String, target: String },
    /// Import the contents from a tarball to create a filesystem image
    Import(ImportArgs),
    /// Build an image from a Dockerfile
    Build(BuildArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(LoadArgs),
    /// Download an image from a registry
    Pull(PullArgs),
    /// Upload an image to a registry
    Push(PushArgs),
    /// Log in to a registry
    Login(LoginArgs),
    /// Log out from a registry
    Logout { server: Option<String> },
    /// Search Docker Hub for images
    Search(SearchArgs),
    /// Docker Compose (berth compose; its own grammar and help)
    #[command(disable_help_flag = true)]
    Compose {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Show the history of an image
    History(HistoryArgs),
    /// Display system-wide information
    Info(FormatArg),
    /// Get real time events from the server
    Events(EventsArgs),
    /// Show the Docker version information
    Version(FormatArg),
    /// Manage containers
    #[command(subcommand)]
    Container(ContainerCmd),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCmd),
    /// Manage Docker
    #[command(subcommand)]
    System(SystemCmd),
    /// Manage contexts
    #[command(subcommand)]
    Context(ContextCmd),
    /// Manage volumes
    #[command(subcommand)]
    Volume(VolumeCmd),
    /// Manage plugins
    #[command(subcommand)]
    Plugin(PluginCmd),
    /// Manage builds
    #[command(subcommand)]
    Builder(BuilderCmd),
    /// Manage networks
    #[command(subcommand)]
    Network(network::NetworkCmd),
    /// List port mappings or a specific mapping for the container
    Port(network::PortArgs),
    /// Manage Swarm
    #[command(subcommand)]
    Swarm(SwarmCmd),
    /// Manage Swarm nodes
    #[command(subcommand)]
    Node(NodeCmd),
}
