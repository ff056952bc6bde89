//! Launches between `/launch` and `/callback`: stored server-side, consumed exactly once.

use crate::db::Db;

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct PendingLaunch {
    pub state: String,
    pub ehr_id: String,
    pub launch: String,
    pub pkce_verifier: String,
    pub nonce: String,
    pub created_at: i64,
    pub expires_at: i64,
}

pub async fn insert(db: &Db, p: &PendingLaunch) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO pending_launches (state, ehr_id, launch, pkce_verifier, nonce, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&p.state)
    .bind(&p.ehr_id)
    .bind(&p.launch)
    .bind(&p.pkce_verifier)
    .bind(&p.nonce)
    .bind(p.created_at)
    .bind(p.expires_at)
    .execute(db)
    .await?;
    Ok(())
}

/// Removes and returns the launch for `state` if it exists and has not expired. A second call
/// with the same state finds nothing: the delete is the single-use guarantee.
pub async fn take(db: &Db, state: &str, now: i64) -> Result<Option<PendingLaunch>, sqlx::Error> {
    let row: Option<PendingLaunch> = sqlx::query_as(
        "DELETE FROM pending_launches WHERE state = ? RETURNING state, ehr_id, launch, pkce_verifier, nonce, created_at, expires_at",
    )
    .bind(state)
    .fetch_optional(db)
    .await?;
    Ok(row.filter(|p| p.expires_at > now))
}

/// Deletes expired launches; returns how many.
pub async fn purge_expired(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM pending_launches WHERE expires_at <= ?").bind(now).execute(db).await?.rows_affected())
}
