//! The referral's timeline (`referral_events`): written in the transaction of each change.

use sqlx::{Sqlite, Transaction};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TimelineEvent {
    pub at: i64,
    pub kind: String,
    pub task_status: String,
    pub business_status: String,
    pub text: Option<String>,
    pub actor: Option<String>,
}

/// Records one event (in the caller's transaction).
pub async fn record(
    tx: &mut Transaction<'_, Sqlite>,
    referral_id: &str,
    at: i64,
    kind: &str,
    (task_status, business_status): (&str, &str),
    text: Option<&str>,
    actor: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO referral_events (referral_id, at, kind, task_status, business_status, text, actor) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(referral_id)
    .bind(at)
    .bind(kind)
    .bind(task_status)
    .bind(business_status)
    .bind(text)
    .bind(actor)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The referral's events, oldest first.
pub async fn of(db: &crate::db::Db, referral_id: &str) -> Result<Vec<TimelineEvent>, sqlx::Error> {
    sqlx::query_as(
        "SELECT at, kind, task_status, business_status, text, actor FROM referral_events WHERE referral_id = ? ORDER BY seq",
    )
    .bind(referral_id)
    .fetch_all(db)
    .await
}
