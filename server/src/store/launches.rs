//! Launches between `/launch` and `/callback`: stored server-side, bound to the browser that
//! started them, consumed exactly once.

use super::Db;
use crate::{sql_exec, sql_optional};

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
    let sql = format!("INSERT INTO pending_launches ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");
    sql_exec!(
        db,
        &sql,
        &p.state,
        &p.ehr_id,
        &p.launch,
        &p.pkce_verifier,
        &p.nonce,
        &p.binding_hash,
        &p.fingerprint,
        p.created_at,
        p.expires_at
    )?;
    Ok(())
}

/// The unexpired launch for `state`, without consuming it (the callback checks the browser first,
/// so a URL opened elsewhere cannot burn the real browser's launch).
pub async fn find(db: &Db, state: &str, now: i64) -> Result<Option<PendingLaunch>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM pending_launches WHERE state = $1 AND expires_at > $2");
    sql_optional!(db, &sql, state, now)
}

/// Removes the launch for `state`; true when this call removed it. Two callbacks racing with the
/// same state: exactly one gets true. The delete is the single-use guarantee.
pub async fn take(db: &Db, state: &str) -> Result<bool, sqlx::Error> {
    Ok(sql_exec!(db, "DELETE FROM pending_launches WHERE state = $1", state)? == 1)
}

/// Deletes expired launches; returns how many.
pub async fn purge_expired(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    sql_exec!(db, "DELETE FROM pending_launches WHERE expires_at <= $1", now)
}
