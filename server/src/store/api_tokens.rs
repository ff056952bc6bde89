//! Access tokens our token endpoint issued to EHRs (only a SHA-256 of each is kept), and the
//! `jti`s of client assertions already used.

use super::Db;
use crate::{sql_exec, sql_optional};

pub async fn insert(
    db: &Db,
    token_hash: &str,
    ehr_id: &str,
    client_id: &str,
    scopes: &str,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sql_exec!(
        db,
        "INSERT INTO api_access_tokens (token_hash, ehr_id, client_id, scopes, expires_at) VALUES ($1, $2, $3, $4, $5)",
        token_hash,
        ehr_id,
        client_id,
        scopes,
        expires_at
    )?;
    Ok(())
}

/// `(EHR, client, scopes)` of the live token.
pub async fn find(db: &Db, token_hash: &str, now: i64) -> Result<Option<(String, String, String)>, sqlx::Error> {
    sql_optional!(
        db,
        "SELECT ehr_id, client_id, scopes FROM api_access_tokens WHERE token_hash = $1 AND expires_at > $2",
        token_hash,
        now
    )
}

/// Records the assertion's `jti`; `false` if it was used before (a replay).
pub async fn first_use_of_jti(db: &Db, client_id: &str, jti: &str, keep_until: i64) -> Result<bool, sqlx::Error> {
    Ok(sql_exec!(
        db,
        "INSERT INTO api_assertion_jtis (client_id, jti, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        client_id,
        jti,
        keep_until
    )? == 1)
}

pub async fn purge_expired(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    let a = sql_exec!(db, "DELETE FROM api_access_tokens WHERE expires_at < $1", now)?;
    let b = sql_exec!(db, "DELETE FROM api_assertion_jtis WHERE expires_at < $1", now)?;
    Ok(a + b)
}
