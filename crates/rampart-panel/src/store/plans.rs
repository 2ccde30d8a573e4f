//! Plans: named limit packages, and which plan a user has.

use rampart_core::{UnixTime, UserId};
use sqlx::Row;

use super::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRecord {
    pub name: String,
    pub memory_mb: i64,
    pub cpu_percent: i64,
    pub pids: i64,
    pub disk_mb: i64,
    pub max_servers: i64,
}

const COLUMNS: &str = "name, memory_mb, cpu_percent, pids, disk_mb, max_servers";

fn plan_from_row(r: &sqlx::any::AnyRow) -> Result<PlanRecord, StoreError> {
    Ok(PlanRecord {
        name: r.try_get("name")?,
        memory_mb: r.try_get("memory_mb")?,
        cpu_percent: r.try_get("cpu_percent")?,
        pids: r.try_get("pids")?,
        disk_mb: r.try_get("disk_mb")?,
        max_servers: r.try_get("max_servers")?,
    })
}

impl Store {
    /// Creates or replaces a plan.
    pub async fn put_plan(&self, p: &PlanRecord, now: UnixTime) -> Result<(), StoreError> {
        let updated = sqlx::query(
            "UPDATE plans SET memory_mb = $2, cpu_percent = $3, pids = $4, disk_mb = $5, max_servers = $6 \
             WHERE name = $1",
        )
        .bind(&p.name)
        .bind(p.memory_mb)
        .bind(p.cpu_percent)
        .bind(p.pids)
        .bind(p.disk_mb)
        .bind(p.max_servers)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if updated == 0 {
            sqlx::query(
                "INSERT INTO plans (name, memory_mb, cpu_percent, pids, disk_mb, max_servers, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&p.name)
            .bind(p.memory_mb)
            .bind(p.cpu_percent)
            .bind(p.pids)
            .bind(p.disk_mb)
            .bind(p.max_servers)
            .bind(now.0)
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    pub async fn list_plans(&self) -> Result<Vec<PlanRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM plans ORDER BY name");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(plan_from_row).collect()
    }

    pub async fn get_plan(&self, name: &str) -> Result<Option<PlanRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM plans WHERE name = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(plan_from_row).transpose()
    }

    /// Deletes a plan nobody has; `Ok(false)` if there is none, `PlanInUse` if someone has it.
    pub async fn delete_plan(&self, name: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let users: i64 = sqlx::query("SELECT COUNT(*) AS n FROM users WHERE plan = $1")
            .bind(name)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
        if users > 0 {
            return Err(StoreError::PlanInUse);
        }
        let n = sqlx::query("DELETE FROM plans WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n == 1)
    }

    /// Gives `user` a plan (or none); false if the user does not exist.
    pub async fn set_user_plan(
        &self,
        user: UserId,
        plan: Option<&str>,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query("UPDATE users SET plan = $1 WHERE id = $2")
            .bind(plan)
            .bind(user.0)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    pub async fn user_plan(&self, user: UserId) -> Result<Option<PlanRecord>, StoreError> {
        let sql = format!(
            "SELECT {} FROM plans p JOIN users u ON u.plan = p.name WHERE u.id = $1",
            COLUMNS
                .split(", ")
                .map(|c| format!("p.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user.0)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(plan_from_row).transpose()
    }
}
