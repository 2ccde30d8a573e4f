//! Nodes: identity, enrollment token, agent credential and last facts.

use rampart_core::{NodeId, NodeName, UnixTime};
use sqlx::Row;

use super::{Store, StoreError, unique_violation};

#[derive(Clone)]
pub struct NodeRecord {
    pub id: NodeId,
    pub name: NodeName,
    pub public_address: String,
    pub sftp_port: i64,
    pub labels: String,
    pub created_at: UnixTime,
    pub enrolled_at: Option<UnixTime>,
    pub revoked_at: Option<UnixTime>,
    pub last_seen_at: Option<UnixTime>,
    pub agent_version: String,
    pub read_only: bool,
    /// The last `NodeStats` reported, as JSON (empty before the first heartbeat).
    pub stats_json: String,
    pub credential_hash: Option<String>,
    /// The credential before the last rotation, valid until `prev_valid_until`.
    pub credential_prev_hash: Option<String>,
    pub prev_valid_until: Option<UnixTime>,
}

impl std::fmt::Debug for NodeRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
pub struct NewNode<'a> {
    pub id: &'a NodeId,
    pub name: &'a NodeName,
    pub public_address: &'a str,
    pub sftp_port: i64,
    pub labels: &'a str,
    pub enroll_token_hash: &'a str,
    pub enroll_expires_at: UnixTime,
    pub now: UnixTime,
}

const COLUMNS: &str = "id, name, public_address, sftp_port, labels, created_at, enrolled_at, revoked_at, \
     last_seen_at, agent_version, read_only, stats, credential_hash, credential_prev_hash, prev_valid_until";

fn node_from_row(row: &sqlx::any::AnyRow) -> Result<NodeRecord, StoreError> {
    let id: String = row.try_get("id")?;
    let name: String = row.try_get("name")?;
    let t = |c: &str| -> Result<Option<UnixTime>, StoreError> {
        Ok(row.try_get::<Option<i64>, _>(c)?.map(UnixTime))
    };
    Ok(NodeRecord {
        id: NodeId::parse(&id).ok_or(StoreError::Corrupt("node id"))?,
        name: NodeName::parse(&name).map_err(|_| StoreError::Corrupt("node name"))?,
        public_address: row.try_get("public_address")?,
        sftp_port: row.try_get("sftp_port")?,
        labels: row.try_get("labels")?,
        created_at: UnixTime(row.try_get("created_at")?),
        enrolled_at: t("enrolled_at")?,
        revoked_at: t("revoked_at")?,
        last_seen_at: t("last_seen_at")?,
        agent_version: row.try_get("agent_version")?,
        read_only: row.try_get::<i64, _>("read_only")? != 0,
        stats_json: row.try_get("stats")?,
        credential_hash: row.try_get("credential_hash")?,
        credential_prev_hash: row.try_get("credential_prev_hash")?,
        prev_valid_until: t("prev_valid_until")?,
    })
}

impl Store {
    pub async fn create_node(&self, n: &NewNode<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO nodes (id, name, public_address, sftp_port, labels, created_at, enroll_token_hash, enroll_expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(n.id.as_str())
        .bind(n.name.as_str())
        .bind(n.public_address)
        .bind(n.sftp_port)
        .bind(n.labels)
        .bind(n.now.0)
        .bind(n.enroll_token_hash)
        .bind(n.enroll_expires_at.0)
        .execute(&self.pool)
        .await
        .map_err(|e| unique_violation(e, StoreError::NameTaken))?;
        Ok(())
    }

    pub async fn list_nodes(&self) -> Result<Vec<NodeRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM nodes ORDER BY name");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(node_from_row).collect()
    }

    pub async fn get_node(&self, id: &NodeId) -> Result<Option<NodeRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM nodes WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(node_from_row).transpose()
    }

    /// Exchanges an unexpired, unused enrollment token for a credential,
    /// atomically; the node's id, or `None` if the token is not valid.
    pub async fn enroll_node(
        &self,
        token_hash: &str,
        credential_hash: &str,
        now: UnixTime,
    ) -> Result<Option<NodeId>, StoreError> {
        let _changed = self.auth_change();
        let id: Option<String> = sqlx::query_scalar(
            "UPDATE nodes SET credential_hash = $2, enrolled_at = $3, enroll_token_hash = NULL, enroll_expires_at = NULL \
             WHERE enroll_token_hash = $1 AND enroll_expires_at > $3 AND revoked_at IS NULL RETURNING id",
        )
        .bind(token_hash)
        .bind(credential_hash)
        .bind(now.0)
        .fetch_optional(&self.pool)
        .await?;
        Ok(id.as_deref().and_then(NodeId::parse))
    }

    /// Records a heartbeat's facts.
    pub async fn record_heartbeat(
        &self,
        id: &NodeId,
        now: UnixTime,
        agent_version: &str,
        read_only: bool,
        stats_json: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE nodes SET last_seen_at = $2, agent_version = $3, read_only = $4, stats = $5 WHERE id = $1",
        )
        .bind(id.as_str())
        .bind(now.0)
        .bind(agent_version)
        .bind(i64::from(read_only))
        .bind(stats_json)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Replaces the credential; the old one stays valid until `old_valid_until`.
    pub async fn rotate_node_credential(
        &self,
        id: &NodeId,
        new_hash: &str,
        old_valid_until: UnixTime,
    ) -> Result<bool, StoreError> {
        let _changed = self.auth_change();
        let n = sqlx::query(
            "UPDATE nodes SET credential_prev_hash = credential_hash, prev_valid_until = $3, credential_hash = $2 \
             WHERE id = $1 AND revoked_at IS NULL AND credential_hash IS NOT NULL",
        )
        .bind(id.as_str())
        .bind(new_hash)
        .bind(old_valid_until.0)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Revokes a node: its credential and any pending enrollment die.
    pub async fn revoke_node(&self, id: &NodeId, now: UnixTime) -> Result<bool, StoreError> {
        let _changed = self.auth_change();
        let n = sqlx::query(
            "UPDATE nodes SET revoked_at = $2, credential_hash = NULL, credential_prev_hash = NULL, \
             enroll_token_hash = NULL WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id.as_str())
        .bind(now.0)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }
}
