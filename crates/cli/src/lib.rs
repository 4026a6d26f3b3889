//! berth's CLI: docker's command grammar over the Engine API. It talks only
//! to the API (never to the state on disk). The `client` module is reused by
//! tests.

#![recursion_limit = "256"]

pub mod args;
pub mod commands;
pub mod dispatch;
pub mod format;
pub mod usage;

#[cfg(test)]
mod props;

// The client side of the API lives in berth-client; the CLI's commands
// name its modules as their own.
pub use berth_client::{client, config, context, credentials, tls};

use std::io::{BufRead, Write};

/// A command's failure: what to print on stderr and the exit code.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub code: i32,
}

impl Failure {
    pub fn msg(m: impl Into<String>) -> Failure {
        Failure {
            message: m.into(),
            code: 1,
        }
    }
    /// Wrong usage of a flag's value: docker's exit code 125.
    pub fn usage(m: impl Into<String>) -> Failure {
        Failure {
            message: m.into(),
            code: 125,
        }
    }
}

impl From<client::ClientError> for Failure {
    fn from(e: client::ClientError) -> Failure {
        Failure::msg(e.to_string())
    }
}

/// docker's y/N prompt.
pub fn confirm(warning: &str) -> bool {
    print!("{warning}\nAre you sure you want to continue? [y/N] ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

pub fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}
