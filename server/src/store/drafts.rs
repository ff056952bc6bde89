//! Drafts and their attachments: the referral being entered, one per launch, saved on every step
//! and autosave. A draft outlives its launch until it expires, so a new launch for the same
//! patient and user can resume it.

use super::{
    data_keys::{self, DataKey},
    Backend, Db,
};
use crate::{sql_all, sql_exec, sql_optional, sql_scalar};
use app::referral::{form::ReferralForm, steps::Step, validation::FieldError};

#[derive(Debug, thiserror::Error)]
pub enum DraftError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("a sealed draft is unreadable: {0}")]
    Sealed(#[from] data_keys::SealError),
    #[error("stored draft {0} is unreadable: {1}")]
    Corrupt(String, String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DraftStatus {
    Editing,
    Submitted,
    /// The clinician cancelled: nothing is sent and it is not offered for resuming.
    Cancelled,
    /// Abandoned after inactivity: nothing is sent, but a new launch may resume it.
    TimedOut,
}

impl DraftStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DraftStatus::Editing => "editing",
            DraftStatus::Submitted => "submitted",
            DraftStatus::Cancelled => "cancelled",
            DraftStatus::TimedOut => "timed_out",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [DraftStatus::Editing, DraftStatus::Submitted, DraftStatus::Cancelled, DraftStatus::TimedOut]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

/// Whose draft it is: the launch, and the EHR, patient and user it was launched for.
#[derive(Debug, Clone)]
pub struct DraftOwner {
    pub session_id: String,
    pub ehr_id: String,
    pub patient_id: String,
    pub user_ref: String,
}

#[derive(Debug, Clone)]
pub struct Draft {
    pub id: String,
    pub session_id: String,
    pub status: DraftStatus,
    pub step: Step,
    pub form: ReferralForm,
    pub errors: Vec<FieldError>,
    pub revision: i64,
    pub updated_at: i64,
    /// The draft's data key, unwrapped as the draft was read (saves seal with it; the referral
    /// made from the draft is sealed under it). `None` for a draft stored before keys existed.
    pub key: Option<DataKey>,
}

#[derive(sqlx::FromRow)]
struct DraftRow {
    key_id: Option<String>,
    key_wrapped: Option<Vec<u8>>,
    id: String,
    session_id: String,
    status: String,
    step: String,
    form_json: String,
    errors_json: String,
    revision: i64,
    updated_at: i64,
}

impl TryFrom<DraftRow> for Draft {
    type Error = DraftError;
    fn try_from(r: DraftRow) -> Result<Self, DraftError> {
        let corrupt = |what: String| DraftError::Corrupt(r.id.clone(), what);
        Ok(Draft {
            status: DraftStatus::parse(&r.status).ok_or_else(|| corrupt(format!("status {:?}", r.status)))?,
            step: Step::from_slug(&r.step).ok_or_else(|| corrupt(format!("step {:?}", r.step)))?,
            form: serde_json::from_str(&r.form_json).map_err(|e| corrupt(e.to_string()))?,
            errors: serde_json::from_str(&r.errors_json).map_err(|e| corrupt(e.to_string()))?,
            id: r.id.clone(),
            session_id: r.session_id,
            revision: r.revision,
            updated_at: r.updated_at,
            key: None,
        })
    }
}

const COLUMNS: &str = "d.key_id, k.wrapped AS key_wrapped, d.id, d.session_id, d.status, d.step, d.form_json, \
    d.errors_json, d.revision, d.updated_at";

/// The launch's draft, its form unsealed.
pub async fn for_session(db: &Db, session_id: &str) -> Result<Option<Draft>, DraftError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM referral_drafts d LEFT JOIN data_keys k ON k.id = d.key_id WHERE d.session_id = $1"
    );
    let row: Option<DraftRow> = sql_optional!(db, &sql, session_id)?;
    let Some(mut row) = row else { return Ok(None) };
    let key = data_keys::from_row(db, row.key_id.take(), row.key_wrapped.take());
    row.form_json = data_keys::open_text(key.as_ref(), &row.form_json)
        .map_err(|e| DraftError::Corrupt(row.id.clone(), e.to_string()))?;
    Ok(Some(Draft { key, ..Draft::try_from(row)? }))
}

/// The launch's draft, created pre-filled with `initial` on first use (safe when two requests race).
pub async fn get_or_create(
    db: &Db,
    owner: &DraftOwner,
    initial: impl FnOnce() -> ReferralForm,
    now: i64,
    ttl: u64,
) -> Result<Draft, DraftError> {
    if let Some(d) = for_session(db, &owner.session_id).await? {
        return Ok(d);
    }
    let form = initial();
    // The draft's data key seals what is typed and attached, and later the referral made from
    // it. Two requests racing: the loser inserts nothing and rolls its key back.
    let mut tx = db.begin().await?;
    let key = data_keys::create(&mut tx, db.master(), now).await?;
    let inserted = sql_exec!(
        in &mut tx,
        "INSERT INTO referral_drafts (id, session_id, ehr_id, patient_id, user_ref, status, step, form_json, created_at, \
         updated_at, expires_at, key_id) VALUES ($1, $2, $3, $4, $5, 'editing', $6, $7, $8, $8, $9, $10) \
         ON CONFLICT (session_id) DO NOTHING",
        uuid::Uuid::new_v4().to_string(),
        &owner.session_id,
        &owner.ehr_id,
        &owner.patient_id,
        &owner.user_ref,
        Step::Service.slug(),
        key.seal(&serde_json::to_string(&form).expect("form serializes")),
        now,
        now + ttl as i64,
        &key.id,
    )?;
    if inserted == 1 {
        tx.commit().await?;
    } else {
        tx.rollback().await?;
    }
    for_session(db, &owner.session_id)
        .await?
        .ok_or_else(|| DraftError::Corrupt(owner.session_id.clone(), "vanished".into()))
}

/// Saves the form, step and errors of an editing draft (sealed under the draft's key, as read);
/// `false` when the draft is no longer being edited (submitted, cancelled or timed out): the
/// caller shows why instead of saving.
pub async fn save(
    db: &Db,
    draft: &Draft,
    form: &ReferralForm,
    step: Step,
    errors: &[FieldError],
    now: i64,
    ttl: u64,
) -> Result<bool, DraftError> {
    let done = sql_exec!(
        db,
        "UPDATE referral_drafts SET form_json = $1, step = $2, errors_json = $3, revision = revision + 1, updated_at = $4, \
         expires_at = $5 WHERE id = $6 AND status = 'editing'",
        data_keys::seal_with(draft.key.as_ref(), &serde_json::to_string(form).expect("form serializes")),
        step.slug(),
        serde_json::to_string(errors).expect("errors serialize"),
        now,
        now + ttl as i64,
        &draft.id,
    )?;
    Ok(done == 1)
}

/// Moves an editing draft to `to` (cancelled or timed out); `false` if it was not editing.
pub async fn finish_editing(db: &Db, draft_id: &str, to: DraftStatus, now: i64) -> Result<bool, DraftError> {
    let done = sql_exec!(
        db,
        "UPDATE referral_drafts SET status = $1, updated_at = $2, errors_json = '[]' WHERE id = $3 AND status = 'editing'",
        to.as_str(),
        now,
        draft_id,
    )?;
    Ok(done == 1)
}

/// Marks an editing draft submitted, in the submit's transaction: its first statement, so two
/// submits of one draft serialise on it (the row lock on PostgreSQL, the write lock on SQLite)
/// and the loser changes nothing. `false` when it was no longer editing.
pub async fn claim_for_submit(tx: &mut super::Tx, draft_id: &str, now: i64) -> Result<bool, sqlx::Error> {
    Ok(sql_exec!(
        in tx,
        "UPDATE referral_drafts SET status = 'submitted', updated_at = $1, errors_json = '[]' WHERE id = $2 AND status = 'editing'",
        now,
        draft_id
    )? == 1)
}

/// An unsubmitted draft from another launch by the same user for the same patient at the same EHR.
#[derive(Debug, Clone)]
pub struct ResumableDraft {
    pub id: String,
    pub form: ReferralForm,
    pub updated_at: i64,
    pub attachments: i64,
}

/// The most recently changed draft this launch may resume: same EHR, patient and user; editing or
/// timed out; not expired; and with something typed in it (a draft nobody touched is not offered).
pub async fn resumable(db: &Db, owner: &DraftOwner, now: i64) -> Result<Option<ResumableDraft>, DraftError> {
    let row: Option<(String, String, i64, i64, Option<String>, Option<Vec<u8>>)> = sql_optional!(
        db,
        "SELECT d.id, d.form_json, d.updated_at, (SELECT COUNT(*) FROM draft_attachments a WHERE a.draft_id = d.id), \
         d.key_id, k.wrapped FROM referral_drafts d LEFT JOIN data_keys k ON k.id = d.key_id WHERE d.ehr_id = $1 AND d.patient_id = $2 AND d.user_ref = $3 AND d.session_id <> $4 \
         AND d.status IN ('editing', 'timed_out') AND d.expires_at > $5 AND d.revision > 0 \
         ORDER BY d.updated_at DESC LIMIT 1",
        &owner.ehr_id,
        &owner.patient_id,
        &owner.user_ref,
        &owner.session_id,
        now,
    )?;
    row.map(|(id, form_json, updated_at, attachments, key_id, wrapped)| {
        let key = data_keys::from_row(db, key_id, wrapped);
        let form_json = data_keys::open_text(key.as_ref(), &form_json)
            .map_err(|e| DraftError::Corrupt(id.clone(), e.to_string()))?;
        let form = serde_json::from_str(&form_json).map_err(|e| DraftError::Corrupt(id.clone(), e.to_string()))?;
        Ok(ResumableDraft { id, form, updated_at, attachments })
    })
    .transpose()
}

/// Moves draft `old_id` into this launch (replacing the launch's own draft, which must not have
/// been submitted), if it is still resumable by this owner. `false` when it no longer is.
pub async fn resume(db: &Db, owner: &DraftOwner, old_id: &str, now: i64, ttl: u64) -> Result<bool, DraftError> {
    let mut tx = db.begin().await?;
    // The launch's own draft gives way first (UNIQUE session_id); it is rolled back if the move fails.
    sql_exec!(in &mut tx, "DELETE FROM referral_drafts WHERE session_id = $1 AND status <> 'submitted'", &owner.session_id)?;
    let moved = sql_exec!(
        in &mut tx,
        "UPDATE referral_drafts SET previous_session = session_id, session_id = $1, status = 'editing', updated_at = $2, \
         expires_at = $3, errors_json = '[]' WHERE id = $4 AND ehr_id = $5 AND patient_id = $6 AND user_ref = $7 \
         AND session_id <> $1 AND status IN ('editing', 'timed_out') AND expires_at > $2 \
         AND NOT EXISTS (SELECT 1 FROM referral_drafts c WHERE c.session_id = $1 AND c.status = 'submitted')",
        &owner.session_id,
        now,
        now + ttl as i64,
        old_id,
        &owner.ehr_id,
        &owner.patient_id,
        &owner.user_ref,
    )? == 1;
    if moved {
        tx.commit().await?;
    } else {
        tx.rollback().await?;
    }
    Ok(moved)
}

/// Whether this launch's draft was resumed by a later launch (the page then says where it went).
pub async fn moved_away(db: &Db, session_id: &str) -> Result<bool, DraftError> {
    let n: i64 = sql_scalar!(db, "SELECT COUNT(*) FROM referral_drafts WHERE previous_session = $1", session_id)?;
    Ok(n > 0)
}

/// Deletes expired drafts (with their attachments). Submitted referrals live in their own tables.
pub async fn purge_expired(db: &Db, now: i64) -> Result<u64, DraftError> {
    Ok(sql_exec!(db, "DELETE FROM referral_drafts WHERE expires_at <= $1", now)?)
}

/// An attachment of a draft, without its bytes.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AttachmentRow {
    pub id: String,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub sha1: String,
    pub created_at: i64,
}

/// The draft's attachments in the order they were added.
pub async fn attachments(db: &Db, draft_id: &str) -> Result<Vec<AttachmentRow>, DraftError> {
    // Upload order: SQLite's rowid, PostgreSQL's identity column.
    let sql = match db.backend() {
        Backend::Sqlite => {
            "SELECT id, filename, content_type, size, sha1, created_at FROM draft_attachments WHERE draft_id = $1 \
             ORDER BY created_at, rowid"
        }
        Backend::Postgres => {
            "SELECT id, filename, content_type, size, sha1, created_at FROM draft_attachments WHERE draft_id = $1 \
             ORDER BY created_at, seq"
        }
    };
    let mut rows: Vec<AttachmentRow> = sql_all!(db, sql, draft_id)?;
    if rows.iter().any(|r| data_keys::is_sealed(&r.filename)) {
        let key = data_keys::of_draft(db, draft_id).await?;
        for r in &mut rows {
            r.filename = data_keys::open_text(key.as_ref(), &r.filename)
                .map_err(|e| DraftError::Corrupt(draft_id.to_string(), e.to_string()))?;
        }
    }
    Ok(rows)
}

pub async fn attachment_count(db: &Db, draft_id: &str) -> Result<i64, sqlx::Error> {
    sql_scalar!(db, "SELECT COUNT(*) FROM draft_attachments WHERE draft_id = $1", draft_id)
}

/// A file to attach, already checked.
#[derive(Debug, Clone)]
pub struct NewAttachment<'a> {
    pub id: &'a str,
    pub filename: &'a str,
    pub content_type: &'a str,
    pub sha1: &'a str,
    pub bytes: &'a [u8],
    pub now: i64,
}

/// Adds the file if the draft is being edited and has fewer than `max_count` attachments;
/// `false` when it was not added. Two uploads at once cannot pass the limit: SQLite has one
/// writer, and on PostgreSQL the draft's row is locked before the count.
pub async fn add_attachment(
    db: &Db,
    draft_id: &str,
    a: &NewAttachment<'_>,
    max_count: u32,
) -> Result<bool, sqlx::Error> {
    let key = data_keys::of_draft(db, draft_id).await?;
    let (filename, bytes) = match &key {
        Some(k) => (k.seal(a.filename), k.seal_bytes(a.bytes)),
        None => (a.filename.to_string(), a.bytes.to_vec()),
    };
    let mut tx = db.begin().await?;
    if db.backend() == Backend::Postgres {
        sql_exec!(in &mut tx, "SELECT 1 FROM referral_drafts WHERE id = $1 FOR UPDATE", draft_id)?;
    }
    let added = sql_exec!(
        in &mut tx,
        "INSERT INTO draft_attachments (id, draft_id, filename, content_type, size, sha1, data, created_at) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8 \
         WHERE EXISTS (SELECT 1 FROM referral_drafts WHERE id = $2 AND status = 'editing') \
           AND (SELECT COUNT(*) FROM draft_attachments WHERE draft_id = $2) < $9",
        a.id,
        draft_id,
        &filename,
        a.content_type,
        a.bytes.len() as i64,
        a.sha1,
        &bytes,
        a.now,
        i64::from(max_count),
    )? == 1;
    tx.commit().await?;
    Ok(added)
}

/// Whether the draft is being edited.
pub async fn is_editing(db: &Db, draft_id: &str) -> Result<bool, sqlx::Error> {
    sql_scalar!(db, "SELECT EXISTS (SELECT 1 FROM referral_drafts WHERE id = $1 AND status = 'editing')", draft_id)
}

/// Removes attachment `id` of the draft; `false` if there was none.
pub async fn remove_attachment(db: &Db, draft_id: &str, id: &str) -> Result<bool, sqlx::Error> {
    Ok(sql_exec!(db, "DELETE FROM draft_attachments WHERE id = $1 AND draft_id = $2", id, draft_id)? == 1)
}
