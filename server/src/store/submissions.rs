//! What a submit writes, as one unit: the draft claimed, its number held, the referral, its
//! documents, its first timeline entry and its notification's outbox row, all in one transaction
//! or none. On PostgreSQL each submit has its own transaction (row locks order them); on SQLite,
//! with its one writer, submits queued at the write gate are committed together (group commit),
//! each with its own outcome.

use super::{drafts, group_commit::GroupCommit, outbox, referrals, Db, Tx};
use referrals::Held;

/// A referral ready to be recorded: everything owned and its PHI sealed, so nothing is left to
/// compute while the write gate is held.
#[derive(Debug, Clone)]
pub struct Submission {
    pub referral: referrals::NewReferral,
    /// `(draft attachment id, its DocumentReference as stored)` for each document.
    pub documents: Vec<(String, String)>,
    pub notification: Notification,
}

/// The referral's `notify-add-service-request`, as its outbox row holds it.
#[derive(Debug, Clone)]
pub struct Notification {
    pub bundle_id: String,
    pub message_header_id: String,
    pub event: &'static str,
    pub endpoint: String,
    /// Sealed under the referral's data key.
    pub body: String,
}

/// How recording a submission went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recording {
    Done,
    /// Another request submitted this draft first: nothing was written.
    AlreadySubmitted,
    /// Another draft holds the number (or this draft holds another one): nothing was written.
    NumberTaken,
}

/// The submissions waiting at SQLite's write gate.
pub type Queue = GroupCommit<Submission, Result<Recording, sqlx::Error>>;

/// Records `s`, committed, with the submissions queued beside it on SQLite.
pub async fn record(db: &Db, s: Submission) -> Result<Recording, sqlx::Error> {
    let Db::Sqlite(store) = db else { return record_alone(db, &s).await };
    let db = db.clone();
    store
        .submissions
        .run(s, move |group| async move { record_group(&db, group).await })
        .await
        .unwrap_or_else(|| Err(sqlx::Error::Protocol("the group commit ended before recording this submission".into())))
}

/// One transaction for the whole group; should any statement fail, each is recorded alone, so
/// one bad submission fails only itself.
async fn record_group(db: &Db, group: Vec<Submission>) -> Vec<Result<Recording, sqlx::Error>> {
    if let [s] = group.as_slice() {
        return vec![record_alone(db, s).await];
    }
    let together = async {
        let mut tx = db.begin().await?;
        let mut outcomes = Vec::with_capacity(group.len());
        for s in &group {
            outcomes.push(record_in(&mut tx, s).await?);
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(outcomes)
    };
    match together.await {
        Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
        Err(e) => {
            tracing::warn!(error = %e, submissions = group.len(),
                "recording submissions together failed (nothing of them was written): recording each alone");
            let mut outcomes = Vec::with_capacity(group.len());
            for s in &group {
                outcomes.push(record_alone(db, s).await);
            }
            outcomes
        }
    }
}

async fn record_alone(db: &Db, s: &Submission) -> Result<Recording, sqlx::Error> {
    let mut tx = db.begin().await?;
    let outcome = record_in(&mut tx, s).await?;
    match outcome {
        Recording::Done => tx.commit().await?,
        Recording::AlreadySubmitted | Recording::NumberTaken => tx.rollback().await?,
    }
    Ok(outcome)
}

/// Writes `s` in `tx`, or nothing when it is not to be recorded (so that others in the same
/// transaction still can be). The number is held first: on PostgreSQL, two submits of one draft
/// queue on its number row (one per draft), and the second, finding the number held by another,
/// takes the reserve path and then finds the draft submitted.
async fn record_in(tx: &mut Tx, s: &Submission) -> Result<Recording, sqlx::Error> {
    let r = &s.referral;
    let held = referrals::hold_number(tx, &r.referral_number, &r.draft_id, r.created_at).await?;
    if held == Held::Taken {
        return Ok(Recording::NumberTaken);
    }
    if !drafts::claim_for_submit(tx, &r.draft_id, r.created_at).await? {
        if held == Held::Now {
            referrals::release_number(tx, &r.referral_number, &r.draft_id).await?;
        }
        return Ok(Recording::AlreadySubmitted);
    }
    referrals::insert(tx, r).await?;
    for (attachment, document) in &s.documents {
        referrals::copy_attachment(tx, &r.id, attachment, document).await?;
    }
    let status = (r.task_status.as_str(), r.business_status.as_str());
    referrals::record_event(tx, None, &r.id, r.created_at, "submitted", status, None, None).await?;
    let n = &s.notification;
    outbox::enqueue(
        tx,
        &outbox::NewMessage {
            bundle_id: &n.bundle_id,
            message_header_id: &n.message_header_id,
            referral_id: &r.id,
            event: n.event,
            ehr_id: &r.ehr_id,
            endpoint: &n.endpoint,
            body: &n.body,
            now: r.created_at,
        },
    )
    .await?;
    Ok(Recording::Done)
}
