//! The outbox table: messages recorded with the change that caused them, claimed one at a time
//! by the delivery workers, and their delivery state.

use super::{data_keys, Backend, Db, Tx};
use crate::{sql_all, sql_exec, sql_optional};

/// A message to record (in the caller's transaction).
#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    pub bundle_id: &'a str,
    pub message_header_id: &'a str,
    pub referral_id: &'a str,
    pub event: &'a str,
    pub ehr_id: &'a str,
    pub endpoint: &'a str,
    /// The message as stored: sealed under the referral's data key when it holds PHI
    /// ([`data_keys::seal_with`]), as it is when it holds none (a revoke's tombstones).
    pub body: &'a str,
    pub now: i64,
}

pub async fn enqueue(tx: &mut Tx, m: &NewMessage<'_>) -> Result<(), sqlx::Error> {
    sql_exec!(
        in tx,
        "INSERT INTO outbox (id, message_header_id, referral_id, event, ehr_id, endpoint, body, status, attempts, \
         next_attempt_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8, $8, $8)",
        m.bundle_id,
        m.message_header_id,
        m.referral_id,
        m.event,
        m.ehr_id,
        m.endpoint,
        m.body,
        m.now,
    )?;
    if let Tx::Postgres(t) = tx {
        // Delivered to every listening instance when (and only if) the transaction commits.
        sqlx::query("SELECT pg_notify($1, '')").bind(WAKE_CHANNEL).execute(&mut **t).await?;
    }
    Ok(())
}

/// The PostgreSQL channel a recorded message is announced on.
pub const WAKE_CHANNEL: &str = "ereferral_outbox";

/// On PostgreSQL, calls `wake` whenever any instance records a message (LISTEN on
/// [`WAKE_CHANNEL`]), until the process ends; reconnects after losing the connection. On SQLite
/// there are no other instances to hear from, and this returns at once. Workers poll as well, so
/// a lost notification only delays a delivery by the poll interval.
pub async fn wake_on_records(db: &Db, wake: impl Fn()) {
    let Db::Postgres(pg) = db else { return };
    let mut backoff = std::time::Duration::from_millis(200);
    loop {
        match sqlx::postgres::PgListener::connect_with(&pg.pool).await {
            Ok(mut listener) => match listener.listen(WAKE_CHANNEL).await {
                Ok(()) => {
                    backoff = std::time::Duration::from_millis(200);
                    // A message recorded while nobody listened is found by the next claim.
                    wake();
                    loop {
                        match listener.recv().await {
                            Ok(_) => wake(),
                            Err(e) => {
                                tracing::warn!(error = %e, "outbox: lost the LISTEN connection; reconnecting");
                                break;
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "outbox: LISTEN failed"),
            },
            Err(e) => tracing::warn!(error = %e, "outbox: cannot open a LISTEN connection"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(std::time::Duration::from_secs(10));
    }
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
    sql_exec!(
        in &mut tx,
        "UPDATE outbox SET status = 'cancelled', body = '', cancel_requested = FALSE, lease_token = NULL, updated_at = $1 \
         WHERE cancel_requested = TRUE AND status = 'pending' AND lease_until <= $1",
        now
    )?;
    let token = crate::smart::random_token(16);
    // The candidate: oldest due first, never ahead of an earlier pending message of its referral.
    // On PostgreSQL the candidate's row is locked and rows other instances hold are skipped, so
    // instances claiming at once take different messages instead of queueing on one; the outer
    // conditions are checked again on the row as it is once locked (SQLite: one writer at a time).
    let sql = match db.backend() {
        Backend::Sqlite => concat!(
            "UPDATE outbox SET lease_until = $2, lease_token = $3, attempts = attempts + 1, updated_at = $1 ",
            "WHERE seq = (SELECT o.seq FROM outbox o WHERE o.status = 'pending' AND o.next_attempt_at <= $1 ",
            "AND o.lease_until <= $1 AND o.body <> '' AND o.cancel_requested = FALSE ",
            "AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.referral_id = o.referral_id AND p.status = 'pending' AND p.seq < o.seq) ",
            "ORDER BY o.next_attempt_at, o.seq LIMIT 1) ",
            "AND lease_until <= $1 AND status = 'pending' ",
            "RETURNING seq, id, referral_id, event, ehr_id, endpoint, body, attempts, lease_token, lease_until"
        ),
        Backend::Postgres => concat!(
            "UPDATE outbox SET lease_until = $2, lease_token = $3, attempts = attempts + 1, updated_at = $1 ",
            "WHERE seq = (SELECT o.seq FROM outbox o WHERE o.status = 'pending' AND o.next_attempt_at <= $1 ",
            "AND o.lease_until <= $1 AND o.body <> '' AND o.cancel_requested = FALSE ",
            "AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.referral_id = o.referral_id AND p.status = 'pending' AND p.seq < o.seq) ",
            "ORDER BY o.next_attempt_at, o.seq LIMIT 1 FOR UPDATE OF o SKIP LOCKED) ",
            "AND lease_until <= $1 AND status = 'pending' ",
            "RETURNING seq, id, referral_id, event, ehr_id, endpoint, body, attempts, lease_token, lease_until"
        ),
    };
    let claimed: Option<Claimed> = sql_optional!(in &mut tx, sql, now, now + lease_secs as i64, &token)?;
    if let Some(c) = &claimed {
        sql_exec!(
            in &mut tx,
            "INSERT INTO outbox_attempts (seq, attempt, lease_token, started_ms, lease_until) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (seq, attempt) DO NOTHING",
            c.seq,
            c.attempts,
            &c.lease_token,
            now_ms(),
            c.lease_until,
        )?;
    }
    tx.commit().await?;
    let Some(mut c) = claimed else { return Ok(None) };
    if data_keys::is_sealed(&c.body) {
        let key = data_keys::of_referral(db, &c.referral_id).await?;
        match data_keys::open_text(key.as_ref(), &c.body) {
            Ok(body) => c.body = body,
            Err(_) => {
                // Its key was destroyed (the referral was revoked): there is nothing to send.
                tracing::warn!(message = %c.id, "a message's data key is gone; it is cancelled instead of sent");
                let outcome = Outcome::Retry { next_attempt_at: now, reason: "its data key was destroyed" };
                sql_exec!(
                    db,
                    "UPDATE outbox SET cancel_requested = TRUE WHERE seq = $1 AND lease_token = $2",
                    c.seq,
                    &c.lease_token
                )?;
                record(db, &c, now, &outcome, "cancelled").await?;
                return Ok(None);
            }
        }
    }
    Ok(Some(c))
}

/// The body of message `bundle_id`, unsealed where its key remains.
pub async fn body_of(db: &Db, bundle_id: &str) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(String, String)> =
        sql_optional!(db, "SELECT referral_id, body FROM outbox WHERE id = $1", bundle_id)?;
    let Some((referral, body)) = row else { return Ok(None) };
    let key = data_keys::of_referral(db, &referral).await?;
    Ok(Some(data_keys::open_text(key.as_ref(), &body).unwrap_or(body)))
}

/// `(event, status, body)` of every message, in order, bodies unsealed where their key remains.
pub async fn bodies(db: &Db) -> Result<Vec<(String, String, String)>, sqlx::Error> {
    let rows: Vec<(String, String, String, String)> =
        sql_all!(db, "SELECT referral_id, event, status, body FROM outbox ORDER BY seq")?;
    let mut out = Vec::with_capacity(rows.len());
    for (referral, event, status, body) in rows {
        let key = data_keys::of_referral(db, &referral).await?;
        out.push((event, status, data_keys::open_text(key.as_ref(), &body).unwrap_or(body)));
    }
    Ok(out)
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
    // `RETURNING` gives whether the body is now empty (both backends evaluate it on the new row;
    // every SET expression sees the row as it was).
    const DELIVERED: &str = "UPDATE outbox SET status = 'delivered', delivered_at = $1, last_error = NULL, \
        body = CASE WHEN cancel_requested THEN '' ELSE body END, cancel_requested = FALSE, \
        lease_until = 0, lease_token = NULL, updated_at = $1 \
        WHERE seq = $2 AND lease_token = $3 AND status = 'pending' RETURNING body = ''";
    const RETRY: &str = "UPDATE outbox SET next_attempt_at = $4, last_error = $5, \
        status = CASE WHEN cancel_requested THEN 'cancelled' ELSE status END, \
        body = CASE WHEN cancel_requested THEN '' ELSE body END, cancel_requested = FALSE, \
        lease_until = 0, lease_token = NULL, updated_at = $1 \
        WHERE seq = $2 AND lease_token = $3 AND status = 'pending' RETURNING body = ''";
    const REJECTED: &str = "UPDATE outbox SET status = 'rejected', rejection = $4, \
        body = CASE WHEN cancel_requested THEN '' ELSE body END, cancel_requested = FALSE, \
        lease_until = 0, lease_token = NULL, updated_at = $1 \
        WHERE seq = $2 AND lease_token = $3 AND status = 'pending' RETURNING body = ''";
    let token = claim.lease_token.as_str();
    // The result and its line in the attempt history: one transaction, one commit.
    let mut tx = db.begin().await?;
    let wiped: Option<(bool,)> = match outcome {
        Outcome::Delivered => sql_optional!(in &mut tx, DELIVERED, now, claim.seq, token)?,
        Outcome::Retry { next_attempt_at, reason } => {
            sql_optional!(in &mut tx, RETRY, now, claim.seq, token, *next_attempt_at, *reason)?
        }
        Outcome::Rejected { text } => sql_optional!(in &mut tx, REJECTED, now, claim.seq, token, *text)?,
    };
    let wiped = wiped.map(|(w,)| w);
    sql_exec!(
        in &mut tx,
        "UPDATE outbox_attempts SET finished_ms = $1, outcome = $2 WHERE seq = $3 AND attempt = $4 AND lease_token = $5",
        now_ms(),
        if wiped.is_some() { history } else { "lease-lost" },
        claim.seq,
        claim.attempts,
        &claim.lease_token,
    )?;
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
    sql_all!(
        db,
        "SELECT a.attempt, a.started_ms, a.lease_until, a.finished_ms, a.outcome FROM outbox_attempts a \
         JOIN outbox o ON o.seq = a.seq WHERE o.id = $1 ORDER BY a.attempt",
        bundle_id
    )
}

/// A revoke meets the referral's messages: those waiting are cancelled and emptied now; one in
/// flight (leased) keeps its body until its attempt ends, then is cancelled or ends as the EHR
/// answered (see [`record`]), so a later message never overtakes it.
pub async fn cancel_for_revoke(tx: &mut Tx, referral_id: &str, now: i64) -> Result<u64, sqlx::Error> {
    // Every SET expression sees the row as it was, so each CASE sees the old status and lease.
    sql_exec!(
        in tx,
        "UPDATE outbox SET \
           cancel_requested = CASE WHEN status = 'pending' AND lease_until > $1 THEN TRUE ELSE cancel_requested END, \
           body = CASE WHEN status = 'pending' AND lease_until > $1 THEN body ELSE '' END, \
           status = CASE WHEN status = 'pending' AND lease_until <= $1 THEN 'cancelled' ELSE status END, \
           updated_at = $1 \
         WHERE referral_id = $2",
        now,
        referral_id
    )
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
    sql_optional!(
        db,
        "SELECT status, attempts, next_attempt_at, last_error, rejection, delivered_at FROM outbox \
         WHERE referral_id = $1 AND event = $2 ORDER BY seq LIMIT 1",
        referral_id,
        event
    )
}

/// `(event, status, attempts, rejection)` of every message about the referral, in order.
pub async fn messages_of(
    db: &Db,
    referral_id: &str,
) -> Result<Vec<(String, String, i64, Option<String>)>, sqlx::Error> {
    sql_all!(
        db,
        "SELECT event, status, attempts, rejection FROM outbox WHERE referral_id = $1 ORDER BY seq",
        referral_id
    )
}
