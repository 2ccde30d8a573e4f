//! Users.

use rampart_core::{Role, UnixTime, UserId, Username};
use sqlx::Row;

use super::{Store, StoreError, unique_violation};

/// A user as stored.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: UserId,
    pub username: Username,
    pub password_hash: String,
    pub role: Role,
    pub created_at: UnixTime,
}

/// What it takes to create a user; the password is already hashed.
#[derive(Debug)]
pub struct NewUser<'a> {
    pub username: &'a Username,
    pub password_hash: &'a str,
    pub role: Role,
    pub created_at: UnixTime,
}

pub(super) fn user_from_row(row: &sqlx::any::AnyRow) -> Result<UserRecord, StoreError> {
    let username: String = row.try_get("username")?;
    let role: String = row.try_get("role")?;
    Ok(UserRecord {
        id: UserId(row.try_get("id")?),
        username: Username::parse(&username).map_err(|_| StoreError::Corrupt("username"))?,
        password_hash: row.try_get("password_hash")?,
        role: Role::parse(&role).map_err(|_| StoreError::Corrupt("role"))?,
        created_at: UnixTime(row.try_get("created_at")?),
    })
}

impl Store {
    pub async fn find_user_by_username(
        &self,
        username: &Username,
    ) -> Result<Option<UserRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, username, password_hash, role, created_at FROM users WHERE username = $1",
        )
        .bind(username.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Whether any admin account exists (then first-admin setup is closed).
    pub async fn admin_exists(&self) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = $1")
            .bind(rampart_core::Role::Admin.as_str())
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    /// Creates a user; `UsernameTaken` if the name is in use. Creating an
    /// admin closes first-admin setup in the same transaction, so no setup
    /// token stays valid once an admin exists.
    pub async fn create_user(&self, new: &NewUser<'_>) -> Result<UserId, StoreError> {
        let mut tx = self.pool.begin().await?;
        let id = insert_user(&mut tx, new).await?;
        if new.role == Role::Admin {
            sqlx::query("DELETE FROM setup_tokens")
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(id)
    }
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
