//! Authentication: password hashing, sessions, first-admin setup.
//!
//! Every function here is a service method on [`crate::Services`]; the web
//! layer only extracts input, calls one of these and maps the result.

mod password_hasher;
mod sessions;
mod setup;

pub use password_hasher::PasswordHasher;
pub use sessions::{ActiveSession, ClientInfo};
pub use setup::{SetupLink, SetupOutcome};

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("store")]
    Store(#[from] StoreError),
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("password hashing pool closed")]
    HashPoolClosed,
}
