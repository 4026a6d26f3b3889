//! One module per command group; `opts` and `stream` hold what `run`,
//! `create`, `start`, `attach` and `exec` share.

pub mod container;
pub mod context;
pub mod distribution;
pub mod image;
pub mod mount;
pub mod opts;
pub mod stream;
pub mod system;
pub mod volume;
