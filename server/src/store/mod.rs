//! The store: every query of the app, one module per aggregate, on SQLite (the zero-configuration
//! default) or PostgreSQL (several instances). [`Db`] is the one interface; each store function
//! runs its SQL on whichever backend the URL chose. Where both dialects agree (most statements:
//! `$n` parameters, `ON CONFLICT`, `RETURNING`) the statement is written once and compiled for
//! both; where they differ (claims with `FOR UPDATE SKIP LOCKED`, SQLite's WAL checkpoint) each
//! backend has its own. Handlers and domain code never hold SQL.
//!
//! Schemas: `migrations/sqlite` and `migrations/postgres`, applied at start. PostgreSQL's migrator
//! holds an advisory lock and SQLite's a lock file beside the database, so instances starting
//! together apply each migration once.

pub mod api_tokens;
pub mod drafts;
pub mod launches;
pub mod outbox;
pub mod referrals;
pub mod sessions;
pub mod staff;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use std::{path::PathBuf, str::FromStr, sync::Arc, time::Duration};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database URL {0:?} is not supported: use sqlite://path/to/file.db or postgres://user@host/db")]
    UnsupportedUrl(String),
    #[error("cannot open the database: {0}")]
    Open(#[from] sqlx::Error),
    #[error("cannot apply database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot create the database directory or lock file {path}: {source}")]
    Dir { path: String, source: std::io::Error },
}

/// Which database the app runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The database: a pool of connections to SQLite or PostgreSQL.
#[derive(Clone)]
pub enum Db {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

#[derive(Clone)]
pub struct SqliteStore {
    pub pool: SqlitePool,
    /// Serialises the busiest writers (submit, outbox claims and results) inside this process, so
    /// they queue here instead of in SQLite's busy handler, which sleeps in growing steps. SQLite
    /// has one writer at a time anyway; PostgreSQL needs no gate.
    gate: Arc<tokio::sync::Mutex<()>>,
}

#[derive(Clone)]
pub struct PgStore {
    pub pool: PgPool,
    /// For LISTEN connections (the pool's connections are shared).
    pub options: PgConnectOptions,
}

/// A transaction on either backend.
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// Runs `$body` with `$c` bound to the pool of whichever backend `$db` is; the body is compiled
/// once per backend, so one statement text serves both.
#[macro_export]
macro_rules! on_db {
    ($db:expr, $c:ident => $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite(s) => {
                let $c = &s.pool;
                $body
            }
            $crate::store::Db::Postgres(s) => {
                let $c = &s.pool;
                $body
            }
        }
    };
}

/// Like [`on_db!`] in a transaction: `$c` is the transaction's connection (`&mut *$c` to reuse).
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, $c:ident => $body:expr) => {
        match $tx {
            $crate::store::Tx::Sqlite(t) => {
                let $c = &mut **t;
                $body
            }
            $crate::store::Tx::Postgres(t) => {
                let $c = &mut **t;
                $body
            }
        }
    };
}

/// One statement with its parameters on either backend (or `in tx`): the rows it changed.
#[macro_export]
macro_rules! sql_exec {
    (in $tx:expr, $sql:expr $(, $arg:expr)* $(,)?) => {
        $crate::on_tx!($tx, c => sqlx::query($sql)$(.bind($arg))*.execute(&mut *c).await.map(|r| r.rows_affected()))
    };
    ($db:expr, $sql:expr $(, $arg:expr)* $(,)?) => {
        $crate::on_db!($db, c => sqlx::query($sql)$(.bind($arg))*.execute(c).await.map(|r| r.rows_affected()))
    };
}

/// The rows of a query as the caller's row type (`sqlx::FromRow`, tuples), or `in tx`.
#[macro_export]
macro_rules! sql_all {
    (in $tx:expr, $sql:expr $(, $arg:expr)* $(,)?) => {
        $crate::on_tx!($tx, c => sqlx::query_as($sql)$(.bind($arg))*.fetch_all(&mut *c).await)
    };
    ($db:expr, $sql:expr $(, $arg:expr)* $(,)?) => {
        $crate::on_db!($db, c => sqlx::query_as($sql)$(.bind($arg))*.fetch_all(c).await)
    };
}

/// The one row of a query (an error if there is none), or `in tx`.
#[macro_export]
macro_rules! sql_one {
    (in $tx:expr, $sql:expr $(, $arg:expr)* $(,)?) => {
        $crate::on_tx!($tx, c => sqlx::query_as($sql)$(.bind($arg))*.fetch_one(&mut *c).await)
    };
    ($db:expr, $sql:expr $(, $arg:expr)* $(,)?) => {
        $crate::on_db!($db, c => sqlx::query_as($sql)$(.bind($arg))*.fetch_one(c).await)
    };
}

/// The first row of a query, if any, or `in tx`.
#[macro_export]
macro_rules! sql_optional {
    (in $tx:expr, $sql:expr $(, $arg:expr)* $(,)?) => {
        $crate::on_tx!($tx, c => sqlx::query_as($sql)$(.bind($arg))*.fetch_optional(&mut *c).await)
    };
    ($db:expr, $sql:expr $(, $arg:expr)* $(,)?) => {
        $crate::on_db!($db, c => sqlx::query_as($sql)$(.bind($arg))*.fetch_optional(c).await)
    };
}

/// The one value of a one-column query (an error if there is no row), or `in tx`.
#[macro_export]
macro_rules! sql_scalar {
    (in $tx:expr, $sql:expr $(, $arg:expr)* $(,)?) => {
        $crate::on_tx!($tx, c => sqlx::query_scalar($sql)$(.bind($arg))*.fetch_one(&mut *c).await)
    };
    ($db:expr, $sql:expr $(, $arg:expr)* $(,)?) => {
        $crate::on_db!($db, c => sqlx::query_scalar($sql)$(.bind($arg))*.fetch_one(c).await)
    };
}

/// The value of a one-column query's first row, if any, or `in tx`.
#[macro_export]
macro_rules! sql_scalar_optional {
    (in $tx:expr, $sql:expr $(, $arg:expr)* $(,)?) => {
        $crate::on_tx!($tx, c => sqlx::query_scalar($sql)$(.bind($arg))*.fetch_optional(&mut *c).await)
    };
    ($db:expr, $sql:expr $(, $arg:expr)* $(,)?) => {
        $crate::on_db!($db, c => sqlx::query_scalar($sql)$(.bind($arg))*.fetch_optional(c).await)
    };
}

impl Db {
    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(s) => Tx::Sqlite(s.pool.begin().await?),
            Db::Postgres(s) => Tx::Postgres(s.pool.begin().await?),
        })
    }

    /// Queues a write behind this process's other busy writers where the backend wants it
    /// (SQLite); `None` on PostgreSQL, whose row locks do the work.
    pub async fn write_gate(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self {
            Db::Sqlite(s) => Some(s.gate.lock().await),
            Db::Postgres(_) => None,
        }
    }

    /// The database answers.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sql_exec!(self, "SELECT 1").map(drop)
    }

    /// After an erasure (revoke) is committed, makes the removed data leave the disk where the
    /// backend allows: SQLite copies the WAL into the database file and truncates it, so page
    /// images holding removed data are gone (with `secure_delete`, freed pages in the file are
    /// zeroed). A reader holding an old snapshot makes it stop short, so it is tried again for a
    /// while; one that never completes is logged as an error for operators. PostgreSQL keeps old
    /// row versions until vacuum and WAL until recycled: there, erasure rests on the referral's
    /// data key being destroyed (see the README's store guarantees), and this returns `true`.
    pub async fn flush_erasure(&self) -> bool {
        let Db::Sqlite(s) = self else { return true };
        for attempt in 0..50 {
            match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&s.pool).await {
                // (busy, WAL frames, frames checkpointed): busy 0 means every frame is in the file.
                Ok((0, _, _)) => return true,
                Ok((_, log, done)) => {
                    tracing::debug!(attempt, log, done, "WAL checkpoint blocked by a reader; trying again")
                }
                Err(e) => tracing::warn!(attempt, error = %e, "WAL checkpoint failed; trying again"),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tracing::error!(
            "the WAL could not be checkpointed after a revoke: removed data may remain in the WAL file until the next checkpoint"
        );
        false
    }

    pub async fn close(&self) {
        on_db!(self, c => c.close().await)
    }
}

impl Tx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(t) => t.commit().await,
            Tx::Postgres(t) => t.commit().await,
        }
    }
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(t) => t.rollback().await,
            Tx::Postgres(t) => t.rollback().await,
        }
    }
}

/// Which backend a database URL names.
pub fn backend_of(url: &str) -> Option<Backend> {
    if url.starts_with("sqlite:") {
        Some(Backend::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Some(Backend::Postgres)
    } else {
        None
    }
}

/// Opens (creating if needed) the database at `url` and brings its schema up to date.
pub async fn open(url: &str) -> Result<Db, DbError> {
    match backend_of(url) {
        Some(Backend::Sqlite) => open_sqlite(url).await,
        Some(Backend::Postgres) => open_postgres(url).await,
        None => Err(DbError::UnsupportedUrl(redact(url))),
    }
}

/// `url` without its password (for messages).
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

async fn open_sqlite(url: &str) -> Result<Db, DbError> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        // Deleted and overwritten content is zeroed in the file (revoked referrals' PHI must go).
        .pragma("secure_delete", "ON")
        .busy_timeout(Duration::from_secs(5));
    let file: PathBuf = options.get_filename().to_path_buf();
    if let Some(parent) = file.parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent)
                .map_err(|source| DbError::Dir { path: parent.display().to_string(), source })?;
        }
    }
    let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await?;
    // Two processes starting on one file: the lock file lets one migrate at a time (SQLite's own
    // locks would let both see a migration as missing and the second fail applying it).
    let lock_path = file.with_extension("migrate.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|source| DbError::Dir { path: lock_path.display().to_string(), source })?;
    let lock = tokio::task::spawn_blocking(move || lock.lock().map(|()| lock))
        .await
        .map_err(|e| DbError::Dir { path: lock_path.display().to_string(), source: std::io::Error::other(e) })?
        .map_err(|source| DbError::Dir { path: lock_path.display().to_string(), source })?;
    let migrated = sqlx::migrate!("./migrations/sqlite").run(&pool).await;
    drop(lock);
    migrated?;
    Ok(Db::Sqlite(SqliteStore { pool, gate: Arc::default() }))
}

async fn open_postgres(url: &str) -> Result<Db, DbError> {
    let options = PgConnectOptions::from_str(url)?.application_name("ereferral");
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options.clone())
        .await?;
    // sqlx's PostgreSQL migrator holds an advisory lock while it runs: instances starting at
    // once apply each migration once.
    sqlx::migrate!("./migrations/postgres").run(&pool).await?;
    Ok(Db::Postgres(PgStore { pool, options }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_backend() {
        assert_eq!(backend_of("sqlite://data/x.db"), Some(Backend::Sqlite));
        assert_eq!(backend_of("sqlite::memory:"), Some(Backend::Sqlite));
        assert_eq!(backend_of("postgres://u@h/db"), Some(Backend::Postgres));
        assert_eq!(backend_of("postgresql://u@h/db"), Some(Backend::Postgres));
        assert_eq!(backend_of("mysql://u@h/db"), None);
    }

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert!(!redact("postgres://u:secret@h/db").contains("secret"));
    }
}
