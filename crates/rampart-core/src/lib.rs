//! Rampart's domain core: types every other crate shares.
//!
//! No IO, no async runtime. The only contact with the outside world is the
//! system clock and the OS random source, each behind a trait in one module
//! ([`clock`], [`random`]) so that everything else can be tested with injected
//! time and randomness.
#![forbid(unsafe_code)]

pub mod authz;
pub mod base32;
pub mod clock;
pub mod ids;
pub mod ipnet;
pub mod node;
pub mod password;
pub mod random;
pub mod recovery_code;
pub mod role;
pub mod scope;
pub mod secret_token;
pub mod server_id;
pub mod server_state;
pub mod template;
pub mod totp;
pub mod username;

pub use authz::{Decision, Granted, Principal, Resource, authorize, is_visible};
pub use clock::{Clock, ManualClock, SystemClock, UnixTime};
pub use ids::UserId;
pub use ipnet::IpNet;
pub use node::{NodeId, NodeName};
pub use password::{Password, PasswordError, PasswordPolicy};
pub use random::{OsRandom, Random};
pub use recovery_code::RecoveryCode;
pub use role::{Role, RoleName};
pub use scope::{Scope, ScopeSet};
pub use secret_token::{SecretToken, TokenHash};
pub use server_id::ServerId;
pub use server_state::{AdminChange, PowerAction, RuntimeEvent, ServerState};
pub use totp::TotpSecret;
pub use username::{Username, UsernameError};
