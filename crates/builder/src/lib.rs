//! The Dockerfile language, hand-written after BuildKit's grammar
//! (`frontend/dockerfile/parser` and `instructions`): the crates on
//! crates.io lose input (heredocs, directives, flags; see CRATES.md).
//!
//! - [`parse`] turns a Dockerfile into stages of typed instructions, with
//!   parser directives, line continuations, comments, heredocs and errors
//!   that name the line.
//! - [`shell::Lex`] does the word processing BuildKit applies at dispatch:
//!   quotes, escapes and `$VAR` / `${VAR:-x}` / `${VAR:+x}` substitution.

pub mod dockerfile;
pub mod dockerignore;
pub mod driver;
pub mod shell;

#[cfg(test)]
mod props;

pub use dockerfile::{
    parse, ArgDecl, Cmd, Command, Dockerfile, Healthcheck, Heredoc, Instruction, ParseError, Stage,
};
