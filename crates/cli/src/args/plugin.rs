//! `plugin` subcommands' flags (docker 28's).

use clap::{Args, Subcommand};

#[derive(Args)]
pub struct PluginCreateArgs {
    /// Compress the context using gzip
    #[arg(long)]
    pub compress: bool,
    /// The plugin's name
    pub plugin: String,
    /// A directory with config.json and rootfs
    pub dir: String,
}

#[derive(Args)]
pub struct PluginLsArgs {
    /// Provide filter values (e.g. "enabled=true")
    #[arg(short = 'f', long = "filter")]
    pub filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long)]
    pub format: Option<String>,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only display plugin IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Args)]
pub struct PluginInspectArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Args)]
pub struct PluginEnableArgs {
    /// HTTP client timeout (in seconds)
    #[arg(long, default_value_t = 30)]
    pub timeout: i64,
    pub plugin: String,
}

#[derive(Args)]
pub struct PluginDisableArgs {
    /// Force the disable of an active plugin
    #[arg(short = 'f', long)]
    pub force: bool,
    pub plugin: String,
}

#[derive(Args)]
pub struct PluginSetArgs {
    pub plugin: String,
    #[arg(required = true)]
    pub settings: Vec<String>,
}

#[derive(Args)]
pub struct PluginRmArgs {
    /// Force the removal of an active plugin
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Subcommand)]
pub enum PluginCmd {
    /// Create a plugin from a rootfs and configuration. Plugin data directory must contain config.json and rootfs directory.
    Create(PluginCreateArgs),
    /// Disable a plugin
    Disable(PluginDisableArgs),
    /// Enable a plugin
    Enable(PluginEnableArgs),
    /// Display detailed information on one or more plugins
    Inspect(PluginInspectArgs),
    /// List plugins
    #[command(alias = "list")]
    Ls(PluginLsArgs),
    /// Remove one or more plugins
    #[command(aliases = ["remove"])]
    Rm(PluginRmArgs),
    /// Change settings for a plugin
    Set(PluginSetArgs),
}
