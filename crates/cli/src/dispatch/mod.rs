//! From what the command line parsed to the command that runs it. docker
//! names most commands twice (`berth ps` and `berth container ls`):
//! [`Group::of`] folds the short names into their group first, so each
//! group's file matches its own subcommands once. A new group (`compose`)
//! is one `Group` variant, one arm in [`run`] and one file here.

use crate::args::{
    BuilderCmd, Cmd, ContainerCmd, ContextCmd, FormatArg, ImageCmd, InspectArgs, LoginArgs,
    NodeCmd, PluginCmd, SearchArgs, SwarmCmd, SystemCmd, VolumeCmd,
};
use crate::client::Client;
use crate::commands::{build, distribution, network, plugin, system};
use crate::Failure;

mod container;
pub mod context;
mod image;
mod swarm;
mod volume;

/// A command by the group that runs it, the top-level short names folded in.
// One value per process, moved once: boxing the large variant buys nothing.
#[allow(clippy::large_enum_variant)]
pub enum Group {
    Container(ContainerCmd),
    Image(ImageCmd),
    Builder(BuilderCmd),
    System(SystemCmd),
    Volume(VolumeCmd),
    Plugin(PluginCmd),
    Network(network::NetworkCmd),
    Swarm(SwarmCmd),
    Node(NodeCmd),
    Context(ContextCmd),
    /// `inspect` of any kind of object.
    Inspect(InspectArgs),
    Version(FormatArg),
    Login(LoginArgs),
    Logout(Option<String>),
    Search(SearchArgs),
    /// `compose ...`: berth compose, run by `main` with the global options
    /// (it resolves its own client).
    Compose(Vec<String>),
}

impl Group {
    pub fn of(cmd: Cmd) -> Group {
        use ContainerCmd as C;
        use ImageCmd as I;
        match cmd {
            Cmd::Run(a) => Group::Container(C::Run(a)),
            Cmd::Create(a) => Group::Container(C::Create(a)),
            Cmd::Start(a) => Group::Container(C::Start(a)),
            Cmd::Stop(a) => Group::Container(C::Stop(a)),
            Cmd::Kill(a) => Group::Container(C::Kill(a)),
            Cmd::Restart(a) => Group::Container(C::Restart(a)),
            Cmd::Rm(a) => Group::Container(C::Rm(a)),
            Cmd::Rename {
                container,
                new_name,
            } => Group::Container(C::Rename {
                container,
                new_name,
            }),
            Cmd::Pause(a) => Group::Container(C::Pause(a)),
            Cmd::Unpause(a) => Group::Container(C::Unpause(a)),
            Cmd::Diff { container } => Group::Container(C::Diff { container }),
            Cmd::Export(a) => Group::Container(C::Export(a)),
            Cmd::Commit(a) => Group::Container(C::Commit(a)),
            Cmd::Update(a) => Group::Container(C::Update(a)),
            Cmd::Cp(a) => Group::Container(C::Cp(a)),
            Cmd::Stats(a) => Group::Container(C::Stats(a)),
            Cmd::Top { container, ps_args } => Group::Container(C::Top { container, ps_args }),
            Cmd::Ps(a) => Group::Container(C::Ls(a)),
            Cmd::Logs(a) => Group::Container(C::Logs(a)),
            Cmd::Attach(a) => Group::Container(C::Attach(a)),
            Cmd::Wait(a) => Group::Container(C::Wait(a)),
            Cmd::Exec(a) => Group::Container(C::Exec(a)),
            Cmd::Port(a) => Group::Container(C::Port(a)),
            Cmd::Images(a) => Group::Image(I::Ls(a)),
            Cmd::Rmi(a) => Group::Image(I::Rm(a)),
            Cmd::Tag { source, target } => Group::Image(I::Tag { source, target }),
            Cmd::Import(a) => Group::Image(I::Import(a)),
            Cmd::Build(a) => Group::Image(I::Build(a)),
            Cmd::Save(a) => Group::Image(I::Save(a)),
            Cmd::Load(a) => Group::Image(I::Load(a)),
            Cmd::Pull(a) => Group::Image(I::Pull(a)),
            Cmd::Push(a) => Group::Image(I::Push(a)),
            Cmd::History(a) => Group::Image(I::History(a)),
            Cmd::Info(a) => Group::System(SystemCmd::Info(a)),
            Cmd::Events(a) => Group::System(SystemCmd::Events(a)),
            Cmd::Container(c) => Group::Container(c),
            Cmd::Image(c) => Group::Image(c),
            Cmd::Builder(c) => Group::Builder(c),
            Cmd::System(c) => Group::System(c),
            Cmd::Volume(c) => Group::Volume(c),
            Cmd::Plugin(c) => Group::Plugin(c),
            Cmd::Network(c) => Group::Network(c),
            Cmd::Swarm(c) => Group::Swarm(c),
            Cmd::Node(c) => Group::Node(c),
            Cmd::Context(c) => Group::Context(c),
            Cmd::Inspect(a) => Group::Inspect(a),
            Cmd::Version(a) => Group::Version(a),
            Cmd::Login(a) => Group::Login(a),
            Cmd::Logout { server } => Group::Logout(server),
            Cmd::Search(a) => Group::Search(a),
            Cmd::Compose { args } => Group::Compose(args),
        }
    }
}

/// Runs a command that talks to the daemon. `context` commands never reach
/// here: they run before a client is made ([`context::run`]).
pub async fn run(c: &Client, group: Group) -> Result<i32, Failure> {
    match group {
        Group::Container(x) => container::run(c, x).await,
        Group::Image(x) => image::run(c, x).await,
        Group::Builder(BuilderCmd::Prune(a)) => {
            build::prune(c, a.all, a.prune.force, a.prune.filter, a.keep_storage).await
        }
        Group::System(x) => system_cmd(c, x).await,
        Group::Volume(x) => volume::run(c, x).await,
        Group::Plugin(x) => plugin::run(c, x).await,
        Group::Network(x) => network::dispatch(c, x).await,
        Group::Swarm(x) => swarm::run_swarm(c, x).await,
        Group::Node(x) => swarm::run_node(c, x).await,
        Group::Context(_) | Group::Compose(_) => Ok(0),
        Group::Inspect(a) => system::inspect(c, a.names, a.format, a.kind, a.size).await,
        Group::Version(a) => system::version(c, a.format).await,
        Group::Login(a) => {
            distribution::login(c, a.server, a.username, a.password, a.password_stdin).await
        }
        Group::Logout(server) => distribution::logout(server).await,
        Group::Search(a) => {
            distribution::search(c, &a.term, a.limit, &a.filter, a.format, a.no_trunc).await
        }
    }
}

async fn system_cmd(c: &Client, cmd: SystemCmd) -> Result<i32, Failure> {
    use crate::commands::{container, image};
    match cmd {
        SystemCmd::Info(a) => system::info(c, a.format).await,
        SystemCmd::Df(a) => system::df(c, a.verbose, a.format).await,
        SystemCmd::Events(a) => system::events(c, a.since, a.until, a.filter, a.format).await,
        SystemCmd::Prune(a) => {
            if !a.force
                && !crate::confirm(
                    "WARNING! This will remove:\n  - all stopped containers\n  - all dangling images",
                )
            {
                return Ok(0);
            }
            container::prune(c, true, a.filter.clone()).await?;
            image::prune(c, false, true, a.filter).await
        }
    }
}
