//! The only module that talks to the Docker Engine (ARCHITECTURE invariant 2).
//!
//! - [`docker_status`]: whether the engine answers and its version.
//! - [`isolation`]: the one policy function that builds every container's
//!   `HostConfig` — no path creates or updates a container without it.
//! - [`containers`]: create, start, wait, read output, remove, through
//!   bollard with the API version negotiated with the engine.

pub mod containers;
mod docker_status;
pub mod isolation;

pub use docker_status::docker_status;
