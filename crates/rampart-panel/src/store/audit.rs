//! The audit log's storage: appends under a lock so each record chains to
//! the one before, filtered reads, chain verification and retention.

use sqlx::Row;

use super::{Backend, Store, StoreError};
use crate::audit::{AuditBody, AuditRecord, VerifyReport, chain_hash};

/// Filters for reading the log; all optional.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub event_type: Option<String>,
    pub target: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Only records with an id below this (paging backwards).
    pub before_id: Option<i64>,
}

const COLUMNS: &str = "id, at, event_type, actor, action, target, result, ip, user_agent, request_id, extra, prev_hash, hash";

fn record_from_row(row: &sqlx::any::AnyRow) -> Result<AuditRecord, StoreError> {
    Ok(AuditRecord {
        id: row.try_get("id")?,
        body: AuditBody {
            at: row.try_get("at")?,
            event_type: row.try_get("event_type")?,
            actor: row.try_get("actor")?,
            action: row.try_get("action")?,
            target: row.try_get("target")?,
            result: row.try_get("result")?,
            ip: row.try_get("ip")?,
            user_agent: row.try_get("user_agent")?,
            request_id: row.try_get("request_id")?,
            extra: row.try_get("extra")?,
        },
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

impl Store {
    /// Appends a record chained to the last one; returns its id.
    pub async fn append_audit(&self, body: &AuditBody) -> Result<i64, StoreError> {
        let _serial = self.audit_lock.lock().await;
        let mut tx = self.pool.begin().await?;
        if self.backend == Backend::Postgres {
            // Replicas sharing one database append one at a time too.
            sqlx::query("LOCK TABLE audit_log IN EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await?;
        }
        let last: Option<String> =
            sqlx::query_scalar("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1")
                .fetch_optional(&mut *tx)
                .await?;
        let prev = match last {
            Some(h) => h,
            None => {
                sqlx::query_scalar("SELECT prev_hash FROM audit_anchor WHERE id = 1")
                    .fetch_one(&mut *tx)
                    .await?
            }
        };
        let hash = chain_hash(&prev, body);
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO audit_log (at, event_type, actor, action, target, result, ip, user_agent, request_id, extra, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
        )
        .bind(body.at)
        .bind(&body.event_type)
        .bind(&body.actor)
        .bind(&body.action)
        .bind(&body.target)
        .bind(&body.result)
        .bind(&body.ip)
        .bind(&body.user_agent)
        .bind(&body.request_id)
        .bind(&body.extra)
        .bind(&prev)
        .bind(&hash)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Newest first, at most `limit`.
    pub async fn list_audit(
        &self,
        f: &AuditFilter,
        limit: i64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM audit_log \
             WHERE ($1 IS NULL OR actor = $1) AND ($2 IS NULL OR event_type = $2) \
               AND ($3 IS NULL OR target = $3) AND ($4 IS NULL OR at >= $4) \
               AND ($5 IS NULL OR at <= $5) AND ($6 IS NULL OR id < $6) \
             ORDER BY id DESC LIMIT $7"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&f.actor)
            .bind(&f.event_type)
            .bind(&f.target)
            .bind(f.since)
            .bind(f.until)
            .bind(f.before_id)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(record_from_row).collect()
    }

    /// Oldest first, records with `at >= since`, in pages of `page` after `after_id`.
    pub async fn audit_since(
        &self,
        since: i64,
        after_id: i64,
        page: i64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM audit_log WHERE at >= $1 AND id > $2 ORDER BY id LIMIT $3"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(since)
            .bind(after_id)
            .bind(page)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(record_from_row).collect()
    }

    /// Walks the whole chain from the anchor; names the first record whose
    /// link to its predecessor or whose own content does not match.
    pub async fn verify_audit(&self) -> Result<VerifyReport, StoreError> {
        let anchor = sqlx::query("SELECT first_id, prev_hash FROM audit_anchor WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        let first_id: i64 = anchor.try_get("first_id")?;
        let mut expected_prev: String = anchor.try_get("prev_hash")?;
        let before: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE id < $1")
            .bind(first_id)
            .fetch_one(&self.pool)
            .await?;
        let mut checked = 0u64;
        let mut after = first_id - 1;
        if before > 0 {
            let first: i64 = sqlx::query_scalar("SELECT MIN(id) FROM audit_log")
                .fetch_one(&self.pool)
                .await?;
            return Ok(VerifyReport {
                checked,
                first_broken: Some(first),
            });
        }
        loop {
            let sql =
                format!("SELECT {COLUMNS} FROM audit_log WHERE id > $1 ORDER BY id LIMIT 500");
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(after)
                .fetch_all(&self.pool)
                .await?;
            if rows.is_empty() {
                return Ok(VerifyReport {
                    checked,
                    first_broken: None,
                });
            }
            for row in &rows {
                let r = record_from_row(row)?;
                if r.prev_hash != expected_prev || r.hash != chain_hash(&r.prev_hash, &r.body) {
                    return Ok(VerifyReport {
                        checked,
                        first_broken: Some(r.id),
                    });
                }
                checked += 1;
                expected_prev = r.hash;
                after = r.id;
            }
        }
    }

    /// Deletes records older than `cutoff` and moves the anchor past them,
    /// so the remaining chain still verifies. Returns (count, last id pruned).
    pub async fn prune_audit(&self, cutoff: i64) -> Result<(u64, Option<i64>), StoreError> {
        let _serial = self.audit_lock.lock().await;
        let mut tx = self.pool.begin().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("LOCK TABLE audit_log IN EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await?;
        }
        let last =
            sqlx::query("SELECT id, hash FROM audit_log WHERE at < $1 ORDER BY id DESC LIMIT 1")
                .bind(cutoff)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(last) = last else {
            tx.rollback().await?;
            return Ok((0, None));
        };
        let last_id: i64 = last.try_get("id")?;
        let last_hash: String = last.try_get("hash")?;
        let n = sqlx::query("DELETE FROM audit_log WHERE id <= $1")
            .bind(last_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("UPDATE audit_anchor SET first_id = $1, prev_hash = $2 WHERE id = 1")
            .bind(last_id + 1)
            .bind(&last_hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((n, Some(last_id)))
    }
}
