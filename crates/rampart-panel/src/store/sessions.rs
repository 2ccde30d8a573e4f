//! Server-side sessions (SPEC R11). Rows are keyed by the SHA-256 of the
//! session id; the id itself exists only in the holder's cookie. Each row
//! also has a random public id, used to list and revoke it.

use rampart_core::{TokenHash, UnixTime, UserId};
use sqlx::Row;

use super::users::{UserRecord, user_from_row};
use super::{Store, StoreError};

/// How far a session got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStage {
    /// Signed in.
    Full,
    /// Password accepted; waiting for the second factor.
    SecondFactor,
}

impl SessionStage {
    fn as_str(self) -> &'static str {
        match self {
            SessionStage::Full => "full",
            SessionStage::SecondFactor => "second_factor",
        }
    }

    fn parse(s: &str) -> Result<SessionStage, StoreError> {
        match s {
            "full" => Ok(SessionStage::Full),
            "second_factor" => Ok(SessionStage::SecondFactor),
            _ => Err(StoreError::Corrupt("session stage")),
        }
    }
}

#[derive(Debug)]
pub struct NewSession<'a> {
    pub id_hash: &'a TokenHash,
    pub public_id: &'a str,
    pub stage: SessionStage,
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
    pub public_id: String,
    pub stage: SessionStage,
    pub created_at: UnixTime,
    pub last_seen_at: UnixTime,
    pub expires_at: UnixTime,
}

/// A session as listed to its owner.
#[derive(Debug, Clone)]
pub struct SessionSummary {
    pub public_id: String,
    pub created_at: UnixTime,
    pub last_seen_at: UnixTime,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Store {
    pub async fn create_session(&self, s: &NewSession<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (id_hash, public_id, stage, user_id, created_at, last_seen_at, expires_at, ip, user_agent) \
             VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8)",
        )
        .bind(s.id_hash.as_str())
        .bind(s.public_id)
        .bind(s.stage.as_str())
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
            "SELECT s.created_at AS s_created_at, s.last_seen_at, s.expires_at, s.public_id, s.stage, \
                    u.id, u.username, u.password_hash, u.role, u.created_at, u.active, \
                    u.totp_secret, u.totp_pending, u.totp_last_step \
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1",
        )
        .bind(id_hash.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let stage: String = row.try_get("stage")?;
        Ok(Some(SessionRecord {
            user: user_from_row(&row)?,
            public_id: row.try_get("public_id")?,
            stage: SessionStage::parse(&stage)?,
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
        let _changed = self.auth_change();
        let n = sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash.as_str())
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    /// A user's signed-in sessions, newest first.
    pub async fn list_user_sessions(
        &self,
        user: UserId,
    ) -> Result<Vec<SessionSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT public_id, created_at, last_seen_at, ip, user_agent FROM sessions \
             WHERE user_id = $1 AND stage = 'full' ORDER BY created_at DESC, public_id",
        )
        .bind(user.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SessionSummary {
                    public_id: r.try_get("public_id")?,
                    created_at: UnixTime(r.try_get("created_at")?),
                    last_seen_at: UnixTime(r.try_get("last_seen_at")?),
                    ip: r.try_get("ip")?,
                    user_agent: r.try_get("user_agent")?,
                })
            })
            .collect()
    }

    /// Deletes `user`'s session with `public_id`; false if no such session
    /// of this user (another user's id is as unknown as a made-up one).
    pub async fn delete_user_session(
        &self,
        user: UserId,
        public_id: &str,
    ) -> Result<bool, StoreError> {
        let _changed = self.auth_change();
        let n = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND public_id = $2")
            .bind(user.0)
            .bind(public_id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Deletes every session of `user` but the one with `keep`.
    pub async fn delete_other_sessions(
        &self,
        user: UserId,
        keep: &TokenHash,
    ) -> Result<u64, StoreError> {
        let _changed = self.auth_change();
        Ok(
            sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2")
                .bind(user.0)
                .bind(keep.as_str())
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    pub async fn delete_user_sessions(&self, user: UserId) -> Result<u64, StoreError> {
        let _changed = self.auth_change();
        Ok(sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user.0)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    /// Ends every session of every user (break-glass).
    pub async fn delete_all_sessions(&self) -> Result<u64, StoreError> {
        let _changed = self.auth_change();
        Ok(sqlx::query("DELETE FROM sessions")
            .execute(&self.pool)
            .await?
            .rows_affected())
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
