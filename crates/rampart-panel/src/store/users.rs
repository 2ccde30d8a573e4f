//! Users: accounts, their role, active flag and TOTP state.

use rampart_core::{RoleName, TotpSecret, UnixTime, UserId, Username};
use sqlx::Row;

use super::{Backend, Store, StoreError, unique_violation};

const USER_COLUMNS: &str = "u.id, u.username, u.password_hash, u.role, u.created_at, u.active, u.totp_secret, u.totp_pending, u.totp_last_step";

/// A user as stored.
#[derive(Clone)]
pub struct UserRecord {
    pub id: UserId,
    pub username: Username,
    pub password_hash: String,
    pub role: RoleName,
    pub created_at: UnixTime,
    pub active: bool,
    /// Confirmed TOTP secret: 2FA is on.
    pub totp: Option<TotpSecret>,
    /// Secret shown on the setup page, not yet confirmed.
    pub totp_pending: Option<TotpSecret>,
    pub totp_last_step: Option<i64>,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("role", &self.role)
            .field("active", &self.active)
            .field("totp", &self.totp.is_some())
            .finish_non_exhaustive()
    }
}

/// What it takes to create a user; the password is already hashed.
#[derive(Debug)]
pub struct NewUser<'a> {
    pub username: &'a Username,
    pub password_hash: &'a str,
    pub role: &'a RoleName,
    pub created_at: UnixTime,
}

pub(super) fn user_from_row(row: &sqlx::any::AnyRow) -> Result<UserRecord, StoreError> {
    let username: String = row.try_get("username")?;
    let role: String = row.try_get("role")?;
    let secret = |col: &str| -> Result<Option<TotpSecret>, StoreError> {
        let text: Option<String> = row.try_get(col)?;
        text.map(|t| TotpSecret::from_base32(&t).ok_or(StoreError::Corrupt("totp secret")))
            .transpose()
    };
    Ok(UserRecord {
        id: UserId(row.try_get("id")?),
        username: Username::parse(&username).map_err(|_| StoreError::Corrupt("username"))?,
        password_hash: row.try_get("password_hash")?,
        role: RoleName::parse(&role).map_err(|_| StoreError::Corrupt("role"))?,
        created_at: UnixTime(row.try_get("created_at")?),
        active: row.try_get::<i64, _>("active")? != 0,
        totp: secret("totp_secret")?,
        totp_pending: secret("totp_pending")?,
        totp_last_step: row.try_get("totp_last_step")?,
    })
}

/// Why a change to an admin account was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminGuard {
    Done,
    /// The change would leave no active admin.
    LastAdmin,
    NotFound,
}

impl Store {
    /// Creates a user; `UsernameTaken` if the name is in use. Creating an
    /// admin closes first-admin setup in the same transaction, so no setup
    /// token stays valid once an admin exists.
    pub async fn create_user(&self, new: &NewUser<'_>) -> Result<UserId, StoreError> {
        let mut tx = self.pool.begin().await?;
        let id = insert_user(&mut tx, new).await?;
        if new.role.as_str() == rampart_core::Role::Admin.as_str() {
            sqlx::query("DELETE FROM setup_tokens")
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    pub async fn find_user_by_username(
        &self,
        username: &Username,
    ) -> Result<Option<UserRecord>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.username = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(username.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    pub async fn get_user(&self, id: UserId) -> Result<Option<UserRecord>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Every user, by username.
    pub async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u ORDER BY u.username");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    /// Whether any admin account exists (then first-admin setup is closed).
    pub async fn admin_exists(&self) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = $1")
            .bind(rampart_core::Role::Admin.as_str())
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    pub async fn set_password_hash(&self, id: UserId, hash: &str) -> Result<bool, StoreError> {
        let _changed = self.auth_change();
        let n = sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
            .bind(id.0)
            .bind(hash)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Applies `change` to user `id` unless it would leave no active admin.
    /// Race-free: on PostgreSQL the users table is locked for the check, on
    /// SQLite the write transaction serialises it.
    async fn guarded_admin_change(
        &self,
        id: UserId,
        change: GuardedChange<'_>,
    ) -> Result<AdminGuard, StoreError> {
        let _changed = self.auth_change();
        let mut tx = self.pool.begin().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await?;
        } else {
            // Take SQLite's write lock before reading.
            sqlx::query("UPDATE users SET id = id WHERE id = $1")
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
        }
        let admin = rampart_core::Role::Admin.as_str();
        let row = sqlx::query("SELECT role, active FROM users WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Ok(AdminGuard::NotFound);
        };
        let role: String = row.try_get("role")?;
        let active = row.try_get::<i64, _>("active")? != 0;
        let stays_admin = match change {
            GuardedChange::Role(r) => r.as_str() == admin,
            GuardedChange::Active(a) => a,
            GuardedChange::Delete => false,
        };
        if role == admin && active && !stays_admin {
            let others: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM users WHERE role = $1 AND active = 1 AND id <> $2",
            )
            .bind(admin)
            .bind(id.0)
            .fetch_one(&mut *tx)
            .await?;
            if others == 0 {
                tx.rollback().await?;
                return Ok(AdminGuard::LastAdmin);
            }
        }
        match change {
            GuardedChange::Role(r) => {
                sqlx::query("UPDATE users SET role = $2 WHERE id = $1")
                    .bind(id.0)
                    .bind(r.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            GuardedChange::Active(a) => {
                sqlx::query("UPDATE users SET active = $2 WHERE id = $1")
                    .bind(id.0)
                    .bind(i64::from(a))
                    .execute(&mut *tx)
                    .await?;
                if !a {
                    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                        .bind(id.0)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(
                        "DELETE FROM api_tokens WHERE client_id IN (SELECT id FROM api_clients WHERE user_id = $1)",
                    )
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            GuardedChange::Delete => {
                sqlx::query("DELETE FROM users WHERE id = $1")
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(AdminGuard::Done)
    }

    pub async fn set_user_role(
        &self,
        id: UserId,
        role: &RoleName,
    ) -> Result<AdminGuard, StoreError> {
        self.guarded_admin_change(id, GuardedChange::Role(role))
            .await
    }

    /// Deactivating also ends every session and API token of the user, in the same transaction.
    pub async fn set_user_active(
        &self,
        id: UserId,
        active: bool,
    ) -> Result<AdminGuard, StoreError> {
        self.guarded_admin_change(id, GuardedChange::Active(active))
            .await
    }

    pub async fn delete_user(&self, id: UserId) -> Result<AdminGuard, StoreError> {
        self.guarded_admin_change(id, GuardedChange::Delete).await
    }

    /// Stores a TOTP secret awaiting confirmation.
    pub async fn set_totp_pending(
        &self,
        id: UserId,
        secret: &TotpSecret,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET totp_pending = $2 WHERE id = $1")
            .bind(id.0)
            .bind(secret.to_base32())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Turns 2FA on with the pending secret, records the step just used and
    /// replaces the recovery codes, atomically. False if nothing was pending.
    pub async fn enable_totp(
        &self,
        id: UserId,
        secret: &TotpSecret,
        used_step: i64,
        recovery_hashes: &[String],
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(
            "UPDATE users SET totp_secret = totp_pending, totp_pending = NULL, totp_last_step = $3 \
             WHERE id = $1 AND totp_pending = $2",
        )
        .bind(id.0)
        .bind(secret.to_base32())
        .bind(used_step)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        for hash in recovery_hashes {
            sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                .bind(id.0)
                .bind(hash)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Turns 2FA off and forgets the recovery codes.
    pub async fn disable_totp(&self, id: UserId) -> Result<bool, StoreError> {
        let _changed = self.auth_change();
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(
            "UPDATE users SET totp_secret = NULL, totp_pending = NULL, totp_last_step = NULL WHERE id = $1",
        )
        .bind(id.0)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(n == 1)
    }

    /// Records `step` as used if it is later than the last used step; false
    /// means a replay (or a concurrent use of the same code).
    pub async fn consume_totp_step(&self, id: UserId, step: i64) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE users SET totp_last_step = $2 \
             WHERE id = $1 AND totp_secret IS NOT NULL AND (totp_last_step IS NULL OR totp_last_step < $2)",
        )
        .bind(id.0)
        .bind(step)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Marks an unused recovery code used; false if unknown or used.
    pub async fn consume_recovery_code(
        &self,
        id: UserId,
        hash: &str,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
        )
        .bind(id.0)
        .bind(hash)
        .bind(now.0)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    pub async fn recovery_codes_left(&self, id: UserId) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(id.0)
        .fetch_one(&self.pool)
        .await?)
    }
}

#[derive(Debug, Clone, Copy)]
enum GuardedChange<'a> {
    Role(&'a RoleName),
    Active(bool),
    Delete,
}

pub(super) async fn insert_user(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    new: &NewUser<'_>,
) -> Result<UserId, StoreError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO users (username, password_hash, role, created_at) \
         VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(new.username.as_str())
    .bind(new.password_hash)
    .bind(new.role.as_str())
    .bind(new.created_at.0)
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| unique_violation(e, StoreError::UsernameTaken))?;
    Ok(UserId(id))
}
