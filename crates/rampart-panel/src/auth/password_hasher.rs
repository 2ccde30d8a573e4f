//! argon2id hashing off the async executor.
//!
//! OWASP parameters (m = 19456 KiB, t = 2, p = 1). Each hash runs on tokio's
//! blocking pool behind a semaphore, so a burst of logins queues instead of
//! starving the request executor or exhausting memory (19 MiB per hash). A
//! login for an unknown user verifies against a dummy hash made with the same
//! parameters, so both cost the same time.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rampart_core::{Password, Random};
use tokio::sync::Semaphore;

use super::AuthError;

/// Longest presented password that is worth hashing; longer ones cannot be
/// valid (the policy caps new passwords at 128 characters).
const MAX_PRESENTED_BYTES: usize = 1024;

#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    dummy_hash: Arc<str>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("available_permits", &self.permits.available_permits())
            .finish()
    }
}

fn argon2() -> Result<Argon2<'static>, AuthError> {
    let params = Params::new(19_456, 2, 1, None).map_err(|e| AuthError::Hash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn hash_blocking(password: &[u8], salt: [u8; 16]) -> Result<String, AuthError> {
    let salt = SaltString::encode_b64(&salt).map_err(|e| AuthError::Hash(e.to_string()))?;
    let hash = argon2()?
        .hash_password(password, &salt)
        .map_err(|e| AuthError::Hash(e.to_string()))?;
    Ok(hash.to_string())
}

fn verify_blocking(stored: &str, presented: &[u8]) -> Result<bool, AuthError> {
    let parsed = PasswordHash::new(stored).map_err(|e| AuthError::Hash(e.to_string()))?;
    Ok(argon2()?.verify_password(presented, &parsed).is_ok())
}

impl PasswordHasher {
    /// `concurrency` bounds how many hashes run at once (at least 1).
    pub fn new(concurrency: usize, rng: &dyn Random) -> Result<PasswordHasher, AuthError> {
        let mut salt = [0u8; 16];
        rng.fill(&mut salt);
        let mut filler = [0u8; 24];
        rng.fill(&mut filler);
        let dummy_hash = hash_blocking(&filler, salt)?;
        Ok(PasswordHasher {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy_hash: dummy_hash.into(),
        })
    }

    /// Hashes a new password with a fresh salt.
    pub async fn hash(&self, password: &Password, rng: &dyn Random) -> Result<String, AuthError> {
        let mut salt = [0u8; 16];
        rng.fill(&mut salt);
        let bytes = password.expose().as_bytes().to_vec();
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| AuthError::HashPoolClosed)?;
        tokio::task::spawn_blocking(move || hash_blocking(&bytes, salt)).await?
    }

    /// Checks `presented` against `stored`; with `None` (no such user) it
    /// does the same work against the dummy hash and answers false.
    pub async fn verify(&self, stored: Option<&str>, presented: &str) -> Result<bool, AuthError> {
        let known = stored.is_some();
        let target: Arc<str> = match stored {
            Some(s) => s.into(),
            None => self.dummy_hash.clone(),
        };
        let too_long = presented.len() > MAX_PRESENTED_BYTES;
        let bytes = if too_long {
            Vec::new()
        } else {
            presented.as_bytes().to_vec()
        };
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| AuthError::HashPoolClosed)?;
        let matched =
            tokio::task::spawn_blocking(move || verify_blocking(&target, &bytes)).await??;
        Ok(matched && known && !too_long)
    }
}
