//! The one-time token that lets the first admin be created (SPEC R1).

use rampart_core::{TokenHash, UnixTime, UserId};

use super::users::{NewUser, insert_user};
use super::{Store, StoreError};

impl Store {
    /// Makes `hash` the only valid setup token, until `expires_at`.
    pub async fn replace_setup_token(
        &self,
        hash: &TokenHash,
        expires_at: UnixTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM setup_tokens")
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO setup_tokens (token_hash, expires_at) VALUES ($1, $2)")
            .bind(hash.as_str())
            .bind(expires_at.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether `hash` names an unexpired setup token.
    pub async fn setup_token_valid(
        &self,
        hash: &TokenHash,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM setup_tokens WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(hash.as_str())
        .bind(now.0)
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    /// Consumes the setup token and creates the first admin, atomically.
    ///
    /// Returns `None` (and changes nothing) when the token is unknown, expired
    /// or already used, or when an admin exists: of two concurrent calls with
    /// the same token, exactly one succeeds.
    pub async fn complete_setup(
        &self,
        hash: &TokenHash,
        now: UnixTime,
        admin: &NewUser<'_>,
    ) -> Result<Option<UserId>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let taken =
            sqlx::query("DELETE FROM setup_tokens WHERE token_hash = $1 AND expires_at > $2")
                .bind(hash.as_str())
                .bind(now.0)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if taken != 1 {
            tx.rollback().await?;
            return Ok(None);
        }
        let admins: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = $1")
            .bind(rampart_core::Role::Admin.as_str())
            .fetch_one(&mut *tx)
            .await?;
        if admins > 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        let id = insert_user(&mut tx, admin).await?;
        sqlx::query("DELETE FROM setup_tokens")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(id))
    }
}
