//! API clients (OAuth2 client credentials) and their access tokens.

use rampart_core::{ScopeSet, TokenHash, UnixTime, UserId};
use sqlx::Row;

use super::users::{UserRecord, user_from_row};
use super::{Store, StoreError};

#[derive(Debug, Clone)]
pub struct ApiClientRecord {
    pub id: String,
    pub user_id: UserId,
    pub owner: String,
    pub name: String,
    pub scopes: ScopeSet,
    pub secret_hash: String,
    pub secret_generation: i64,
    pub ip_allowlist: String,
    pub created_at: UnixTime,
    pub expires_at: Option<UnixTime>,
    pub revoked_at: Option<UnixTime>,
    pub last_used_at: Option<UnixTime>,
    pub last_ip: Option<String>,
    pub request_count: i64,
}

#[derive(Debug)]
pub struct NewApiClient<'a> {
    pub id: &'a str,
    pub user_id: UserId,
    pub name: &'a str,
    pub scopes: ScopeSet,
    pub secret_hash: &'a str,
    pub ip_allowlist: &'a str,
    pub now: UnixTime,
    pub expires_at: Option<UnixTime>,
}

/// A token joined with its client and the client's user.
#[derive(Debug, Clone)]
pub struct TokenRecord {
    pub scopes: ScopeSet,
    pub secret_generation: i64,
    pub expires_at: UnixTime,
    pub client: ApiClientRecord,
    pub user: UserRecord,
}

const CLIENT_COLUMNS: &str = "c.id AS c_id, c.user_id AS c_user_id, u.username AS c_owner, c.name AS c_name, \
     c.scopes AS c_scopes, c.secret_hash AS c_secret_hash, c.secret_generation AS c_generation, \
     c.ip_allowlist AS c_ip_allowlist, c.created_at AS c_created_at, c.expires_at AS c_expires_at, \
     c.revoked_at AS c_revoked_at, c.last_used_at AS c_last_used_at, c.last_ip AS c_last_ip, \
     c.request_count AS c_request_count";

fn client_from_row(row: &sqlx::any::AnyRow) -> Result<ApiClientRecord, StoreError> {
    let scopes: String = row.try_get("c_scopes")?;
    let t = |col: &str| -> Result<Option<UnixTime>, StoreError> {
        Ok(row.try_get::<Option<i64>, _>(col)?.map(UnixTime))
    };
    Ok(ApiClientRecord {
        id: row.try_get("c_id")?,
        user_id: UserId(row.try_get("c_user_id")?),
        owner: row.try_get("c_owner")?,
        name: row.try_get("c_name")?,
        scopes: ScopeSet::parse_list(&scopes).map_err(|_| StoreError::Corrupt("client scopes"))?,
        secret_hash: row.try_get("c_secret_hash")?,
        secret_generation: row.try_get("c_generation")?,
        ip_allowlist: row.try_get("c_ip_allowlist")?,
        created_at: UnixTime(row.try_get("c_created_at")?),
        expires_at: t("c_expires_at")?,
        revoked_at: t("c_revoked_at")?,
        last_used_at: t("c_last_used_at")?,
        last_ip: row.try_get("c_last_ip")?,
        request_count: row.try_get("c_request_count")?,
    })
}

impl Store {
    pub async fn create_api_client(&self, c: &NewApiClient<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_clients (id, user_id, name, scopes, secret_hash, ip_allowlist, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(c.id)
        .bind(c.user_id.0)
        .bind(c.name)
        .bind(c.scopes.to_list())
        .bind(c.secret_hash)
        .bind(c.ip_allowlist)
        .bind(c.now.0)
        .bind(c.expires_at.map(|t| t.0))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn get_api_client(&self, id: &str) -> Result<Option<ApiClientRecord>, StoreError> {
        let sql = format!(
            "SELECT {CLIENT_COLUMNS} FROM api_clients c JOIN users u ON u.id = c.user_id WHERE c.id = $1"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(client_from_row).transpose()
    }

    /// Clients of `user`, or of everyone when `None`, newest first.
    pub async fn list_api_clients(
        &self,
        user: Option<UserId>,
    ) -> Result<Vec<ApiClientRecord>, StoreError> {
        let sql = format!(
            "SELECT {CLIENT_COLUMNS} FROM api_clients c JOIN users u ON u.id = c.user_id \
             WHERE ($1 IS NULL OR c.user_id = $1) ORDER BY c.created_at DESC, c.id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user.map(|u| u.0))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(client_from_row).collect()
    }

    /// New secret, next generation, and every token of the client gone.
    pub async fn set_api_client_secret(
        &self,
        id: &str,
        secret_hash: &str,
    ) -> Result<bool, StoreError> {
        let _changed = self.auth_change();
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(
            "UPDATE api_clients SET secret_hash = $2, secret_generation = secret_generation + 1 \
             WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(secret_hash)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query("DELETE FROM api_tokens WHERE client_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(n == 1)
    }

    pub async fn revoke_api_client(&self, id: &str, now: UnixTime) -> Result<bool, StoreError> {
        let _changed = self.auth_change();
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(
            "UPDATE api_clients SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(now.0)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query("DELETE FROM api_tokens WHERE client_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(n == 1)
    }

    pub async fn insert_api_token(
        &self,
        hash: &TokenHash,
        client_id: &str,
        scopes: ScopeSet,
        generation: i64,
        now: UnixTime,
        expires_at: UnixTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_tokens (token_hash, client_id, scopes, secret_generation, issued_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(hash.as_str())
        .bind(client_id)
        .bind(scopes.to_list())
        .bind(generation)
        .bind(now.0)
        .bind(expires_at.0)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn find_api_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<TokenRecord>, StoreError> {
        let sql = format!(
            "SELECT t.scopes AS t_scopes, t.secret_generation AS t_generation, t.expires_at AS t_expires_at, \
                    {CLIENT_COLUMNS}, \
                    u.id, u.username, u.password_hash, u.role, u.created_at, u.active, \
                    u.totp_secret, u.totp_pending, u.totp_last_step \
             FROM api_tokens t JOIN api_clients c ON c.id = t.client_id JOIN users u ON u.id = c.user_id \
             WHERE t.token_hash = $1"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(hash.as_str())
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let scopes: String = row.try_get("t_scopes")?;
        Ok(Some(TokenRecord {
            scopes: ScopeSet::parse_list(&scopes)
                .map_err(|_| StoreError::Corrupt("token scopes"))?,
            secret_generation: row.try_get("t_generation")?,
            expires_at: UnixTime(row.try_get("t_expires_at")?),
            client: client_from_row(&row)?,
            user: user_from_row(&row)?,
        }))
    }

    /// Deletes the token if it belongs to `client_id` (RFC 7009).
    pub async fn delete_api_token(
        &self,
        hash: &TokenHash,
        client_id: &str,
    ) -> Result<bool, StoreError> {
        let _changed = self.auth_change();
        let n = sqlx::query("DELETE FROM api_tokens WHERE token_hash = $1 AND client_id = $2")
            .bind(hash.as_str())
            .bind(client_id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Break-glass: every access token of every client.
    pub async fn delete_all_api_tokens(&self) -> Result<u64, StoreError> {
        let _changed = self.auth_change();
        Ok(sqlx::query("DELETE FROM api_tokens")
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    /// Tokens of `user`'s clients (deactivation ends them at once).
    pub async fn delete_user_api_tokens(&self, user: UserId) -> Result<u64, StoreError> {
        let _changed = self.auth_change();
        Ok(sqlx::query(
            "DELETE FROM api_tokens WHERE client_id IN (SELECT id FROM api_clients WHERE user_id = $1)",
        )
        .bind(user.0)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// Adds usage counted in memory since the last flush.
    pub async fn add_api_client_usage(
        &self,
        id: &str,
        requests: i64,
        last_used: UnixTime,
        last_ip: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE api_clients SET request_count = request_count + $2, last_used_at = $3, \
             last_ip = COALESCE($4, last_ip) WHERE id = $1",
        )
        .bind(id)
        .bind(requests)
        .bind(last_used.0)
        .bind(last_ip)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn purge_expired_api_tokens(&self, now: UnixTime) -> Result<u64, StoreError> {
        Ok(sqlx::query("DELETE FROM api_tokens WHERE expires_at <= $1")
            .bind(now.0)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}
