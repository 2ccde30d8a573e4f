//! Custom roles: a name and a set of scopes. Built-in role names are reserved
//! (checked by the service before it gets here).

use rampart_core::{RoleName, ScopeSet, UnixTime};
use sqlx::Row;

use super::{Store, StoreError, unique_violation};

#[derive(Debug, Clone)]
pub struct CustomRole {
    pub name: RoleName,
    pub scopes: ScopeSet,
    pub created_at: UnixTime,
}

fn role_from_row(row: &sqlx::any::AnyRow) -> Result<CustomRole, StoreError> {
    let name: String = row.try_get("name")?;
    let scopes: String = row.try_get("scopes")?;
    Ok(CustomRole {
        name: RoleName::parse(&name).map_err(|_| StoreError::Corrupt("role name"))?,
        scopes: ScopeSet::parse_list(&scopes).map_err(|_| StoreError::Corrupt("role scopes"))?,
        created_at: UnixTime(row.try_get("created_at")?),
    })
}

impl Store {
    pub async fn create_role(
        &self,
        name: &RoleName,
        scopes: ScopeSet,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        let _changed = self.auth_change();
        sqlx::query("INSERT INTO roles (name, scopes, created_at) VALUES ($1, $2, $3)")
            .bind(name.as_str())
            .bind(scopes.to_list())
            .bind(now.0)
            .execute(&self.pool)
            .await
            .map_err(|e| unique_violation(e, StoreError::NameTaken))?;
        Ok(())
    }

    pub async fn list_roles(&self) -> Result<Vec<CustomRole>, StoreError> {
        let rows = sqlx::query("SELECT name, scopes, created_at FROM roles ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(role_from_row).collect()
    }

    pub async fn get_role(&self, name: &RoleName) -> Result<Option<CustomRole>, StoreError> {
        let row = sqlx::query("SELECT name, scopes, created_at FROM roles WHERE name = $1")
            .bind(name.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(role_from_row).transpose()
    }

    /// Deletes a custom role no user holds; `Ok(false)` if unknown,
    /// `RoleInUse` if held.
    pub async fn delete_role(&self, name: &RoleName) -> Result<bool, StoreError> {
        let _changed = self.auth_change();
        let mut tx = self.pool.begin().await?;
        let holders: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = $1")
            .bind(name.as_str())
            .fetch_one(&mut *tx)
            .await?;
        if holders > 0 {
            tx.rollback().await?;
            return Err(StoreError::RoleInUse);
        }
        let n = sqlx::query("DELETE FROM roles WHERE name = $1")
            .bind(name.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n == 1)
    }
}
