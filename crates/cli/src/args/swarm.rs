//! `swarm` and `node` subcommands' flags (docker 28's).

use clap::{Args, Subcommand};

/// The spec flags `swarm init` and `swarm update` share. Options, not
/// defaults: only the flags the user gave go into the spec, as the docker
/// CLI's `flags.Changed` decides.
#[derive(Args, Clone, Default)]
pub struct SwarmSpecArgs {
    /// Enable manager autolocking (requiring an unlock key to start a
    /// stopped manager)
    #[arg(long, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    /// A string: its value is read as Go's `ParseBool` reads it.
    pub autolock: Option<String>,
    /// Validity period for node certificates (ns|us|ms|s|m|h) (default 2160h0m0s)
    #[arg(long = "cert-expiry")]
    pub cert_expiry: Option<String>,
    /// Dispatcher heartbeat period (ns|us|ms|s|m|h) (default 5s)
    #[arg(long = "dispatcher-heartbeat")]
    pub dispatcher_heartbeat: Option<String>,
    /// Specifications of one or more certificate signing endpoints
    #[arg(long = "external-ca")]
    pub external_ca: Vec<String>,
    /// Task history retention limit (default 5)
    #[arg(long = "task-history-limit")]
    pub task_history_limit: Option<String>,
}

#[derive(Args)]
pub struct SwarmInitArgs {
    /// Advertised address (format: "<ip|interface>[:port]")
    #[arg(long = "advertise-addr", default_value = "")]
    pub advertise_addr: String,
    /// Availability of the node ("active", "pause", "drain")
    #[arg(long, default_value = "active")]
    pub availability: String,
    /// Address or interface to use for data path traffic (format: "<ip|interface>")
    #[arg(long = "data-path-addr", default_value = "")]
    pub data_path_addr: String,
    /// Port number to use for data path traffic (1024 - 49151). If no value
    /// is set or is set to 0, the default port (4789) is used.
    #[arg(long = "data-path-port")]
    pub data_path_port: Option<String>,
    /// default address pool in CIDR format
    #[arg(long = "default-addr-pool", value_delimiter = ',')]
    pub default_addr_pool: Vec<String>,
    /// default address pool subnet mask length (default 24)
    #[arg(long = "default-addr-pool-mask-length")]
    pub default_addr_pool_mask_length: Option<String>,
    /// Force create a new cluster from current state
    #[arg(long = "force-new-cluster")]
    pub force_new_cluster: bool,
    /// Listen address (format: "<ip|interface>[:port]") (default 0.0.0.0:2377)
    #[arg(long = "listen-addr")]
    pub listen_addr: Option<String>,
    #[command(flatten)]
    pub spec: SwarmSpecArgs,
}

#[derive(Args)]
pub struct SwarmJoinArgs {
    /// Advertised address (format: "<ip|interface>[:port]")
    #[arg(long = "advertise-addr", default_value = "")]
    pub advertise_addr: String,
    /// Availability of the node ("active", "pause", "drain")
    #[arg(long, default_value = "active")]
    pub availability: String,
    /// Address or interface to use for data path traffic (format: "<ip|interface>")
    #[arg(long = "data-path-addr", default_value = "")]
    pub data_path_addr: String,
    /// Listen address (format: "<ip|interface>[:port]") (default 0.0.0.0:2377)
    #[arg(long = "listen-addr")]
    pub listen_addr: Option<String>,
    /// Token for entry into the swarm
    #[arg(long, default_value = "")]
    pub token: String,
    #[arg(value_name = "HOST:PORT")]
    pub remote: Vec<String>,
}

#[derive(Args)]
pub struct SwarmJoinTokenArgs {
    /// Only display token
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Rotate join token
    #[arg(long)]
    pub rotate: bool,
    #[arg(value_name = "worker|manager")]
    pub role: Vec<String>,
}

#[derive(Args)]
pub struct SwarmUnlockKeyArgs {
    /// Only display token
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Rotate unlock key
    #[arg(long)]
    pub rotate: bool,
    #[arg(hide = true)]
    pub extra: Vec<String>,
}

#[derive(Args)]
pub struct SwarmCaArgs {
    /// Path to the PEM-formatted root CA certificate to use for the new cluster
    #[arg(long = "ca-cert")]
    pub ca_cert: Option<String>,
    /// Path to the PEM-formatted root CA key to use for the new cluster
    #[arg(long = "ca-key")]
    pub ca_key: Option<String>,
    /// Validity period for node certificates (ns|us|ms|s|m|h) (default 2160h0m0s)
    #[arg(long = "cert-expiry")]
    pub cert_expiry: Option<String>,
    /// Exit immediately instead of waiting for the root rotation to converge
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Specifications of one or more certificate signing endpoints
    #[arg(long = "external-ca")]
    pub external_ca: Vec<String>,
    /// Suppress progress output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Rotate the swarm CA - if no certificate or key are provided, new ones
    /// will be generated
    #[arg(long)]
    pub rotate: bool,
    #[arg(hide = true)]
    pub extra: Vec<String>,
}

#[derive(Subcommand)]
pub enum SwarmCmd {
    /// Display and rotate the root CA
    Ca(SwarmCaArgs),
    /// Initialize a swarm
    Init(SwarmInitArgs),
    /// Join a swarm as a node and/or manager
    Join(SwarmJoinArgs),
    /// Manage join tokens
    #[command(name = "join-token")]
    JoinToken(SwarmJoinTokenArgs),
    /// Leave the swarm
    Leave {
        /// Force this node to leave the swarm, ignoring warnings
        #[arg(short = 'f', long)]
        force: bool,
        #[arg(hide = true)]
        extra: Vec<String>,
    },
    /// Unlock swarm
    Unlock {
        #[arg(hide = true)]
        extra: Vec<String>,
    },
    /// Manage the unlock key
    #[command(name = "unlock-key")]
    UnlockKey(SwarmUnlockKeyArgs),
    /// Update the swarm
    Update {
        #[command(flatten)]
        spec: SwarmSpecArgs,
        #[arg(hide = true)]
        extra: Vec<String>,
    },
}

#[derive(Args)]
pub struct NodeLsArgs {
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter")]
    pub filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long)]
    pub format: Option<String>,
    /// Only display IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Args)]
pub struct NodeInspectArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    /// Print the information in a human friendly format
    #[arg(long)]
    pub pretty: bool,
    #[arg(value_name = "self|NODE")]
    pub nodes: Vec<String>,
}

#[derive(Args)]
pub struct NodeUpdateArgs {
    /// Availability of the node ("active", "pause", "drain")
    #[arg(long)]
    pub availability: Option<String>,
    /// Add or update a node label ("key=value")
    #[arg(long = "label-add")]
    pub label_add: Vec<String>,
    /// Remove a node label if exists
    #[arg(long = "label-rm")]
    pub label_rm: Vec<String>,
    /// Role of the node ("worker", "manager")
    #[arg(long)]
    pub role: Option<String>,
    #[arg(value_name = "NODE")]
    pub nodes: Vec<String>,
}

#[derive(Args)]
pub struct NodePsArgs {
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter")]
    pub filter: Vec<String>,
    /// Pretty-print tasks using a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Do not map IDs to Names
    #[arg(long = "no-resolve")]
    pub no_resolve: bool,
    /// Do not truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Only display task IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    #[arg(value_name = "NODE")]
    pub nodes: Vec<String>,
}

#[derive(Subcommand)]
pub enum NodeCmd {
    /// Demote one or more nodes from manager in the swarm
    Demote { nodes: Vec<String> },
    /// Display detailed information on one or more nodes
    Inspect(NodeInspectArgs),
    /// List nodes in the swarm
    #[command(alias = "list")]
    Ls(NodeLsArgs),
    /// Promote one or more nodes to manager in the swarm
    Promote { nodes: Vec<String> },
    /// List tasks running on one or more nodes, defaults to current node
    Ps(NodePsArgs),
    /// Remove one or more nodes from the swarm
    #[command(alias = "remove")]
    Rm {
        /// Force remove a node from the swarm
        #[arg(short = 'f', long)]
        force: bool,
        nodes: Vec<String>,
    },
    /// Update a node
    Update(NodeUpdateArgs),
}
