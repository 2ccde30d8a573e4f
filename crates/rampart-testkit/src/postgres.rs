//! Fresh stores on every engine, for store tests.
//!
//! SQLite: a new file in a temp dir. PostgreSQL: a new database
//! `rampart_test_<random>` on the server named by `RAMPART_TEST_POSTGRES_URL`
//! (default `postgres://rampart:rampart@127.0.0.1:5432/postgres`), dropped
//! again by [`TestStores::cleanup`]. When that server is unreachable the
//! PostgreSQL half is skipped with a message, or fails the test under
//! `RAMPART_REQUIRE_POSTGRES=1`.

use rampart_core::{Random, random::OsRandom};
use rampart_panel::store::Store;
use sqlx::{Connection, Executor, PgConnection};

const DEFAULT_ADMIN_URL: &str = "postgres://rampart:rampart@127.0.0.1:5432/postgres";

pub fn admin_url() -> String {
    std::env::var("RAMPART_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned())
}

/// The URL of database `name` on the same server as `admin`.
fn database_url(admin: &str, name: &str) -> String {
    match admin.rfind('/') {
        Some(i) if admin[..i].contains("@") || admin[..i].contains("//") => {
            let (base, rest) = admin.split_at(i);
            let query = rest.find('?').map(|q| &rest[q..]).unwrap_or("");
            format!("{base}/{name}{query}")
        }
        _ => format!("{admin}/{name}"),
    }
}

pub struct TestStores {
    pub all: Vec<(&'static str, Store)>,
    pg_databases: Vec<String>,
    _dirs: Vec<tempfile::TempDir>,
}

/// Creates a fresh empty PostgreSQL database and returns its URL, or `None`
/// when the server is unreachable (after the skip-or-fail check).
pub async fn fresh_postgres_database() -> Option<(String, String)> {
    let admin = admin_url();
    let mut conn = match PgConnection::connect(&admin).await {
        Ok(c) => c,
        Err(e) => {
            crate::skip_or_fail(
                "RAMPART_REQUIRE_POSTGRES",
                &format!("PostgreSQL at RAMPART_TEST_POSTGRES_URL ({e})"),
            );
            return None;
        }
    };
    let mut suffix = [0u8; 6];
    OsRandom.fill(&mut suffix);
    let name = format!(
        "rampart_test_{}",
        suffix
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    // The name is ours (hex), not user input.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let _ = conn.close().await;
    Some((name.clone(), database_url(&admin, &name)))
}

/// A fresh store on SQLite and, when reachable, on PostgreSQL.
pub async fn stores() -> TestStores {
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = Store::open_sqlite_in(dir.path())
        .await
        .expect("sqlite store");
    let mut all = vec![("sqlite", sqlite)];
    let mut pg_databases = Vec::new();
    if let Some((name, url)) = fresh_postgres_database().await {
        let pg = Store::connect(&url).await.expect("postgres store");
        all.push(("postgres", pg));
        pg_databases.push(name);
    }
    TestStores {
        all,
        pg_databases,
        _dirs: vec![dir],
    }
}

impl TestStores {
    /// Closes every store and drops the PostgreSQL databases.
    pub async fn cleanup(self) {
        for (_, store) in &self.all {
            store.close().await;
        }
        if self.pg_databases.is_empty() {
            return;
        }
        if let Ok(mut conn) = PgConnection::connect(&admin_url()).await {
            for name in &self.pg_databases {
                let _ = conn
                    .execute(sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    ))))
                    .await;
            }
        }
    }
}

/// Runs `sql` on the SQLite store file `db` behind the panel's back (to
/// tamper with it in tests, as an attacker with file access would).
pub async fn tamper_sqlite(db: &std::path::Path, sql: &str) {
    use sqlx::sqlite::SqliteConnectOptions;
    let mut conn = sqlx::SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(db))
        .await
        .expect("open sqlite file");
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut conn)
        .await
        .expect("tamper");
    let _ = conn.close().await;
}

#[cfg(test)]
mod tests {
    use super::database_url;

    #[test]
    fn database_url_replaces_the_path() {
        assert_eq!(
            database_url("postgres://u:p@127.0.0.1:5432/postgres", "x"),
            "postgres://u:p@127.0.0.1:5432/x"
        );
        assert_eq!(
            database_url("postgres://u@h/postgres?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
    }
}
