//! Cascade's persistence layer. One [`Store`] with two real backends chosen by the database URL:
//! SQLite (`sqlite://path`, the embedded default: one file, created on first start) and
//! PostgreSQL (`postgres://…`, for several Cascade instances sharing one database). Each backend
//! has its own migrations (`migrations/sqlite`, `migrations/postgres`), applied on connect.
//!
//! All SQL is written once in the portable subset both engines accept (`$N` placeholders,
//! `ON CONFLICT`, `RETURNING`); the rare statement that differs is chosen by [`Backend`].
//! Timestamps are stored as microseconds since the Unix epoch (`BIGINT`), JSON as `TEXT`.
//! This crate knows nothing of HTTP.

/// Builds a statement from trusted fragments (column lists, quoted identifiers); values always
/// go through bind parameters.
macro_rules! sql {
    ($($t:tt)*) => { sqlx::AssertSqlSafe(format!($($t)*)) };
}

pub mod app_creds;
pub mod compute;
mod error;
pub mod identity;
pub mod image_tasks;
pub mod images;
pub mod instance_actions;
pub mod jobs;
pub mod metadefs;
pub mod network;
pub mod pods;
pub mod routings;
pub mod testing;
pub mod volume_admin;
pub mod volumes;

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};

pub use error::StoreError;

/// Result alias of this crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The database engine behind a [`Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A handle on Cascade's database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    /// Connects to `url`, creating the SQLite file or the PostgreSQL `schema` if missing, and
    /// applies the migrations. `schema` is only meaningful for PostgreSQL: every connection of
    /// the pool then works inside it (tests use one schema per run so runs never collide).
    pub async fn connect(url: &str, schema: Option<&str>) -> Result<Store> {
        install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::Config(format!(
                "unsupported database_url {url:?}: expected sqlite://PATH or postgres://…"
            )));
        };
        let pool = match backend {
            Backend::Sqlite => {
                let url = if url.contains('?') || url.contains(":memory:") {
                    url.to_string()
                } else {
                    format!("{url}?mode=rwc")
                };
                AnyPoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(Duration::from_secs(30))
                    // A SQLite connection is a handle in this process: the ping sqlx sends
                    // before every acquire only costs a round trip to its worker thread.
                    .test_before_acquire(false)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute("PRAGMA journal_mode = WAL").await?;
                            conn.execute("PRAGMA busy_timeout = 10000").await?;
                            conn.execute("PRAGMA foreign_keys = ON").await?;
                            conn.execute("PRAGMA synchronous = NORMAL").await?;
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await?
            }
            Backend::Postgres => {
                let schema = schema.map(quote_ident).transpose()?;
                if let Some(schema) = &schema {
                    let setup = AnyPoolOptions::new()
                        .max_connections(1)
                        .connect(url)
                        .await?;
                    setup
                        .execute(sql!("CREATE SCHEMA IF NOT EXISTS {schema}"))
                        .await?;
                    setup.close().await;
                }
                AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(30))
                    .after_connect(move |conn, _| {
                        let schema = schema.clone();
                        Box::pin(async move {
                            if let Some(schema) = schema {
                                conn.execute(sql!("SET search_path TO {schema}")).await?;
                            }
                            Ok(())
                        })
                    })
                    .connect(url)
                    .await?
            }
        };
        let store = Store { pool, backend };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Migrate(e.to_string()))
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Checks that the database answers (used by `/healthz`).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Drops a PostgreSQL schema and everything in it (test clean-up).
    pub async fn drop_schema(url: &str, schema: &str) -> Result<()> {
        install_default_drivers();
        let schema = quote_ident(schema)?;
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await?;
        pool.execute(sql!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .await?;
        pool.close().await;
        Ok(())
    }
}

fn quote_ident(name: &str) -> Result<String> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(StoreError::Config(format!(
            "invalid schema name {name:?}: use letters, digits and underscores"
        )));
    }
    Ok(format!("\"{name}\""))
}

/// Microseconds since the Unix epoch, the stored form of every timestamp.
pub fn to_micros(ts: DateTime<Utc>) -> i64 {
    ts.timestamp_micros()
}

/// The inverse of [`to_micros`].
pub fn from_micros(us: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(us).single().unwrap_or_default()
}

/// Now, as stored.
pub fn now_micros() -> i64 {
    to_micros(Utc::now())
}

/// A boolean as stored: `BIGINT` 0/1 on both engines, because the `Any` driver cannot read
/// SQLite's booleans. Rows decode it with `#[sqlx(try_from = "Flag")]`; binds use `i64::from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flag(pub bool);

impl From<Flag> for bool {
    fn from(flag: Flag) -> bool {
        flag.0
    }
}

impl sqlx::Type<sqlx::Any> for Flag {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <i64 as sqlx::Type<sqlx::Any>>::type_info()
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Any> for Flag {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        Ok(Flag(
            <i64 as sqlx::Decode<'r, sqlx::Any>>::decode(value)? != 0,
        ))
    }
}
