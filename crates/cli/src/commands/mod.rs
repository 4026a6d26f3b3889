//! One module per command group; `opts` and `stream` hold what `run`,
//! `create`, `start`, `attach` and `exec` share.

pub mod build;
pub mod commit;
pub mod container;
pub mod context;
pub mod cp;
pub mod distribution;
pub mod image;
pub mod mount;
pub mod network;
pub mod opts;
pub mod resources;
pub mod stream;
pub mod system;
pub mod volume;
