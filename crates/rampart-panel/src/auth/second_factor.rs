//! TOTP second factor (SPEC R13): enrolment with a confirming code and ten
//! recovery codes, verification without replay, and disabling.

use rampart_core::{RecoveryCode, TotpSecret, recovery_code};

use super::AuthError;
use crate::Services;
use crate::store::UserRecord;

/// What the security page shows while enrolling.
#[derive(Debug, Clone)]
pub struct TotpEnrollment {
    pub secret: TotpSecret,
    pub uri: String,
}

impl Services {
    /// The pending secret for `user` (made and stored on first call).
    pub async fn begin_totp(&self, user: &UserRecord) -> Result<TotpEnrollment, AuthError> {
        let secret = match &user.totp_pending {
            Some(s) => s.clone(),
            None => {
                let s = TotpSecret::generate(self.rng.as_ref());
                self.store.set_totp_pending(user.id, &s).await?;
                s
            }
        };
        let uri = secret.otpauth_uri("Rampart", user.username.as_str());
        Ok(TotpEnrollment { secret, uri })
    }

    /// Turns 2FA on if `code` is valid for the pending secret; returns the
    /// recovery codes to show once.
    pub async fn confirm_totp(
        &self,
        user: &UserRecord,
        code: &str,
    ) -> Result<Option<Vec<RecoveryCode>>, AuthError> {
        let Some(secret) = &user.totp_pending else {
            return Ok(None);
        };
        let Some(step) = secret.verify(code, self.clock.now()) else {
            return Ok(None);
        };
        let codes: Vec<RecoveryCode> = (0..recovery_code::COUNT)
            .map(|_| RecoveryCode::generate(self.rng.as_ref()))
            .collect();
        let hashes: Vec<String> = codes.iter().map(RecoveryCode::hash).collect();
        if self
            .store
            .enable_totp(user.id, secret, step, &hashes)
            .await?
        {
            Ok(Some(codes))
        } else {
            Ok(None)
        }
    }

    /// Checks a TOTP code (each time step usable once) or an unused
    /// recovery code (each usable once).
    pub async fn verify_second_factor(
        &self,
        user: &UserRecord,
        code: &str,
    ) -> Result<bool, AuthError> {
        let Some(secret) = &user.totp else {
            return Ok(false);
        };
        let trimmed = code.trim();
        if let Some(step) = secret.verify(trimmed, self.clock.now()) {
            return Ok(self.store.consume_totp_step(user.id, step).await?);
        }
        if let Some(recovery) = RecoveryCode::parse(trimmed) {
            return Ok(self
                .store
                .consume_recovery_code(user.id, &recovery.hash(), self.clock.now())
                .await?);
        }
        Ok(false)
    }

    /// Turns 2FA off: needs the password and a current code.
    pub async fn disable_totp(
        &self,
        user: &UserRecord,
        password: &str,
        code: &str,
    ) -> Result<bool, AuthError> {
        let password_ok = self
            .hasher
            .verify(Some(user.password_hash.as_str()), password)
            .await?;
        if !password_ok || !self.verify_second_factor(user, code).await? {
            return Ok(false);
        }
        Ok(self.store.disable_totp(user.id).await?)
    }
}
