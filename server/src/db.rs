//! The database: SQLite through sqlx, migrations applied at start.

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::{str::FromStr, time::Duration};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database URL {0:?} is not supported: use sqlite://path/to/file.db")]
    UnsupportedUrl(String),
    #[error("cannot open the database: {0}")]
    Open(#[from] sqlx::Error),
    #[error("cannot apply database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot create the database directory {path}: {source}")]
    Dir { path: String, source: std::io::Error },
}

pub type Db = SqlitePool;

/// Opens (creating if needed) the database at `url` and brings its schema up to date.
pub async fn open(url: &str) -> Result<Db, DbError> {
    if !(url.starts_with("sqlite:")) {
        return Err(DbError::UnsupportedUrl(url.to_string()));
    }
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        // Deleted and overwritten content is zeroed in the file (revoked referrals' PHI must go).
        .pragma("secure_delete", "ON")
        .busy_timeout(Duration::from_secs(5));
    if let Some(parent) = options.get_filename().parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent)
                .map_err(|source| DbError::Dir { path: parent.display().to_string(), source })?;
        }
    }
    let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await?;
    sqlx::migrate!("./migrations").run(&pool).await?;
    Ok(pool)
}
