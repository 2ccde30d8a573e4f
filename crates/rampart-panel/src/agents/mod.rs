//! Agents: node enrollment and the hub of live agent links (SPEC R40–R44).
//!
//! Each connected agent has one entry in the [`AgentHub`], holding the
//! channel its link task writes to. A node is online while its agent is
//! connected and has sent a heartbeat within [`OFFLINE_AFTER_SECS`].

mod hub;
pub mod link;
mod nodes;
pub mod tls;
mod transfers;

pub use hub::{AgentHub, RequestError};
pub use nodes::{EnrollError, NewNodeToken, NodeError};
pub use transfers::{Transfers, Waiting};

/// Seconds between heartbeats the panel asks for.
pub const HEARTBEAT_SECS: u32 = 5;
/// A node is offline after three missed heartbeats.
pub const OFFLINE_AFTER_SECS: i64 = 3 * HEARTBEAT_SECS as i64;
