//! Server-side sessions (SPEC R11). Rows are keyed by the SHA-256 of the
//! session id; the id itself exists only in the holder's cookie.

use rampart_core::{TokenHash, UnixTime, UserId};
use sqlx::Row;

use super::users::{UserRecord, user_from_row};
use super::{Store, StoreError};

#[derive(Debug)]
pub struct NewSession<'a> {
    pub id_hash: &'a TokenHash,
    pub user_id: UserId,
    pub now: UnixTime,
    pub expires_at: UnixTime,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

/// A session joined with its user.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub user: UserRecord,
    pub created_at: UnixTime,
    pub last_seen_at: UnixTime,
    pub expires_at: UnixTime,
}

impl Store {
    pub async fn create_session(&self, s: &NewSession<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, expires_at, ip, user_agent) \
             VALUES ($1, $2, $3, $3, $4, $5, $6)",
        )
        .bind(s.id_hash.as_str())
        .bind(s.user_id.0)
        .bind(s.now.0)
        .bind(s.expires_at.0)
        .bind(s.ip)
        .bind(s.user_agent)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn find_session(
        &self,
        id_hash: &TokenHash,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT s.created_at AS s_created_at, s.last_seen_at, s.expires_at, \
                    u.id, u.username, u.password_hash, u.role, u.created_at \
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1",
        )
        .bind(id_hash.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(SessionRecord {
            user: user_from_row(&row)?,
            created_at: UnixTime(row.try_get("s_created_at")?),
            last_seen_at: UnixTime(row.try_get("last_seen_at")?),
            expires_at: UnixTime(row.try_get("expires_at")?),
        }))
    }

    /// Records activity on a session (for the idle timeout).
    pub async fn touch_session(
        &self,
        id_hash: &TokenHash,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1")
            .bind(id_hash.as_str())
            .bind(now.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes one session; true if it existed.
    pub async fn delete_session(&self, id_hash: &TokenHash) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash.as_str())
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    /// Deletes expired sessions (absolute lifetime passed); returns how many.
    pub async fn purge_expired_sessions(&self, now: UnixTime) -> Result<u64, StoreError> {
        let n = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now.0)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n)
    }
}
