//! Integration tests of the panel: real HTTP against a real panel on port 0,
//! real SQLite and PostgreSQL stores.
#![allow(clippy::disallowed_methods)]

mod assets;
mod csrf;
mod errors_and_headers;
mod login;
mod sessions;
mod setup;
mod store;
mod timing;
