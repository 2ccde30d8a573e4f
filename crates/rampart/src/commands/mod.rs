//! One module per top-level command.

pub mod admin;
pub mod agent;
pub mod agent_tls;
pub mod audit;
pub mod serve;
pub mod tls_server;
