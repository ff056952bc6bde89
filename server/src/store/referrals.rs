//! Submitted referrals and what belongs to them: their FHIR resources, documents, numbers,
//! timeline, and the reads of the status pages, the console, "my referrals" and the FHIR API.

use super::{
    data_keys::{self, open_opt, open_text, seal_with, DataKey, SealError},
    Db, Tx,
};
use crate::{sql_all, sql_exec, sql_optional, sql_scalar, sql_scalar_optional};

/// A referral's read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Sealed(#[from] SealError),
}

/// A referral as submit records it (in the submit's transaction), owned so that whichever submit
/// commits a group of them can write it. Its PHI is already sealed under the draft's data key
/// (`data_keys::seal_with`), before the write gate.
#[derive(Debug, Clone)]
pub struct NewReferral {
    /// The data key the PHI is sealed under (a revoke destroys it).
    pub key_id: Option<String>,
    pub id: String,
    pub referral_number: String,
    pub draft_id: String,
    pub session_id: String,
    pub ehr_id: String,
    pub patient_id: String,
    pub service_id: String,
    pub task_id: String,
    pub task_status: String,
    pub business_status: String,
    /// Sealed.
    pub service_request_json: String,
    /// Sealed.
    pub task_json: String,
    /// Sealed.
    pub consent_json: String,
    /// Sealed.
    pub patient_json: String,
    pub user_json: String,
    pub created_at: i64,
    pub practitioner_ref: Option<String>,
    pub requester_ref: Option<String>,
}

pub async fn insert(tx: &mut Tx, r: &NewReferral) -> Result<(), sqlx::Error> {
    sql_exec!(
        in tx,
        "INSERT INTO referrals (id, referral_number, draft_id, session_id, ehr_id, patient_id, service_id, task_id, task_status, \
         business_status, service_request_json, task_json, consent_json, patient_json, user_json, created_at, \
         practitioner_ref, requester_ref, key_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
        &r.id,
        &r.referral_number,
        &r.draft_id,
        &r.session_id,
        &r.ehr_id,
        &r.patient_id,
        &r.service_id,
        &r.task_id,
        &r.task_status,
        &r.business_status,
        &r.service_request_json,
        &r.task_json,
        &r.consent_json,
        &r.patient_json,
        &r.user_json,
        r.created_at,
        r.practitioner_ref.as_deref(),
        r.requester_ref.as_deref(),
        r.key_id.as_deref(),
    )?;
    Ok(())
}

/// Copies draft attachment `attachment_id` into the referral as document `attachment_id`, with
/// its DocumentReference as stored (sealed under the draft's key). The attachment's name and
/// bytes are sealed under the draft's key, the referral's too: they are copied as they are.
pub async fn copy_attachment(
    tx: &mut Tx,
    referral_id: &str,
    attachment_id: &str,
    document_reference_json: &str,
) -> Result<(), sqlx::Error> {
    sql_exec!(
        in tx,
        "INSERT INTO referral_documents (id, referral_id, document_reference_json, filename, content_type, size, sha1, data, \
         created_at) SELECT id, $1, $2, filename, content_type, size, sha1, data, created_at FROM draft_attachments WHERE id = $3",
        referral_id,
        document_reference_json,
        attachment_id,
    )?;
    Ok(())
}

/// `(referral number, ServiceRequest id)` of the referral made from draft `draft_id`, if any.
pub async fn for_draft(db: &Db, draft_id: &str) -> Result<Option<(String, String)>, sqlx::Error> {
    sql_optional!(db, "SELECT referral_number, id FROM referrals WHERE draft_id = $1", draft_id)
}

/// The number reserved for draft `draft_id`, if any.
pub async fn number_of_draft(db: &Db, draft_id: &str) -> Result<Option<String>, sqlx::Error> {
    sql_scalar_optional!(db, "SELECT number FROM referral_numbers WHERE draft_id = $1", draft_id)
}

/// A number for a draft, unless the number or the draft has one already.
const RESERVE_NUMBER: &str =
    "INSERT INTO referral_numbers (number, draft_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";

/// How [`hold_number`] went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// The number is the draft's now, from this transaction (undo with [`release_number`]).
    Now,
    /// The draft held this number already (reserved before).
    Already,
    /// Another draft has the number, or this draft holds another one: nothing was written.
    Taken,
}

/// Holds `number` for draft `draft_id` in the submit's transaction.
pub async fn hold_number(tx: &mut Tx, number: &str, draft_id: &str, now: i64) -> Result<Held, sqlx::Error> {
    let inserted = sql_exec!(
        in tx,
        RESERVE_NUMBER,
        number,
        draft_id,
        now
    )?;
    if inserted == 1 {
        return Ok(Held::Now);
    }
    let already: bool = sql_scalar!(
        in tx,
        "SELECT EXISTS (SELECT 1 FROM referral_numbers WHERE number = $1 AND draft_id = $2)",
        number,
        draft_id
    )?;
    Ok(if already { Held::Already } else { Held::Taken })
}

/// Gives back a number [`hold_number`] took in this transaction ([`Held::Now`]).
pub async fn release_number(tx: &mut Tx, number: &str, draft_id: &str) -> Result<(), sqlx::Error> {
    sql_exec!(in tx, "DELETE FROM referral_numbers WHERE number = $1 AND draft_id = $2", number, draft_id)?;
    Ok(())
}

/// Reserves `number` for draft `draft_id`; `false` if the number (or the draft) has one already.
pub async fn reserve_number(db: &Db, number: &str, draft_id: &str, now: i64) -> Result<bool, sqlx::Error> {
    Ok(sql_exec!(db, RESERVE_NUMBER, number, draft_id, now)? == 1)
}

/// What a revoke needs of a referral.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RevokeRow {
    pub key_id: Option<String>,
    pub session_key_id: Option<String>,
    pub draft_id: String,
    pub session_id: String,
    pub patient_id: String,
    pub service_request_json: String,
    pub task_json: String,
    pub consent_json: String,
    pub revoked_at: Option<i64>,
}

/// The referral's resources, unsealed, and the keys its revoke destroys.
pub async fn for_revoke(db: &Db, id: &str, ehr_id: &str) -> Result<Option<RevokeRow>, ReadError> {
    let row: Option<RevokeRow> = sql_optional!(
        db,
        "SELECT r.key_id, s.key_id AS session_key_id, r.draft_id, r.session_id, r.patient_id, r.service_request_json, \
         r.task_json, r.consent_json, r.revoked_at FROM referrals r LEFT JOIN launch_sessions s ON s.id = r.session_id \
         WHERE r.id = $1 AND r.ehr_id = $2",
        id,
        ehr_id
    )?;
    let Some(mut row) = row else { return Ok(None) };
    let key = data_keys::load(db, row.key_id.as_deref()).await?;
    row.service_request_json = open_text(key.as_ref(), &row.service_request_json)?;
    row.task_json = open_text(key.as_ref(), &row.task_json)?;
    row.consent_json = open_text(key.as_ref(), &row.consent_json)?;
    Ok(Some(row))
}

/// The tombstones a revoke leaves in place of the referral's resources.
#[derive(Debug, Clone)]
pub struct Tombstone<'a> {
    pub service_request_json: &'a str,
    pub task_json: &'a str,
    pub consent_json: &'a str,
    /// The launch's Patient reduced to its id.
    pub bare_patient_json: &'a str,
}

/// Replaces the referral's resources by their tombstones and removes its personal health
/// information everywhere it was kept: documents, timeline texts, the draft and its attachments,
/// the launch's copy of the patient. `false` (nothing changed) if it was revoked already. The
/// first statement locks the referral's row, so a revoke and a status change serialise.
pub async fn erase(tx: &mut Tx, row: &RevokeRow, id: &str, t: &Tombstone<'_>, now: i64) -> Result<bool, sqlx::Error> {
    let claimed = sql_exec!(
        in &mut *tx,
        "UPDATE referrals SET service_request_json = $1, task_json = $2, consent_json = $3, patient_json = '{}', \
         service_id = '', task_status = 'cancelled', business_status = '6.0', appointment_json = NULL, \
         revoked_at = $4 WHERE id = $5 AND revoked_at IS NULL",
        t.service_request_json,
        t.task_json,
        t.consent_json,
        now,
        id,
    )? == 1;
    if !claimed {
        return Ok(false);
    }
    sql_exec!(in &mut *tx, "DELETE FROM referral_documents WHERE referral_id = $1", id)?;
    sql_exec!(in &mut *tx, "UPDATE referral_events SET text = NULL WHERE referral_id = $1", id)?;
    sql_exec!(in &mut *tx, "DELETE FROM draft_attachments WHERE draft_id = $1", &row.draft_id)?;
    sql_exec!(in &mut *tx, "UPDATE referral_drafts SET form_json = '{}', errors_json = '[]' WHERE id = $1", &row.draft_id)?;
    sql_exec!(
        in &mut *tx,
        "UPDATE launch_sessions SET patient_json = $1, draft_json = NULL, key_id = NULL WHERE id = $2",
        t.bare_patient_json,
        &row.session_id,
    )?;
    // What was sealed under these keys, wherever a copy of it remains, can no longer be read.
    sql_exec!(in &mut *tx, "UPDATE referrals SET key_id = NULL WHERE id = $1", id)?;
    sql_exec!(in &mut *tx, "UPDATE referral_drafts SET key_id = NULL WHERE id = $1", &row.draft_id)?;
    data_keys::destroy(tx, row.key_id.as_deref()).await?;
    data_keys::destroy(tx, row.session_key_id.as_deref()).await?;
    Ok(true)
}

pub async fn is_revoked(db: &Db, id: &str) -> Result<bool, sqlx::Error> {
    let at: Option<(Option<i64>,)> = sql_optional!(db, "SELECT revoked_at FROM referrals WHERE id = $1", id)?;
    Ok(matches!(at, Some((Some(_),))))
}

/// What a status change needs of a referral.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProgressRow {
    pub key_id: Option<String>,
    /// The Task as stored (sealed): a change is written only if it is still this.
    pub stored_task_json: String,
    pub ehr_id: String,
    pub task_json: String,
    pub service_request_json: String,
    pub appointment_json: Option<String>,
    pub revoked_at: Option<i64>,
}

/// The referral's Task, ServiceRequest and Appointment, unsealed, with its key.
pub async fn for_progress(db: &Db, id: &str) -> Result<Option<(ProgressRow, Option<DataKey>)>, ReadError> {
    let row: Option<ProgressRow> = sql_optional!(
        db,
        "SELECT key_id, task_json AS stored_task_json, ehr_id, task_json, service_request_json, appointment_json, revoked_at \
         FROM referrals WHERE id = $1",
        id
    )?;
    let Some(mut row) = row else { return Ok(None) };
    let key = data_keys::load(db, row.key_id.as_deref()).await?;
    row.task_json = open_text(key.as_ref(), &row.task_json)?;
    row.service_request_json = open_text(key.as_ref(), &row.service_request_json)?;
    row.appointment_json = open_opt(key.as_ref(), row.appointment_json.as_deref())?;
    Ok(Some((row, key)))
}

/// A status change to write, if the Task is still the one it was computed from.
#[derive(Debug, Clone)]
pub struct TaskChange<'a> {
    pub key: Option<&'a DataKey>,
    pub task_json: &'a str,
    pub task_status: &'a str,
    pub business_status: &'a str,
    pub appointment_json: Option<&'a str>,
    /// The Task as read before the change: someone else's change in between makes this fail.
    pub previous_task_json: &'a str,
    pub now: i64,
}

/// Writes the change (its first statement locks the referral's row); `false` when the referral
/// changed meanwhile or was revoked.
pub async fn change_task(tx: &mut Tx, id: &str, c: &TaskChange<'_>) -> Result<bool, sqlx::Error> {
    Ok(sql_exec!(
        in tx,
        "UPDATE referrals SET task_json = $1, task_status = $2, business_status = $3, appointment_json = $4, updated_at = $5 \
         WHERE id = $6 AND task_json = $7 AND revoked_at IS NULL",
        seal_with(c.key, c.task_json),
        c.task_status,
        c.business_status,
        c.appointment_json.map(|a| seal_with(c.key, a)),
        c.now,
        id,
        c.previous_task_json,
    )? == 1)
}

/// One line of the referral's timeline.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TimelineEvent {
    pub at: i64,
    pub kind: String,
    pub task_status: String,
    pub business_status: String,
    pub text: Option<String>,
    pub actor: Option<String>,
}

/// Adds a line to the referral's timeline, in the transaction of the change.
pub async fn record_event(
    tx: &mut Tx,
    key: Option<&DataKey>,
    referral_id: &str,
    at: i64,
    kind: &str,
    (task_status, business_status): (&str, &str),
    text: Option<&str>,
    actor: Option<&str>,
) -> Result<(), sqlx::Error> {
    sql_exec!(
        in tx,
        "INSERT INTO referral_events (referral_id, at, kind, task_status, business_status, text, actor) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        referral_id,
        at,
        kind,
        task_status,
        business_status,
        text.map(|t| seal_with(key, t)),
        actor,
    )?;
    Ok(())
}

/// The referral's timeline, oldest first.
pub async fn timeline(db: &Db, referral_id: &str) -> Result<Vec<TimelineEvent>, ReadError> {
    let mut events: Vec<TimelineEvent> = sql_all!(
        db,
        "SELECT at, kind, task_status, business_status, text, actor FROM referral_events WHERE referral_id = $1 ORDER BY seq",
        referral_id
    )?;
    if events.iter().any(|e| e.text.as_deref().is_some_and(data_keys::is_sealed)) {
        let key = data_keys::of_referral(db, referral_id).await?;
        for e in &mut events {
            e.text = open_opt(key.as_ref(), e.text.as_deref())?;
        }
    }
    Ok(events)
}

/// A referral as its record page shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DetailRow {
    pub key_id: Option<String>,
    pub key_wrapped: Option<Vec<u8>>,
    pub referral_number: String,
    pub ehr_id: String,
    pub patient_json: String,
    pub service_id: String,
    pub service_request_json: String,
    pub task_json: String,
    pub consent_json: String,
    pub task_status: String,
    pub business_status: String,
    pub appointment_json: Option<String>,
    pub revoked_at: Option<i64>,
    pub patient_id: String,
    pub created_at: i64,
    pub updated_at: Option<i64>,
}

pub async fn detail(db: &Db, id: &str) -> Result<Option<DetailRow>, ReadError> {
    let row: Option<DetailRow> = sql_optional!(
        db,
        "SELECT r.key_id, k.wrapped AS key_wrapped, r.referral_number, r.ehr_id, r.patient_json, r.service_id, \
         r.service_request_json, r.task_json, r.consent_json, r.task_status, r.business_status, r.appointment_json, \
         r.revoked_at, r.patient_id, r.created_at, r.updated_at \
         FROM referrals r LEFT JOIN data_keys k ON k.id = r.key_id WHERE r.id = $1",
        id
    )?;
    let Some(mut r) = row else { return Ok(None) };
    let key = data_keys::from_row(db, r.key_id.clone(), r.key_wrapped.take());
    let key = key.as_ref();
    r.patient_json = open_text(key, &r.patient_json)?;
    r.service_request_json = open_text(key, &r.service_request_json)?;
    r.task_json = open_text(key, &r.task_json)?;
    r.consent_json = open_text(key, &r.consent_json)?;
    r.appointment_json = open_opt(key, r.appointment_json.as_deref())?;
    Ok(Some(r))
}

/// `(id, filename, size)` of the referral's documents, oldest first.
pub async fn documents(db: &Db, referral_id: &str) -> Result<Vec<(String, String, i64)>, ReadError> {
    let docs: Vec<(String, String, i64)> = sql_all!(
        db,
        "SELECT id, filename, size FROM referral_documents WHERE referral_id = $1 ORDER BY created_at, id",
        referral_id
    )?;
    let key = data_keys::of_referral(db, referral_id).await?;
    docs.into_iter().map(|(id, name, size)| Ok((id, open_text(key.as_ref(), &name)?, size))).collect()
}

/// `(filename, content type, bytes)` of document `doc` of referral `referral_id`.
pub async fn document_file(
    db: &Db,
    referral_id: &str,
    doc: &str,
) -> Result<Option<(String, String, Vec<u8>)>, ReadError> {
    let row: Option<(String, String, Vec<u8>)> = sql_optional!(
        db,
        "SELECT filename, content_type, data FROM referral_documents WHERE id = $1 AND referral_id = $2",
        doc,
        referral_id
    )?;
    let Some((name, content_type, data)) = row else { return Ok(None) };
    let key = data_keys::of_referral(db, referral_id).await?;
    Ok(Some((open_text(key.as_ref(), &name)?, content_type, data_keys::open_bytes(key.as_ref(), &data)?)))
}

/// A line of the intake console's queue.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct QueueRow {
    key_id: Option<String>,
    key_wrapped: Option<Vec<u8>>,
    pub id: String,
    pub referral_number: String,
    pub patient_json: String,
    pub service_id: String,
    pub service_request_json: String,
    pub task_status: String,
    pub business_status: String,
    pub created_at: i64,
}

/// The newest 500 referrals; only those still open unless `all`.
pub async fn queue(db: &Db, all: bool) -> Result<Vec<QueueRow>, ReadError> {
    let sql = if all {
        "SELECT r.key_id, k.wrapped AS key_wrapped, r.id, r.referral_number, r.patient_json, r.service_id, \
         r.service_request_json, r.task_status, r.business_status, r.created_at \
         FROM referrals r LEFT JOIN data_keys k ON k.id = r.key_id ORDER BY r.created_at DESC, r.id LIMIT 500"
    } else {
        "SELECT r.key_id, k.wrapped AS key_wrapped, r.id, r.referral_number, r.patient_json, r.service_id, \
         r.service_request_json, r.task_status, r.business_status, r.created_at \
         FROM referrals r LEFT JOIN data_keys k ON k.id = r.key_id \
         WHERE r.task_status NOT IN ('completed', 'rejected', 'cancelled') ORDER BY r.created_at DESC, r.id LIMIT 500"
    };
    let mut rows: Vec<QueueRow> = sql_all!(db, sql)?;
    for r in &mut rows {
        let key = data_keys::from_row(db, r.key_id.clone(), r.key_wrapped.take());
        r.patient_json = open_text(key.as_ref(), &r.patient_json)?;
        r.service_request_json = open_text(key.as_ref(), &r.service_request_json)?;
    }
    Ok(rows)
}

/// A referral in the launched patient's list.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PatientReferral {
    pub id: String,
    pub referral_number: String,
    pub service_id: String,
    pub task_status: String,
    pub business_status: String,
    pub created_at: i64,
    pub updated_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

pub async fn of_patient(db: &Db, ehr_id: &str, patient_id: &str) -> Result<Vec<PatientReferral>, sqlx::Error> {
    sql_all!(
        db,
        "SELECT id, referral_number, service_id, task_status, business_status, created_at, updated_at, revoked_at \
         FROM referrals WHERE ehr_id = $1 AND patient_id = $2 ORDER BY created_at DESC, id",
        ehr_id,
        patient_id
    )
}

/// A referral in a practitioner's "my referrals".
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PractitionerReferral {
    key_id: Option<String>,
    key_wrapped: Option<Vec<u8>>,
    pub id: String,
    pub referral_number: String,
    pub patient_json: String,
    pub service_id: String,
    pub task_status: String,
    pub business_status: String,
    pub created_at: i64,
}

/// The newest 500 referrals the practitioner launched or is the requester of.
pub async fn of_practitioner(
    db: &Db,
    ehr_id: &str,
    practitioner_ref: &str,
    requester_ref: &str,
) -> Result<Vec<PractitionerReferral>, ReadError> {
    let mut rows: Vec<PractitionerReferral> = sql_all!(
        db,
        "SELECT r.key_id, k.wrapped AS key_wrapped, r.id, r.referral_number, r.patient_json, r.service_id, r.task_status, \
         r.business_status, r.created_at FROM referrals r LEFT JOIN data_keys k ON k.id = r.key_id \
         WHERE r.ehr_id = $1 AND (r.practitioner_ref = $2 OR r.requester_ref = $3) ORDER BY r.created_at DESC, r.id LIMIT 500",
        ehr_id,
        practitioner_ref,
        requester_ref
    )?;
    for r in &mut rows {
        let key = data_keys::from_row(db, r.key_id.clone(), r.key_wrapped.take());
        r.patient_json = open_text(key.as_ref(), &r.patient_json)?;
    }
    Ok(rows)
}

/// `(practitioner_ref, requester_ref)` of referral `id` from EHR `ehr_id`.
pub async fn owners(db: &Db, id: &str, ehr_id: &str) -> Result<Option<(Option<String>, Option<String>)>, sqlx::Error> {
    sql_optional!(db, "SELECT practitioner_ref, requester_ref FROM referrals WHERE id = $1 AND ehr_id = $2", id, ehr_id)
}

/// The id of referral `id`, if EHR `ehr_id` sent it.
pub async fn id_from_ehr(db: &Db, id: &str, ehr_id: &str) -> Result<Option<String>, sqlx::Error> {
    sql_scalar_optional!(db, "SELECT id FROM referrals WHERE id = $1 AND ehr_id = $2", id, ehr_id)
}

/// The id of the referral numbered `number`, if EHR `ehr_id` sent it.
pub async fn id_by_number(db: &Db, number: &str, ehr_id: &str) -> Result<Option<String>, sqlx::Error> {
    sql_scalar_optional!(db, "SELECT id FROM referrals WHERE referral_number = $1 AND ehr_id = $2", number, ehr_id)
}

/// One sealed column of referral `referral_id`'s, unsealed.
async fn opened(db: &Db, referral_id: &str, stored: Option<String>) -> Result<Option<String>, ReadError> {
    let Some(stored) = stored else { return Ok(None) };
    if !data_keys::is_sealed(&stored) {
        return Ok(Some(stored));
    }
    let key = data_keys::of_referral(db, referral_id).await?;
    Ok(Some(open_text(key.as_ref(), &stored)?))
}

/// ServiceRequest `id`, if EHR `ehr_id` sent it.
pub async fn service_request_json(db: &Db, id: &str, ehr_id: &str) -> Result<Option<String>, ReadError> {
    let stored: Option<String> = sql_scalar_optional!(
        db,
        "SELECT service_request_json FROM referrals WHERE id = $1 AND ehr_id = $2",
        id,
        ehr_id
    )?;
    opened(db, id, stored).await
}

/// Task `task_id`, if its referral came from EHR `ehr_id`.
pub async fn task_json(db: &Db, task_id: &str, ehr_id: &str) -> Result<Option<String>, ReadError> {
    let row: Option<(String, String)> =
        sql_optional!(db, "SELECT id, task_json FROM referrals WHERE task_id = $1 AND ehr_id = $2", task_id, ehr_id)?;
    let Some((id, stored)) = row else { return Ok(None) };
    opened(db, &id, Some(stored)).await
}

async fn tasks(db: &Db, rows: Vec<(String, String, String)>) -> Result<Vec<(String, String)>, ReadError> {
    let mut out = Vec::with_capacity(rows.len());
    for (id, task_id, stored) in rows {
        out.push((task_id, opened(db, &id, Some(stored)).await?.unwrap_or_default()));
    }
    Ok(out)
}

/// `(task id, Task)` of the referral whose ServiceRequest is `service_request_id`.
pub async fn tasks_based_on(
    db: &Db,
    service_request_id: &str,
    ehr_id: &str,
) -> Result<Vec<(String, String)>, ReadError> {
    let rows = sql_all!(
        db,
        "SELECT id, task_id, task_json FROM referrals WHERE id = $1 AND ehr_id = $2",
        service_request_id,
        ehr_id
    )?;
    tasks(db, rows).await
}

/// `(task id, Task)` of Task `task_id`.
pub async fn tasks_with_id(db: &Db, task_id: &str, ehr_id: &str) -> Result<Vec<(String, String)>, ReadError> {
    let rows = sql_all!(
        db,
        "SELECT id, task_id, task_json FROM referrals WHERE task_id = $1 AND ehr_id = $2",
        task_id,
        ehr_id
    )?;
    tasks(db, rows).await
}

/// DocumentReference `id`, if its referral came from EHR `ehr_id`.
pub async fn document_reference_json(db: &Db, id: &str, ehr_id: &str) -> Result<Option<String>, ReadError> {
    let row: Option<(String, String)> = sql_optional!(
        db,
        "SELECT d.referral_id, d.document_reference_json FROM referral_documents d JOIN referrals r ON r.id = d.referral_id \
         WHERE d.id = $1 AND r.ehr_id = $2",
        id,
        ehr_id
    )?;
    let Some((referral, stored)) = row else { return Ok(None) };
    opened(db, &referral, Some(stored)).await
}

/// `(content type, bytes)` of Binary `id`, if its referral came from EHR `ehr_id`.
pub async fn binary(db: &Db, id: &str, ehr_id: &str) -> Result<Option<(String, Vec<u8>)>, ReadError> {
    let row: Option<(String, String, Vec<u8>)> = sql_optional!(
        db,
        "SELECT d.referral_id, d.content_type, d.data FROM referral_documents d JOIN referrals r ON r.id = d.referral_id \
         WHERE d.id = $1 AND r.ehr_id = $2",
        id,
        ehr_id
    )?;
    let Some((referral, content_type, data)) = row else { return Ok(None) };
    let key = data_keys::of_referral(db, &referral).await?;
    Ok(Some((content_type, data_keys::open_bytes(key.as_ref(), &data)?)))
}

/// Every DocumentReference, unsealed (for tests and checks).
pub async fn all_document_references(db: &Db) -> Result<Vec<String>, ReadError> {
    let rows: Vec<(String, String)> =
        sql_all!(db, "SELECT referral_id, document_reference_json FROM referral_documents ORDER BY created_at, id")?;
    let mut out = Vec::with_capacity(rows.len());
    for (referral, stored) in rows {
        out.push(opened(db, &referral, Some(stored)).await?.unwrap_or_default());
    }
    Ok(out)
}

/// `(ServiceRequest, Task, Consent)` of every referral, unsealed (for tests and checks).
pub async fn all_resources(db: &Db) -> Result<Vec<(String, String, String)>, ReadError> {
    let ids: Vec<(String,)> = sql_all!(db, "SELECT id FROM referrals ORDER BY created_at, id")?;
    let mut out = Vec::with_capacity(ids.len());
    for (id,) in ids {
        if let Some(d) = detail(db, &id).await? {
            out.push((d.service_request_json, d.task_json, d.consent_json));
        }
    }
    Ok(out)
}
