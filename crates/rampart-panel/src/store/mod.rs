//! The store: the only module that runs SQL (ARCHITECTURE invariant 2).
//!
//! One set of queries serves SQLite (default, embedded) and PostgreSQL
//! (scale-out) through sqlx's `Any` driver: every statement is written in the
//! SQL both engines accept (`$n` placeholders, `RETURNING`, integer Unix
//! timestamps), and each engine has its own migration folder with the same
//! tables. Every store test runs on both engines.
#![allow(clippy::disallowed_methods)] // this module is where SQL may run

mod api_clients;
mod audit;
mod nodes;
mod plans;
mod roles;
mod servers;
mod sessions;
mod setup_tokens;
mod ssh_keys;
mod users;

pub use api_clients::{ApiClientRecord, NewApiClient, TokenRecord};
pub use audit::AuditFilter;
pub use nodes::{NewNode, NodeRecord};
pub use plans::PlanRecord;
pub use roles::CustomRole;
pub use servers::{CreateOutcome, NewServer, ServerRecord, TemplateRecord};
pub use sessions::{NewSession, SessionRecord, SessionStage, SessionSummary};
pub use ssh_keys::SshKeyRecord;
pub use users::{AdminGuard, NewUser, UserRecord};

use std::path::Path;
use std::str::FromStr;
use std::sync::Once;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Which engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL scheme (expected sqlite:// or postgres://)")]
    UnsupportedUrl,
    #[error("could not prepare the data directory")]
    DataDir(#[source] std::io::Error),
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("a user with that username already exists")]
    UsernameTaken,
    #[error("that name is already taken")]
    NameTaken,
    #[error("the role is held by at least one user")]
    RoleInUse,
    #[error("the plan is assigned to at least one user")]
    PlanInUse,
    #[error("stored value is invalid: {0}")]
    Corrupt(&'static str),
}

/// A handle on the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// Serialises audit appends so each record chains to the previous one.
    audit_lock: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Bumped by every write that can change who is authenticated as what
    /// (users, roles, sessions, API clients and tokens); caches of
    /// authentication results compare it before trusting an entry.
    auth_epoch: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish()
    }
}

fn install_drivers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(sqlx::any::install_default_drivers);
}

impl Store {
    /// Opens (creating if needed) the SQLite file `rampart.db` in `data_dir`.
    /// A new directory is made private (0700) and the database file is
    /// created 0600 before SQLite opens it (its `-wal` and `-shm` files take
    /// the same mode): it holds password hashes and TOTP secrets.
    pub async fn open_sqlite_in(data_dir: &Path) -> Result<Store, StoreError> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
        // A directory we create is private; an existing one is left as it is
        // (the files below are private either way).
        if !data_dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(data_dir)
                .map_err(StoreError::DataDir)?;
        }
        let file = data_dir.join("rampart.db");
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&file)
            .map_err(StoreError::DataDir)?;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
            .map_err(StoreError::DataDir)?;
        // Build the URL from the options type so odd characters in the path
        // are escaped correctly.
        let url = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&file)
            .create_if_missing(true)
            .to_url_lossy();
        let mut url = url.to_string();
        if !url.contains("mode=") {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str("mode=rwc");
        }
        Store::connect(&url).await
    }

    /// Connects to `sqlite://…` or `postgres://…` and applies the migrations.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        install_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        let options = AnyConnectOptions::from_str(url)?.disable_statement_logging();
        let pool_options = match backend {
            Backend::Sqlite => {
                AnyPoolOptions::new()
                    .max_connections(8)
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; \
                             PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;",
                            )
                            .await?;
                            Ok(())
                        })
                    })
            }
            Backend::Postgres => AnyPoolOptions::new().max_connections(16),
        };
        let pool = pool_options.connect_with(options).await?;
        match backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&pool).await?,
        }
        Ok(Store {
            pool,
            backend,
            audit_lock: std::sync::Arc::new(tokio::sync::Mutex::new(())),
            auth_epoch: std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0)),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The current authentication epoch (see the field).
    pub fn auth_epoch(&self) -> u64 {
        self.auth_epoch.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Marks authentication state as changed when the returned guard drops,
    /// i.e. after the calling method's transaction has committed (a reader
    /// that fetched the old state meanwhile holds an older epoch).
    pub(crate) fn auth_change(&self) -> AuthChange {
        AuthChange(self.auth_epoch.clone())
    }

    /// Checks that the database answers (for `/ready`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes every connection; later calls fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Bumps the authentication epoch on drop (see [`Store::auth_change`]).
pub(crate) struct AuthChange(std::sync::Arc<std::sync::atomic::AtomicU64>);

impl Drop for AuthChange {
    fn drop(&mut self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Maps a unique-constraint violation to `on_conflict`, other errors as they are.
fn unique_violation(e: sqlx::Error, on_conflict: StoreError) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => on_conflict,
        _ => StoreError::Database(e),
    }
}
