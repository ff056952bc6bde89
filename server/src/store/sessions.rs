//! Launch sessions, and the practitioners' own sign-ins (standalone launches), in the database.

use super::data_keys;
use super::Db;
use crate::{
    session::crypto::{CryptoError, TokenCipher},
    smart::token::Tokens,
    sql_exec, sql_optional,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a launch keeps besides tokens (non-secret context from the token response).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LaunchContext {
    pub encounter: Option<String>,
    pub fhir_context: Vec<Value>,
    pub need_patient_banner: bool,
    pub smart_style_url: Option<String>,
    pub intent: Option<String>,
    pub tenant: Option<String>,
    pub messaging_handle: Option<String>,
    pub messaging_origin: Option<String>,
    pub return_url: Option<String>,
    pub id_token_subject: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRecord {
    pub practitioner: Value,
    pub role: Option<Value>,
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: String,
    pub binding_hash: String,
    /// The launching browser's fingerprint (checked when it sends no cookie).
    pub fingerprint: String,
    pub ehr_id: String,
    pub patient_id: String,
    pub user_ref: String,
    pub context: LaunchContext,
    pub patient: Value,
    pub user: UserRecord,
    pub draft: Option<Value>,
    pub tokens: Tokens,
    pub token_expires_at: i64,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub id: String,
    pub binding_hash: String,
    pub cookie_bound: bool,
    pub fingerprint: String,
    /// When the browser last did something in this launch (unix seconds).
    pub last_seen_at: i64,
    pub ehr_id: String,
    pub patient_id: String,
    pub user_ref: String,
    pub context_json: String,
    pub patient_json: String,
    pub user_json: String,
    pub draft_json: Option<String>,
    pub tokens_enc: Vec<u8>,
    pub token_expires_at: i64,
    pub created_at: i64,
    pub expires_at: i64,
    /// The launch's data key (none for launches from before data keys, or after a revoke).
    pub key_id: Option<String>,
    /// The launch's data key as the read joined it in (consumed when the row is unsealed).
    key_wrapped: Option<Vec<u8>>,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("stored session is unreadable: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

pub async fn insert(db: &Db, cipher: &TokenCipher, s: &NewSession) -> Result<(), SessionError> {
    let tokens = serde_json::to_vec(&s.tokens).map_err(|e| SessionError::Corrupt(e.to_string()))?;
    // The launch's PHI (the Patient, the EHR's draft) is sealed under a data key of its own,
    // which a revoke of the referral made in this launch destroys.
    let mut tx = db.begin().await?;
    let key = data_keys::create(&mut tx, db.master(), s.created_at).await?;
    sql_exec!(
        in &mut tx,
        "INSERT INTO launch_sessions (id, binding_hash, cookie_bound, fingerprint, ehr_id, patient_id, user_ref, context_json, \
         patient_json, user_json, draft_json, tokens_enc, token_expires_at, created_at, expires_at, last_seen_at, key_id) \
         VALUES ($1, $2, FALSE, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        &s.id,
        &s.binding_hash,
        &s.fingerprint,
        &s.ehr_id,
        &s.patient_id,
        &s.user_ref,
        json(&s.context),
        key.seal(&json(&s.patient)),
        json(&s.user),
        s.draft.as_ref().map(|d| key.seal(&json(d))),
        cipher.encrypt(&tokens),
        s.token_expires_at,
        s.created_at,
        s.expires_at,
        s.created_at,
        &key.id,
    )?;
    tx.commit().await?;
    Ok(())
}

const COLUMNS: &str = "s.id, s.binding_hash, s.cookie_bound, s.fingerprint, s.last_seen_at, s.ehr_id, s.patient_id, \
    s.user_ref, s.context_json, s.patient_json, s.user_json, s.draft_json, s.tokens_enc, s.token_expires_at, s.created_at, \
    s.expires_at, s.key_id, k.wrapped AS key_wrapped";

/// The live (unexpired) session `id`, its PHI unsealed.
pub async fn get(db: &Db, id: &str, now: i64) -> Result<Option<SessionRow>, SessionError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM launch_sessions s LEFT JOIN data_keys k ON k.id = s.key_id WHERE s.id = $1 AND s.expires_at > $2"
    );
    let row: Option<SessionRow> = sql_optional!(db, &sql, id, now)?;
    let Some(mut row) = row else { return Ok(None) };
    let key = data_keys::from_row(db, row.key_id.clone(), row.key_wrapped.take());
    let unreadable = |_| SessionError::Corrupt("the launch's sealed data is unreadable".into());
    row.patient_json = data_keys::open_text(key.as_ref(), &row.patient_json).map_err(unreadable)?;
    row.draft_json = data_keys::open_opt(key.as_ref(), row.draft_json.as_deref()).map_err(unreadable)?;
    Ok(Some(row))
}

pub async fn mark_cookie_bound(db: &Db, id: &str) -> Result<(), SessionError> {
    sql_exec!(db, "UPDATE launch_sessions SET cookie_bound = TRUE WHERE id = $1", id)?;
    Ok(())
}

/// Records activity in the launch at `now`.
pub async fn touch(db: &Db, id: &str, now: i64) -> Result<(), SessionError> {
    sql_exec!(db, "UPDATE launch_sessions SET last_seen_at = $1 WHERE id = $2 AND last_seen_at < $1", now, id)?;
    Ok(())
}

/// Ends the launch `id` now (it stays readable to nobody; the purger deletes it).
pub async fn end(db: &Db, id: &str, now: i64) -> Result<(), SessionError> {
    sql_exec!(db, "UPDATE launch_sessions SET expires_at = $1 WHERE id = $2", now, id)?;
    Ok(())
}

pub async fn update_tokens(
    db: &Db,
    cipher: &TokenCipher,
    id: &str,
    tokens: &Tokens,
    expires_at: i64,
) -> Result<(), SessionError> {
    let plain = serde_json::to_vec(tokens).map_err(|e| SessionError::Corrupt(e.to_string()))?;
    sql_exec!(
        db,
        "UPDATE launch_sessions SET tokens_enc = $1, token_expires_at = $2 WHERE id = $3",
        cipher.encrypt(&plain),
        expires_at,
        id
    )?;
    Ok(())
}

pub async fn purge_expired(db: &Db, now: i64) -> Result<u64, SessionError> {
    Ok(sql_exec!(db, "DELETE FROM launch_sessions WHERE expires_at <= $1", now)?)
}

/// A practitioner's own sign-in (standalone launch), for "my referrals".
#[derive(Debug, Clone)]
pub struct NewPractitionerSession<'a> {
    pub id: &'a str,
    pub binding_hash: &'a str,
    pub ehr_id: &'a str,
    pub practitioner_ref: &'a str,
    pub display_name: &'a str,
    pub now: i64,
    pub expires_at: i64,
}

pub async fn insert_practitioner(db: &Db, s: &NewPractitionerSession<'_>) -> Result<(), sqlx::Error> {
    sql_exec!(
        db,
        "INSERT INTO practitioner_sessions (id, binding_hash, ehr_id, practitioner_ref, display_name, created_at, expires_at, \
         last_seen_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $6)",
        s.id,
        s.binding_hash,
        s.ehr_id,
        s.practitioner_ref,
        s.display_name,
        s.now,
        s.expires_at,
    )?;
    Ok(())
}

/// `(binding hash, EHR, Practitioner reference, display name)` of the practitioner sign-in `id`,
/// if it has not expired and was active since `idle_since`.
pub async fn practitioner(
    db: &Db,
    id: &str,
    now: i64,
    idle_since: i64,
) -> Result<Option<(String, String, String, String)>, sqlx::Error> {
    sql_optional!(
        db,
        "SELECT binding_hash, ehr_id, practitioner_ref, display_name FROM practitioner_sessions \
         WHERE id = $1 AND expires_at > $2 AND last_seen_at >= $3",
        id,
        now,
        idle_since
    )
}

pub async fn touch_practitioner(db: &Db, id: &str, now: i64) -> Result<(), sqlx::Error> {
    sql_exec!(db, "UPDATE practitioner_sessions SET last_seen_at = $1 WHERE id = $2 AND last_seen_at < $1", now, id)?;
    Ok(())
}

pub async fn purge_expired_practitioners(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    sql_exec!(db, "DELETE FROM practitioner_sessions WHERE expires_at < $1", now)
}

impl SessionRow {
    pub fn context(&self) -> Result<LaunchContext, SessionError> {
        serde_json::from_str(&self.context_json).map_err(|e| SessionError::Corrupt(e.to_string()))
    }
    pub fn patient(&self) -> Result<Value, SessionError> {
        serde_json::from_str(&self.patient_json).map_err(|e| SessionError::Corrupt(e.to_string()))
    }
    pub fn user(&self) -> Result<UserRecord, SessionError> {
        serde_json::from_str(&self.user_json).map_err(|e| SessionError::Corrupt(e.to_string()))
    }
    pub fn tokens(&self, cipher: &TokenCipher) -> Result<Tokens, SessionError> {
        let plain = cipher.decrypt(&self.tokens_enc)?;
        serde_json::from_slice(&plain).map_err(|e| SessionError::Corrupt(e.to_string()))
    }
}

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serialises")
}
