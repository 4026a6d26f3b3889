//! `berth`: docker's grammar; see the `berth_cli` library for the commands.

use berth_cli::client::Client;
use berth_cli::commands::{
    build, commit, container, context as ctxcmd, distribution, image, network, opts, resources,
    system, volume,
};
use berth_cli::context::{self, GlobalOpts};
use berth_cli::Failure;
use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "berth",
    about = "A self-sufficient runtime for containers",
    disable_version_flag = true
)]
struct Cli {
    /// Location of client config files
    #[arg(long = "config")]
    config: Option<String>,
    /// Name of the context to use to connect to the daemon (overrides
    /// DOCKER_HOST env var and default context set with "docker context use")
    #[arg(short = 'c', long = "context")]
    context: Option<String>,
    /// Enable debug mode
    #[arg(short = 'D', long = "debug")]
    debug: bool,
    /// Daemon socket to connect to
    #[arg(short = 'H', long = "host")]
    host: Vec<String>,
    /// Set the logging level ("debug", "info", "warn", "error", "fatal")
    #[arg(short = 'l', long = "log-level")]
    log_level: Option<String>,
    /// Use TLS; implied by --tlsverify
    #[arg(long = "tls", num_args = 0..=1, default_missing_value = "true", require_equals = true, action = clap::ArgAction::Set)]
    tls: Option<bool>,
    /// Trust certs signed only by this CA (default "~/.docker/ca.pem")
    #[arg(long = "tlscacert")]
    tlscacert: Option<String>,
    /// Path to TLS certificate file (default "~/.docker/cert.pem")
    #[arg(long = "tlscert")]
    tlscert: Option<String>,
    /// Path to TLS key file (default "~/.docker/key.pem")
    #[arg(long = "tlskey")]
    tlskey: Option<String>,
    /// Use TLS and verify the remote
    #[arg(long = "tlsverify", num_args = 0..=1, default_missing_value = "true", require_equals = true, action = clap::ArgAction::Set)]
    tlsverify: Option<bool>,
    /// Print version information and quit
    #[arg(short = 'v', long = "version")]
    version: bool,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Args)]
struct RunArgs {
    /// Run container in background and print container ID
    #[arg(short = 'd', long)]
    detach: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys")]
    detach_keys: Option<String>,
    #[command(flatten)]
    opts: opts::CreateOpts,
}

#[derive(Args)]
struct ExecArgs {
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    tty: bool,
    /// Detached mode: run command in the background
    #[arg(short = 'd', long)]
    detach: bool,
    /// Username or UID (format: "<name|uid>[:<group|gid>]")
    #[arg(short = 'u', long)]
    user: Option<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long)]
    workdir: Option<String>,
    /// Set environment variables
    #[arg(short = 'e', long = "env")]
    env: Vec<String>,
    /// Give extended privileges to the command
    #[arg(long)]
    privileged: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys")]
    detach_keys: Option<String>,
    container: String,
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

#[derive(Args)]
struct Ids {
    #[arg(required = true)]
    ids: Vec<String>,
}

#[derive(Args)]
struct StopArgs {
    /// Seconds to wait before killing the container
    #[arg(short = 't', long = "timeout", alias = "time")]
    time: Option<i64>,
    /// Signal to send to the container
    #[arg(short = 's', long)]
    signal: Option<String>,
    #[arg(required = true)]
    ids: Vec<String>,
}

#[derive(Args)]
struct KillArgs {
    /// Signal to send to the container
    #[arg(short = 's', long)]
    signal: Option<String>,
    #[arg(required = true)]
    ids: Vec<String>,
}

#[derive(Args)]
struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short = 'a', long)]
    attach: bool,
    /// Attach container's STDIN
    #[arg(short = 'i', long)]
    interactive: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys")]
    detach_keys: Option<String>,
    #[arg(required = true)]
    ids: Vec<String>,
}

#[derive(Args)]
struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short = 'f', long)]
    force: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short = 'v', long)]
    volumes: bool,
    #[arg(required = true)]
    ids: Vec<String>,
}

#[derive(Args)]
struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    all: bool,
    /// Only display container IDs
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    no_trunc: bool,
    /// Display total file sizes
    #[arg(short = 's', long)]
    size: bool,
    /// Show the latest created container
    #[arg(short = 'l', long)]
    latest: bool,
    /// Show n last created containers
    #[arg(short = 'n', long = "last")]
    last: Option<i64>,
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter")]
    filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long)]
    format: Option<String>,
}

#[derive(Args)]
struct LogsArgs {
    /// Follow log output
    #[arg(short = 'f', long)]
    follow: bool,
    /// Number of lines to show from the end of the logs
    #[arg(short = 'n', long)]
    tail: Option<String>,
    /// Show logs since timestamp or relative
    #[arg(long)]
    since: Option<String>,
    /// Show logs before a timestamp or relative
    #[arg(long)]
    until: Option<String>,
    /// Show timestamps
    #[arg(short = 't', long)]
    timestamps: bool,
    /// Show extra details provided to logs
    #[arg(long)]
    details: bool,
    container: String,
}

#[derive(Args)]
struct AttachArgs {
    /// Do not attach STDIN
    #[arg(long = "no-stdin")]
    no_stdin: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys")]
    detach_keys: Option<String>,
    /// Proxy all received signals to the process
    #[arg(long = "sig-proxy", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    sig_proxy: bool,
    container: String,
}

#[derive(Args)]
struct InspectArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long)]
    format: Option<String>,
    /// Return JSON for specified type
    #[arg(long = "type")]
    kind: Option<String>,
    /// Display total file sizes if the type is container
    #[arg(short = 's', long)]
    size: bool,
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(Args)]
struct ImagesArgs {
    /// Show all images
    #[arg(short = 'a', long)]
    all: bool,
    /// Only show image IDs
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Show digests
    #[arg(long)]
    digests: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    no_trunc: bool,
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter")]
    filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long)]
    format: Option<String>,
    reference: Option<String>,
}

#[derive(Args)]
struct RmiArgs {
    /// Force removal of the image
    #[arg(short = 'f', long)]
    force: bool,
    /// Do not delete untagged parents
    #[arg(long)]
    no_prune: bool,
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(Args)]
struct HistoryArgs {
    /// Print sizes and dates in human readable format
    #[arg(short = 'H', long = "human", default_value_t = true, action = clap::ArgAction::Set)]
    human: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    no_trunc: bool,
    /// Only show image IDs
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Format output using a custom template
    #[arg(long)]
    format: Option<String>,
    image: String,
}

#[derive(Args)]
struct ImportArgs {
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long = "change")]
    change: Vec<String>,
    /// Set commit message for imported image
    #[arg(short = 'm', long)]
    message: Option<String>,
    file: String,
    reference: Option<String>,
}

#[derive(Args)]
struct BuildArgs {
    /// Name and optionally a tag in the "name:tag" format
    #[arg(short = 't', long = "tag")]
    tag: Vec<String>,
    /// Name of the Dockerfile (Default is "PATH/Dockerfile")
    #[arg(short = 'f', long = "file")]
    file: Option<String>,
    /// Set build-time variables
    #[arg(long = "build-arg")]
    build_arg: Vec<String>,
    /// Set the target build stage to build
    #[arg(long)]
    target: Option<String>,
    /// Do not use cache when building the image
    #[arg(long = "no-cache")]
    no_cache: bool,
    /// Suppress the build output and print image ID on success
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Write the image ID to the file
    #[arg(long)]
    iidfile: Option<String>,
    /// Set metadata for an image
    #[arg(long = "label")]
    label: Vec<String>,
    /// Set the networking mode for the RUN instructions during build
    #[arg(long)]
    network: Option<String>,
    /// Always attempt to pull a newer version of the image
    #[arg(long)]
    pull: bool,
    path: String,
}

#[derive(Args)]
struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long)]
    output: Option<String>,
    container: String,
}

#[derive(Args)]
struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short = 'a', long)]
    author: Option<String>,
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long = "change")]
    change: Vec<String>,
    /// Commit message
    #[arg(short = 'm', long)]
    message: Option<String>,
    /// Pause container during commit
    #[arg(short = 'p', long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pause: bool,
    container: String,
    reference: Option<String>,
}

#[derive(Args)]
struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long)]
    output: Option<String>,
    #[arg(required = true)]
    images: Vec<String>,
}

#[derive(Args)]
struct PullArgs {
    /// Download all tagged images in the repository
    #[arg(short = 'a', long = "all-tags")]
    all_tags: bool,
    /// Suppress verbose output
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Set platform if server is multi-platform capable
    #[arg(long, env = "DOCKER_DEFAULT_PLATFORM")]
    platform: Option<String>,
    /// Skip image verification (accepted, as docker; no effect)
    #[arg(long = "disable-content-trust", default_value_t = true)]
    disable_content_trust: bool,
    name: String,
}

#[derive(Args)]
struct PushArgs {
    /// Push all tags of an image to the repository
    #[arg(short = 'a', long = "all-tags")]
    all_tags: bool,
    /// Suppress verbose output
    #[arg(short = 'q', long)]
    quiet: bool,
    name: String,
}

#[derive(Args)]
struct LoginArgs {
    /// Username
    #[arg(short = 'u', long)]
    username: Option<String>,
    /// Password
    #[arg(short = 'p', long)]
    password: Option<String>,
    /// Take the password from stdin
    #[arg(long = "password-stdin")]
    password_stdin: bool,
    server: Option<String>,
}

#[derive(Args)]
struct SearchArgs {
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter")]
    filter: Vec<String>,
    /// Pretty-print search using a Go template
    #[arg(long)]
    format: Option<String>,
    /// Max number of search results
    #[arg(long)]
    limit: Option<i64>,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    no_trunc: bool,
    term: String,
}

#[derive(Args)]
struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short = 'i', long)]
    input: Option<String>,
    /// Suppress the load output
    #[arg(short = 'q', long)]
    quiet: bool,
}

#[derive(Args)]
struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    force: bool,
    /// Provide filter values
    #[arg(long = "filter")]
    filter: Vec<String>,
}

#[derive(Args)]
struct ImagePruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short = 'a', long)]
    all: bool,
    #[command(flatten)]
    prune: PruneArgs,
}

#[derive(Args)]
struct EventsArgs {
    /// Show all events created since timestamp
    #[arg(long)]
    since: Option<String>,
    /// Stream events until this timestamp
    #[arg(long)]
    until: Option<String>,
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter")]
    filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long)]
    format: Option<String>,
}

#[derive(Args)]
struct FormatArg {
    /// Format output using a custom template
    #[arg(short = 'f', long)]
    format: Option<String>,
}

#[derive(Args)]
struct DfArgs {
    /// Show detailed information on space usage
    #[arg(short = 'v', long)]
    verbose: bool,
    /// Format output using a custom template
    #[arg(long)]
    format: Option<String>,
}

#[derive(Args)]
struct VolumeCreateArgs {
    /// Specify volume driver name
    #[arg(short = 'd', long)]
    driver: Option<String>,
    /// Set metadata for a volume
    #[arg(long)]
    label: Vec<String>,
    /// Set driver specific options
    #[arg(short = 'o', long = "opt")]
    opt: Vec<String>,
    /// Specify volume name
    #[arg(long = "name", hide = true)]
    name_flag: Option<String>,
    name: Option<String>,
}

#[derive(Args)]
struct VolumeLsArgs {
    /// Only display volume names
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Provide filter values (e.g. "dangling=true")
    #[arg(short = 'f', long = "filter")]
    filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long)]
    format: Option<String>,
}

#[derive(Args)]
struct VolumeInspectArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long)]
    format: Option<String>,
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(Args)]
struct VolumeRmArgs {
    /// Force the removal of one or more volumes
    #[arg(short = 'f', long)]
    force: bool,
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(Args)]
struct VolumePruneArgs {
    /// Remove all unused volumes, not just anonymous ones
    #[arg(short = 'a', long)]
    all: bool,
    #[command(flatten)]
    prune: PruneArgs,
}

#[derive(Subcommand)]
enum VolumeCmd {
    /// Create a volume
    Create(VolumeCreateArgs),
    /// Display detailed information on one or more volumes
    Inspect(VolumeInspectArgs),
    /// List volumes
    #[command(alias = "list")]
    Ls(VolumeLsArgs),
    /// Remove unused local volumes
    Prune(VolumePruneArgs),
    /// Remove one or more volumes
    #[command(alias = "remove")]
    Rm(VolumeRmArgs),
}

#[derive(Subcommand)]
enum Cmd {
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
    Cp(berth_cli::commands::cp::CpOpts),
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
    /// Manage builds
    #[command(subcommand)]
    Builder(BuilderCmd),
    /// Manage networks
    #[command(subcommand)]
    Network(network::NetworkCmd),
    /// List port mappings or a specific mapping for the container
    Port(network::PortArgs),
}

#[derive(Args)]
struct ContextCreate {
    #[command(flatten)]
    spec: ContextSpec,
    /// create context from a named context
    #[arg(long)]
    from: Option<String>,
}

#[derive(Args)]
struct ContextSpec {
    /// Description of the context
    #[arg(long)]
    description: Option<String>,
    /// set the docker endpoint
    #[arg(long)]
    docker: Option<String>,
    name: String,
}

#[derive(Subcommand)]
enum ContextCmd {
    /// Create a context
    Create(ContextCreate),
    /// List contexts
    #[command(alias = "list")]
    Ls {
        /// Format output using a custom template
        #[arg(long)]
        format: Option<String>,
        /// Only show context names
        #[arg(short = 'q', long)]
        quiet: bool,
    },
    /// Set the current docker context
    Use { name: String },
    /// Print the name of the current context
    Show,
    /// Display detailed information on one or more contexts
    Inspect {
        /// Format output using a custom template
        #[arg(short = 'f', long)]
        format: Option<String>,
        names: Vec<String>,
    },
    /// Remove one or more contexts
    #[command(alias = "remove")]
    Rm {
        /// Force the removal of a context in use
        #[arg(short = 'f', long)]
        force: bool,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Update a context
    Update(ContextSpec),
}

#[derive(Subcommand)]
enum ContainerCmd {
    #[command(disable_help_flag = true)]
    Run(RunArgs),
    #[command(disable_help_flag = true)]
    Create(opts::CreateOpts),
    Start(StartArgs),
    Stop(StopArgs),
    Kill(KillArgs),
    Restart(StopArgs),
    Rm(RmArgs),
    Rename {
        container: String,
        new_name: String,
    },
    Pause(Ids),
    Unpause(Ids),
    Diff {
        container: String,
    },
    Export(ExportArgs),
    Commit(CommitArgs),
    Update(resources::UpdateOpts),
    Stats(resources::StatsOpts),
    Cp(berth_cli::commands::cp::CpOpts),
    Top {
        container: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    #[command(alias = "ps", alias = "list")]
    Ls(PsArgs),
    Logs(LogsArgs),
    Attach(AttachArgs),
    Wait(Ids),
    Exec(ExecArgs),
    Inspect(InspectArgs),
    Prune(PruneArgs),
    Port(network::PortArgs),
}

#[derive(Subcommand)]
enum ImageCmd {
    #[command(alias = "list")]
    Ls(ImagesArgs),
    Inspect(InspectArgs),
    History(HistoryArgs),
    #[command(alias = "remove")]
    Rm(RmiArgs),
    Prune(ImagePruneArgs),
    Tag {
        source: String,
        target: String,
    },
    Import(ImportArgs),
    Build(BuildArgs),
    Save(SaveArgs),
    Load(LoadArgs),
    Pull(PullArgs),
    Push(PushArgs),
}

#[derive(Subcommand)]
enum BuilderCmd {
    /// Remove build cache
    Prune(BuilderPruneArgs),
}

#[derive(Args)]
struct BuilderPruneArgs {
    /// Remove all unused build cache, not just dangling ones
    #[arg(short = 'a', long)]
    all: bool,
    /// Amount of disk space to keep for cache
    #[arg(long = "keep-storage")]
    keep_storage: Option<String>,
    #[command(flatten)]
    prune: PruneArgs,
}

#[derive(Subcommand)]
enum SystemCmd {
    Info(FormatArg),
    Df(DfArgs),
    Events(EventsArgs),
    Prune(PruneArgs),
}

fn main() {
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
    if let Cmd::Context(c) = cmd {
        let env = context::process_env;
        let ctx = ctxcmd::Ctx::new(&gopts, &env);
        let res = match c {
            ContextCmd::Create(a) => ctxcmd::create(
                &ctx,
                &a.spec.name,
                a.spec.description,
                a.spec.docker,
                a.from,
            ),
            ContextCmd::Update(a) => ctxcmd::update(&ctx, &a.name, a.description, a.docker),
            ContextCmd::Ls { format, quiet } => ctxcmd::ls(&ctx, format, quiet),
            ContextCmd::Use { name } => ctxcmd::use_(&ctx, &name),
            ContextCmd::Show => ctxcmd::show(&ctx),
            ContextCmd::Inspect { format, names } => ctxcmd::inspect(&ctx, names, format),
            ContextCmd::Rm { force, names } => ctxcmd::rm(&ctx, names, force),
        };
        std::process::exit(match res {
            Ok(code) => code,
            Err(f) => {
                eprintln!("{}", f.message);
                f.code
            }
        });
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
        match dispatch(&client, cmd).await {
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

async fn dispatch(c: &Client, cmd: Cmd) -> Result<i32, Failure> {
    match cmd {
        Cmd::Run(a) | Cmd::Container(ContainerCmd::Run(a)) => {
            container::run(c, a.opts, a.detach, a.detach_keys).await
        }
        Cmd::Create(o) | Cmd::Container(ContainerCmd::Create(o)) => container::create(c, o).await,
        Cmd::Start(a) | Cmd::Container(ContainerCmd::Start(a)) => {
            container::start(c, a.ids, a.attach, a.interactive, a.detach_keys).await
        }
        Cmd::Stop(a) | Cmd::Container(ContainerCmd::Stop(a)) => {
            container::simple(
                c,
                a.ids,
                "stop",
                query(&[("t", a.time.map(|t| t.to_string())), ("signal", a.signal)]),
            )
            .await
        }
        Cmd::Restart(a) | Cmd::Container(ContainerCmd::Restart(a)) => {
            container::simple(
                c,
                a.ids,
                "restart",
                query(&[("t", a.time.map(|t| t.to_string())), ("signal", a.signal)]),
            )
            .await
        }
        Cmd::Kill(a) | Cmd::Container(ContainerCmd::Kill(a)) => {
            container::simple(c, a.ids, "kill", query(&[("signal", a.signal)])).await
        }
        Cmd::Top { container, ps_args }
        | Cmd::Container(ContainerCmd::Top { container, ps_args }) => {
            container::top(c, &container, &ps_args.join(" ")).await
        }
        Cmd::Diff { container } | Cmd::Container(ContainerCmd::Diff { container }) => {
            commit::diff(c, &container).await
        }
        Cmd::Export(a) | Cmd::Container(ContainerCmd::Export(a)) => {
            commit::export(c, &a.container, a.output).await
        }
        Cmd::Commit(a) | Cmd::Container(ContainerCmd::Commit(a)) => {
            commit::commit(
                c,
                &a.container,
                a.reference,
                a.author,
                a.message,
                a.change,
                a.pause,
            )
            .await
        }
        Cmd::Cp(o) | Cmd::Container(ContainerCmd::Cp(o)) => berth_cli::commands::cp::cp(c, o).await,
        Cmd::Update(o) | Cmd::Container(ContainerCmd::Update(o)) => resources::update(c, o).await,
        Cmd::Stats(o) | Cmd::Container(ContainerCmd::Stats(o)) => resources::stats(c, o).await,
        Cmd::Pause(a) | Cmd::Container(ContainerCmd::Pause(a)) => {
            container::simple(c, a.ids, "pause", String::new()).await
        }
        Cmd::Unpause(a) | Cmd::Container(ContainerCmd::Unpause(a)) => {
            container::simple(c, a.ids, "unpause", String::new()).await
        }
        Cmd::Rm(a) | Cmd::Container(ContainerCmd::Rm(a)) => {
            container::rm(c, a.ids, a.force, a.volumes).await
        }
        Cmd::Rename {
            container,
            new_name,
        }
        | Cmd::Container(ContainerCmd::Rename {
            container,
            new_name,
        }) => container::rename(c, &container, &new_name).await,
        Cmd::Ps(a) | Cmd::Container(ContainerCmd::Ls(a)) => {
            container::ps(
                c,
                container::PsOpts {
                    all: a.all,
                    quiet: a.quiet,
                    no_trunc: a.no_trunc,
                    size: a.size,
                    latest: a.latest,
                    last: a.last,
                    filters: a.filter,
                    format: a.format,
                },
            )
            .await
        }
        Cmd::Logs(a) | Cmd::Container(ContainerCmd::Logs(a)) => {
            container::logs(
                c,
                &a.container,
                container::LogsOpts {
                    follow: a.follow,
                    tail: a.tail,
                    since: a.since,
                    until: a.until,
                    timestamps: a.timestamps,
                    details: a.details,
                },
            )
            .await
        }
        Cmd::Attach(a) | Cmd::Container(ContainerCmd::Attach(a)) => {
            container::attach(c, &a.container, a.no_stdin, a.sig_proxy, a.detach_keys).await
        }
        Cmd::Wait(a) | Cmd::Container(ContainerCmd::Wait(a)) => container::wait(c, a.ids).await,
        Cmd::Exec(a) | Cmd::Container(ContainerCmd::Exec(a)) => {
            container::exec(
                c,
                container::ExecOpts {
                    container: a.container,
                    command: a.command,
                    interactive: a.interactive,
                    tty: a.tty,
                    detach: a.detach,
                    user: a.user,
                    workdir: a.workdir,
                    env: a.env,
                    privileged: a.privileged,
                    detach_keys: a.detach_keys,
                },
            )
            .await
        }
        Cmd::Inspect(a) => system::inspect(c, a.names, a.format, a.kind, a.size).await,
        Cmd::Container(ContainerCmd::Inspect(a)) => {
            system::inspect(c, a.names, a.format, Some("container".into()), a.size).await
        }
        Cmd::Image(ImageCmd::Inspect(a)) => {
            system::inspect(c, a.names, a.format, Some("image".into()), false).await
        }
        Cmd::Container(ContainerCmd::Prune(a)) => container::prune(c, a.force, a.filter).await,
        Cmd::Images(a) | Cmd::Image(ImageCmd::Ls(a)) => {
            image::images(
                c,
                image::ImagesOpts {
                    all: a.all,
                    quiet: a.quiet,
                    digests: a.digests,
                    no_trunc: a.no_trunc,
                    filters: a.filter,
                    format: a.format,
                    reference: a.reference,
                },
            )
            .await
        }
        Cmd::Rmi(a) | Cmd::Image(ImageCmd::Rm(a)) => {
            image::rmi(c, a.names, a.force, a.no_prune).await
        }
        Cmd::Tag { source, target } | Cmd::Image(ImageCmd::Tag { source, target }) => {
            image::tag(c, &source, &target).await
        }
        Cmd::Build(a) | Cmd::Image(ImageCmd::Build(a)) => {
            build::build(
                c,
                build::BuildOpts {
                    path: a.path,
                    tags: a.tag,
                    file: a.file,
                    build_args: a.build_arg,
                    target: a.target,
                    no_cache: a.no_cache,
                    quiet: a.quiet,
                    iidfile: a.iidfile,
                    labels: a.label,
                    network: a.network,
                    pull: a.pull,
                },
            )
            .await
        }
        Cmd::Import(a) | Cmd::Image(ImageCmd::Import(a)) => {
            image::import(c, &a.file, a.reference, a.message, a.change).await
        }
        Cmd::Save(a) | Cmd::Image(ImageCmd::Save(a)) => image::save(c, a.images, a.output).await,
        Cmd::Load(a) | Cmd::Image(ImageCmd::Load(a)) => image::load(c, a.input, a.quiet).await,
        Cmd::Pull(a) | Cmd::Image(ImageCmd::Pull(a)) => {
            let _ = a.disable_content_trust;
            distribution::pull(c, &a.name, a.all_tags, a.quiet, a.platform).await
        }
        Cmd::Push(a) | Cmd::Image(ImageCmd::Push(a)) => {
            distribution::push(c, &a.name, a.all_tags, a.quiet).await
        }
        Cmd::Login(a) => {
            distribution::login(c, a.server, a.username, a.password, a.password_stdin).await
        }
        Cmd::Logout { server } => distribution::logout(server).await,
        Cmd::Search(a) => {
            distribution::search(c, &a.term, a.limit, &a.filter, a.format, a.no_trunc).await
        }
        Cmd::History(a) | Cmd::Image(ImageCmd::History(a)) => {
            image::history(c, &a.image, a.no_trunc, a.quiet, a.human, a.format).await
        }
        Cmd::Builder(BuilderCmd::Prune(a)) => {
            build::prune(c, a.all, a.prune.force, a.prune.filter, a.keep_storage).await
        }
        Cmd::Image(ImageCmd::Prune(a)) => {
            image::prune(c, a.all, a.prune.force, a.prune.filter).await
        }
        Cmd::Info(a) | Cmd::System(SystemCmd::Info(a)) => system::info(c, a.format).await,
        Cmd::System(SystemCmd::Df(a)) => system::df(c, a.verbose, a.format).await,
        Cmd::Events(a) | Cmd::System(SystemCmd::Events(a)) => {
            system::events(c, a.since, a.until, a.filter, a.format).await
        }
        Cmd::System(SystemCmd::Prune(a)) => {
            if !a.force && !berth_cli::confirm("WARNING! This will remove:\n  - all stopped containers\n  - all dangling images") {
                return Ok(0);
            }
            container::prune(c, true, a.filter.clone()).await?;
            image::prune(c, false, true, a.filter).await
        }
        Cmd::Version(a) => system::version(c, a.format).await,
        // Handled before a client is made.
        Cmd::Context(_) => Ok(0),
        Cmd::Volume(v) => match v {
            VolumeCmd::Create(a) => {
                if a.name.is_some() && a.name_flag.is_some() {
                    return Err(Failure::usage(
                        "conflicting options: cannot specify a volume-name through both --name and as a positional arg",
                    ));
                }
                volume::create(c, a.name.or(a.name_flag), a.driver, a.label, a.opt).await
            }
            VolumeCmd::Ls(a) => volume::ls(c, a.quiet, a.filter, a.format).await,
            VolumeCmd::Inspect(a) => volume::inspect(c, a.names, a.format).await,
            VolumeCmd::Rm(a) => volume::rm(c, a.names, a.force).await,
            VolumeCmd::Prune(a) => volume::prune(c, a.all, a.prune.force, a.prune.filter).await,
        },
        Cmd::Network(n) => network::dispatch(c, n).await,
        Cmd::Port(a) | Cmd::Container(ContainerCmd::Port(a)) => network::port(c, a).await,
    }
}

fn query(pairs: &[(&str, Option<String>)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| {
            v.as_ref()
                .map(|v| format!("{k}={}", berth_cli::client::q(v)))
        })
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}
