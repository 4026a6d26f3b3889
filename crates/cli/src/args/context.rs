//! `context` subcommands' flags.

use clap::{Args, Subcommand};

#[derive(Args)]
pub struct ContextCreate {
    #[command(flatten)]
    pub spec: ContextSpec,
    /// create context from a named context
    #[arg(long)]
    pub from: Option<String>,
}

#[derive(Args)]
pub struct ContextSpec {
    /// Description of the context
    #[arg(long)]
    pub description: Option<String>,
    /// set the docker endpoint
    #[arg(long)]
    pub docker: Option<String>,
    pub name: String,
}

#[derive(Subcommand)]
pub enum ContextCmd {
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
