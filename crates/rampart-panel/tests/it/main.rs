//! Integration tests of the panel: real HTTP against a real panel on port 0,
//! real SQLite and PostgreSQL stores.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::disallowed_methods)]

mod api;
mod assets;
mod audit;
mod coverage;
mod csrf;
mod errors_and_headers;
mod limits;
mod login;
mod plans;
mod servers_store;
mod servers_ui;
mod sessions;
mod sessions_ui;
mod setup;
mod store;
mod timing;
mod two_factor;
mod users_admin;
