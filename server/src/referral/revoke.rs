//! Revoking a referral (the patient withdrew consent; `revoke-service-request` from its source):
//! in one transaction its personal health information goes (the stored resources become
//! tombstones, the documents, the draft's answers and attachments, the launch's copy of the
//! patient and every stored message body are removed), the Task is cancelled, and a
//! `notify-update-status` is recorded for the source. SQLite zeroes what was deleted
//! (`secure_delete`), and the WAL is checkpointed so no old page keeps a copy.

use super::{submit, tombstone};
use crate::{
    messaging::{event::Event, status_bundle},
    smart::{now_unix, registry},
    state::AppState,
    store::outbox::{self as outbox, NewMessage},
    store::referrals,
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
    #[error("reading the referral: {0}")]
    Read(#[from] crate::store::referrals::ReadError),
    #[error("the stored referral is unreadable: {0}")]
    Corrupt(#[from] serde_json::Error),
    #[error("the status message failed its checks: {0}")]
    Message(#[from] crate::messaging::bundle_check::BundleError),
    #[error("EHR {0:?} is not registered")]
    Unregistered(String),
}

pub async fn revoke(state: &AppState, ehr_id: &str, service_request_id: &str) -> Result<Revoked, RevokeError> {
    let row = referrals::for_revoke(&state.db, service_request_id, ehr_id).await?;
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

    let gate = state.db.write_gate().await;
    let mut tx = state.db.begin().await?;
    let (sr_json, task_json, consent_json) = (sr.to_string(), task.to_string(), consent.to_string());
    let tombstone = referrals::Tombstone {
        service_request_json: &sr_json,
        task_json: &task_json,
        consent_json: &consent_json,
        bare_patient_json: &bare_patient,
    };
    if !referrals::erase(&mut tx, &row, service_request_id, &tombstone, now).await? {
        tx.rollback().await?;
        return Ok(Revoked::Already);
    }
    outbox::cancel_for_revoke(&mut tx, service_request_id, now).await?;
    referrals::record_event(
        &mut tx,
        None,
        service_request_id,
        now,
        "revoked",
        ("cancelled", "6.0"),
        None,
        Some(&ehr.name),
    )
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
            // The tombstones hold no PHI (stored as they are), and the referral's key is destroyed by now.
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

/// Makes removed data leave the disk where the store can (SQLite: the WAL is checkpointed into
/// the file, whose freed pages `secure_delete` zeroed); see [`crate::store::Db::flush_erasure`].
pub async fn checkpoint(db: &crate::store::Db) -> bool {
    db.flush_erasure().await
}

/// Whether the referral `service_request_id` was revoked.
pub async fn is_revoked(db: &crate::store::Db, service_request_id: &str) -> Result<bool, sqlx::Error> {
    referrals::is_revoked(db, service_request_id).await
}
