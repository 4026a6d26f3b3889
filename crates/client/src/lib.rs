//! berth's Docker Engine API client, shared by the `berth` CLI, the e2e
//! suite and (next) compose: where the daemon is (`-H`, `DOCKER_HOST`,
//! docker contexts in `~/.docker`), how to reach it (unix socket, tcp,
//! mutual TLS), which API version to speak (negotiated from `/_ping`), and
//! requests with plain, streamed and hijacked (attach, exec) responses.
//! `config.json` and registry credentials live here too, since every
//! client of a daemon reads them the way the docker CLI does.

mod calls;
pub mod client;
pub mod config;
pub mod context;
pub mod credentials;
pub mod tls;

pub use calls::{CreateRequest, ExecOutput, JoinRequest, NetworkCreate, RotateFlags};
pub use client::{Client, ClientError, JsonLines, Transport};
