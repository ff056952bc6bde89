//! Launch sessions in the database.

use super::crypto::{CryptoError, TokenCipher};
use crate::{db::Db, smart::token::Tokens};
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
    sqlx::query(
        "INSERT INTO launch_sessions (id, binding_hash, cookie_bound, fingerprint, ehr_id, patient_id, user_ref, context_json, \
         patient_json, user_json, draft_json, tokens_enc, token_expires_at, created_at, expires_at, last_seen_at) \
         VALUES (?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&s.id)
    .bind(&s.binding_hash)
    .bind(&s.fingerprint)
    .bind(&s.ehr_id)
    .bind(&s.patient_id)
    .bind(&s.user_ref)
    .bind(json(&s.context))
    .bind(json(&s.patient))
    .bind(json(&s.user))
    .bind(s.draft.as_ref().map(json))
    .bind(cipher.encrypt(&tokens))
    .bind(s.token_expires_at)
    .bind(s.created_at)
    .bind(s.expires_at)
    .bind(s.created_at)
    .execute(db)
    .await?;
    Ok(())
}

/// The live (unexpired) session `id`.
pub async fn get(db: &Db, id: &str, now: i64) -> Result<Option<SessionRow>, SessionError> {
    Ok(sqlx::query_as::<_, SessionRow>("SELECT * FROM launch_sessions WHERE id = ? AND expires_at > ?")
        .bind(id)
        .bind(now)
        .fetch_optional(db)
        .await?)
}

pub async fn mark_cookie_bound(db: &Db, id: &str) -> Result<(), SessionError> {
    sqlx::query("UPDATE launch_sessions SET cookie_bound = 1 WHERE id = ?").bind(id).execute(db).await?;
    Ok(())
}

/// Records activity in the launch at `now`.
pub async fn touch(db: &Db, id: &str, now: i64) -> Result<(), SessionError> {
    sqlx::query("UPDATE launch_sessions SET last_seen_at = ? WHERE id = ? AND last_seen_at < ?")
        .bind(now)
        .bind(id)
        .bind(now)
        .execute(db)
        .await?;
    Ok(())
}

/// Ends the launch `id` now (it stays readable to nobody; the purger deletes it).
pub async fn end(db: &Db, id: &str, now: i64) -> Result<(), SessionError> {
    sqlx::query("UPDATE launch_sessions SET expires_at = ? WHERE id = ?").bind(now).bind(id).execute(db).await?;
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
    sqlx::query("UPDATE launch_sessions SET tokens_enc = ?, token_expires_at = ? WHERE id = ?")
        .bind(cipher.encrypt(&plain))
        .bind(expires_at)
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn purge_expired(db: &Db, now: i64) -> Result<u64, SessionError> {
    Ok(sqlx::query("DELETE FROM launch_sessions WHERE expires_at <= ?").bind(now).execute(db).await?.rows_affected())
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
