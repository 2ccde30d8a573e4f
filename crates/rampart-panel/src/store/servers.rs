//! Servers, their port allocations and sub-user grants, and templates.

use rampart_core::{NodeId, ScopeSet, ServerId, UnixTime, UserId};
use sqlx::Row;

use super::{Backend, Store, StoreError};

#[derive(Debug, Clone)]
pub struct ServerRecord {
    pub id: ServerId,
    pub name: String,
    pub owner_id: UserId,
    pub node_id: NodeId,
    pub template_id: Option<String>,
    /// The `ServerSpec` the agent runs, JSON.
    pub spec_json: String,
    pub variables_json: String,
    pub state: String,
    pub last_error: String,
    pub created_at: UnixTime,
    pub ports: Vec<u16>,
}

#[derive(Debug)]
pub struct NewServer<'a> {
    pub id: &'a ServerId,
    pub name: &'a str,
    pub owner_id: UserId,
    pub node_id: &'a NodeId,
    pub template_id: Option<&'a str>,
    pub spec_json: &'a str,
    pub variables_json: &'a str,
    pub state: &'a str,
    pub ports: &'a [u16],
    /// The owner's cap when the user has none of their own.
    pub default_cap: i64,
    pub now: UnixTime,
}

#[derive(Debug, PartialEq, Eq)]
pub enum CreateOutcome {
    Created,
    /// The owner already has this many servers.
    CapReached(i64),
    /// One of the ports is allocated to another server on the node.
    PortTaken,
}

#[derive(Debug, Clone)]
pub struct TemplateRecord {
    pub id: String,
    pub name: String,
    pub body: String,
    pub builtin: bool,
}

const COLUMNS: &str =
    "id, name, owner_id, node_id, template_id, spec, variables, state, last_error, created_at";

fn server_from_row(row: &sqlx::any::AnyRow) -> Result<ServerRecord, StoreError> {
    let id: String = row.try_get("id")?;
    let node: String = row.try_get("node_id")?;
    Ok(ServerRecord {
        id: ServerId::parse(&id).ok_or(StoreError::Corrupt("server id"))?,
        name: row.try_get("name")?,
        owner_id: UserId(row.try_get("owner_id")?),
        node_id: NodeId::parse(&node).ok_or(StoreError::Corrupt("node id"))?,
        template_id: row.try_get("template_id")?,
        spec_json: row.try_get("spec")?,
        variables_json: row.try_get("variables")?,
        state: row.try_get("state")?,
        last_error: row.try_get("last_error")?,
        created_at: UnixTime(row.try_get("created_at")?),
        ports: Vec::new(),
    })
}

impl Store {
    /// Creates a server unless its owner is at their cap or a port is
    /// taken. Race-free: the owner's row is locked (PostgreSQL) or the
    /// write lock taken (SQLite) before counting.
    pub async fn create_server(&self, s: &NewServer<'_>) -> Result<CreateOutcome, StoreError> {
        let mut tx = self.pool.begin().await?;
        let lock = match self.backend {
            Backend::Postgres => "SELECT max_servers FROM users WHERE id = $1 FOR UPDATE",
            Backend::Sqlite => "UPDATE users SET id = id WHERE id = $1",
        };
        sqlx::query(lock)
            .bind(s.owner_id.0)
            .execute(&mut *tx)
            .await?;
        // The user's own cap, else their plan's, else the default.
        let row = sqlx::query(
            "SELECT u.max_servers AS own, p.max_servers AS planned FROM users u \
             LEFT JOIN plans p ON p.name = u.plan WHERE u.id = $1",
        )
        .bind(s.owner_id.0)
        .fetch_optional(&mut *tx)
        .await?;
        let cap = match row {
            Some(r) => r
                .try_get::<Option<i64>, _>("own")?
                .or(r.try_get::<Option<i64>, _>("planned")?)
                .unwrap_or(s.default_cap),
            None => s.default_cap,
        };
        let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM servers WHERE owner_id = $1")
            .bind(s.owner_id.0)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
        if count >= cap {
            return Ok(CreateOutcome::CapReached(cap));
        }
        sqlx::query(
            "INSERT INTO servers (id, name, owner_id, node_id, template_id, spec, variables, state, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(s.id.as_str())
        .bind(s.name)
        .bind(s.owner_id.0)
        .bind(s.node_id.as_str())
        .bind(s.template_id)
        .bind(s.spec_json)
        .bind(s.variables_json)
        .bind(s.state)
        .bind(s.now.0)
        .execute(&mut *tx)
        .await?;
        for port in s.ports {
            let r = sqlx::query(
                "INSERT INTO server_ports (node_id, port, server_id) VALUES ($1, $2, $3)",
            )
            .bind(s.node_id.as_str())
            .bind(i64::from(*port))
            .bind(s.id.as_str())
            .execute(&mut *tx)
            .await;
            match r {
                Ok(_) => {}
                Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                    return Ok(CreateOutcome::PortTaken);
                }
                Err(e) => return Err(e.into()),
            }
        }
        tx.commit().await?;
        Ok(CreateOutcome::Created)
    }

    /// Ports in use on a node.
    pub async fn ports_in_use(&self, node: &NodeId) -> Result<Vec<u16>, StoreError> {
        let rows = sqlx::query("SELECT port FROM server_ports WHERE node_id = $1")
            .bind(node.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let p: i64 = r.try_get("port")?;
                u16::try_from(p).map_err(|_| StoreError::Corrupt("port"))
            })
            .collect()
    }

    async fn with_ports(&self, mut s: ServerRecord) -> Result<ServerRecord, StoreError> {
        let rows = sqlx::query("SELECT port FROM server_ports WHERE server_id = $1 ORDER BY port")
            .bind(s.id.as_str())
            .fetch_all(&self.pool)
            .await?;
        s.ports = rows
            .iter()
            .map(|r| {
                let p: i64 = r.try_get("port")?;
                u16::try_from(p).map_err(|_| StoreError::Corrupt("port"))
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(s)
    }

    pub async fn get_server(&self, id: &ServerId) -> Result<Option<ServerRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM servers WHERE id = $1"
        )))
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => Ok(Some(self.with_ports(server_from_row(&r)?).await?)),
            None => Ok(None),
        }
    }

    /// Every server (admin), or those `user` owns or was granted.
    pub async fn list_servers(
        &self,
        user: Option<UserId>,
    ) -> Result<Vec<ServerRecord>, StoreError> {
        let rows = match user {
            None => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM servers ORDER BY created_at, id"
                )))
                .fetch_all(&self.pool)
                .await?
            }
            Some(u) => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM servers WHERE owner_id = $1 \
                     OR id IN (SELECT server_id FROM server_grants WHERE user_id = $1) \
                     ORDER BY created_at, id"
                )))
                .bind(u.0)
                .fetch_all(&self.pool)
                .await?
            }
        };
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(self.with_ports(server_from_row(r)?).await?);
        }
        Ok(out)
    }

    pub async fn servers_on_node(&self, node: &NodeId) -> Result<Vec<ServerRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM servers WHERE node_id = $1"
        )))
        .bind(node.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(server_from_row).collect()
    }

    /// Replaces the name, spec and variables; false if the server is gone.
    pub async fn update_server(
        &self,
        id: &ServerId,
        name: &str,
        spec_json: &str,
        variables_json: &str,
    ) -> Result<bool, StoreError> {
        let n =
            sqlx::query("UPDATE servers SET name = $1, spec = $2, variables = $3 WHERE id = $4")
                .bind(name)
                .bind(spec_json)
                .bind(variables_json)
                .bind(id.as_str())
                .execute(&self.pool)
                .await?
                .rows_affected();
        Ok(n == 1)
    }

    /// Sets the state (and last error); false if the server is gone.
    pub async fn set_server_state(
        &self,
        id: &ServerId,
        state: &str,
        error: &str,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query("UPDATE servers SET state = $1, last_error = $2 WHERE id = $3")
            .bind(state)
            .bind(error)
            .bind(id.as_str())
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Compare-and-set of the state: true if it was `from`.
    pub async fn swap_server_state(
        &self,
        id: &ServerId,
        from: &str,
        to: &str,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE servers SET state = $1, last_error = '' WHERE id = $2 AND state = $3",
        )
        .bind(to)
        .bind(id.as_str())
        .bind(from)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    pub async fn delete_server(&self, id: &ServerId) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        for q in [
            "DELETE FROM server_ports WHERE server_id = $1",
            "DELETE FROM server_grants WHERE server_id = $1",
        ] {
            sqlx::query(q).bind(id.as_str()).execute(&mut *tx).await?;
        }
        let n = sqlx::query("DELETE FROM servers WHERE id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n == 1)
    }

    /// What `user` was granted on `server` (empty when nothing).
    pub async fn server_grant(
        &self,
        server: &ServerId,
        user: UserId,
    ) -> Result<ScopeSet, StoreError> {
        let row =
            sqlx::query("SELECT scopes FROM server_grants WHERE server_id = $1 AND user_id = $2")
                .bind(server.as_str())
                .bind(user.0)
                .fetch_optional(&self.pool)
                .await?;
        match row {
            Some(r) => {
                let list: String = r.try_get("scopes")?;
                ScopeSet::parse_list(&list).map_err(|_| StoreError::Corrupt("grant scopes"))
            }
            None => Ok(ScopeSet::EMPTY),
        }
    }

    /// Grants (or replaces) `scopes` on `server` to `user`.
    pub async fn put_server_grant(
        &self,
        server: &ServerId,
        user: UserId,
        scopes: ScopeSet,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM server_grants WHERE server_id = $1 AND user_id = $2")
            .bind(server.as_str())
            .bind(user.0)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO server_grants (server_id, user_id, scopes, created_at) VALUES ($1, $2, $3, $4)")
            .bind(server.as_str())
            .bind(user.0)
            .bind(scopes.to_list())
            .bind(now.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_server_grant(
        &self,
        server: &ServerId,
        user: UserId,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM server_grants WHERE server_id = $1 AND user_id = $2")
            .bind(server.as_str())
            .bind(user.0)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// (user id, scopes) of every grant on `server`.
    pub async fn server_grants(
        &self,
        server: &ServerId,
    ) -> Result<Vec<(UserId, ScopeSet)>, StoreError> {
        let rows = sqlx::query(
            "SELECT user_id, scopes FROM server_grants WHERE server_id = $1 ORDER BY user_id",
        )
        .bind(server.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let list: String = r.try_get("scopes")?;
                Ok((
                    UserId(r.try_get("user_id")?),
                    ScopeSet::parse_list(&list).map_err(|_| StoreError::Corrupt("grant scopes"))?,
                ))
            })
            .collect()
    }

    pub async fn set_max_servers(
        &self,
        user: UserId,
        cap: Option<i64>,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query("UPDATE users SET max_servers = $1 WHERE id = $2")
            .bind(cap)
            .bind(user.0)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Inserts or replaces a template.
    pub async fn put_template(&self, t: &TemplateRecord, now: UnixTime) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM templates WHERE id = $1")
            .bind(&t.id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO templates (id, name, body, builtin, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&t.id)
            .bind(&t.name)
            .bind(&t.body)
            .bind(i64::from(t.builtin))
            .bind(now.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_template(&self, id: &str) -> Result<Option<TemplateRecord>, StoreError> {
        let row = sqlx::query("SELECT id, name, body, builtin FROM templates WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(template_from_row).transpose()
    }

    pub async fn list_templates(&self) -> Result<Vec<TemplateRecord>, StoreError> {
        let rows = sqlx::query("SELECT id, name, body, builtin FROM templates ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(template_from_row).collect()
    }
}

fn template_from_row(r: &sqlx::any::AnyRow) -> Result<TemplateRecord, StoreError> {
    Ok(TemplateRecord {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        body: r.try_get("body")?,
        builtin: r.try_get::<i64, _>("builtin")? != 0,
    })
}
