//! Rampart's agent: one per node. It dials out to its panel over one
//! WebSocket (`link`), keeps it up with jittered exponential backoff,
//! heartbeats node facts (`stats`), and answers the panel's typed commands
//! for its own node only. Its credential lives in its data directory with
//! mode 0600 (`state`). Only `runtime` talks to Docker.
#![forbid(unsafe_code)]

pub mod fs;
pub mod link;
pub mod pull;
pub mod runtime;
pub mod servers;
pub mod sftp;
pub mod state;
pub mod stats;

pub use link::{AgentOptions, run};
pub use state::{AgentState, enroll};

pub const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Installs ring as the process's TLS crypto provider if none is yet (the
/// whole tree uses ring; HTTP clients need a provider even for http://).
pub fn ensure_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("cannot reach the panel: {0}")]
    Panel(String),
    #[error("the panel refused enrollment: {0}")]
    EnrollRefused(String),
    #[error("agent state: {0}")]
    State(String),
    #[error("invalid panel URL: {0}")]
    Url(String),
}
