//! Drafts: the referral being entered, one per launch, saved on every step and autosave. A draft
//! outlives its launch until it expires, so a new launch for the same patient and user can resume it.

use crate::db::Db;
use app::referral::{form::ReferralForm, steps::Step, validation::FieldError};

#[derive(Debug, thiserror::Error)]
pub enum DraftError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
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
}

#[derive(sqlx::FromRow)]
struct DraftRow {
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
        })
    }
}

const COLUMNS: &str = "id, session_id, status, step, form_json, errors_json, revision, updated_at";

pub async fn for_session(db: &Db, session_id: &str) -> Result<Option<Draft>, DraftError> {
    let row = sqlx::query_as::<_, DraftRow>(&format!("SELECT {COLUMNS} FROM referral_drafts WHERE session_id = ?"))
        .bind(session_id)
        .fetch_optional(db)
        .await?;
    row.map(Draft::try_from).transpose()
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
    sqlx::query(
        "INSERT INTO referral_drafts (id, session_id, ehr_id, patient_id, user_ref, status, step, form_json, created_at, \
         updated_at, expires_at) VALUES (?, ?, ?, ?, ?, 'editing', ?, ?, ?, ?, ?) ON CONFLICT (session_id) DO NOTHING",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(&owner.session_id)
    .bind(&owner.ehr_id)
    .bind(&owner.patient_id)
    .bind(&owner.user_ref)
    .bind(Step::Service.slug())
    .bind(serde_json::to_string(&form).expect("form serializes"))
    .bind(now)
    .bind(now)
    .bind(now + ttl as i64)
    .execute(db)
    .await?;
    for_session(db, &owner.session_id)
        .await?
        .ok_or_else(|| DraftError::Corrupt(owner.session_id.clone(), "vanished".into()))
}

/// Saves the form, step and errors of an editing draft; `false` when the draft is no longer being
/// edited (submitted, cancelled or timed out): the caller shows why instead of saving.
pub async fn save(
    db: &Db,
    draft_id: &str,
    form: &ReferralForm,
    step: Step,
    errors: &[FieldError],
    now: i64,
    ttl: u64,
) -> Result<bool, DraftError> {
    let done = sqlx::query(
        "UPDATE referral_drafts SET form_json = ?, step = ?, errors_json = ?, revision = revision + 1, updated_at = ?, \
         expires_at = ? WHERE id = ? AND status = 'editing'",
    )
    .bind(serde_json::to_string(form).expect("form serializes"))
    .bind(step.slug())
    .bind(serde_json::to_string(errors).expect("errors serialize"))
    .bind(now)
    .bind(now + ttl as i64)
    .bind(draft_id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Moves an editing draft to `to` (cancelled or timed out); `false` if it was not editing.
pub async fn finish_editing(db: &Db, draft_id: &str, to: DraftStatus, now: i64) -> Result<bool, DraftError> {
    let done = sqlx::query(
        "UPDATE referral_drafts SET status = ?, updated_at = ?, errors_json = '[]' WHERE id = ? AND status = 'editing'",
    )
    .bind(to.as_str())
    .bind(now)
    .bind(draft_id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
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
    let row: Option<(String, String, i64, i64)> = sqlx::query_as(
        "SELECT d.id, d.form_json, d.updated_at, (SELECT COUNT(*) FROM draft_attachments a WHERE a.draft_id = d.id) \
         FROM referral_drafts d WHERE d.ehr_id = ? AND d.patient_id = ? AND d.user_ref = ? AND d.session_id <> ? \
         AND d.status IN ('editing', 'timed_out') AND d.expires_at > ? AND d.revision > 0 \
         ORDER BY d.updated_at DESC LIMIT 1",
    )
    .bind(&owner.ehr_id)
    .bind(&owner.patient_id)
    .bind(&owner.user_ref)
    .bind(&owner.session_id)
    .bind(now)
    .fetch_optional(db)
    .await?;
    row.map(|(id, form_json, updated_at, attachments)| {
        let form = serde_json::from_str(&form_json).map_err(|e| DraftError::Corrupt(id.clone(), e.to_string()))?;
        Ok(ResumableDraft { id, form, updated_at, attachments })
    })
    .transpose()
}

/// Moves draft `old_id` into this launch (replacing the launch's own draft, which must not have
/// been submitted), if it is still resumable by this owner. `false` when it no longer is.
pub async fn resume(db: &Db, owner: &DraftOwner, old_id: &str, now: i64, ttl: u64) -> Result<bool, DraftError> {
    let mut tx = db.begin().await?;
    let moved = sqlx::query(
        "UPDATE referral_drafts SET previous_session = session_id, session_id = ?, status = 'editing', updated_at = ?, \
         expires_at = ?, errors_json = '[]' WHERE id = ? AND ehr_id = ? AND patient_id = ? AND user_ref = ? \
         AND session_id <> ? AND status IN ('editing', 'timed_out') AND expires_at > ? \
         AND NOT EXISTS (SELECT 1 FROM referral_drafts c WHERE c.session_id = ? AND c.status = 'submitted')",
    );
    // The launch's own draft gives way first (UNIQUE session_id); it is rolled back if the move fails.
    sqlx::query("DELETE FROM referral_drafts WHERE session_id = ? AND status <> 'submitted'")
        .bind(&owner.session_id)
        .execute(&mut *tx)
        .await?;
    let moved = moved
        .bind(&owner.session_id)
        .bind(now)
        .bind(now + ttl as i64)
        .bind(old_id)
        .bind(&owner.ehr_id)
        .bind(&owner.patient_id)
        .bind(&owner.user_ref)
        .bind(&owner.session_id)
        .bind(now)
        .bind(&owner.session_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        == 1;
    if moved {
        tx.commit().await?;
    } else {
        tx.rollback().await?;
    }
    Ok(moved)
}

/// Whether this launch's draft was resumed by a later launch (the page then says where it went).
pub async fn moved_away(db: &Db, session_id: &str) -> Result<bool, DraftError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM referral_drafts WHERE previous_session = ?")
        .bind(session_id)
        .fetch_one(db)
        .await?;
    Ok(n > 0)
}

/// Deletes expired drafts (with their attachments). Submitted referrals live in their own tables.
pub async fn purge_expired(db: &Db, now: i64) -> Result<u64, DraftError> {
    Ok(sqlx::query("DELETE FROM referral_drafts WHERE expires_at <= ?").bind(now).execute(db).await?.rows_affected())
}
