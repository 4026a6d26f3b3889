//! One module per command group.

pub mod container;
pub mod image;
pub mod system;
