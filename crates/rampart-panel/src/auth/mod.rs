//! Authentication and account services: password hashing, login limits,
//! sessions, second factor, first-admin setup, user and role administration.
//!
//! Every function here is a service method on [`crate::Services`]; the web
//! layer only extracts input, calls one of these and maps the result.

mod accounts;
pub mod api_clients;
pub mod api_rate;
pub mod limiter;
mod login;
mod password_hasher;
mod second_factor;
mod sessions;
mod setup;
pub mod ssh_keys;

pub use accounts::{AdminError, PasswordChangeError};
pub use api_clients::{
    BearerAuth, ClientError, ClientSecret, IssuedToken, TokenCache, TokenError, UsageLog,
};
pub use api_rate::{ApiRateLimiter, RateState};
pub use limiter::{InMemoryLimiter, KeyedLimiter, Limit};
pub use login::LoginOutcome;
pub use password_hasher::PasswordHasher;
pub use second_factor::TotpEnrollment;
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
