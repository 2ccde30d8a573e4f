//! Rampart's domain core: types every other crate shares.
//!
//! No IO, no async runtime. The only contact with the outside world is the
//! system clock and the OS random source, each behind a trait in one module
//! ([`clock`], [`random`]) so that everything else can be tested with injected
//! time and randomness.
#![forbid(unsafe_code)]

pub mod clock;
pub mod ids;
pub mod password;
pub mod random;
pub mod role;
pub mod secret_token;
pub mod username;

pub use clock::{Clock, ManualClock, SystemClock, UnixTime};
pub use ids::UserId;
pub use password::{Password, PasswordError};
pub use random::{OsRandom, Random};
pub use role::Role;
pub use secret_token::{SecretToken, TokenHash};
pub use username::{Username, UsernameError};
