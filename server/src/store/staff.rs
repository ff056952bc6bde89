//! The intake console's accounts, their sign-in sessions and failed sign-ins (for throttling).

use super::{Backend, Db};
use crate::{sql_exec, sql_optional, sql_scalar};

/// Creates the account; `false` if the username is taken.
pub async fn create_account(
    db: &Db,
    username: &str,
    display_name: &str,
    password_hash: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    Ok(sql_exec!(
        db,
        "INSERT INTO staff_accounts (username, display_name, password_hash, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (username) DO NOTHING",
        username,
        display_name,
        password_hash,
        now
    )? == 1)
}

/// `(display name, password hash)` of the account.
pub async fn account(db: &Db, username: &str) -> Result<Option<(String, String)>, sqlx::Error> {
    sql_optional!(db, "SELECT display_name, password_hash FROM staff_accounts WHERE username = $1", username)
}

/// Limits of the sign-in throttle.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleLimits {
    pub per_username: i64,
    pub per_client: i64,
    /// Failures at or before this instant no longer count.
    pub since: i64,
}

/// Records a sign-in attempt as a failure if the username and the client are both under their
/// limits; `true` when recorded. Attempts at once (in this process or any other) cannot all pass
/// a check made before any of them is recorded: SQLite has one writer, and on PostgreSQL the
/// check and the insert run under transaction-scoped advisory locks on the username and the
/// client (always taken in that order, so two attempts never wait on each other in a cycle).
pub async fn record_attempt(
    db: &Db,
    username: &str,
    client: &str,
    now: i64,
    limits: ThrottleLimits,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    if db.backend() == Backend::Postgres {
        sql_exec!(
            in &mut tx,
            "SELECT pg_advisory_xact_lock(1, hashtext($1)), pg_advisory_xact_lock(2, hashtext($2))",
            username,
            client
        )?;
    }
    let inserted = sql_exec!(
        in &mut tx,
        "INSERT INTO staff_login_failures (username, client, at) SELECT $1, $2, $3 \
         WHERE (SELECT COUNT(*) FROM staff_login_failures WHERE username = $1 AND at > $4) < $5 \
           AND (SELECT COUNT(*) FROM staff_login_failures WHERE client = $2 AND at > $4) < $6",
        username,
        client,
        now,
        limits.since,
        limits.per_username,
        limits.per_client,
    )? == 1;
    tx.commit().await?;
    Ok(inserted)
}

/// Failures of `username` after `since`.
pub async fn failures_of(db: &Db, username: &str, since: i64) -> Result<i64, sqlx::Error> {
    sql_scalar!(db, "SELECT COUNT(*) FROM staff_login_failures WHERE username = $1 AND at > $2", username, since)
}

/// Forgets failures at or before `until`.
pub async fn forget_failures_until(db: &Db, until: i64) -> Result<u64, sqlx::Error> {
    sql_exec!(db, "DELETE FROM staff_login_failures WHERE at <= $1", until)
}

/// Forgets the failures of `username` (it signed in).
pub async fn forget_failures_of(db: &Db, username: &str) -> Result<(), sqlx::Error> {
    sql_exec!(db, "DELETE FROM staff_login_failures WHERE username = $1", username)?;
    Ok(())
}

/// A new console sign-in.
pub async fn insert_session(
    db: &Db,
    token_hash: &str,
    username: &str,
    csrf: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sql_exec!(
        db,
        "INSERT INTO staff_sessions (token_hash, username, csrf, expires_at, last_seen_at) VALUES ($1, $2, $3, $4, $5)",
        token_hash,
        username,
        csrf,
        expires_at,
        now
    )?;
    Ok(())
}

/// `(username, display name, CSRF token)` of the live sign-in, active since `idle_since`.
pub async fn session(
    db: &Db,
    token_hash: &str,
    now: i64,
    idle_since: i64,
) -> Result<Option<(String, String, String)>, sqlx::Error> {
    sql_optional!(
        db,
        "SELECT s.username, a.display_name, s.csrf FROM staff_sessions s JOIN staff_accounts a ON a.username = s.username \
         WHERE s.token_hash = $1 AND s.expires_at > $2 AND s.last_seen_at >= $3",
        token_hash,
        now,
        idle_since
    )
}

pub async fn touch_session(db: &Db, token_hash: &str, now: i64) -> Result<(), sqlx::Error> {
    sql_exec!(
        db,
        "UPDATE staff_sessions SET last_seen_at = $1 WHERE token_hash = $2 AND last_seen_at < $1",
        now,
        token_hash
    )?;
    Ok(())
}

pub async fn delete_session(db: &Db, token_hash: &str) -> Result<(), sqlx::Error> {
    sql_exec!(db, "DELETE FROM staff_sessions WHERE token_hash = $1", token_hash)?;
    Ok(())
}

pub async fn purge_expired_sessions(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    sql_exec!(db, "DELETE FROM staff_sessions WHERE expires_at < $1", now)
}
