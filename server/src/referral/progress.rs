//! Applying a staff member's change to a referral (see [`super::status_change`]): one transaction
//! updates the Task (and Appointment), adds the timeline event and records the message for the
//! source; a change made meanwhile by someone else is refused, not overwritten.

use super::{
    status_change::{self, ActionError, StaffAction},
    submit,
};
use crate::{
    smart::registry,
    state::AppState,
    store::{data_keys, outbox, referrals},
};
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum ProgressError {
    #[error("There is no such referral.")]
    Unknown,
    #[error("This referral was revoked: the patient withdrew consent.")]
    Revoked,
    #[error("{0}")]
    Action(#[from] ActionError),
    #[error("Someone else changed this referral a moment ago. Look at it again, then retry.")]
    Conflict,
    #[error("internal: {0}")]
    Internal(String),
}

impl From<referrals::ReadError> for ProgressError {
    fn from(e: referrals::ReadError) -> Self {
        ProgressError::Internal(e.to_string())
    }
}

impl From<sqlx::Error> for ProgressError {
    fn from(e: sqlx::Error) -> Self {
        ProgressError::Internal(e.to_string())
    }
}

fn parse(json: &str) -> Result<Value, ProgressError> {
    serde_json::from_str(json).map_err(|e| ProgressError::Internal(format!("stored resource unreadable: {e}")))
}

/// Applies `action` to referral `id` on behalf of `actor`; returns the timeline kind recorded.
pub async fn progress(
    state: &AppState,
    id: &str,
    action: &StaffAction,
    actor: &str,
) -> Result<&'static str, ProgressError> {
    let (row, key) = referrals::for_progress(&state.db, id).await?.ok_or(ProgressError::Unknown)?;
    if row.revoked_at.is_some() {
        return Err(ProgressError::Revoked);
    }
    let task = parse(&row.task_json)?;
    let sr = parse(&row.service_request_json)?;
    let current = row.appointment_json.as_deref().map(parse).transpose()?;
    let now = crate::smart::now_unix();
    let at = submit::rfc3339(now);
    let change = status_change::apply(action, &task, id, current.as_ref(), &at, &uuid::Uuid::new_v4().to_string())?;

    let ehr = registry::registration_by_id(&state.config, &row.ehr_id)
        .ok_or_else(|| ProgressError::Internal(format!("EHR {} is not registered", row.ehr_id)))?;
    let (bundle_id, header_id) = (uuid::Uuid::new_v4().to_string(), uuid::Uuid::new_v4().to_string());
    let our_base = submit::fhir_base(state);
    let source_endpoint = format!("{our_base}/$process-message");
    let header = submit::message_header(ehr, change.event, (&bundle_id, &header_id), &at, &source_endpoint);
    let appointment_in_message = matches!(
        change.event,
        crate::messaging::event::Event::NotifyAddAppointment | crate::messaging::event::Event::NotifyUpdateAppointment
    );
    let message = crate::messaging::status_bundle::build_update(
        &header,
        &our_base,
        ehr.issuer.as_str().trim_end_matches('/'),
        &change.task,
        &sr,
        change.appointment.as_ref().filter(|_| appointment_in_message),
    )
    .map_err(|e| ProgressError::Internal(format!("the update message failed its checks: {e}")))?
    .to_string();

    let gate = state.db.write_gate().await;
    let mut tx = state.db.begin().await?;
    let (task_json, appointment_json) =
        (change.task.to_string(), change.appointment.as_ref().or(current.as_ref()).map(Value::to_string));
    let write = referrals::TaskChange {
        key: key.as_ref(),
        task_json: &task_json,
        task_status: change.task_status,
        business_status: change.business_status,
        appointment_json: appointment_json.as_deref(),
        previous_task_json: &row.stored_task_json,
        now,
    };
    if !referrals::change_task(&mut tx, id, &write).await? {
        tx.rollback().await?;
        return Err(ProgressError::Conflict);
    }
    referrals::record_event(
        &mut tx,
        key.as_ref(),
        id,
        now,
        change.kind,
        (change.task_status, change.business_status),
        change.text.as_deref(),
        Some(actor),
    )
    .await?;
    outbox::enqueue(
        &mut tx,
        &outbox::NewMessage {
            bundle_id: &bundle_id,
            message_header_id: &header_id,
            referral_id: id,
            event: change.event.code(),
            ehr_id: &row.ehr_id,
            endpoint: ehr.process_message.endpoint.as_str(),
            body: &data_keys::seal_with(key.as_ref(), &message),
            now,
        },
    )
    .await?;
    tx.commit().await?;
    drop(gate);
    state.outbox.recorded();
    tracing::info!(referral = %id, change = change.kind, "referral progressed by the service");
    Ok(change.kind)
}
