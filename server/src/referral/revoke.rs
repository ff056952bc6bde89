//! Revoking a referral (the patient withdrew consent; `revoke-service-request` from its source):
//! in one transaction its personal health information goes (the stored resources become
//! tombstones, the documents, the draft's answers and attachments, the launch's copy of the
//! patient and every stored message body are removed), the Task is cancelled, and a
//! `notify-update-status` is recorded for the source. SQLite zeroes what was deleted
//! (`secure_delete`), and the WAL is checkpointed so no old page keeps a copy.

use super::{submit, tombstone};
use crate::{
    messaging::{event::Event, status_bundle},
    outbox::store::{self as outbox, NewMessage},
    smart::{now_unix, registry},
    state::AppState,
};
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoked {
    Now,
    Already,
    /// No such referral from this source.
    Unknown,
}

#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("the stored referral is unreadable: {0}")]
    Corrupt(#[from] serde_json::Error),
    #[error("the status message failed its checks: {0}")]
    Message(#[from] crate::messaging::bundle_check::BundleError),
    #[error("EHR {0:?} is not registered")]
    Unregistered(String),
}

#[derive(sqlx::FromRow)]
struct Row {
    draft_id: String,
    session_id: String,
    patient_id: String,
    service_request_json: String,
    task_json: String,
    consent_json: String,
    revoked_at: Option<i64>,
}

/// Revokes `service_request_id` for `ehr_id` (the source asking).
pub async fn revoke(state: &AppState, ehr_id: &str, service_request_id: &str) -> Result<Revoked, RevokeError> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT draft_id, session_id, patient_id, service_request_json, task_json, consent_json, revoked_at \
         FROM referrals WHERE id = ? AND ehr_id = ?",
    )
    .bind(service_request_id)
    .bind(ehr_id)
    .fetch_optional(&state.db)
    .await?;
    let Some(row) = row else { return Ok(Revoked::Unknown) };
    if row.revoked_at.is_some() {
        return Ok(Revoked::Already);
    }
    let ehr =
        registry::registration_by_id(&state.config, ehr_id).ok_or_else(|| RevokeError::Unregistered(ehr_id.into()))?;
    let now = now_unix();
    let at = submit::rfc3339(now);
    let sr = tombstone::service_request(&serde_json::from_str::<Value>(&row.service_request_json)?, &at);
    let task = tombstone::task(&serde_json::from_str::<Value>(&row.task_json)?, &at);
    let consent = tombstone::consent(&serde_json::from_str::<Value>(&row.consent_json)?);

    let our_base = submit::fhir_base(state);
    let ehr_base = ehr.issuer.as_str().trim_end_matches('/').to_string();
    let (bundle_id, header_id) = (uuid::Uuid::new_v4().to_string(), uuid::Uuid::new_v4().to_string());
    let event = Event::NotifyUpdateStatus;
    let source_endpoint = format!("{our_base}/$process-message");
    let header = submit::message_header(ehr, event, (&bundle_id, &header_id), &at, &source_endpoint);
    let message = status_bundle::build_notify_update_status(&header, &our_base, &ehr_base, &task, &sr)?.to_string();
    let bare_patient = json!({"resourceType": "Patient", "id": row.patient_id}).to_string();

    let gate = state.write_gate.lock().await;
    let mut tx = state.db.begin().await?;
    let claimed = sqlx::query(
        "UPDATE referrals SET service_request_json = ?, task_json = ?, consent_json = ?, patient_json = '{}', \
         service_id = '', task_status = 'cancelled', business_status = '6.0', appointment_json = NULL, revoked_at = ? \
         WHERE id = ? AND revoked_at IS NULL",
    )
    .bind(sr.to_string())
    .bind(task.to_string())
    .bind(consent.to_string())
    .bind(now)
    .bind(service_request_id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !claimed {
        tx.rollback().await?;
        return Ok(Revoked::Already);
    }
    sqlx::query("DELETE FROM referral_documents WHERE referral_id = ?")
        .bind(service_request_id)
        .execute(&mut *tx)
        .await?;
    // Timeline texts (a decline reason, an appointment's place) go too; the steps and times stay.
    sqlx::query("UPDATE referral_events SET text = NULL WHERE referral_id = ?")
        .bind(service_request_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM draft_attachments WHERE draft_id = ?").bind(&row.draft_id).execute(&mut *tx).await?;
    sqlx::query("UPDATE referral_drafts SET form_json = '{}', errors_json = '[]' WHERE id = ?")
        .bind(&row.draft_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE launch_sessions SET patient_json = ?, draft_json = NULL WHERE id = ?")
        .bind(&bare_patient)
        .bind(&row.session_id)
        .execute(&mut *tx)
        .await?;
    // Stored messages carry the patient and the referral: their bodies go; undelivered ones are
    // cancelled (the source asked for the referral to be withdrawn). One being delivered right now
    // finishes first (its body goes when it ends), and the cancellation below waits for it.
    outbox::cancel_for_revoke(&mut tx, service_request_id, now).await?;
    super::timeline::record(&mut tx, service_request_id, now, "revoked", ("cancelled", "6.0"), None, Some(&ehr.name))
        .await?;
    outbox::enqueue(
        &mut tx,
        &NewMessage {
            bundle_id: &bundle_id,
            message_header_id: &header_id,
            referral_id: service_request_id,
            event: event.code(),
            ehr_id,
            endpoint: ehr.process_message.endpoint.as_str(),
            body: &message,
            now,
        },
    )
    .await?;
    tx.commit().await?;
    drop(gate);
    // Old page images of the removed data live on in the WAL until a checkpoint.
    checkpoint(&state.db).await;
    state.outbox.recorded();
    tracing::info!(referral = %service_request_id, ehr = %ehr_id, "referral revoked; its PHI was removed");
    Ok(Revoked::Now)
}

/// Copies the WAL into the database file and truncates it, so pages holding removed data are gone
/// from disk (with `secure_delete`, the freed pages in the file are zeroed). SQLite reports
/// whether it could: a reader holding an old snapshot makes it stop short, so it is tried again
/// for a while, and a checkpoint that never completes is logged as an error for operators.
pub async fn checkpoint(db: &crate::db::Db) -> bool {
    for attempt in 0..50 {
        match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(db).await {
            // (busy, WAL frames, frames checkpointed): busy 0 means every frame is in the file.
            Ok((0, _, _)) => return true,
            Ok((_, log, done)) => {
                tracing::debug!(attempt, log, done, "WAL checkpoint blocked by a reader; trying again")
            }
            Err(e) => tracing::warn!(attempt, error = %e, "WAL checkpoint failed; trying again"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    tracing::error!("the WAL could not be checkpointed after a revoke: removed data may remain in the WAL file until the next checkpoint");
    false
}

/// Whether the referral `service_request_id` was revoked.
pub async fn is_revoked(db: &crate::db::Db, service_request_id: &str) -> Result<bool, sqlx::Error> {
    let at: Option<Option<i64>> = sqlx::query_scalar("SELECT revoked_at FROM referrals WHERE id = ?")
        .bind(service_request_id)
        .fetch_optional(db)
        .await?;
    Ok(matches!(at, Some(Some(_))))
}
