//! Storage: one small interface over SQLite (the embedded default) and
//! PostgreSQL, chosen by the database URL.
//!
//! [`Db`] is an enum of the two pools. Each storage function writes its query
//! once with `$1`-style parameters (both engines accept them) and the
//! [`on_pool!`] macro expands the body once per engine, so the compiler checks
//! the binds and row decoding against each driver. Where the dialects differ
//! the function names its two SQL strings side by side. SQL lives only under
//! this module; callers see plain Rust types.
//!
//! Rust writes every id (UUID v7) and timestamp (UTC), so neither engine's
//! `now()` or id generator is ever relied on.

pub mod accounts;
pub mod analytics;
pub mod builder;
pub mod installations;
pub mod oauth;
pub mod request_log;
pub mod servers;

use std::{str::FromStr, time::Duration};

use sqlx::{
    postgres::{PgPool, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous},
};

pub use accounts::*;
pub use builder::*;
pub use installations::*;
pub use request_log::*;
pub use servers::*;

/// A connection pool to one of the two supported databases.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the concrete pool of either engine.
macro_rules! on_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($pool) => $body,
            $crate::db::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Write transactions. On SQLite they start with `BEGIN IMMEDIATE`, taking
/// the write lock up front: concurrent writers then wait on the busy
/// timeout. A deferred transaction that reads first and writes later
/// cannot wait (SQLite would deadlock) and fails at once with "database is
/// locked", which concurrent deploys hit. PostgreSQL needs nothing special.
pub(crate) trait BeginWrite {
    type Engine: sqlx::Database;
    /// A statement that serializes the transactions running it, where
    /// `BEGIN IMMEDIATE` does not already (PostgreSQL: a transaction-level
    /// advisory lock). For "the first user becomes admin".
    fn serializing_statement(&self) -> Option<&'static str>;
    /// A statement (`$1`: a user id) that serializes the transactions of
    /// one user where `BEGIN IMMEDIATE` does not already (PostgreSQL: the
    /// user's row locked). For per-user limits checked by counting, so
    /// concurrent requests cannot all pass the count.
    fn user_lock_statement(&self) -> Option<&'static str>;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, Self::Engine>, sqlx::Error>> + Send + '_;
}

impl BeginWrite for sqlx::SqlitePool {
    type Engine = sqlx::Sqlite;
    fn serializing_statement(&self) -> Option<&'static str> {
        None
    }
    fn user_lock_statement(&self) -> Option<&'static str> {
        None
    }
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, Self::Engine>, sqlx::Error>> + Send + '_ {
        self.begin_with("BEGIN IMMEDIATE")
    }
}

impl BeginWrite for sqlx::PgPool {
    type Engine = sqlx::Postgres;
    fn serializing_statement(&self) -> Option<&'static str> {
        Some("SELECT pg_advisory_xact_lock(7240011)")
    }
    fn user_lock_statement(&self) -> Option<&'static str> {
        Some("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
    }
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, Self::Engine>, sqlx::Error>> + Send + '_ {
        self.begin()
    }
}

/// Storage errors callers act on; everything else is `Other`.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// A unique constraint was violated (duplicate email, name, ...).
    #[error("duplicate value")]
    Conflict,
    /// A referenced row does not exist (foreign key violation).
    #[error("referenced row does not exist")]
    MissingReference,
    /// A per-user limit counted in the transaction is reached.
    #[error("limit reached")]
    LimitReached,
    #[error(transparent)]
    Other(#[from] sqlx::Error),
}

impl DbError {
    fn classify(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err {
            if db.is_unique_violation() {
                return Self::Conflict;
            }
            if db.is_foreign_key_violation() {
                return Self::MissingReference;
            }
        }
        Self::Other(err)
    }
}

pub type DbResult<T> = Result<T, DbError>;

/// Locks the user's rows for the rest of the transaction (see
/// [`BeginWrite::user_lock_statement`]).
macro_rules! lock_user {
    ($pool:expr, $tx:expr, $user:expr) => {
        if let Some(lock) = $pool.user_lock_statement() {
            sqlx::query(lock).bind($user).execute(&mut *$tx).await.map_err(DbError::classify)?;
        }
    };
}
pub(crate) use lock_user;

impl Db {
    /// Connects and runs pending migrations. `sqlite://` URLs create the file
    /// when missing and turn on WAL, a busy timeout and foreign keys;
    /// `postgres://` (or `postgresql://`) URLs use PostgreSQL.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let db = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool =
                PgPoolOptions::new().max_connections(16).acquire_timeout(Duration::from_secs(5)).connect(url).await?;
            Db::Postgres(pool)
        } else if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true);
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(5))
                .connect_with(opts)
                .await?;
            Db::Sqlite(pool)
        } else {
            anyhow::bail!("unsupported database URL: use sqlite://... or postgres://...");
        };
        db.migrate().await?;
        Ok(db)
    }

    async fn migrate(&self) -> anyhow::Result<()> {
        match self {
            Db::Sqlite(pool) => sqlx::migrate!("./migrations/sqlite").run(pool).await?,
            Db::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// `sqlite` or `postgres`, for logs.
    pub fn engine(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// A round trip to the database, for `/readyz`.
    pub async fn ping(&self) -> DbResult<()> {
        on_pool!(self, |pool| sqlx::query("SELECT 1").execute(pool).await.map(|_| ())).map_err(DbError::classify)
    }

    pub async fn close(&self) {
        on_pool!(self, |pool| pool.close().await)
    }
}
