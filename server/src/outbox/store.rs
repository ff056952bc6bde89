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
    /// This claim's proof of holding the lease: every result write must present it.
    pub lease_token: String,
    pub lease_until: i64,
}

/// How an attempt ended, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<'a> {
    Delivered,
    /// Not delivered; try again at `next_attempt_at`.
    Retry {
        next_attempt_at: i64,
        reason: &'a str,
    },
    /// The EHR refused the message for good; `text` is its explanation (for the clinician).
    Rejected {
        text: &'a str,
    },
}

/// What recording an attempt's result did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Written as asked.
    Yes,
    /// Written, and the message's body was wiped because a revoke asked for it meanwhile.
    YesAndWiped,
    /// Nothing written: this claim no longer holds the lease (it ran out and someone else took
    /// the message), so the newer holder's result stands.
    LeaseLost,
}

/// Takes the lease of the next message due, if any: the oldest due pending message whose
/// referral has no earlier message still pending (a referral's messages go out in order), and
/// that nobody else holds. Counts the attempt now, so one cut short by a crash still counts.
/// A message a revoke asked to cancel while it was in flight, and whose holder died, is cancelled
/// here instead of being sent.
pub async fn claim(db: &Db, now: i64, lease_secs: u64) -> Result<Option<Claimed>, sqlx::Error> {
    // One transaction (one commit) for the sweep, the claim and the attempt's row.
    let mut tx = db.begin().await?;
    sqlx::query(
        "UPDATE outbox SET status = 'cancelled', body = '', cancel_requested = 0, lease_token = NULL, updated_at = ?1 \
         WHERE cancel_requested = 1 AND status = 'pending' AND lease_until <= ?1",
    )
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let token = crate::smart::random_token(16);
    let claimed: Option<Claimed> = sqlx::query_as(
        "UPDATE outbox SET lease_until = ?2, lease_token = ?3, attempts = attempts + 1, updated_at = ?1 \
         WHERE seq = (SELECT o.seq FROM outbox o WHERE o.status = 'pending' AND o.next_attempt_at <= ?1 \
                      AND o.lease_until <= ?1 AND o.body <> '' AND o.cancel_requested = 0 \
                      AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.referral_id = o.referral_id \
                                      AND p.status = 'pending' AND p.seq < o.seq) \
                      ORDER BY o.next_attempt_at, o.seq LIMIT 1) \
           AND lease_until <= ?1 AND status = 'pending' \
         RETURNING seq, id, referral_id, event, ehr_id, endpoint, body, attempts, lease_token, lease_until",
    )
    .bind(now)
    .bind(now + lease_secs as i64)
    .bind(&token)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(c) = &claimed {
        sqlx::query(
            "INSERT INTO outbox_attempts (seq, attempt, lease_token, started_ms, lease_until) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (seq, attempt) DO NOTHING",
        )
        .bind(c.seq)
        .bind(c.attempts)
        .bind(&c.lease_token)
        .bind(now_ms())
        .bind(c.lease_until)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(claimed)
}

/// Milliseconds since the epoch (attempt history).
pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Records how the attempt of `claim` went, if it still holds the lease. A message a revoke asked
/// to cancel during the attempt ends delivered, rejected, or (instead of a retry) cancelled, and
/// its body is wiped. `history` is the attempt's outcome in the attempt log.
pub async fn record(
    db: &Db,
    claim: &Claimed,
    now: i64,
    outcome: &Outcome<'_>,
    history: &str,
) -> Result<Recorded, sqlx::Error> {
    // Every statement: only for the lease holder, and wipe the body if a revoke asked meanwhile.
    // `RETURNING` gives whether the body is now empty (SQLite evaluates it on the new row).
    const DELIVERED: &str = "UPDATE outbox SET status = 'delivered', delivered_at = ?1, last_error = NULL, \
        body = CASE WHEN cancel_requested = 1 THEN '' ELSE body END, cancel_requested = 0, \
        lease_until = 0, lease_token = NULL, updated_at = ?1 \
        WHERE seq = ?2 AND lease_token = ?3 AND status = 'pending' RETURNING body = ''";
    const RETRY: &str = "UPDATE outbox SET next_attempt_at = ?4, last_error = ?5, \
        status = CASE WHEN cancel_requested = 1 THEN 'cancelled' ELSE status END, \
        body = CASE WHEN cancel_requested = 1 THEN '' ELSE body END, cancel_requested = 0, \
        lease_until = 0, lease_token = NULL, updated_at = ?1 \
        WHERE seq = ?2 AND lease_token = ?3 AND status = 'pending' RETURNING body = ''";
    const REJECTED: &str = "UPDATE outbox SET status = 'rejected', rejection = ?4, \
        body = CASE WHEN cancel_requested = 1 THEN '' ELSE body END, cancel_requested = 0, \
        lease_until = 0, lease_token = NULL, updated_at = ?1 \
        WHERE seq = ?2 AND lease_token = ?3 AND status = 'pending' RETURNING body = ''";
    let token = claim.lease_token.as_str();
    let query = match outcome {
        Outcome::Delivered => sqlx::query_scalar::<_, bool>(DELIVERED).bind(now).bind(claim.seq).bind(token),
        Outcome::Retry { next_attempt_at, reason } => sqlx::query_scalar::<_, bool>(RETRY)
            .bind(now)
            .bind(claim.seq)
            .bind(token)
            .bind(*next_attempt_at)
            .bind(*reason),
        Outcome::Rejected { text } => {
            sqlx::query_scalar::<_, bool>(REJECTED).bind(now).bind(claim.seq).bind(token).bind(*text)
        }
    };
    // The result and its line in the attempt history: one transaction, one commit.
    let mut tx = db.begin().await?;
    let wiped: Option<bool> = query.fetch_optional(&mut *tx).await?;
    sqlx::query(
        "UPDATE outbox_attempts SET finished_ms = ?, outcome = ? WHERE seq = ? AND attempt = ? AND lease_token = ?",
    )
    .bind(now_ms())
    .bind(if wiped.is_some() { history } else { "lease-lost" })
    .bind(claim.seq)
    .bind(claim.attempts)
    .bind(&claim.lease_token)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(match wiped {
        None => Recorded::LeaseLost,
        Some(true) => Recorded::YesAndWiped,
        Some(false) => Recorded::Yes,
    })
}

/// One delivery attempt as the history shows it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Attempt {
    pub attempt: i64,
    pub started_ms: i64,
    pub lease_until: i64,
    pub finished_ms: Option<i64>,
    pub outcome: Option<String>,
}

/// The attempts at message `bundle_id`, oldest first.
pub async fn attempts(db: &Db, bundle_id: &str) -> Result<Vec<Attempt>, sqlx::Error> {
    sqlx::query_as(
        "SELECT a.attempt, a.started_ms, a.lease_until, a.finished_ms, a.outcome FROM outbox_attempts a \
         JOIN outbox o ON o.seq = a.seq WHERE o.id = ? ORDER BY a.attempt",
    )
    .bind(bundle_id)
    .fetch_all(db)
    .await
}

/// A revoke meets the referral's messages: those waiting are cancelled and emptied now; one in
/// flight (leased) keeps its body until its attempt ends, then is cancelled or ends as the EHR
/// answered (see [`record`]), so a later message never overtakes it.
pub async fn cancel_for_revoke(
    tx: &mut Transaction<'_, Sqlite>,
    referral_id: &str,
    now: i64,
) -> Result<u64, sqlx::Error> {
    // SQLite evaluates every SET expression on the row as it was, so each CASE sees the old status
    // and lease.
    Ok(sqlx::query(
        "UPDATE outbox SET \
           cancel_requested = CASE WHEN status = 'pending' AND lease_until > ?1 THEN 1 ELSE cancel_requested END, \
           body = CASE WHEN status = 'pending' AND lease_until > ?1 THEN body ELSE '' END, \
           status = CASE WHEN status = 'pending' AND lease_until <= ?1 THEN 'cancelled' ELSE status END, \
           updated_at = ?1 \
         WHERE referral_id = ?2",
    )
    .bind(now)
    .bind(referral_id)
    .execute(&mut **tx)
    .await?
    .rows_affected())
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
