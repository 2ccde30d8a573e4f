//! One module per top-level command.

pub mod admin;
pub mod audit;
pub mod serve;
