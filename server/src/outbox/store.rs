//! The outbox table: messages recorded with the change that caused them, claimed one at a time
//! by the delivery workers, and their delivery state.

use crate::db::Db;
use sqlx::{Sqlite, Transaction};

/// A message to record (in the caller's transaction).
#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    pub bundle_id: &'a str,
    pub message_header_id: &'a str,
    pub referral_id: &'a str,
    pub event: &'a str,
    pub ehr_id: &'a str,
    pub endpoint: &'a str,
    pub body: &'a str,
    pub now: i64,
}

pub async fn enqueue(tx: &mut Transaction<'_, Sqlite>, m: &NewMessage<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO outbox (id, message_header_id, referral_id, event, ehr_id, endpoint, body, status, attempts, \
         next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)",
    )
    .bind(m.bundle_id)
    .bind(m.message_header_id)
    .bind(m.referral_id)
    .bind(m.event)
    .bind(m.ehr_id)
    .bind(m.endpoint)
    .bind(m.body)
    .bind(m.now)
    .bind(m.now)
    .bind(m.now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A message a worker holds the lease of.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    pub seq: i64,
    pub id: String,
    pub referral_id: String,
    pub event: String,
    pub ehr_id: String,
    pub endpoint: String,
    pub body: String,
    /// Including this one.
    pub attempts: i64,
}

/// Takes the lease of the next message due, if any: the oldest due pending message whose
/// referral has no earlier message still pending (a referral's messages go out in order), and
/// that nobody else holds. Counts the attempt now, so one cut short by a crash still counts.
pub async fn claim(db: &Db, now: i64, lease_secs: u64) -> Result<Option<Claimed>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE outbox SET lease_until = ?2, attempts = attempts + 1, updated_at = ?1 \
         WHERE seq = (SELECT o.seq FROM outbox o WHERE o.status = 'pending' AND o.next_attempt_at <= ?1 \
                      AND o.lease_until <= ?1 AND o.body <> '' \
                      AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.referral_id = o.referral_id \
                                      AND p.status = 'pending' AND p.seq < o.seq) \
                      ORDER BY o.next_attempt_at, o.seq LIMIT 1) \
           AND lease_until <= ?1 AND status = 'pending' \
         RETURNING seq, id, referral_id, event, ehr_id, endpoint, body, attempts",
    )
    .bind(now)
    .bind(now + lease_secs as i64)
    .fetch_optional(db)
    .await
}

pub async fn mark_delivered(db: &Db, seq: i64, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE outbox SET status = 'delivered', delivered_at = ?, lease_until = 0, last_error = NULL, updated_at = ? \
         WHERE seq = ? AND status = 'pending'",
    )
    .bind(now)
    .bind(now)
    .bind(seq)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn mark_retry(db: &Db, seq: i64, now: i64, next_attempt_at: i64, reason: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE outbox SET next_attempt_at = ?, lease_until = 0, last_error = ?, updated_at = ? \
         WHERE seq = ? AND status = 'pending'",
    )
    .bind(next_attempt_at)
    .bind(reason)
    .bind(now)
    .bind(seq)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn mark_rejected(db: &Db, seq: i64, now: i64, text: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE outbox SET status = 'rejected', rejection = ?, lease_until = 0, updated_at = ? \
         WHERE seq = ? AND status = 'pending'",
    )
    .bind(text)
    .bind(now)
    .bind(seq)
    .execute(db)
    .await?;
    Ok(())
}

/// Where one message stands.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Delivery {
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub rejection: Option<String>,
    pub delivered_at: Option<i64>,
}

/// The delivery of `referral_id`'s message for `event` (its first such message).
pub async fn delivery(db: &Db, referral_id: &str, event: &str) -> Result<Option<Delivery>, sqlx::Error> {
    sqlx::query_as(
        "SELECT status, attempts, next_attempt_at, last_error, rejection, delivered_at FROM outbox \
         WHERE referral_id = ? AND event = ? ORDER BY seq LIMIT 1",
    )
    .bind(referral_id)
    .bind(event)
    .fetch_optional(db)
    .await
}
