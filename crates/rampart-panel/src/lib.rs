//! Rampart's panel: the control plane that owns all state and every decision.
//!
//! - [`store`] — the only module that runs SQL (SQLite or PostgreSQL).
//! - [`auth`] — passwords, sessions, first-admin setup, as service methods on
//!   [`Services`].
//! - [`web`] — axum routes (UI pages, health) and middleware (security headers,
//!   request ids, error pages, CSRF origin check).
#![forbid(unsafe_code)]

pub mod agents;
pub mod audit;
pub mod auth;
pub mod metrics;
pub mod servers;
mod services;
pub mod settings;
pub mod store;
pub mod web;

pub use services::Services;
pub use settings::PanelSettings;
