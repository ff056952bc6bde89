//! Launches between `/launch` and `/callback`: stored server-side, bound to the browser that
//! started them, consumed exactly once.

use crate::db::Db;

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct PendingLaunch {
    pub state: String,
    pub ehr_id: String,
    pub launch: String,
    pub pkce_verifier: String,
    pub nonce: String,
    /// SHA-256 of the state cookie's secret (see `session::binding`).
    pub binding_hash: String,
    /// The starting browser's fingerprint, for browsers that send no cookie.
    pub fingerprint: String,
    pub created_at: i64,
    pub expires_at: i64,
}

const COLUMNS: &str = "state, ehr_id, launch, pkce_verifier, nonce, binding_hash, fingerprint, created_at, expires_at";

pub async fn insert(db: &Db, p: &PendingLaunch) -> Result<(), sqlx::Error> {
    sqlx::query(&format!("INSERT INTO pending_launches ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"))
        .bind(&p.state)
        .bind(&p.ehr_id)
        .bind(&p.launch)
        .bind(&p.pkce_verifier)
        .bind(&p.nonce)
        .bind(&p.binding_hash)
        .bind(&p.fingerprint)
        .bind(p.created_at)
        .bind(p.expires_at)
        .execute(db)
        .await?;
    Ok(())
}

/// The unexpired launch for `state`, without consuming it (the callback checks the browser first,
/// so a URL opened elsewhere cannot burn the real browser's launch).
pub async fn find(db: &Db, state: &str, now: i64) -> Result<Option<PendingLaunch>, sqlx::Error> {
    let row: Option<PendingLaunch> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM pending_launches WHERE state = ? AND expires_at > ?"))
            .bind(state)
            .bind(now)
            .fetch_optional(db)
            .await?;
    Ok(row)
}

/// Removes the launch for `state`; true when this call removed it. Two callbacks racing with the
/// same state: exactly one gets true. The delete is the single-use guarantee.
pub async fn take(db: &Db, state: &str) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM pending_launches WHERE state = ?").bind(state).execute(db).await?.rows_affected() == 1)
}

/// Deletes expired launches; returns how many.
pub async fn purge_expired(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM pending_launches WHERE expires_at <= ?").bind(now).execute(db).await?.rows_affected())
}
