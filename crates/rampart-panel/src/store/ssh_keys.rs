//! Users' SSH public keys (SFTP logins).

use rampart_core::{UnixTime, UserId};
use sqlx::Row;

use super::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshKeyRecord {
    pub id: String,
    pub user_id: UserId,
    pub name: String,
    pub algorithm: String,
    pub fingerprint: String,
    pub public_key: String,
    pub created_at: UnixTime,
    pub last_used_at: Option<UnixTime>,
}

const COLUMNS: &str =
    "id, user_id, name, algorithm, fingerprint, public_key, created_at, last_used_at";

fn key_from_row(row: &sqlx::any::AnyRow) -> Result<SshKeyRecord, StoreError> {
    Ok(SshKeyRecord {
        id: row.try_get("id")?,
        user_id: UserId(row.try_get("user_id")?),
        name: row.try_get("name")?,
        algorithm: row.try_get("algorithm")?,
        fingerprint: row.try_get("fingerprint")?,
        public_key: row.try_get("public_key")?,
        created_at: UnixTime(row.try_get("created_at")?),
        last_used_at: row.try_get::<Option<i64>, _>("last_used_at")?.map(UnixTime),
    })
}

impl Store {
    pub async fn add_ssh_key(&self, k: &SshKeyRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO ssh_keys (id, user_id, name, algorithm, fingerprint, public_key, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&k.id)
        .bind(k.user_id.0)
        .bind(&k.name)
        .bind(&k.algorithm)
        .bind(&k.fingerprint)
        .bind(&k.public_key)
        .bind(k.created_at.0)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// `user`'s keys, oldest first.
    pub async fn list_ssh_keys(&self, user: UserId) -> Result<Vec<SshKeyRecord>, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM ssh_keys WHERE user_id = $1 ORDER BY created_at, id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user.0)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(key_from_row).collect()
    }

    /// `user`'s key with this fingerprint.
    pub async fn find_ssh_key(
        &self,
        user: UserId,
        fingerprint: &str,
    ) -> Result<Option<SshKeyRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM ssh_keys WHERE user_id = $1 AND fingerprint = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user.0)
            .bind(fingerprint)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    /// Removes `user`'s key `id`; the key removed, if there was one.
    pub async fn delete_ssh_key(
        &self,
        user: UserId,
        id: &str,
    ) -> Result<Option<SshKeyRecord>, StoreError> {
        let _changed = self.auth_change();
        let sql =
            format!("DELETE FROM ssh_keys WHERE user_id = $1 AND id = $2 RETURNING {COLUMNS}");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user.0)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    pub async fn touch_ssh_key(&self, id: &str, now: UnixTime) -> Result<(), StoreError> {
        sqlx::query("UPDATE ssh_keys SET last_used_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
